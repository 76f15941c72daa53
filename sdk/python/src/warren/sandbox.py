"""A sandbox handle for the blocking client: lifecycle, exec, processes, files, PTY, snapshots."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import IO, Any, Iterator, List, Mapping, Optional, Sequence, Union

from . import _io, _ops
from ._http import SyncHttp
from ._streams import ExecCollector, OutputCallback, SseDecoder
from .errors import SandboxNotFoundError
from .models import Event, ExecResult, FileEntry, LifecyclePolicy, NetworkPolicy, Port, ProcessInfo, SandboxInfo, SandboxMetrics, Snapshot
from .process import CommandHandle
from .terminal import Terminal

LocalPath = Union[str, "os.PathLike[str]"]


class Sandbox:
    """One sandbox. Get one from :meth:`warren.Warren.create_sandbox` or ``get_sandbox``.

    ``info`` is the sandbox as last seen (refreshed by every call that returns it);
    ``with sandbox:`` deletes it at the end of the block.
    """

    def __init__(self, http: SyncHttp, info: SandboxInfo) -> None:
        self._http = http
        self.info = info
        self.files = Files(http, info.id)
        """File operations inside this sandbox."""

    def __repr__(self) -> str:
        return f"Sandbox(id={self.id!r}, state={self.state!r})"

    @property
    def id(self) -> str:
        """The sandbox id (``sb-…``), also its hostname."""
        return self.info.id

    @property
    def state(self) -> str:
        """The state as last seen; call :meth:`refresh` to re-read it."""
        return self.info.state

    def _set(self, info: SandboxInfo) -> "Sandbox":
        self.info = info
        return self

    # -- lifecycle ------------------------------------------------------------------------

    def refresh(self) -> "Sandbox":
        """Re-read the sandbox from the daemon."""
        return self._set(self._http.call(_ops.get_sandbox(self.id)))

    def delete(self) -> None:
        """Delete the sandbox (works from any state)."""
        self._http.call(_ops.delete_sandbox(self.id))

    def pause(self) -> "Sandbox":
        """Freeze every process in place (memory kept). ``running`` → ``paused``."""
        return self._set(self._http.call(_ops.lifecycle(self.id, "pause")))

    def resume(self) -> "Sandbox":
        """Thaw a paused sandbox, or restore a hibernated one, to ``running``."""
        return self._set(self._http.call(_ops.lifecycle(self.id, "resume")))

    def hibernate(self) -> "Sandbox":
        """Checkpoint memory to disk and release it. ``running``/``paused`` → ``hibernated``."""
        return self._set(self._http.call(_ops.lifecycle(self.id, "hibernate")))

    def stop(self) -> "Sandbox":
        """Kill every process, keep the files. → ``stopped``."""
        return self._set(self._http.call(_ops.lifecycle(self.id, "stop")))

    def start(self) -> "Sandbox":
        """Boot a stopped sandbox again on its files. ``stopped`` → ``running``."""
        return self._set(self._http.call(_ops.lifecycle(self.id, "start")))

    def archive(self) -> "Sandbox":
        """Move a stopped or hibernated sandbox's files to the archive. → ``archived``."""
        return self._set(self._http.call(_ops.lifecycle(self.id, "archive")))

    def update(
        self,
        *,
        labels: Optional[Mapping[str, str]] = None,
        metadata: Optional[Mapping[str, str]] = None,
        lifecycle: Union[LifecyclePolicy, Mapping[str, Any], None] = None,
        network: Union[NetworkPolicy, Mapping[str, Any], str, None] = None,
        public_ports: Optional[Sequence[int]] = None,
    ) -> "Sandbox":
        """Change labels, metadata, lifecycle policy, egress policy or public ports (each given
        field replaces the whole value)."""
        op = _ops.update_sandbox(self.id, labels=labels, metadata=metadata, lifecycle=lifecycle, network=network, public_ports=public_ports)
        return self._set(self._http.call(op))

    def set_lifecycle(self, policy: Union[LifecyclePolicy, Mapping[str, Any]]) -> "Sandbox":
        """Replace the lifecycle policy (idle timeout and action, auto-archive, auto-delete, TTL)."""
        return self.update(lifecycle=policy)

    def logs(self, tail: Optional[int] = None) -> str:
        """The main process's output retained so far (the last ``tail`` lines)."""
        return self._http.call(_ops.logs(self.id, tail))

    # -- exec and processes -----------------------------------------------------------------

    def exec(
        self,
        cmd: _ops.Command,
        *,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        user: Optional[str] = None,
        timeout_s: Optional[int] = None,
        stdin: Union[str, bytes, None] = None,
        on_stdout: Optional[OutputCallback] = None,
        on_stderr: Optional[OutputCallback] = None,
    ) -> ExecResult:
        """Run a command to completion and return its outcome (a non-zero exit is not an error;
        use ``.check()``). ``cmd`` is a list (run as is) or a string (run by ``sh -c``).

        With ``on_stdout``/``on_stderr`` the output is streamed to them as it is produced (and
        still collected); with ``stdin`` that data is fed to the command's stdin, then closed.
        """
        body = _ops.exec_body(cmd, env, cwd, user, timeout_s, stdin=stdin is not None)
        if on_stdout is None and on_stderr is None and stdin is None:
            return self._http.call(_ops.exec_json(self.id, body), timeout=(timeout_s or 60) + 30)
        collector = ExecCollector(on_stdout, on_stderr)
        with self._http.stream(_ops.exec_stream(self.id, body)) as r:
            dec = SseDecoder()
            for chunk in r.iter_bytes():
                for msg in dec.feed(chunk):
                    if collector.handle(msg):
                        return collector.result()
                    if msg.event == "start" and stdin is not None:
                        for chunk in _ops.stdin_chunks(stdin):
                            self._http.call(_ops.write_stdin(self.id, collector.pid or 0, chunk))
                        self._http.call(_ops.close_stdin(self.id, collector.pid or 0))
        return collector.result()

    def spawn(
        self,
        cmd: _ops.Command,
        *,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        user: Optional[str] = None,
        timeout_s: Optional[int] = None,
        stdin: bool = False,
        on_stdout: Optional[OutputCallback] = None,
        on_stderr: Optional[OutputCallback] = None,
    ) -> CommandHandle:
        """Start a command in the background and return at once with a :class:`CommandHandle`
        (``pid``, ``wait()``, ``kill()``, ``send_stdin()`` when ``stdin=True``)."""
        return CommandHandle(self._http, self.id, _ops.exec_body(cmd, env, cwd, user, timeout_s, stdin=stdin), on_stdout, on_stderr)

    def start_process(
        self,
        cmd: _ops.Command,
        *,
        tag: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        user: Optional[str] = None,
        timeout_s: Optional[int] = None,
        stdin: bool = False,
    ) -> ProcessInfo:
        """Start a detached process that outlives this client (e.g. a server); see :meth:`attach`."""
        return self._http.call(_ops.start_process(self.id, _ops.exec_body(cmd, env, cwd, user, timeout_s, stdin=stdin, tag=tag)))

    def processes(self) -> List[ProcessInfo]:
        """The processes started through warren that still run (the main one has tag ``main``)."""
        return self._http.call(_ops.list_processes(self.id))

    def attach(self, pid: int, *, on_stdout: Optional[OutputCallback] = None, on_stderr: Optional[OutputCallback] = None) -> ExecResult:
        """Follow a running process's output from now on until it exits; its outcome (output
        collected since attaching)."""
        collector = ExecCollector(on_stdout, on_stderr)
        with self._http.stream(_ops.process_events(self.id, pid)) as r:
            dec = SseDecoder()
            for chunk in r.iter_bytes():
                for msg in dec.feed(chunk):
                    if collector.handle(msg):
                        return collector.result()
        return collector.result()

    def kill(self, pid: int, signal: str = "KILL") -> None:
        """Send ``KILL`` (default) or ``TERM`` to a process."""
        self._http.call(_ops.signal(self.id, pid, signal))

    def send_stdin(self, pid: int, data: Union[str, bytes]) -> None:
        """Write to a process's stdin (started with ``stdin=True``)."""
        self._http.call(_ops.write_stdin(self.id, pid, data))

    def close_stdin(self, pid: int) -> None:
        """Close a process's stdin."""
        self._http.call(_ops.close_stdin(self.id, pid))

    def pty(self, *, cols: int = 80, rows: int = 24, cmd: Optional[str] = None, user: Optional[str] = None, cwd: Optional[str] = None) -> Terminal:
        """Open an interactive terminal (a login shell unless ``cmd`` is given)."""
        return Terminal(self._http.base_url, self._http.api_key, self.id, cols=cols, rows=rows, cmd=cmd, user=user, cwd=cwd)

    # -- snapshots ---------------------------------------------------------------------------

    def snapshot(self, *, memory: bool = False, name: Optional[str] = None, labels: Optional[Mapping[str, str]] = None) -> Snapshot:
        """Capture the sandbox's files (and, with ``memory=True``, its running processes)."""
        return self._http.call(_ops.snapshot(self.id, memory, name, labels))

    def branch(self, count: int) -> "Branches":
        """Snapshot with memory and start ``count`` sandboxes from it, each continuing from now."""
        snap, infos = self._http.call(_ops.branch(self.id, count))
        return Branches(snap, [Sandbox(self._http, i) for i in infos])

    # -- ports, metrics, events -------------------------------------------------------------

    def ports(self) -> List[Port]:
        """TCP ports the sandbox listens on, with their preview URLs."""
        return self._http.call(_ops.ports(self.id))

    def preview_url(self, port: int, *, with_token: bool = True) -> str:
        """The URL of ``port`` through the daemon's preview proxy (under the API's own address).
        A private port's URL carries the sandbox's access token unless ``with_token=False``."""
        return _ops.preview_url(self._http.base_url, self.info, port, with_token)

    def metrics(self) -> SandboxMetrics:
        """CPU, memory, pids and disk now, and the last 10 minutes of samples."""
        return self._http.call(_ops.metrics(self.id))

    def events(self, *, action: Optional[str] = None, after: Optional[int] = None, limit: Optional[int] = None) -> List[Event]:
        """This sandbox's recorded events (see :meth:`warren.Warren.list_events`)."""
        return self._http.call(_ops.list_events(self.id, action, after, limit)).items

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.delete()
        except SandboxNotFoundError:
            pass


@dataclass
class Branches:
    """What :meth:`Sandbox.branch` made: the memory snapshot and the new sandboxes."""

    snapshot: Snapshot
    sandboxes: List[Sandbox]


class Files:
    """Files inside one sandbox. Paths are absolute; ``user`` (default: the image's) owns what
    is created."""

    def __init__(self, http: SyncHttp, sandbox_id: str) -> None:
        self._http = http
        self._id = sandbox_id

    def read_bytes(self, path: str, *, user: Optional[str] = None) -> bytes:
        """The whole file."""
        return self._http.call(_ops.read_file(self._id, path, user))

    def read_text(self, path: str, *, user: Optional[str] = None, encoding: str = "utf-8") -> str:
        """The whole file, decoded."""
        return self.read_bytes(path, user=user).decode(encoding)

    def iter_bytes(self, path: str, *, user: Optional[str] = None) -> Iterator[bytes]:
        """The file in chunks as they arrive (nothing held whole)."""
        with self._http.stream(_ops.read_file(self._id, path, user)) as r:
            yield from r.iter_bytes()

    def write(self, path: str, data: _io.Data, *, user: Optional[str] = None) -> None:
        """Write (replace atomically) a file; parents are created. ``data``: bytes, text, a binary
        file object or an iterable of byte chunks (streamed)."""
        self._http.call(_ops.write_file(self._id, path, user), content=_io.body(data))

    def upload(self, local: LocalPath, path: str, *, user: Optional[str] = None) -> None:
        """Stream a local file into the sandbox."""
        self._http.call(_ops.write_file(self._id, path, user), content=_io.path_chunks(local))

    def download(self, path: str, local: Union[LocalPath, IO[bytes]], *, user: Optional[str] = None) -> int:
        """Stream a sandbox file to a local path or binary file object; the bytes written."""
        n = 0
        if hasattr(local, "write"):
            for chunk in self.iter_bytes(path, user=user):
                local.write(chunk)
                n += len(chunk)
            return n
        with open(local, "wb") as f:
            return self.download(path, f, user=user)

    def list(self, path: str, *, depth: int = 1, user: Optional[str] = None) -> List[FileEntry]:
        """Entries below a directory, ``depth`` levels deep (depth-first, name order)."""
        return self._http.call(_ops.list_files(self._id, path, depth, user))

    def stat(self, path: str, *, user: Optional[str] = None) -> FileEntry:
        """One file, directory or symlink."""
        return self._http.call(_ops.stat_file(self._id, path, user))

    def exists(self, path: str) -> bool:
        """True when something exists at ``path``."""
        from .errors import SandboxFileNotFoundError

        try:
            self.stat(path)
            return True
        except SandboxFileNotFoundError:
            return False

    def mkdir(self, path: str, *, mode: Optional[str] = None, user: Optional[str] = None) -> FileEntry:
        """``mkdir -p``; an existing directory is fine."""
        return self._http.call(_ops.mkdir(self._id, path, mode, user))

    def remove(self, path: str, *, recursive: bool = False) -> None:
        """Remove a file, symlink or directory (a non-empty one needs ``recursive=True``)."""
        self._http.call(_ops.remove_file(self._id, path, recursive))

    def move(self, src: str, dst: str, *, user: Optional[str] = None) -> FileEntry:
        """Rename ``src`` to ``dst`` (parents created, an existing file replaced)."""
        return self._http.call(_ops.move_file(self._id, src, dst, user))

    def chmod(self, path: str, mode: Union[str, int]) -> FileEntry:
        """Set permission bits (``0o755`` or ``"0755"``)."""
        return self._http.call(_ops.chmod(self._id, path, mode))

    def chown(self, path: str, owner: Optional[str] = None, group: Optional[str] = None) -> FileEntry:
        """Set owner and/or group (names or numeric ids)."""
        return self._http.call(_ops.chown(self._id, path, owner, group))

    def download_tar(self, path: str, local: Union[LocalPath, IO[bytes]], *, user: Optional[str] = None) -> int:
        """Stream a tar of the tree at ``path`` to a local path or file object; bytes written."""
        op = _ops.read_archive(self._id, path, user)
        if not hasattr(local, "write"):
            with open(local, "wb") as f:
                return self.download_tar(path, f, user=user)
        n = 0
        with self._http.stream(op) as r:
            for chunk in r.iter_bytes():
                local.write(chunk)
                n += len(chunk)
        return n

    def upload_tar(self, path: str, data: _io.Data, *, user: Optional[str] = None) -> None:
        """Extract a tar stream into directory ``path`` (created with its parents)."""
        self._http.call(_ops.write_archive(self._id, path, user), content=_io.body(data))
