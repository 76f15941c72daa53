"""Decoders for the API's streams, fed bytes by either client (sans-I/O).

- :class:`SseDecoder`: Server-Sent Events (streaming exec, process attach, the event stream).
- :class:`ExecCollector`: turns exec/process events into callbacks, collected output and an exit.
- :class:`NdjsonDecoder`: one JSON object per line (image pull progress).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Callable, List, Optional

from .errors import ProtocolError, error_from_body
from .models import ExecResult, ProcessExit

OutputCallback = Callable[[str], Any]
"""Called with each chunk of output, as text (bytes that are not UTF-8 are replaced)."""


@dataclass(frozen=True)
class SseMessage:
    """One Server-Sent Event: its ``event`` name (default ``message``), ``data`` and ``id``."""

    event: str
    data: str
    id: Optional[str]


class SseDecoder:
    """Incremental ``text/event-stream`` parser: :meth:`feed` bytes, get complete messages."""

    def __init__(self) -> None:
        self._buf = b""
        self._event = ""
        self._data: List[str] = []
        self._id: Optional[str] = None

    def feed(self, chunk: bytes) -> List[SseMessage]:
        """Add bytes; return the messages they complete."""
        self._buf += chunk
        out: List[SseMessage] = []
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                return out
            line = self._buf[:nl].rstrip(b"\r").decode("utf-8", "replace")
            self._buf = self._buf[nl + 1 :]
            if not line:
                if self._data or self._event:
                    out.append(SseMessage(self._event or "message", "\n".join(self._data), self._id))
                self._event, self._data = "", []
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                self._event = value
            elif name == "data":
                self._data.append(value)
            elif name == "id":
                self._id = value


def chunk_text(data: Any) -> str:
    """The text of an output chunk ``{"data": str}`` or ``{"b64": str}``."""
    if "data" in data:
        return str(data["data"])
    return base64.b64decode(data.get("b64", "")).decode("utf-8", "replace")


class ExecCollector:
    """Follows one process's events: calls the callbacks, collects output, records pid and exit."""

    def __init__(self, on_stdout: Optional[OutputCallback] = None, on_stderr: Optional[OutputCallback] = None, collect: bool = True) -> None:
        self.on_stdout = on_stdout
        self.on_stderr = on_stderr
        self.collect = collect
        self.pid: Optional[int] = None
        self.exit: Optional[ProcessExit] = None
        self._out: List[str] = []
        self._err: List[str] = []

    def handle(self, msg: SseMessage) -> bool:
        """Take one event; True once the process has ended. An ``error`` event raises."""
        try:
            data = json.loads(msg.data) if msg.data else {}
        except ValueError as e:
            raise ProtocolError("protocol_error", f"bad event data: {msg.data[:200]!r}") from e
        if msg.event == "start":
            self.pid = int(data["pid"])
        elif msg.event in ("stdout", "stderr"):
            text = chunk_text(data)
            if self.collect:
                (self._out if msg.event == "stdout" else self._err).append(text)
            cb = self.on_stdout if msg.event == "stdout" else self.on_stderr
            if cb is not None:
                cb(text)
        elif msg.event == "exit":
            self.exit = ProcessExit.from_json(data)
            return True
        elif msg.event == "error":
            err = data.get("error", {})
            raise error_from_body(str(err.get("code", "internal")), str(err.get("message", "stream failed")))
        return False

    def result(self) -> ExecResult:
        """The outcome once the process ended (raises if the stream ended without an exit)."""
        if self.exit is None:
            raise ProtocolError("protocol_error", "the stream ended before the process exited")
        return ExecResult(
            exit_code=self.exit.exit_code,
            stdout="".join(self._out),
            stderr="".join(self._err),
            truncated=False,
            timed_out=self.exit.timed_out,
            duration_ms=self.exit.duration_ms,
            status=self.exit.status,
        )


class NdjsonDecoder:
    """Incremental newline-delimited JSON parser."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, chunk: bytes) -> List[Any]:
        """Add bytes; return the objects of the lines they complete."""
        self._buf += chunk
        *lines, self._buf = self._buf.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]
