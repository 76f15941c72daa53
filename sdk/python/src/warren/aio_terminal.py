"""An interactive terminal (PTY) in a sandbox, over the API's WebSocket (asyncio)."""

from __future__ import annotations

import asyncio
import time
from typing import Optional, Union

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from . import _pty


class AsyncTerminal:
    """The asyncio form of :class:`warren.Terminal`; open it with ``await sandbox.pty()``."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self.exit_code: Optional[int] = None
        """The process's exit status once it ended, else ``None``."""

    @classmethod
    async def open(cls, base_url: str, api_key: Optional[str], sandbox_id: str, *, cols: int = 80, rows: int = 24, cmd: Optional[str] = None, user: Optional[str] = None, cwd: Optional[str] = None) -> "AsyncTerminal":
        """Connect (``AsyncSandbox.pty`` calls this)."""
        url = _pty.pty_url(base_url, sandbox_id, cols, rows, cmd, user, cwd)
        try:
            ws = await connect(url, additional_headers=_pty.auth_headers(api_key), proxy=None, max_size=None, compression=None)
        except InvalidStatus as e:
            raise _pty.handshake_error(e) from None
        return cls(ws)

    async def write(self, data: Union[str, bytes]) -> None:
        """Send keystrokes (text is UTF-8 encoded)."""
        await self._ws.send(data.encode() if isinstance(data, str) else bytes(data), text=False)

    async def resize(self, cols: int, rows: int) -> None:
        """Resize the terminal (the program gets SIGWINCH)."""
        await self._ws.send(_pty.resize_message(cols, rows), text=True)

    async def read(self, timeout: Optional[float] = None) -> bytes:
        """The next output bytes; ``b""`` once the process has ended; ``TimeoutError`` after ``timeout`` s."""
        while self.exit_code is None:
            try:
                msg = await asyncio.wait_for(self._ws.recv(), timeout)
            except ConnectionClosed:
                return b""
            except asyncio.TimeoutError:
                raise TimeoutError("no terminal output") from None
            if isinstance(msg, bytes):
                return msg
            self.exit_code = _pty.notice(msg)
        return b""

    async def read_until(self, marker: Union[str, bytes], timeout: float = 10.0) -> bytes:
        """Read until the output contains ``marker``; return everything read."""
        want = marker.encode() if isinstance(marker, str) else marker
        deadline = time.monotonic() + timeout
        buf = b""
        while want not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{want!r} not seen in terminal output within {timeout} s: {buf[-300:]!r}")
            chunk = await self.read(timeout=left)
            if not chunk and self.exit_code is not None:
                raise EOFError(f"terminal exited ({self.exit_code}) before {want!r} appeared: {buf[-300:]!r}")
            buf += chunk
        return buf

    async def wait(self, timeout: float = 30.0) -> int:
        """Wait for the process to end (discarding output); its exit code."""
        deadline = time.monotonic() + timeout
        while self.exit_code is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("terminal still running")
            if not await self.read(timeout=left) and self.exit_code is None:
                raise EOFError("terminal closed without an exit code")
        return self.exit_code

    async def close(self) -> None:
        """Close the socket (the process is killed if it still runs)."""
        await self._ws.close()

    async def __aenter__(self) -> "AsyncTerminal":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
