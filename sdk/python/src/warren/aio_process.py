"""A command running in the background while the caller goes on (asyncio, one task each)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Optional, Union

from . import _ops
from ._streams import ExecCollector, OutputCallback, SseDecoder
from .models import ExecResult

if TYPE_CHECKING:
    from ._http import AsyncHttp


class AsyncCommandHandle:
    """The asyncio form of :class:`warren.CommandHandle`; from ``await sandbox.spawn(...)``."""

    def __init__(self, http: "AsyncHttp", sandbox_id: str, on_stdout: Optional[OutputCallback], on_stderr: Optional[OutputCallback]) -> None:
        self._http = http
        self._sandbox_id = sandbox_id
        self._collector = ExecCollector(on_stdout, on_stderr)
        self._started = asyncio.Event()
        self._task: Optional["asyncio.Task[None]"] = None

    async def _begin(self, body: _ops.Json) -> "AsyncCommandHandle":
        self._task = asyncio.ensure_future(self._run(body))
        await self._started.wait()
        if self._task.done():
            self._task.result()  # raises the error that ended it before start
        return self

    async def _run(self, body: _ops.Json) -> None:
        try:
            async with self._http.stream(_ops.exec_stream(self._sandbox_id, body)) as r:
                dec = SseDecoder()
                async for chunk in r.aiter_bytes():
                    for msg in dec.feed(chunk):
                        done = self._collector.handle(msg)
                        if self._collector.pid is not None:
                            self._started.set()
                        if done:
                            return
        finally:
            self._started.set()

    @property
    def pid(self) -> int:
        """The process id inside the sandbox."""
        assert self._collector.pid is not None
        return self._collector.pid

    @property
    def running(self) -> bool:
        """True until the command has ended."""
        return self._task is not None and not self._task.done()

    async def wait(self, timeout: Optional[float] = None) -> ExecResult:
        """Wait for the command to end and return its outcome."""
        assert self._task is not None
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"process {self.pid} still running after {timeout} s") from None
        return self._collector.result()

    async def send_stdin(self, data: Union[str, bytes]) -> None:
        """Write to the command's stdin (spawned with ``stdin=True``)."""
        await self._http.call(_ops.write_stdin(self._sandbox_id, self.pid, data))

    async def close_stdin(self) -> None:
        """Close its stdin: the command reads end-of-file."""
        await self._http.call(_ops.close_stdin(self._sandbox_id, self.pid))

    async def kill(self, signal: str = "KILL") -> None:
        """Send ``KILL`` (default) or ``TERM``."""
        await self._http.call(_ops.signal(self._sandbox_id, self.pid, signal))
