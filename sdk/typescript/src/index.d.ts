// Type declarations of warren-sdk (the package is plain ESM JavaScript; see README "Why JavaScript
// with declarations"). Data objects are the API's JSON as documented in docs/api.md (snake_case);
// method options are camelCase.

/// <reference types="node" />

export declare const VERSION: string;

// ---- data ------------------------------------------------------------------------------------

export type SandboxState = 'creating' | 'running' | 'paused' | 'hibernated' | 'stopped' | 'archived' | 'deleting' | 'error';
export type IdleAction = 'pause' | 'hibernate' | 'stop';
export type NetworkMode = 'none' | 'outbound' | 'restricted';

/** Lifecycle rules: in answers null = off; in requests absent = server default, 0 = off. */
export interface LifecyclePolicy {
  idle_timeout_s?: number | null;
  idle_action?: IdleAction | null;
  auto_archive_after_s?: number | null;
  auto_delete_after_s?: number | null;
  ttl_s?: number | null;
}

/** An egress policy. */
export interface NetworkPolicy {
  mode: NetworkMode;
  allow?: string[];
  deny?: string[];
}

/** A sandbox's network as the API reports it. */
export interface SandboxNetwork {
  mode: NetworkMode;
  allow?: string[];
  deny?: string[];
  public_ports?: number[];
  address?: string | null;
  access_token?: string | null;
}

/** One sandbox (GET /v1/sandboxes/{id}). */
export interface SandboxInfo {
  id: string;
  state: SandboxState;
  image: string;
  image_digest: string;
  cmd: string[] | null;
  env: Record<string, string>;
  cpu: number;
  memory_mb: number;
  pids_limit: number;
  disk_mb: number;
  workdir?: string | null;
  user?: string | null;
  labels: Record<string, string>;
  metadata: Record<string, string>;
  error?: string | null;
  created_at: string;
  updated_at: string;
  parent_snapshot?: string | null;
  lifecycle?: LifecyclePolicy;
  last_active_at?: string | null;
  transfer?: { upload: boolean; done_bytes: number; total_bytes: number | null } | null;
  network?: SandboxNetwork;
}

/** A command's outcome. `status` is set for streamed commands (e.g. "exit status 3"). */
export interface ExecResult {
  exit_code: number;
  stdout: string;
  stderr: string;
  truncated: boolean;
  timed_out: boolean;
  duration_ms: number;
  status?: string | null;
}

/** A process started through warren that still runs. */
export interface ProcessInfo {
  pid: number;
  tag?: string | null;
  cmd: string[];
  cwd?: string | null;
}

/** A file, directory or symlink inside a sandbox. */
export interface FileEntry {
  name: string;
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  mode: string;
  owner: string;
  group: string;
  modified_at?: string | null;
  symlink_target?: string | null;
}

/** An immutable capture of a sandbox. */
export interface Snapshot {
  id: string;
  name?: string | null;
  state: 'creating' | 'ready' | 'deleting';
  source_sandbox?: string | null;
  parent_snapshot?: string | null;
  image: string;
  image_digest: string;
  memory: boolean;
  labels: Record<string, string>;
  fs_bytes: number;
  memory_bytes: number;
  paused_ms: number;
  depth: number;
  created_at: string;
}

/** A listening TCP port and its preview URLs. */
export interface Port {
  port: number;
  public: boolean;
  url: string;
  path_url: string;
}

/** Resource use at one instant. */
export interface MetricsSample {
  at: string;
  cpu_percent: number;
  memory_bytes: number;
  memory_limit_bytes?: number | null;
  pids: number;
  pids_limit?: number | null;
  disk_bytes?: number | null;
}

/** Resource use now and over the last 10 minutes. */
export interface SandboxMetrics {
  current: MetricsSample;
  history: MetricsSample[];
}

/** A recorded event. */
export interface WarrenEvent {
  seq: number;
  at: string;
  sandbox_id?: string | null;
  action: string;
  from_state?: SandboxState | null;
  to_state?: SandboxState | null;
  actor?: string | null;
  result: 'ok' | 'error';
  message?: string | null;
}

/** A local image. */
export interface Image {
  reference: string;
  digest: string;
  size: number;
  layers: number;
  config: { env: string[]; cmd: string[]; entrypoint: string[]; working_dir: string; user: string };
  created_at: string;
}

/** One pull progress line (`event`: resolved, layer_started, layer_progress, layer_cached, unpacking, layer_done, done). */
export interface PullProgress {
  event: string;
  [field: string]: unknown;
}

// ---- options ---------------------------------------------------------------------------------

/** A command: an array (run as is) or a string (run by `sh -c`). */
export type Command = string | string[];
/** Called with each chunk of output as text. */
export type OutputCallback = (text: string) => void;
/** What can be uploaded: text, bytes, or a stream of bytes. */
export type UploadData = string | Uint8Array | ArrayBuffer | ReadableStream<Uint8Array> | NodeJS.ReadableStream | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export interface WarrenOptions {
  /** Base URL; default $WARREN_URL, else http://127.0.0.1:7070. */
  url?: string;
  /** API key; default $WARREN_API_KEY. */
  apiKey?: string | null;
  /** Timeout of plain requests in ms (default 120000). */
  timeoutMs?: number;
}

export interface CreateSandboxOptions {
  image?: string;
  snapshot?: string;
  cmd?: Command;
  env?: Record<string, string>;
  cpu?: number;
  memoryMb?: number;
  pidsLimit?: number;
  diskMb?: number;
  workdir?: string;
  user?: string;
  labels?: Record<string, string>;
  metadata?: Record<string, string>;
  lifecycle?: LifecyclePolicy;
  network?: NetworkPolicy | NetworkMode;
  publicPorts?: number[];
}

export interface UpdateSandboxOptions {
  labels?: Record<string, string>;
  metadata?: Record<string, string>;
  lifecycle?: LifecyclePolicy;
  network?: NetworkPolicy | NetworkMode;
  publicPorts?: number[];
}

export interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
  user?: string;
  timeoutS?: number;
}

export interface ExecOptions extends RunOptions {
  /** Fed to stdin, which is then closed. */
  stdin?: string | Uint8Array;
  onStdout?: OutputCallback;
  onStderr?: OutputCallback;
}

export interface SpawnOptions extends RunOptions {
  /** Keep stdin open for sendStdin(). */
  stdin?: boolean;
  onStdout?: OutputCallback;
  onStderr?: OutputCallback;
}

export interface StartProcessOptions extends RunOptions {
  tag?: string;
  stdin?: boolean;
}

export interface PtyOptions {
  cols?: number;
  rows?: number;
  cmd?: string;
  user?: string;
  cwd?: string;
}

export interface EventFilters {
  sandbox?: string;
  action?: string;
  after?: number;
  limit?: number;
}

// ---- classes ---------------------------------------------------------------------------------

export declare class Warren {
  constructor(options?: WarrenOptions);
  readonly url: string;
  health(): Promise<{ status: string; version: string }>;
  createSandbox(options: CreateSandboxOptions): Promise<Sandbox>;
  withSandbox<T>(options: CreateSandboxOptions, fn: (sandbox: Sandbox) => Promise<T>): Promise<T>;
  getSandbox(id: string): Promise<Sandbox>;
  listSandboxes(filters?: { state?: SandboxState; image?: string; labels?: Record<string, string>; pageSize?: number }): Promise<Sandbox[]>;
  deleteSandbox(id: string): Promise<void>;
  listSnapshots(filters?: { sandbox?: string }): Promise<Snapshot[]>;
  getSnapshot(idOrName: string): Promise<Snapshot>;
  deleteSnapshot(idOrName: string): Promise<void>;
  listEvents(filters?: EventFilters): Promise<{ items: WarrenEvent[]; next_cursor: string | null }>;
  streamEvents(filters?: Omit<EventFilters, 'limit'> & { signal?: AbortSignal }): AsyncGenerator<WarrenEvent, void, undefined>;
  listImages(): Promise<Image[]>;
  getImage(reference: string): Promise<Image>;
  deleteImage(reference: string): Promise<void>;
  pullImage(ref: string, options?: { insecure?: boolean; username?: string; password?: string; onProgress?: (p: PullProgress) => void }): Promise<Image>;
  prometheusMetrics(): Promise<string>;
}

export declare class Sandbox {
  info: SandboxInfo;
  readonly id: string;
  readonly state: SandboxState;
  readonly files: Files;
  refresh(): Promise<this>;
  delete(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
  pause(): Promise<this>;
  resume(): Promise<this>;
  hibernate(): Promise<this>;
  stop(): Promise<this>;
  start(): Promise<this>;
  archive(): Promise<this>;
  lifecycle(verb: 'pause' | 'resume' | 'hibernate' | 'stop' | 'start' | 'archive'): Promise<this>;
  update(changes: UpdateSandboxOptions): Promise<this>;
  setLifecycle(policy: LifecyclePolicy): Promise<this>;
  logs(tail?: number): Promise<string>;
  exec(cmd: Command, options?: ExecOptions): Promise<ExecResult>;
  spawn(cmd: Command, options?: SpawnOptions): Promise<CommandHandle>;
  startProcess(cmd: Command, options?: StartProcessOptions): Promise<ProcessInfo>;
  processes(): Promise<ProcessInfo[]>;
  attach(pid: number, options?: { onStdout?: OutputCallback; onStderr?: OutputCallback }): Promise<ExecResult>;
  kill(pid: number, signal?: 'KILL' | 'TERM'): Promise<void>;
  sendStdin(pid: number, data: string | Uint8Array): Promise<void>;
  closeStdin(pid: number): Promise<void>;
  pty(options?: PtyOptions): Promise<Terminal>;
  snapshot(options?: { memory?: boolean; name?: string; labels?: Record<string, string> }): Promise<Snapshot>;
  branch(count: number): Promise<{ snapshot: Snapshot; sandboxes: Sandbox[] }>;
  ports(): Promise<Port[]>;
  previewUrl(port: number, options?: { withToken?: boolean }): string;
  metrics(): Promise<SandboxMetrics>;
  events(filters?: Omit<EventFilters, 'sandbox'>): Promise<WarrenEvent[]>;
}

export declare class Files {
  readBytes(path: string, options?: { user?: string }): Promise<Uint8Array>;
  readText(path: string, options?: { user?: string }): Promise<string>;
  readStream(path: string, options?: { user?: string }): Promise<ReadableStream<Uint8Array>>;
  write(path: string, data: UploadData, options?: { user?: string }): Promise<void>;
  upload(localPath: string, path: string, options?: { user?: string }): Promise<void>;
  download(path: string, localPath: string, options?: { user?: string }): Promise<number>;
  list(path: string, options?: { depth?: number; user?: string }): Promise<FileEntry[]>;
  stat(path: string, options?: { user?: string }): Promise<FileEntry>;
  exists(path: string): Promise<boolean>;
  mkdir(path: string, options?: { mode?: string; user?: string }): Promise<FileEntry>;
  remove(path: string, options?: { recursive?: boolean }): Promise<void>;
  move(from: string, to: string, options?: { user?: string }): Promise<FileEntry>;
  chmod(path: string, mode: string | number): Promise<FileEntry>;
  chown(path: string, owner?: string, group?: string): Promise<FileEntry>;
  readTar(path: string, options?: { user?: string }): Promise<ReadableStream<Uint8Array>>;
  writeTar(path: string, data: UploadData, options?: { user?: string }): Promise<void>;
}

export declare class CommandHandle {
  readonly pid: number;
  readonly running: boolean;
  wait(timeoutMs?: number): Promise<ExecResult>;
  sendStdin(data: string | Uint8Array): Promise<void>;
  closeStdin(): Promise<void>;
  kill(signal?: 'KILL' | 'TERM'): Promise<void>;
}

export declare class Terminal {
  exitCode: number | null;
  write(data: string | Uint8Array): void;
  resize(cols: number, rows: number): void;
  read(timeoutMs?: number): Promise<Uint8Array>;
  readUntil(marker: string, timeoutMs?: number): Promise<string>;
  wait(timeoutMs?: number): Promise<number>;
  close(): void;
}

// ---- errors ----------------------------------------------------------------------------------

export declare class WarrenError extends Error {
  constructor(code: string, message: string, status?: number);
  /** The API's stable error code. */
  code: string;
  /** The API's message (without the code prefix). */
  apiMessage: string;
  /** HTTP status (0: no answer). */
  status: number;
}
export declare class InvalidRequestError extends WarrenError {}
export declare class UnauthorizedError extends WarrenError {}
export declare class ForbiddenError extends WarrenError {}
export declare class PermissionDeniedError extends WarrenError {}
export declare class NotFoundError extends WarrenError {}
export declare class SandboxNotFoundError extends NotFoundError {}
export declare class ImageNotFoundError extends NotFoundError {}
export declare class FileNotFoundError extends NotFoundError {}
export declare class ProcessNotFoundError extends NotFoundError {}
export declare class SnapshotNotFoundError extends NotFoundError {}
export declare class MethodNotAllowedError extends WarrenError {}
export declare class ConflictError extends WarrenError {}
export declare class PayloadTooLargeError extends WarrenError {}
export declare class RateLimitedError extends WarrenError {
  retryAfter: number | null;
}
export declare class InternalError extends WarrenError {}
export declare class RegistryError extends WarrenError {}
export declare class AgentError extends WarrenError {}
export declare class PortUnreachableError extends WarrenError {}
export declare class WarrenConnectionError extends WarrenError {}
export declare class ProtocolError extends WarrenError {}
export declare const ERRORS_BY_CODE: Readonly<Record<string, typeof WarrenError>>;
export declare function errorFromBody(code: string, message: string, status?: number): WarrenError;
export declare function errorFromResponse(status: number, header: (name: string) => string | null, text: string): WarrenError;
export declare function invalid(message: string): InvalidRequestError;
