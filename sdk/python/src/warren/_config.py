"""Where the daemon is and which key to use: arguments first, then ``WARREN_URL`` /
``WARREN_API_KEY``, then the default ``http://127.0.0.1:7070``."""

from __future__ import annotations

import os
from typing import Optional, Tuple

DEFAULT_URL = "http://127.0.0.1:7070"
DEFAULT_TIMEOUT = 120.0
"""Seconds a plain request may take (exec waits for its command; give ``timeout`` to change)."""


def resolve(url: Optional[str], api_key: Optional[str]) -> Tuple[str, Optional[str]]:
    """The base URL (no trailing slash) and the API key (``None``: send none)."""
    base = url or os.environ.get("WARREN_URL") or DEFAULT_URL
    if not base.startswith(("http://", "https://")):
        raise ValueError(f"warren URL must start with http:// or https://, got {base!r}")
    key = api_key if api_key is not None else os.environ.get("WARREN_API_KEY")
    return base.rstrip("/"), key or None


def ws_url(base: str, path: str) -> str:
    """The WebSocket URL of ``path`` on the daemon at ``base``."""
    return ("wss://" + base[len("https://") :] if base.startswith("https://") else "ws://" + base[len("http://") :]) + path
