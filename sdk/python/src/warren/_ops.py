"""The API's operations, described without doing any I/O ("sans-I/O").

Each function validates its arguments and returns an :class:`Op`: the HTTP request to make and
how to turn a successful answer's body into a value. The sync client (:mod:`warren.client`) and the
async one (:mod:`warren.aio`) only send ``Op``s, so the request shapes, validation and parsing
exist once for both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Generic, List, Mapping, Optional, Sequence, Tuple, TypeVar, Union
from urllib.parse import quote

from .errors import InvalidRequestError
from .models import (
    Event,
    ExecResult,
    FileEntry,
    Image,
    LifecyclePolicy,
    NetworkPolicy,
    Page,
    Port,
    ProcessInfo,
    SandboxInfo,
    SandboxMetrics,
    Snapshot,
)

T = TypeVar("T")
Json = Dict[str, Any]
Command = Union[str, Sequence[str]]
"""A command: a list of program + arguments (run as is), or a string (run by ``sh -c``)."""

LIFECYCLE_VERBS = ("pause", "resume", "hibernate", "stop", "start", "archive")


@dataclass
class Op(Generic[T]):
    """One HTTP request and the parser of its successful answer's body."""

    method: str
    path: str
    parse: Callable[[bytes], T]
    params: Optional[Dict[str, str]] = None
    json: Optional[Any] = None
    content: Optional[bytes] = None
    headers: Dict[str, str] = field(default_factory=dict)


def _invalid(message: str) -> InvalidRequestError:
    return InvalidRequestError("invalid_request", message, 0)


def _load(body: bytes) -> Any:
    return json.loads(body)


def _none(_: bytes) -> None:
    return None


def seg(value: str, what: str) -> str:
    """A validated, percent-encoded path segment (ids, names)."""
    if not isinstance(value, str) or not value:
        raise _invalid(f"{what} must be a non-empty string")
    return quote(value, safe="")


def sandbox_path(sandbox_id: str, rest: str = "") -> str:
    """``/v1/sandboxes/{id}`` plus ``rest``."""
    return f"/v1/sandboxes/{seg(sandbox_id, 'sandbox id')}{rest}"


def command(cmd: Command) -> List[str]:
    """A command as the API wants it: a string becomes ``["sh", "-c", string]``."""
    if isinstance(cmd, str):
        if not cmd:
            raise _invalid("cmd must not be empty")
        return ["sh", "-c", cmd]
    out = list(cmd)
    if not out or not all(isinstance(a, str) for a in out):
        raise _invalid("cmd must be a non-empty list of strings")
    return out


def _abs_path(path: str, what: str = "path") -> str:
    if not isinstance(path, str) or not path.startswith("/"):
        raise _invalid(f"{what} must be an absolute path, got {path!r}")
    return path


def _file_params(path: str, user: Optional[str], **extra: str) -> Dict[str, str]:
    params = {"path": _abs_path(path)}
    if user is not None:
        params["user"] = user
    params.update(extra)
    return params


def _drop_none(d: Mapping[str, Any]) -> Json:
    return {k: v for k, v in d.items() if v is not None}


def _policy(p: Union[LifecyclePolicy, Mapping[str, Any], None]) -> Optional[Json]:
    if p is None:
        return None
    return p.to_json() if isinstance(p, LifecyclePolicy) else dict(p)


def _network(n: Union[NetworkPolicy, Mapping[str, Any], str, None]) -> Optional[Json]:
    if n is None:
        return None
    if isinstance(n, str):
        return {"mode": n}
    return n.to_json() if isinstance(n, NetworkPolicy) else dict(n)


# ---- sandboxes ---------------------------------------------------------------------------


def sandbox(body: bytes) -> SandboxInfo:
    """Parse a sandbox answer."""
    return SandboxInfo.from_json(_load(body))


def create_sandbox(
    image: Optional[str] = None,
    *,
    snapshot: Optional[str] = None,
    cmd: Optional[Command] = None,
    env: Optional[Mapping[str, str]] = None,
    cpu: Optional[float] = None,
    memory_mb: Optional[int] = None,
    pids_limit: Optional[int] = None,
    disk_mb: Optional[int] = None,
    workdir: Optional[str] = None,
    user: Optional[str] = None,
    labels: Optional[Mapping[str, str]] = None,
    metadata: Optional[Mapping[str, str]] = None,
    lifecycle: Union[LifecyclePolicy, Mapping[str, Any], None] = None,
    network: Union[NetworkPolicy, Mapping[str, Any], str, None] = None,
    public_ports: Optional[Sequence[int]] = None,
) -> Op[SandboxInfo]:
    """``POST /v1/sandboxes``: exactly one of ``image`` and ``snapshot``."""
    if (image is None) == (snapshot is None):
        raise _invalid("give exactly one of image and snapshot")
    body = _drop_none(
        {
            "image": image,
            "snapshot": snapshot,
            "cmd": command(cmd) if cmd is not None else None,
            "env": dict(env) if env else None,
            "cpu": cpu,
            "memory_mb": memory_mb,
            "pids_limit": pids_limit,
            "disk_mb": disk_mb,
            "workdir": workdir,
            "user": user,
            "labels": dict(labels) if labels else None,
            "metadata": dict(metadata) if metadata else None,
            "lifecycle": _policy(lifecycle),
            "network": _network(network),
            "public_ports": list(public_ports) if public_ports is not None else None,
        }
    )
    return Op("POST", "/v1/sandboxes", sandbox, json=body)


def get_sandbox(sandbox_id: str) -> Op[SandboxInfo]:
    """``GET /v1/sandboxes/{id}``."""
    return Op("GET", sandbox_path(sandbox_id), sandbox)


def _sandbox_page(body: bytes) -> Page:
    j = _load(body)
    return Page([SandboxInfo.from_json(s) for s in j["items"]], j.get("next_cursor"))


def list_sandboxes(
    *,
    state: Optional[str] = None,
    image: Optional[str] = None,
    labels: Optional[Mapping[str, str]] = None,
    cursor: Optional[str] = None,
    limit: Optional[int] = None,
) -> Op[Page]:
    """``GET /v1/sandboxes`` (one page of :class:`SandboxInfo`)."""
    params = _drop_none({"state": state, "image": image, "cursor": cursor, "limit": str(limit) if limit is not None else None})
    if labels:
        params["label"] = ",".join(f"{k}={v}" for k, v in labels.items())
    return Op("GET", "/v1/sandboxes", _sandbox_page, params=params)


def delete_sandbox(sandbox_id: str) -> Op[None]:
    """``DELETE /v1/sandboxes/{id}``."""
    return Op("DELETE", sandbox_path(sandbox_id), _none)


def update_sandbox(
    sandbox_id: str,
    *,
    labels: Optional[Mapping[str, str]] = None,
    metadata: Optional[Mapping[str, str]] = None,
    lifecycle: Union[LifecyclePolicy, Mapping[str, Any], None] = None,
    network: Union[NetworkPolicy, Mapping[str, Any], str, None] = None,
    public_ports: Optional[Sequence[int]] = None,
) -> Op[SandboxInfo]:
    """``PATCH /v1/sandboxes/{id}``: each given field replaces the whole value."""
    body = _drop_none(
        {
            "labels": dict(labels) if labels is not None else None,
            "metadata": dict(metadata) if metadata is not None else None,
            "lifecycle": _policy(lifecycle),
            "network": _network(network),
            "public_ports": list(public_ports) if public_ports is not None else None,
        }
    )
    if not body:
        raise _invalid("update needs at least one of labels, metadata, lifecycle, network, public_ports")
    return Op("PATCH", sandbox_path(sandbox_id), sandbox, json=body)


def lifecycle(sandbox_id: str, verb: str) -> Op[SandboxInfo]:
    """``POST /v1/sandboxes/{id}/{pause,resume,hibernate,stop,start,archive}``."""
    if verb not in LIFECYCLE_VERBS:
        raise _invalid(f"unknown lifecycle verb {verb!r}")
    return Op("POST", sandbox_path(sandbox_id, f"/{verb}"), sandbox)


def logs(sandbox_id: str, tail: Optional[int] = None) -> Op[str]:
    """``GET /v1/sandboxes/{id}/logs`` (not followed)."""
    params = {"tail": str(tail)} if tail is not None else None
    return Op("GET", sandbox_path(sandbox_id, "/logs"), lambda b: b.decode("utf-8", "replace"), params=params)


# ---- exec and processes --------------------------------------------------------------------


def exec_body(
    cmd: Command,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
    user: Optional[str] = None,
    timeout_s: Optional[int] = None,
    stdin: bool = False,
    tag: Optional[str] = None,
) -> Json:
    """The body shared by exec, streaming exec and background processes."""
    body: Json = {"cmd": command(cmd)}
    if env:
        body["env"] = dict(env)
    if cwd is not None:
        body["cwd"] = _abs_path(cwd, "cwd")
    if user is not None:
        body["user"] = user
    if timeout_s is not None:
        body["timeout_s"] = timeout_s
    if stdin:
        body["stdin"] = True
    if tag is not None:
        body["tag"] = tag
    return body


def exec_json(sandbox_id: str, body: Json) -> Op[ExecResult]:
    """``POST /v1/sandboxes/{id}/exec`` answered with one JSON object."""
    return Op("POST", sandbox_path(sandbox_id, "/exec"), lambda b: ExecResult.from_json(_load(b)), json=body)


def exec_stream(sandbox_id: str, body: Json) -> Op[None]:
    """``POST /v1/sandboxes/{id}/exec`` answered with Server-Sent Events (read by the caller)."""
    return Op("POST", sandbox_path(sandbox_id, "/exec"), _none, json=body, headers={"accept": "text/event-stream"})


def start_process(sandbox_id: str, body: Json) -> Op[ProcessInfo]:
    """``POST /v1/sandboxes/{id}/processes``."""
    return Op("POST", sandbox_path(sandbox_id, "/processes"), lambda b: ProcessInfo.from_json(_load(b)), json=body)


def list_processes(sandbox_id: str) -> Op[List[ProcessInfo]]:
    """``GET /v1/sandboxes/{id}/processes``."""
    return Op("GET", sandbox_path(sandbox_id, "/processes"), lambda b: [ProcessInfo.from_json(p) for p in _load(b)["items"]])


def process_events(sandbox_id: str, pid: int) -> Op[None]:
    """``GET /v1/sandboxes/{id}/processes/{pid}/events`` (SSE, read by the caller)."""
    return Op("GET", sandbox_path(sandbox_id, f"/processes/{int(pid)}/events"), _none, headers={"accept": "text/event-stream"})


def signal(sandbox_id: str, pid: int, name: str = "KILL") -> Op[None]:
    """``POST /v1/sandboxes/{id}/processes/{pid}/signal`` (``TERM`` or ``KILL``)."""
    name = name.upper().removeprefix("SIG")
    if name not in ("TERM", "KILL"):
        raise _invalid(f"signal must be TERM or KILL, got {name!r}")
    return Op("POST", sandbox_path(sandbox_id, f"/processes/{int(pid)}/signal"), _none, json={"signal": name})


def write_stdin(sandbox_id: str, pid: int, data: Union[bytes, str]) -> Op[None]:
    """``POST /v1/sandboxes/{id}/processes/{pid}/stdin`` (at most 1 MiB per call)."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    return Op("POST", sandbox_path(sandbox_id, f"/processes/{int(pid)}/stdin"), _none, content=raw, headers={"content-type": "application/octet-stream"})


STDIN_CHUNK = 1 << 20
"""The most the API takes in one stdin write."""


def stdin_chunks(data: Union[bytes, str]) -> List[bytes]:
    """``data`` split into writes the API accepts (none for empty data)."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    return [raw[i : i + STDIN_CHUNK] for i in range(0, len(raw), STDIN_CHUNK)]


def close_stdin(sandbox_id: str, pid: int) -> Op[None]:
    """``POST /v1/sandboxes/{id}/processes/{pid}/stdin/close``."""
    return Op("POST", sandbox_path(sandbox_id, f"/processes/{int(pid)}/stdin/close"), _none)


# ---- files ---------------------------------------------------------------------------------


def _entry(body: bytes) -> FileEntry:
    return FileEntry.from_json(_load(body))


def read_file(sandbox_id: str, path: str, user: Optional[str] = None) -> Op[bytes]:
    """``GET /v1/sandboxes/{id}/files``."""
    return Op("GET", sandbox_path(sandbox_id, "/files"), bytes, params=_file_params(path, user))


def write_file(sandbox_id: str, path: str, user: Optional[str] = None) -> Op[None]:
    """``PUT /v1/sandboxes/{id}/files`` (the caller supplies the body, possibly streamed)."""
    if path.endswith("/"):
        raise _invalid(f"path must name a file, got {path!r}")
    return Op("PUT", sandbox_path(sandbox_id, "/files"), _none, params=_file_params(path, user), headers={"content-type": "application/octet-stream"})


def remove_file(sandbox_id: str, path: str, recursive: bool = False, user: Optional[str] = None) -> Op[None]:
    """``DELETE /v1/sandboxes/{id}/files``."""
    return Op("DELETE", sandbox_path(sandbox_id, "/files"), _none, params=_file_params(path, user, recursive="true" if recursive else "false"))


def list_files(sandbox_id: str, path: str, depth: int = 1, user: Optional[str] = None) -> Op[List[FileEntry]]:
    """``GET /v1/sandboxes/{id}/files/list``."""
    return Op(
        "GET",
        sandbox_path(sandbox_id, "/files/list"),
        lambda b: [FileEntry.from_json(e) for e in _load(b)["entries"]],
        params=_file_params(path, user, depth=str(int(depth))),
    )


def stat_file(sandbox_id: str, path: str, user: Optional[str] = None) -> Op[FileEntry]:
    """``GET /v1/sandboxes/{id}/files/stat``."""
    return Op("GET", sandbox_path(sandbox_id, "/files/stat"), _entry, params=_file_params(path, user))


def _user_params(user: Optional[str]) -> Optional[Dict[str, str]]:
    return {"user": user} if user is not None else None


def mkdir(sandbox_id: str, path: str, mode: Optional[str] = None, user: Optional[str] = None) -> Op[FileEntry]:
    """``POST /v1/sandboxes/{id}/files/mkdir`` (like ``mkdir -p``)."""
    return Op("POST", sandbox_path(sandbox_id, "/files/mkdir"), _entry, json=_drop_none({"path": _abs_path(path), "mode": mode}), params=_user_params(user))


def move_file(sandbox_id: str, src: str, dst: str, user: Optional[str] = None) -> Op[FileEntry]:
    """``POST /v1/sandboxes/{id}/files/move``."""
    return Op("POST", sandbox_path(sandbox_id, "/files/move"), _entry, json={"from": _abs_path(src, "from"), "to": _abs_path(dst, "to")}, params=_user_params(user))


def chmod(sandbox_id: str, path: str, mode: Union[str, int]) -> Op[FileEntry]:
    """``POST /v1/sandboxes/{id}/files/chmod``; ``mode`` as an int (``0o755``) or octal string."""
    m = format(mode, "04o") if isinstance(mode, int) else mode
    return Op("POST", sandbox_path(sandbox_id, "/files/chmod"), _entry, json={"path": _abs_path(path), "mode": m})


def chown(sandbox_id: str, path: str, owner: Optional[str] = None, group: Optional[str] = None) -> Op[FileEntry]:
    """``POST /v1/sandboxes/{id}/files/chown``."""
    if owner is None and group is None:
        raise _invalid("chown needs owner or group")
    return Op("POST", sandbox_path(sandbox_id, "/files/chown"), _entry, json=_drop_none({"path": _abs_path(path), "owner": owner, "group": group}))


def read_archive(sandbox_id: str, path: str, user: Optional[str] = None) -> Op[bytes]:
    """``GET /v1/sandboxes/{id}/archive``: a tar of the tree at ``path``."""
    return Op("GET", sandbox_path(sandbox_id, "/archive"), bytes, params=_file_params(path, user))


def write_archive(sandbox_id: str, path: str, user: Optional[str] = None) -> Op[None]:
    """``PUT /v1/sandboxes/{id}/archive``: extract a tar (the caller supplies the body)."""
    return Op("PUT", sandbox_path(sandbox_id, "/archive"), _none, params=_file_params(path, user), headers={"content-type": "application/x-tar"})


# ---- snapshots, branches -------------------------------------------------------------------


def _snapshot(body: bytes) -> Snapshot:
    return Snapshot.from_json(_load(body))


def snapshot(sandbox_id: str, memory: bool = False, name: Optional[str] = None, labels: Optional[Mapping[str, str]] = None) -> Op[Snapshot]:
    """``POST /v1/sandboxes/{id}/snapshot``."""
    body: Json = {"memory": bool(memory)}
    if name is not None:
        body["name"] = name
    if labels:
        body["labels"] = dict(labels)
    return Op("POST", sandbox_path(sandbox_id, "/snapshot"), _snapshot, json=body)


def _branch(body: bytes) -> Tuple[Snapshot, List[SandboxInfo]]:
    j = _load(body)
    return Snapshot.from_json(j["snapshot"]), [SandboxInfo.from_json(s) for s in j["sandboxes"]]


def branch(sandbox_id: str, count: int) -> Op[Tuple[Snapshot, List[SandboxInfo]]]:
    """``POST /v1/sandboxes/{id}/branch`` (``count`` 1..=32)."""
    if not isinstance(count, int) or not 1 <= count <= 32:
        raise _invalid(f"count must be 1..=32, got {count!r}")
    return Op("POST", sandbox_path(sandbox_id, "/branch"), _branch, json={"count": count})


def list_snapshots(sandbox: Optional[str] = None, cursor: Optional[str] = None, limit: Optional[int] = None) -> Op[Page]:
    """``GET /v1/snapshots`` (one page of :class:`Snapshot`)."""
    params = _drop_none({"sandbox": sandbox, "cursor": cursor, "limit": str(limit) if limit is not None else None})

    def parse(b: bytes) -> Page:
        j = _load(b)
        return Page([Snapshot.from_json(s) for s in j["items"]], j.get("next_cursor"))

    return Op("GET", "/v1/snapshots", parse, params=params)


def get_snapshot(snapshot_id: str) -> Op[Snapshot]:
    """``GET /v1/snapshots/{id or name}``."""
    return Op("GET", f"/v1/snapshots/{seg(snapshot_id, 'snapshot id')}", _snapshot)


def delete_snapshot(snapshot_id: str) -> Op[None]:
    """``DELETE /v1/snapshots/{id or name}``."""
    return Op("DELETE", f"/v1/snapshots/{seg(snapshot_id, 'snapshot id')}", _none)


# ---- ports, metrics, events, images ----------------------------------------------------------


def ports(sandbox_id: str) -> Op[List[Port]]:
    """``GET /v1/sandboxes/{id}/ports``."""
    return Op("GET", sandbox_path(sandbox_id, "/ports"), lambda b: [Port.from_json(p) for p in _load(b)["items"]])


def preview_url(base_url: str, info: SandboxInfo, port: int, with_token: bool) -> str:
    """The preview-proxy URL of a sandbox port under the API's address (with the access token
    for a private port when ``with_token``)."""
    url = f"{base_url}{sandbox_path(info.id, f'/ports/{int(port)}/')}"
    token = info.network.access_token
    if with_token and token and port not in info.network.public_ports:
        url += f"?warren_token={token}"
    return url


def metrics(sandbox_id: str) -> Op[SandboxMetrics]:
    """``GET /v1/sandboxes/{id}/metrics``."""
    return Op("GET", sandbox_path(sandbox_id, "/metrics"), lambda b: SandboxMetrics.from_json(_load(b)))


def prometheus() -> Op[str]:
    """``GET /v1/metrics`` (Prometheus text)."""
    return Op("GET", "/v1/metrics", lambda b: b.decode())


def event_params(sandbox: Optional[str] = None, action: Optional[str] = None, after: Optional[int] = None, limit: Optional[int] = None) -> Dict[str, str]:
    """Query of ``GET /v1/events`` and ``/v1/events/stream``."""
    return _drop_none({"sandbox": sandbox, "action": action, "after": str(after) if after is not None else None, "limit": str(limit) if limit is not None else None})


def list_events(sandbox: Optional[str] = None, action: Optional[str] = None, after: Optional[int] = None, limit: Optional[int] = None) -> Op[Page]:
    """``GET /v1/events`` (one page of :class:`Event`)."""

    def parse(b: bytes) -> Page:
        j = _load(b)
        return Page([Event.from_json(e) for e in j["items"]], j.get("next_cursor"))

    return Op("GET", "/v1/events", parse, params=event_params(sandbox, action, after, limit))


def stream_events(sandbox: Optional[str] = None, action: Optional[str] = None, after: Optional[int] = None) -> Op[None]:
    """``GET /v1/events/stream`` (SSE, read by the caller)."""
    return Op("GET", "/v1/events/stream", _none, params=event_params(sandbox, action, after), headers={"accept": "text/event-stream"})


def _image(b: bytes) -> Image:
    return Image.from_json(_load(b))


def list_images() -> Op[List[Image]]:
    """``GET /v1/images``."""
    return Op("GET", "/v1/images", lambda b: [Image.from_json(i) for i in _load(b)["items"]])


def _image_path(reference: str) -> str:
    if not isinstance(reference, str) or not reference:
        raise _invalid("image reference must be a non-empty string")
    return "/v1/images/" + quote(reference, safe="/:@")


def get_image(reference: str) -> Op[Image]:
    """``GET /v1/images/{reference}``."""
    return Op("GET", _image_path(reference), _image)


def delete_image(reference: str) -> Op[None]:
    """``DELETE /v1/images/{reference}``."""
    return Op("DELETE", _image_path(reference), _none)


def pull_image(ref: str, insecure: bool = False, username: Optional[str] = None, password: Optional[str] = None, stream: bool = False) -> Op[Image]:
    """``POST /v1/images/pull`` (``stream``: ask for NDJSON progress, read by the caller)."""
    if (username is None) != (password is None):
        raise _invalid("give both username and password, or neither")
    body = _drop_none({"ref": ref, "insecure": insecure or None, "username": username, "password": password})
    headers = {"accept": "application/x-ndjson"} if stream else {}
    return Op("POST", "/v1/images/pull", _image, json=body, headers=headers)


def health() -> Op[Json]:
    """``GET /healthz``."""
    return Op("GET", "/healthz", _load)
