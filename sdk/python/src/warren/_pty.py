"""What both terminal classes share: the PTY URL and the server's control messages."""

from __future__ import annotations

import json
from typing import Dict, Optional
from urllib.parse import urlencode

from ._config import ws_url
from ._ops import sandbox_path
from .errors import AgentError, error_from_response


def pty_url(base: str, sandbox_id: str, cols: int, rows: int, cmd: Optional[str], user: Optional[str], cwd: Optional[str]) -> str:
    """The ``ws://…/v1/sandboxes/{id}/pty?…`` URL."""
    q: Dict[str, str] = {"cols": str(cols), "rows": str(rows)}
    if cmd is not None:
        q["cmd"] = cmd
    if user is not None:
        q["user"] = user
    if cwd is not None:
        q["cwd"] = cwd
    return ws_url(base, sandbox_path(sandbox_id, "/pty")) + "?" + urlencode(q)


def auth_headers(api_key: Optional[str]) -> Dict[str, str]:
    """The upgrade request's headers."""
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def resize_message(cols: int, rows: int) -> str:
    """The client's resize control frame."""
    return json.dumps({"type": "resize", "cols": int(cols), "rows": int(rows)})


def notice(text: str) -> Optional[int]:
    """Handle a server text frame: the exit code for ``exit``; raises for ``error``."""
    msg = json.loads(text)
    if msg.get("type") == "exit":
        return int(msg["exit_code"])
    if msg.get("type") == "error":
        raise AgentError("agent_error", str(msg.get("message", "terminal error")))
    return None


def handshake_error(exc: Exception) -> Exception:
    """Map a refused upgrade (websockets' ``InvalidStatus``) to the API's error."""
    response = getattr(exc, "response", None)
    if response is None:
        return exc
    headers = {k.lower(): v for k, v in response.headers.raw_items()}
    return error_from_response(response.status_code, headers, response.body or b"")
