"""Plain data returned by the API, as typed dataclasses.

Each has ``from_json`` (the API's JSON object in, the dataclass out) and keeps the JSON it was made
from in ``raw``, so a field added to the API later is readable before the SDK knows it. Times are
RFC 3339 strings, as the API sends them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

Json = Dict[str, Any]


@dataclass(frozen=True)
class LifecyclePolicy:
    """A sandbox's lifecycle rules. ``None`` means "off" in answers and "server default" in requests;
    ``0`` in a request turns a rule off.

    Attributes:
        idle_timeout_s: seconds without activity before ``idle_action``.
        idle_action: ``"pause"``, ``"hibernate"`` or ``"stop"``.
        auto_archive_after_s: seconds a stopped/hibernated sandbox waits before it is archived.
        auto_delete_after_s: seconds a stopped/hibernated/archived sandbox waits before deletion.
        ttl_s: hard time to live from creation, whatever the state.
    """

    idle_timeout_s: Optional[int] = None
    idle_action: Optional[str] = None
    auto_archive_after_s: Optional[int] = None
    auto_delete_after_s: Optional[int] = None
    ttl_s: Optional[int] = None

    def to_json(self) -> Json:
        """The request form: only the fields that are set."""
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_json(cls, j: Optional[Json]) -> "LifecyclePolicy":
        """From the API's ``lifecycle`` object."""
        j = j or {}
        return cls(**{k: j.get(k) for k in ("idle_timeout_s", "idle_action", "auto_archive_after_s", "auto_delete_after_s", "ttl_s")})


@dataclass(frozen=True)
class NetworkPolicy:
    """An egress policy: ``mode`` is ``"none"``, ``"outbound"`` or ``"restricted"``; ``allow``
    (only with ``restricted``) and ``deny`` hold IPv4 addresses, CIDRs or domains."""

    mode: str = "outbound"
    allow: List[str] = field(default_factory=list)
    deny: List[str] = field(default_factory=list)

    def to_json(self) -> Json:
        """The request form."""
        return {"mode": self.mode, "allow": list(self.allow), "deny": list(self.deny)}


@dataclass(frozen=True)
class SandboxNetwork:
    """A sandbox's network: policy, public ports, bridge address and preview access token."""

    mode: str
    allow: List[str]
    deny: List[str]
    public_ports: List[int]
    address: Optional[str]
    access_token: Optional[str]

    @classmethod
    def from_json(cls, j: Optional[Json]) -> "SandboxNetwork":
        """From the API's ``network`` object."""
        j = j or {}
        return cls(
            mode=j.get("mode", "none"),
            allow=list(j.get("allow", [])),
            deny=list(j.get("deny", [])),
            public_ports=list(j.get("public_ports", [])),
            address=j.get("address"),
            access_token=j.get("access_token"),
        )


@dataclass(frozen=True)
class SandboxInfo:
    """One sandbox as the API describes it (``GET /v1/sandboxes/{id}``).

    ``state`` is one of ``creating``, ``running``, ``paused``, ``hibernated``, ``stopped``,
    ``archived``, ``deleting``, ``error`` (then ``error`` says why).
    """

    id: str
    state: str
    image: str
    image_digest: str
    cmd: Optional[List[str]]
    env: Dict[str, str]
    cpu: float
    memory_mb: int
    pids_limit: int
    disk_mb: int
    labels: Dict[str, str]
    metadata: Dict[str, str]
    created_at: str
    updated_at: str
    workdir: Optional[str]
    user: Optional[str]
    error: Optional[str]
    parent_snapshot: Optional[str]
    lifecycle: LifecyclePolicy
    last_active_at: Optional[str]
    network: SandboxNetwork
    raw: Json = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, j: Json) -> "SandboxInfo":
        """From the API's sandbox object."""
        return cls(
            id=j["id"],
            state=j["state"],
            image=j["image"],
            image_digest=j["image_digest"],
            cmd=j.get("cmd"),
            env=dict(j.get("env", {})),
            cpu=float(j["cpu"]),
            memory_mb=int(j["memory_mb"]),
            pids_limit=int(j["pids_limit"]),
            disk_mb=int(j.get("disk_mb", 0)),
            labels=dict(j.get("labels", {})),
            metadata=dict(j.get("metadata", {})),
            created_at=j["created_at"],
            updated_at=j["updated_at"],
            workdir=j.get("workdir"),
            user=j.get("user"),
            error=j.get("error"),
            parent_snapshot=j.get("parent_snapshot"),
            lifecycle=LifecyclePolicy.from_json(j.get("lifecycle")),
            last_active_at=j.get("last_active_at"),
            network=SandboxNetwork.from_json(j.get("network")),
            raw=j,
        )


@dataclass(frozen=True)
class ExecResult:
    """The outcome of a command run to completion.

    Attributes:
        exit_code: its exit status; ``-1`` when a signal ended it (the timeout's SIGKILL too).
        stdout, stderr: its output as text (invalid UTF-8 replaced).
        truncated: output went past the server's 16 MiB per stream and the rest was dropped
            (never set for streamed commands: nothing is collected server-side).
        timed_out: killed because ``timeout_s`` passed.
        duration_ms: wall-clock time.
        status: e.g. ``"exit status 3"`` or ``"signal: killed"`` (streamed commands only).
    """

    exit_code: int
    stdout: str
    stderr: str
    truncated: bool = False
    timed_out: bool = False
    duration_ms: int = 0
    status: Optional[str] = None

    @property
    def ok(self) -> bool:
        """True when the command exited 0."""
        return self.exit_code == 0

    def check(self) -> "ExecResult":
        """Return self when the command exited 0; raise :class:`CommandFailed` otherwise."""
        if self.exit_code != 0:
            raise CommandFailed(self)
        return self

    @classmethod
    def from_json(cls, j: Json) -> "ExecResult":
        """From the JSON exec answer."""
        return cls(
            exit_code=int(j["exit_code"]),
            stdout=j.get("stdout", ""),
            stderr=j.get("stderr", ""),
            truncated=bool(j.get("truncated", False)),
            timed_out=bool(j.get("timed_out", False)),
            duration_ms=int(j.get("duration_ms", 0)),
        )


class CommandFailed(Exception):
    """Raised by :meth:`ExecResult.check` for a non-zero exit; ``result`` holds the outcome."""

    def __init__(self, result: ExecResult) -> None:
        tail = (result.stderr or result.stdout)[-500:]
        super().__init__(f"command exited {result.exit_code}: {tail}")
        self.result = result


@dataclass(frozen=True)
class ProcessExit:
    """How a streamed or background process ended (the ``exit`` event)."""

    exit_code: int
    timed_out: bool
    status: str
    duration_ms: int

    @classmethod
    def from_json(cls, j: Json) -> "ProcessExit":
        """From the ``exit`` event's data."""
        return cls(int(j["exit_code"]), bool(j.get("timed_out", False)), str(j.get("status", "")), int(j.get("duration_ms", 0)))


@dataclass(frozen=True)
class ProcessInfo:
    """A process started through warren that still runs (the main process has tag ``main``)."""

    pid: int
    cmd: List[str]
    tag: Optional[str] = None
    cwd: Optional[str] = None

    @classmethod
    def from_json(cls, j: Json) -> "ProcessInfo":
        """From the API's process object."""
        return cls(int(j["pid"]), list(j["cmd"]), j.get("tag"), j.get("cwd"))


@dataclass(frozen=True)
class FileEntry:
    """A file, directory or symlink inside a sandbox.

    ``type`` is ``file``, ``dir``, ``symlink`` or ``other``; ``mode`` an octal string like ``"0755"``;
    ``symlink_target`` is set for symlinks.
    """

    name: str
    path: str
    type: str
    size: int
    mode: str
    owner: str
    group: str
    modified_at: Optional[str]
    symlink_target: Optional[str] = None

    @property
    def is_dir(self) -> bool:
        """True for a directory."""
        return self.type == "dir"

    @classmethod
    def from_json(cls, j: Json) -> "FileEntry":
        """From the API's file entry."""
        return cls(
            name=j["name"],
            path=j["path"],
            type=j["type"],
            size=int(j.get("size", 0)),
            mode=j.get("mode", ""),
            owner=str(j.get("owner", "")),
            group=str(j.get("group", "")),
            modified_at=j.get("modified_at"),
            symlink_target=j.get("symlink_target"),
        )


@dataclass(frozen=True)
class Snapshot:
    """An immutable capture of a sandbox (files, and memory when ``memory`` is true)."""

    id: str
    name: Optional[str]
    state: str
    source_sandbox: Optional[str]
    parent_snapshot: Optional[str]
    image: str
    memory: bool
    labels: Dict[str, str]
    fs_bytes: int
    memory_bytes: int
    paused_ms: float
    depth: int
    created_at: str
    raw: Json = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, j: Json) -> "Snapshot":
        """From the API's snapshot object."""
        return cls(
            id=j["id"],
            name=j.get("name"),
            state=j["state"],
            source_sandbox=j.get("source_sandbox"),
            parent_snapshot=j.get("parent_snapshot"),
            image=j["image"],
            memory=bool(j["memory"]),
            labels=dict(j.get("labels", {})),
            fs_bytes=int(j.get("fs_bytes", 0)),
            memory_bytes=int(j.get("memory_bytes", 0)),
            paused_ms=float(j.get("paused_ms", 0.0)),
            depth=int(j.get("depth", 0)),
            created_at=j["created_at"],
            raw=j,
        )


@dataclass(frozen=True)
class Port:
    """A TCP port the sandbox listens on, with its preview URLs (``url`` by host name,
    ``path_url`` under the API's own address)."""

    port: int
    public: bool
    url: str
    path_url: str

    @classmethod
    def from_json(cls, j: Json) -> "Port":
        """From the API's port object."""
        return cls(int(j["port"]), bool(j["public"]), j["url"], j["path_url"])


@dataclass(frozen=True)
class MetricsSample:
    """A sandbox's resource use at one instant (``cpu_percent`` is percent of one core)."""

    at: str
    cpu_percent: float
    memory_bytes: int
    memory_limit_bytes: Optional[int]
    pids: int
    pids_limit: Optional[int]
    disk_bytes: Optional[int]

    @classmethod
    def from_json(cls, j: Json) -> "MetricsSample":
        """From one sample."""
        return cls(j["at"], float(j["cpu_percent"]), int(j["memory_bytes"]), j.get("memory_limit_bytes"), int(j["pids"]), j.get("pids_limit"), j.get("disk_bytes"))


@dataclass(frozen=True)
class SandboxMetrics:
    """The sandbox's resource use now and over the last 10 minutes (oldest first)."""

    current: MetricsSample
    history: List[MetricsSample]

    @classmethod
    def from_json(cls, j: Json) -> "SandboxMetrics":
        """From the metrics answer."""
        return cls(MetricsSample.from_json(j["current"]), [MetricsSample.from_json(s) for s in j.get("history", [])])


@dataclass(frozen=True)
class Event:
    """One recorded event (a state change or an operation); ``seq`` only grows."""

    seq: int
    at: str
    action: str
    result: str
    sandbox_id: Optional[str] = None
    from_state: Optional[str] = None
    to_state: Optional[str] = None
    actor: Optional[str] = None
    message: Optional[str] = None

    @classmethod
    def from_json(cls, j: Json) -> "Event":
        """From the API's event object."""
        return cls(
            seq=int(j["seq"]),
            at=j["at"],
            action=j["action"],
            result=j["result"],
            sandbox_id=j.get("sandbox_id"),
            from_state=j.get("from_state"),
            to_state=j.get("to_state"),
            actor=j.get("actor"),
            message=j.get("message"),
        )


@dataclass(frozen=True)
class Image:
    """An image in the daemon's local store (``size`` = compressed layers; ``config`` = defaults)."""

    reference: str
    digest: str
    size: int
    layers: int
    config: Json
    created_at: str

    @classmethod
    def from_json(cls, j: Json) -> "Image":
        """From the API's image object."""
        return cls(j["reference"], j["digest"], int(j["size"]), int(j["layers"]), dict(j.get("config", {})), j["created_at"])


@dataclass(frozen=True)
class PullProgress:
    """One line of a streamed pull: ``event`` (``resolved``, ``layer_started``, ``layer_progress``,
    ``layer_cached``, ``unpacking``, ``layer_done``, ``done``, ``image``) and its fields in ``data``."""

    event: str
    data: Json


@dataclass(frozen=True)
class Page:
    """One page of a paginated listing; pass ``next_cursor`` as ``cursor`` for the next one."""

    items: List[Any]
    next_cursor: Optional[str]
