// Errors raised by the SDK. Every API error has the body {"error": {"code", "message"}}; the SDK
// throws the subclass of WarrenError registered for that code (ERRORS_BY_CODE), or WarrenError
// itself for a code it does not know yet. Branch on the class or on `err.code`, never on messages.

/** An error answered by the warren API (code `connection_error`: no answer at all). */
export class WarrenError extends Error {
  /**
   * @param {string} code the API's stable machine-readable code, e.g. "sandbox_not_found"
   * @param {string} message the human-readable message
   * @param {number} [status] the HTTP status (0 when the daemon could not be reached)
   */
  constructor(code, message, status = 0) {
    super(`${code}: ${message}`);
    this.name = new.target.name;
    this.code = code;
    this.apiMessage = message;
    this.status = status;
  }
}

/** `invalid_request` (400): a malformed or out-of-range value; the message names the field. */
export class InvalidRequestError extends WarrenError {}
/** `unauthorized` (401): no, malformed, unknown, revoked or expired API key. */
export class UnauthorizedError extends WarrenError {}
/** `forbidden` (403): the key's scope does not allow the request. */
export class ForbiddenError extends WarrenError {}
/** `permission_denied` (403): the sandbox's agent was denied access. */
export class PermissionDeniedError extends WarrenError {}
/** Base of every 404 code; also `not_found` itself. */
export class NotFoundError extends WarrenError {}
/** `sandbox_not_found` (404). */
export class SandboxNotFoundError extends NotFoundError {}
/** `image_not_found` (404). */
export class ImageNotFoundError extends NotFoundError {}
/** `file_not_found` (404): no such file inside the sandbox. */
export class FileNotFoundError extends NotFoundError {}
/** `process_not_found` (404). */
export class ProcessNotFoundError extends NotFoundError {}
/** `snapshot_not_found` (404). */
export class SnapshotNotFoundError extends NotFoundError {}
/** `method_not_allowed` (405). */
export class MethodNotAllowedError extends WarrenError {}
/** `conflict` (409): the operation does not fit the current state. */
export class ConflictError extends WarrenError {}
/** `payload_too_large` (413). */
export class PayloadTooLargeError extends WarrenError {}
/** `rate_limited` (429); `retryAfter` is the server's Retry-After in seconds. */
export class RateLimitedError extends WarrenError {
  constructor(code, message, status = 0, retryAfter = null) {
    super(code, message, status);
    /** @type {number | null} */
    this.retryAfter = retryAfter;
  }
}
/** `internal` (500). */
export class InternalError extends WarrenError {}
/** `registry_error` (502): the image registry failed or could not be reached. */
export class RegistryError extends WarrenError {}
/** `agent_error` (502): the sandbox's agent could not be reached or failed. */
export class AgentError extends WarrenError {}
/** `port_unreachable` (502): nothing listens on the sandbox port. */
export class PortUnreachableError extends WarrenError {}
/** The daemon could not be reached (code `connection_error`). */
export class WarrenConnectionError extends WarrenError {}
/** The daemon answered something the SDK cannot understand (code `protocol_error`). */
export class ProtocolError extends WarrenError {}

/** The error class thrown for each API error code. */
export const ERRORS_BY_CODE = Object.freeze({
  invalid_request: InvalidRequestError,
  unauthorized: UnauthorizedError,
  forbidden: ForbiddenError,
  permission_denied: PermissionDeniedError,
  not_found: NotFoundError,
  sandbox_not_found: SandboxNotFoundError,
  image_not_found: ImageNotFoundError,
  file_not_found: FileNotFoundError,
  process_not_found: ProcessNotFoundError,
  snapshot_not_found: SnapshotNotFoundError,
  method_not_allowed: MethodNotAllowedError,
  conflict: ConflictError,
  payload_too_large: PayloadTooLargeError,
  rate_limited: RateLimitedError,
  internal: InternalError,
  registry_error: RegistryError,
  agent_error: AgentError,
  port_unreachable: PortUnreachableError,
});

/** The error for a `{code, message}` pair. */
export function errorFromBody(code, message, status = 0) {
  const Cls = ERRORS_BY_CODE[code] ?? WarrenError;
  return new Cls(code, message, status);
}

/**
 * The error for an HTTP error answer.
 * @param {number} status
 * @param {(name: string) => string | null} header
 * @param {string} text the body
 */
export function errorFromResponse(status, header, text) {
  let detail;
  try {
    detail = JSON.parse(text).error;
  } catch {
    detail = undefined;
  }
  if (!detail || typeof detail.code !== 'string') {
    return new ProtocolError('protocol_error', `HTTP ${status}: ${text.trim().slice(0, 500) || 'no error body'}`, status);
  }
  const err = errorFromBody(detail.code, String(detail.message), status);
  if (err instanceof RateLimitedError) {
    const retry = Number(header('retry-after'));
    err.retryAfter = Number.isFinite(retry) ? retry : null;
  }
  return err;
}

/** An invalid argument found before anything was sent (code `invalid_request`). */
export function invalid(message) {
  return new InvalidRequestError('invalid_request', message, 0);
}
