"""The asyncio client, :class:`AsyncWarren`: the same API as :class:`warren.Warren`, awaited.

Requests, validation and parsing come from :mod:`warren._ops` like the blocking client's; the
methods here only await them. Each one's documentation is its blocking twin's (copied with
:func:`_doc`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import IO, Any, AsyncIterable, AsyncIterator, Callable, Dict, List, Mapping, Optional, Sequence, TypeVar, Union

import httpx

from . import _io, _ops
from ._config import DEFAULT_TIMEOUT, resolve
from ._http import AsyncHttp
from ._streams import ExecCollector, NdjsonDecoder, OutputCallback, SseDecoder
from .aio_process import AsyncCommandHandle
from .aio_terminal import AsyncTerminal
from .client import Warren, _pull_line
from .errors import SandboxFileNotFoundError, SandboxNotFoundError, error_from_body
from .models import Event, ExecResult, FileEntry, Image, LifecyclePolicy, NetworkPolicy, Page, Port, ProcessInfo, PullProgress, SandboxInfo, SandboxMetrics, Snapshot
from .sandbox import Files, Sandbox

F = TypeVar("F", bound=Callable[..., Any])
LocalPath = Union[str, "os.PathLike[str]"]


def _doc(twin: Callable[..., Any]) -> Callable[[F], F]:
    """Give the decorated async method the docstring of its blocking twin."""

    def wrap(f: F) -> F:
        f.__doc__ = twin.__doc__
        return f

    return wrap


def _abody(data: Any) -> Any:
    """An upload body the async client can stream."""
    b = _io.body(data)
    if isinstance(b, (bytes, AsyncIterable)):
        return b
    return _io.aiter_sync(b)


class AsyncSandbox:
    """One sandbox (asyncio). ``async with sandbox:`` deletes it at the end of the block."""

    def __init__(self, http: AsyncHttp, info: SandboxInfo) -> None:
        self._http = http
        self.info = info
        self.files = AsyncFiles(http, info.id)
        """File operations inside this sandbox."""

    def __repr__(self) -> str:
        return f"AsyncSandbox(id={self.id!r}, state={self.state!r})"

    @property
    def id(self) -> str:
        """The sandbox id (``sb-…``), also its hostname."""
        return self.info.id

    @property
    def state(self) -> str:
        """The state as last seen; ``await refresh()`` to re-read it."""
        return self.info.state

    async def _set(self, op: _ops.Op[SandboxInfo]) -> "AsyncSandbox":
        self.info = await self._http.call(op)
        return self

    @_doc(Sandbox.refresh)
    async def refresh(self) -> "AsyncSandbox":
        return await self._set(_ops.get_sandbox(self.id))

    @_doc(Sandbox.delete)
    async def delete(self) -> None:
        await self._http.call(_ops.delete_sandbox(self.id))

    @_doc(Sandbox.pause)
    async def pause(self) -> "AsyncSandbox":
        return await self._set(_ops.lifecycle(self.id, "pause"))

    @_doc(Sandbox.resume)
    async def resume(self) -> "AsyncSandbox":
        return await self._set(_ops.lifecycle(self.id, "resume"))

    @_doc(Sandbox.hibernate)
    async def hibernate(self) -> "AsyncSandbox":
        return await self._set(_ops.lifecycle(self.id, "hibernate"))

    @_doc(Sandbox.stop)
    async def stop(self) -> "AsyncSandbox":
        return await self._set(_ops.lifecycle(self.id, "stop"))

    @_doc(Sandbox.start)
    async def start(self) -> "AsyncSandbox":
        return await self._set(_ops.lifecycle(self.id, "start"))

    @_doc(Sandbox.archive)
    async def archive(self) -> "AsyncSandbox":
        return await self._set(_ops.lifecycle(self.id, "archive"))

    @_doc(Sandbox.update)
    async def update(
        self,
        *,
        labels: Optional[Mapping[str, str]] = None,
        metadata: Optional[Mapping[str, str]] = None,
        lifecycle: Union[LifecyclePolicy, Mapping[str, Any], None] = None,
        network: Union[NetworkPolicy, Mapping[str, Any], str, None] = None,
        public_ports: Optional[Sequence[int]] = None,
    ) -> "AsyncSandbox":
        return await self._set(_ops.update_sandbox(self.id, labels=labels, metadata=metadata, lifecycle=lifecycle, network=network, public_ports=public_ports))

    @_doc(Sandbox.set_lifecycle)
    async def set_lifecycle(self, policy: Union[LifecyclePolicy, Mapping[str, Any]]) -> "AsyncSandbox":
        return await self.update(lifecycle=policy)

    @_doc(Sandbox.logs)
    async def logs(self, tail: Optional[int] = None) -> str:
        return await self._http.call(_ops.logs(self.id, tail))

    @_doc(Sandbox.exec)
    async def exec(
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
        body = _ops.exec_body(cmd, env, cwd, user, timeout_s, stdin=stdin is not None)
        if on_stdout is None and on_stderr is None and stdin is None:
            return await self._http.call(_ops.exec_json(self.id, body), timeout=(timeout_s or 60) + 30)
        collector = ExecCollector(on_stdout, on_stderr)
        async with self._http.stream(_ops.exec_stream(self.id, body)) as r:
            dec = SseDecoder()
            async for chunk in r.aiter_bytes():
                for msg in dec.feed(chunk):
                    if collector.handle(msg):
                        return collector.result()
                    if msg.event == "start" and stdin is not None:
                        for chunk in _ops.stdin_chunks(stdin):
                            await self._http.call(_ops.write_stdin(self.id, collector.pid or 0, chunk))
                        await self._http.call(_ops.close_stdin(self.id, collector.pid or 0))
        return collector.result()

    @_doc(Sandbox.spawn)
    async def spawn(
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
    ) -> AsyncCommandHandle:
        handle = AsyncCommandHandle(self._http, self.id, on_stdout, on_stderr)
        return await handle._begin(_ops.exec_body(cmd, env, cwd, user, timeout_s, stdin=stdin))

    @_doc(Sandbox.start_process)
    async def start_process(
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
        return await self._http.call(_ops.start_process(self.id, _ops.exec_body(cmd, env, cwd, user, timeout_s, stdin=stdin, tag=tag)))

    @_doc(Sandbox.processes)
    async def processes(self) -> List[ProcessInfo]:
        return await self._http.call(_ops.list_processes(self.id))

    @_doc(Sandbox.attach)
    async def attach(self, pid: int, *, on_stdout: Optional[OutputCallback] = None, on_stderr: Optional[OutputCallback] = None) -> ExecResult:
        collector = ExecCollector(on_stdout, on_stderr)
        async with self._http.stream(_ops.process_events(self.id, pid)) as r:
            dec = SseDecoder()
            async for chunk in r.aiter_bytes():
                for msg in dec.feed(chunk):
                    if collector.handle(msg):
                        return collector.result()
        return collector.result()

    @_doc(Sandbox.kill)
    async def kill(self, pid: int, signal: str = "KILL") -> None:
        await self._http.call(_ops.signal(self.id, pid, signal))

    @_doc(Sandbox.send_stdin)
    async def send_stdin(self, pid: int, data: Union[str, bytes]) -> None:
        await self._http.call(_ops.write_stdin(self.id, pid, data))

    @_doc(Sandbox.close_stdin)
    async def close_stdin(self, pid: int) -> None:
        await self._http.call(_ops.close_stdin(self.id, pid))

    @_doc(Sandbox.pty)
    async def pty(self, *, cols: int = 80, rows: int = 24, cmd: Optional[str] = None, user: Optional[str] = None, cwd: Optional[str] = None) -> AsyncTerminal:
        return await AsyncTerminal.open(self._http.base_url, self._http.api_key, self.id, cols=cols, rows=rows, cmd=cmd, user=user, cwd=cwd)

    @_doc(Sandbox.snapshot)
    async def snapshot(self, *, memory: bool = False, name: Optional[str] = None, labels: Optional[Mapping[str, str]] = None) -> Snapshot:
        return await self._http.call(_ops.snapshot(self.id, memory, name, labels))

    @_doc(Sandbox.branch)
    async def branch(self, count: int) -> "AsyncBranches":
        snap, infos = await self._http.call(_ops.branch(self.id, count))
        return AsyncBranches(snap, [AsyncSandbox(self._http, i) for i in infos])

    @_doc(Sandbox.ports)
    async def ports(self) -> List[Port]:
        return await self._http.call(_ops.ports(self.id))

    @_doc(Sandbox.preview_url)
    def preview_url(self, port: int, *, with_token: bool = True) -> str:
        return _ops.preview_url(self._http.base_url, self.info, port, with_token)

    @_doc(Sandbox.metrics)
    async def metrics(self) -> SandboxMetrics:
        return await self._http.call(_ops.metrics(self.id))

    @_doc(Sandbox.events)
    async def events(self, *, action: Optional[str] = None, after: Optional[int] = None, limit: Optional[int] = None) -> List[Event]:
        return (await self._http.call(_ops.list_events(self.id, action, after, limit))).items

    async def __aenter__(self) -> "AsyncSandbox":
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.delete()
        except SandboxNotFoundError:
            pass


@dataclass
class AsyncBranches:
    """What :meth:`AsyncSandbox.branch` made: the memory snapshot and the new sandboxes."""

    snapshot: Snapshot
    sandboxes: List[AsyncSandbox]


class AsyncFiles:
    """Files inside one sandbox (asyncio); see :class:`warren.Files`."""

    def __init__(self, http: AsyncHttp, sandbox_id: str) -> None:
        self._http = http
        self._id = sandbox_id

    @_doc(Files.read_bytes)
    async def read_bytes(self, path: str, *, user: Optional[str] = None) -> bytes:
        return await self._http.call(_ops.read_file(self._id, path, user))

    @_doc(Files.read_text)
    async def read_text(self, path: str, *, user: Optional[str] = None, encoding: str = "utf-8") -> str:
        return (await self.read_bytes(path, user=user)).decode(encoding)

    @_doc(Files.iter_bytes)
    async def iter_bytes(self, path: str, *, user: Optional[str] = None) -> AsyncIterator[bytes]:
        async with self._http.stream(_ops.read_file(self._id, path, user)) as r:
            async for chunk in r.aiter_bytes():
                yield chunk

    @_doc(Files.write)
    async def write(self, path: str, data: Union[_io.Data, AsyncIterable[bytes]], *, user: Optional[str] = None) -> None:
        await self._http.call(_ops.write_file(self._id, path, user), content=_abody(data))

    @_doc(Files.upload)
    async def upload(self, local: LocalPath, path: str, *, user: Optional[str] = None) -> None:
        await self._http.call(_ops.write_file(self._id, path, user), content=_io.aiter_sync(_io.path_chunks(local)))

    @_doc(Files.download)
    async def download(self, path: str, local: Union[LocalPath, IO[bytes]], *, user: Optional[str] = None) -> int:
        if not hasattr(local, "write"):
            with open(local, "wb") as f:
                return await self.download(path, f, user=user)
        n = 0
        async for chunk in self.iter_bytes(path, user=user):
            local.write(chunk)
            n += len(chunk)
        return n

    @_doc(Files.list)
    async def list(self, path: str, *, depth: int = 1, user: Optional[str] = None) -> List[FileEntry]:
        return await self._http.call(_ops.list_files(self._id, path, depth, user))

    @_doc(Files.stat)
    async def stat(self, path: str, *, user: Optional[str] = None) -> FileEntry:
        return await self._http.call(_ops.stat_file(self._id, path, user))

    @_doc(Files.exists)
    async def exists(self, path: str) -> bool:
        try:
            await self.stat(path)
            return True
        except SandboxFileNotFoundError:
            return False

    @_doc(Files.mkdir)
    async def mkdir(self, path: str, *, mode: Optional[str] = None, user: Optional[str] = None) -> FileEntry:
        return await self._http.call(_ops.mkdir(self._id, path, mode, user))

    @_doc(Files.remove)
    async def remove(self, path: str, *, recursive: bool = False) -> None:
        await self._http.call(_ops.remove_file(self._id, path, recursive))

    @_doc(Files.move)
    async def move(self, src: str, dst: str, *, user: Optional[str] = None) -> FileEntry:
        return await self._http.call(_ops.move_file(self._id, src, dst, user))

    @_doc(Files.chmod)
    async def chmod(self, path: str, mode: Union[str, int]) -> FileEntry:
        return await self._http.call(_ops.chmod(self._id, path, mode))

    @_doc(Files.chown)
    async def chown(self, path: str, owner: Optional[str] = None, group: Optional[str] = None) -> FileEntry:
        return await self._http.call(_ops.chown(self._id, path, owner, group))

    @_doc(Files.download_tar)
    async def download_tar(self, path: str, local: Union[LocalPath, IO[bytes]], *, user: Optional[str] = None) -> int:
        if not hasattr(local, "write"):
            with open(local, "wb") as f:
                return await self.download_tar(path, f, user=user)
        n = 0
        async with self._http.stream(_ops.read_archive(self._id, path, user)) as r:
            async for chunk in r.aiter_bytes():
                local.write(chunk)
                n += len(chunk)
        return n

    @_doc(Files.upload_tar)
    async def upload_tar(self, path: str, data: Union[_io.Data, AsyncIterable[bytes]], *, user: Optional[str] = None) -> None:
        await self._http.call(_ops.write_archive(self._id, path, user), content=_abody(data))


class AsyncWarren:
    """A connection to a warren daemon (asyncio); arguments as :class:`warren.Warren`.

    Use as ``async with AsyncWarren() as w:`` or ``await w.close()``.
    """

    def __init__(self, url: Optional[str] = None, api_key: Optional[str] = None, *, timeout: float = DEFAULT_TIMEOUT, http_client: Optional[httpx.AsyncClient] = None) -> None:
        base, key = resolve(url, api_key)
        self._http = AsyncHttp(base, key, timeout, http_client)

    @property
    def url(self) -> str:
        """The daemon's base URL."""
        return self._http.base_url

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.close()

    async def __aenter__(self) -> "AsyncWarren":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @_doc(Warren.health)
    async def health(self) -> Dict[str, Any]:
        return await self._http.call(_ops.health())

    @_doc(Warren.create_sandbox)
    async def create_sandbox(
        self,
        image: Optional[str] = None,
        *,
        snapshot: Optional[str] = None,
        cmd: Optional[_ops.Command] = None,
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
    ) -> AsyncSandbox:
        op = _ops.create_sandbox(
            image,
            snapshot=snapshot,
            cmd=cmd,
            env=env,
            cpu=cpu,
            memory_mb=memory_mb,
            pids_limit=pids_limit,
            disk_mb=disk_mb,
            workdir=workdir,
            user=user,
            labels=labels,
            metadata=metadata,
            lifecycle=lifecycle,
            network=network,
            public_ports=public_ports,
        )
        return AsyncSandbox(self._http, await self._http.call(op, timeout=600))

    @_doc(Warren.get_sandbox)
    async def get_sandbox(self, sandbox_id: str) -> AsyncSandbox:
        return AsyncSandbox(self._http, await self._http.call(_ops.get_sandbox(sandbox_id)))

    @_doc(Warren.list_sandboxes)
    async def list_sandboxes(self, *, state: Optional[str] = None, image: Optional[str] = None, labels: Optional[Mapping[str, str]] = None, page_size: int = 100) -> List[AsyncSandbox]:
        out: List[AsyncSandbox] = []
        cursor: Optional[str] = None
        while True:
            page: Page = await self._http.call(_ops.list_sandboxes(state=state, image=image, labels=labels, cursor=cursor, limit=page_size))
            out.extend(AsyncSandbox(self._http, i) for i in page.items)
            cursor = page.next_cursor
            if cursor is None:
                return out

    @_doc(Warren.delete_sandbox)
    async def delete_sandbox(self, sandbox_id: str) -> None:
        await self._http.call(_ops.delete_sandbox(sandbox_id))

    @_doc(Warren.list_snapshots)
    async def list_snapshots(self, *, sandbox: Optional[str] = None) -> List[Snapshot]:
        out: List[Snapshot] = []
        cursor: Optional[str] = None
        while True:
            page: Page = await self._http.call(_ops.list_snapshots(sandbox, cursor, 500))
            out.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                return out

    @_doc(Warren.get_snapshot)
    async def get_snapshot(self, snapshot_id: str) -> Snapshot:
        return await self._http.call(_ops.get_snapshot(snapshot_id))

    @_doc(Warren.delete_snapshot)
    async def delete_snapshot(self, snapshot_id: str) -> None:
        await self._http.call(_ops.delete_snapshot(snapshot_id))

    @_doc(Warren.list_events)
    async def list_events(self, *, sandbox: Optional[str] = None, action: Optional[str] = None, after: Optional[int] = None, limit: Optional[int] = None) -> Page:
        return await self._http.call(_ops.list_events(sandbox, action, after, limit))

    @_doc(Warren.stream_events)
    async def stream_events(self, *, sandbox: Optional[str] = None, action: Optional[str] = None, after: Optional[int] = None) -> AsyncIterator[Event]:
        async with self._http.stream(_ops.stream_events(sandbox, action, after)) as r:
            dec = SseDecoder()
            async for chunk in r.aiter_bytes():
                for msg in dec.feed(chunk):
                    yield Event.from_json(json.loads(msg.data))

    @_doc(Warren.list_images)
    async def list_images(self) -> List[Image]:
        return await self._http.call(_ops.list_images())

    @_doc(Warren.get_image)
    async def get_image(self, reference: str) -> Image:
        return await self._http.call(_ops.get_image(reference))

    @_doc(Warren.delete_image)
    async def delete_image(self, reference: str) -> None:
        await self._http.call(_ops.delete_image(reference))

    @_doc(Warren.pull_image)
    async def pull_image(self, ref: str, *, insecure: bool = False, username: Optional[str] = None, password: Optional[str] = None, on_progress: Optional[Callable[[PullProgress], Any]] = None) -> Image:
        op = _ops.pull_image(ref, insecure, username, password, stream=on_progress is not None)
        if on_progress is None:
            return await self._http.call(op, timeout=3600)
        async with self._http.stream(op) as r:
            dec = NdjsonDecoder()
            async for chunk in r.aiter_bytes():
                for line in dec.feed(chunk):
                    image = _pull_line(line, on_progress)
                    if image is not None:
                        return image
        raise error_from_body("protocol_error", "the pull stream ended without a result")

    @_doc(Warren.prometheus_metrics)
    async def prometheus_metrics(self) -> str:
        return await self._http.call(_ops.prometheus())
