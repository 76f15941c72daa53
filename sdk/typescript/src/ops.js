// Request bodies and argument checks shared by the client and its sandboxes.

import { invalid } from './errors.js';

/** A command as the API wants it: a string runs through `sh -c`. */
export function command(cmd) {
  if (typeof cmd === 'string') {
    if (!cmd) throw invalid('cmd must not be empty');
    return ['sh', '-c', cmd];
  }
  if (!Array.isArray(cmd) || cmd.length === 0 || !cmd.every((a) => typeof a === 'string')) {
    throw invalid('cmd must be a non-empty array of strings');
  }
  return [...cmd];
}

/** An absolute path, or an invalid_request error naming `what`. */
export function absPath(path, what = 'path') {
  if (typeof path !== 'string' || !path.startsWith('/')) throw invalid(`${what} must be an absolute path, got ${JSON.stringify(path)}`);
  return path;
}

/** Drop undefined and null values. */
export function compact(obj) {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined && v !== null));
}

/** The body of exec, streaming exec and background processes. */
export function execBody(cmd, o = {}) {
  return compact({
    cmd: command(cmd),
    env: o.env && Object.keys(o.env).length ? o.env : undefined,
    cwd: o.cwd !== undefined ? absPath(o.cwd, 'cwd') : undefined,
    user: o.user,
    timeout_s: o.timeoutS,
    stdin: o.stdin ? true : undefined,
    tag: o.tag,
  });
}

function network(n) {
  if (n === undefined || n === null) return undefined;
  return typeof n === 'string' ? { mode: n } : n;
}

/** The body of POST /v1/sandboxes. */
export function createBody(o) {
  if ((o.image === undefined) === (o.snapshot === undefined)) throw invalid('give exactly one of image and snapshot');
  return compact({
    image: o.image,
    snapshot: o.snapshot,
    cmd: o.cmd !== undefined ? command(o.cmd) : undefined,
    env: o.env,
    cpu: o.cpu,
    memory_mb: o.memoryMb,
    pids_limit: o.pidsLimit,
    disk_mb: o.diskMb,
    workdir: o.workdir,
    user: o.user,
    labels: o.labels,
    metadata: o.metadata,
    lifecycle: o.lifecycle,
    network: network(o.network),
    public_ports: o.publicPorts,
  });
}

/** The body of PATCH /v1/sandboxes/{id}. */
export function updateBody(o) {
  const body = compact({
    labels: o.labels,
    metadata: o.metadata,
    lifecycle: o.lifecycle,
    network: network(o.network),
    public_ports: o.publicPorts,
  });
  if (!Object.keys(body).length) throw invalid('update needs at least one of labels, metadata, lifecycle, network, publicPorts');
  return body;
}

/** `TERM` or `KILL`. */
export function signalName(name = 'KILL') {
  const n = String(name).toUpperCase().replace(/^SIG/, '');
  if (n !== 'TERM' && n !== 'KILL') throw invalid(`signal must be TERM or KILL, got ${JSON.stringify(name)}`);
  return n;
}

/** The query of the event list and stream. */
export function eventQuery(o = {}) {
  return { sandbox: o.sandbox, action: o.action, after: o.after, limit: o.limit };
}
