"""Exceptions raised by the SDK.

Every error the daemon answers has the body ``{"error": {"code", "message"}}``; the SDK raises
the subclass of :class:`WarrenError` registered for that ``code`` (see :data:`ERRORS_BY_CODE`),
or :class:`WarrenError` itself for a code it does not know yet. Branch on the class or on
``err.code``, never on the message.
"""

from __future__ import annotations

import json
from typing import Dict, Mapping, Optional, Type


class WarrenError(Exception):
    """An error answered by the warren API (or, with code ``connection_error``, no answer at all).

    Attributes:
        code: the API's stable machine-readable code, e.g. ``"sandbox_not_found"``.
        message: the human-readable message.
        status: the HTTP status (``0`` when the daemon could not be reached).
    """

    def __init__(self, code: str, message: str, status: int = 0) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class InvalidRequestError(WarrenError):
    """``invalid_request`` (400): a malformed or out-of-range value; the message names the field."""


class UnauthorizedError(WarrenError):
    """``unauthorized`` (401): no, malformed, unknown, revoked or expired API key."""


class ForbiddenError(WarrenError):
    """``forbidden`` (403): the key's scope does not allow the request."""


class PermissionDeniedError(WarrenError):
    """``permission_denied`` (403): the sandbox's agent was denied access."""


class NotFoundError(WarrenError):
    """Base of every 404 code; also ``not_found`` itself (no such route, key, ...)."""


class SandboxNotFoundError(NotFoundError):
    """``sandbox_not_found`` (404)."""


class ImageNotFoundError(NotFoundError):
    """``image_not_found`` (404)."""


class SandboxFileNotFoundError(NotFoundError):
    """``file_not_found`` (404): no such file inside the sandbox."""


class ProcessNotFoundError(NotFoundError):
    """``process_not_found`` (404): the process ended or never existed."""


class SnapshotNotFoundError(NotFoundError):
    """``snapshot_not_found`` (404)."""


class MethodNotAllowedError(WarrenError):
    """``method_not_allowed`` (405)."""


class ConflictError(WarrenError):
    """``conflict`` (409): the operation does not fit the current state."""


class PayloadTooLargeError(WarrenError):
    """``payload_too_large`` (413): a JSON body over 1 MiB."""


class RateLimitedError(WarrenError):
    """``rate_limited`` (429). ``retry_after`` is the server's ``Retry-After`` in seconds."""

    def __init__(self, code: str, message: str, status: int = 0, retry_after: Optional[float] = None) -> None:
        super().__init__(code, message, status)
        self.retry_after = retry_after


class InternalError(WarrenError):
    """``internal`` (500): the daemon's log has details."""


class RegistryError(WarrenError):
    """``registry_error`` (502): the image registry failed or could not be reached."""


class AgentError(WarrenError):
    """``agent_error`` (502): the sandbox's agent could not be reached or failed."""


class PortUnreachableError(WarrenError):
    """``port_unreachable`` (502): nothing listens on the sandbox port."""


class WarrenConnectionError(WarrenError):
    """The daemon could not be reached (code ``connection_error``, status 0)."""


class ProtocolError(WarrenError):
    """The daemon answered something the SDK cannot understand (code ``protocol_error``)."""


ERRORS_BY_CODE: Dict[str, Type[WarrenError]] = {
    "invalid_request": InvalidRequestError,
    "unauthorized": UnauthorizedError,
    "forbidden": ForbiddenError,
    "permission_denied": PermissionDeniedError,
    "not_found": NotFoundError,
    "sandbox_not_found": SandboxNotFoundError,
    "image_not_found": ImageNotFoundError,
    "file_not_found": SandboxFileNotFoundError,
    "process_not_found": ProcessNotFoundError,
    "snapshot_not_found": SnapshotNotFoundError,
    "method_not_allowed": MethodNotAllowedError,
    "conflict": ConflictError,
    "payload_too_large": PayloadTooLargeError,
    "rate_limited": RateLimitedError,
    "internal": InternalError,
    "registry_error": RegistryError,
    "agent_error": AgentError,
    "port_unreachable": PortUnreachableError,
}
"""The exception class raised for each API error code."""


def error_from_body(code: str, message: str, status: int = 0) -> WarrenError:
    """The exception for an ``{"code", "message"}`` pair (an unknown code gives :class:`WarrenError`)."""
    cls = ERRORS_BY_CODE.get(code, WarrenError)
    return cls(code, message, status)


def error_from_response(status: int, headers: Mapping[str, str], body: bytes) -> WarrenError:
    """The exception for an HTTP error answer (status >= 400)."""
    try:
        detail = json.loads(body)["error"]
        code, message = str(detail["code"]), str(detail["message"])
    except (ValueError, KeyError, TypeError):
        text = body.decode("utf-8", "replace").strip()[:500]
        return ProtocolError("protocol_error", f"HTTP {status}: {text or 'no error body'}", status)
    err = error_from_body(code, message, status)
    if isinstance(err, RateLimitedError):
        retry = headers.get("retry-after")
        try:
            err.retry_after = float(retry) if retry is not None else None
        except ValueError:
            err.retry_after = None
    return err
