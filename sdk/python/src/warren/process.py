"""A command running in the background while the caller goes on (blocking API, one thread each)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Optional, Union

from . import _ops
from ._streams import ExecCollector, OutputCallback, SseDecoder
from .models import ExecResult

if TYPE_CHECKING:
    from ._http import SyncHttp


class CommandHandle:
    """A running command started by :meth:`warren.Sandbox.spawn`.

    Its output streams to the callbacks and is collected; :meth:`wait` returns the
    :class:`~warren.ExecResult`. The command lives as long as this handle's connection: it is
    killed if the program exits first. (For a process that outlives the client, use
    :meth:`warren.Sandbox.start_process`.)
    """

    def __init__(self, http: "SyncHttp", sandbox_id: str, body: _ops.Json, on_stdout: Optional[OutputCallback], on_stderr: Optional[OutputCallback]) -> None:
        self._http = http
        self._sandbox_id = sandbox_id
        self._collector = ExecCollector(on_stdout, on_stderr)
        self._started = threading.Event()
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, args=(body,), daemon=True, name="warren-exec")
        self._thread.start()
        self._started.wait()
        if self._error is not None:
            raise self._error

    def _run(self, body: _ops.Json) -> None:
        try:
            with self._http.stream(_ops.exec_stream(self._sandbox_id, body)) as r:
                dec = SseDecoder()
                for chunk in r.iter_bytes():
                    for msg in dec.feed(chunk):
                        done = self._collector.handle(msg)
                        if self._collector.pid is not None:
                            self._started.set()
                        if done:
                            return
        except BaseException as e:  # handed to the caller in wait()
            self._error = e
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
        return self._thread.is_alive()

    def wait(self, timeout: Optional[float] = None) -> ExecResult:
        """Wait for the command to end and return its outcome (``TimeoutError`` after ``timeout`` s)."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"process {self.pid} still running after {timeout} s")
        if self._error is not None:
            raise self._error
        return self._collector.result()

    def send_stdin(self, data: Union[str, bytes]) -> None:
        """Write to the command's stdin (it must have been spawned with ``stdin=True``)."""
        self._http.call(_ops.write_stdin(self._sandbox_id, self.pid, data))

    def close_stdin(self) -> None:
        """Close its stdin: the command reads end-of-file."""
        self._http.call(_ops.close_stdin(self._sandbox_id, self.pid))

    def kill(self, signal: str = "KILL") -> None:
        """Send ``KILL`` (default) or ``TERM``."""
        self._http.call(_ops.signal(self._sandbox_id, self.pid, signal))
