"""The sync and async HTTP transports: send an :class:`~warren._ops.Op`, map errors to exceptions.

This is the only place that touches httpx. Both classes have the same shape; everything they
send is described by :mod:`warren._ops`.
"""

from __future__ import annotations

import contextlib
from typing import Any, AsyncIterator, Dict, Iterator, Optional, TypeVar

import httpx

from . import __version__
from ._ops import Op
from .errors import WarrenConnectionError, error_from_response

T = TypeVar("T")

STREAM_TIMEOUT = httpx.Timeout(30.0, read=None)
"""Streams wait for output as long as the process runs."""


def _headers(api_key: Optional[str]) -> Dict[str, str]:
    h = {"user-agent": f"warren-python/{__version__}"}
    if api_key:
        h["authorization"] = f"Bearer {api_key}"
    return h


def _request_kwargs(op: Op[Any], content: Any) -> Dict[str, Any]:
    kw: Dict[str, Any] = {"params": op.params, "headers": op.headers}
    if content is not None:
        kw["content"] = content
    elif op.content is not None:
        kw["content"] = op.content
    elif op.json is not None:
        kw["json"] = op.json
    return kw


def _connection_error(e: Exception, base_url: str) -> WarrenConnectionError:
    return WarrenConnectionError("connection_error", f"cannot reach warren at {base_url}: {e}", 0)


class SyncHttp:
    """Blocking transport on one pooled ``httpx.Client``."""

    def __init__(self, base_url: str, api_key: Optional[str], timeout: float, client: Optional[httpx.Client] = None) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.client = client or httpx.Client(base_url=base_url, headers=_headers(api_key), timeout=timeout)

    def call(self, op: Op[T], content: Any = None, timeout: Optional[float] = None) -> T:
        """Send ``op`` and parse its answer; raise the API's error as an exception."""
        kw = _request_kwargs(op, content)
        if timeout is not None:
            kw["timeout"] = timeout
        try:
            r = self.client.request(op.method, op.path, **kw)
        except httpx.TransportError as e:
            raise _connection_error(e, self.base_url) from e
        if r.status_code >= 400:
            raise error_from_response(r.status_code, r.headers, r.content)
        return op.parse(r.content)

    @contextlib.contextmanager
    def stream(self, op: Op[Any], content: Any = None, timeout: Any = STREAM_TIMEOUT) -> Iterator[httpx.Response]:
        """Send ``op`` and yield the open response (its status already checked)."""
        req = self.client.build_request(op.method, op.path, timeout=timeout, **_request_kwargs(op, content))
        try:
            r = self.client.send(req, stream=True)
        except httpx.TransportError as e:
            raise _connection_error(e, self.base_url) from e
        try:
            if r.status_code >= 400:
                r.read()
                raise error_from_response(r.status_code, r.headers, r.content)
            yield r
        finally:
            r.close()

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()


class AsyncHttp:
    """Asyncio transport on one pooled ``httpx.AsyncClient``."""

    def __init__(self, base_url: str, api_key: Optional[str], timeout: float, client: Optional[httpx.AsyncClient] = None) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.client = client or httpx.AsyncClient(base_url=base_url, headers=_headers(api_key), timeout=timeout)

    async def call(self, op: Op[T], content: Any = None, timeout: Optional[float] = None) -> T:
        """Send ``op`` and parse its answer; raise the API's error as an exception."""
        kw = _request_kwargs(op, content)
        if timeout is not None:
            kw["timeout"] = timeout
        try:
            r = await self.client.request(op.method, op.path, **kw)
        except httpx.TransportError as e:
            raise _connection_error(e, self.base_url) from e
        if r.status_code >= 400:
            raise error_from_response(r.status_code, r.headers, r.content)
        return op.parse(r.content)

    @contextlib.asynccontextmanager
    async def stream(self, op: Op[Any], content: Any = None, timeout: Any = STREAM_TIMEOUT) -> AsyncIterator[httpx.Response]:
        """Send ``op`` and yield the open response (its status already checked)."""
        req = self.client.build_request(op.method, op.path, timeout=timeout, **_request_kwargs(op, content))
        try:
            r = await self.client.send(req, stream=True)
        except httpx.TransportError as e:
            raise _connection_error(e, self.base_url) from e
        try:
            if r.status_code >= 400:
                await r.aread()
                raise error_from_response(r.status_code, r.headers, r.content)
            yield r
        finally:
            await r.aclose()

    async def close(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()
