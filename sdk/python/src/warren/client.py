"""The blocking client, :class:`Warren`."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Union

import httpx

from . import _ops
from ._config import DEFAULT_TIMEOUT, resolve
from ._http import SyncHttp
from ._streams import NdjsonDecoder, SseDecoder
from .errors import error_from_body
from .models import Event, Image, LifecyclePolicy, NetworkPolicy, Page, PullProgress, Snapshot
from .sandbox import Sandbox


class Warren:
    """A connection to a warren daemon (blocking).

    Args:
        url: the daemon's base URL; default ``$WARREN_URL``, else ``http://127.0.0.1:7070``.
        api_key: the API key; default ``$WARREN_API_KEY``.
        timeout: seconds a plain request may take (exec adds its own ``timeout_s``).
        http_client: an ``httpx.Client`` to use instead of a new one (its base URL and
            headers are then yours to set).

    Use as a context manager or call :meth:`close`.
    """

    def __init__(self, url: Optional[str] = None, api_key: Optional[str] = None, *, timeout: float = DEFAULT_TIMEOUT, http_client: Optional[httpx.Client] = None) -> None:
        base, key = resolve(url, api_key)
        self._http = SyncHttp(base, key, timeout, http_client)

    @property
    def url(self) -> str:
        """The daemon's base URL."""
        return self._http.base_url

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> "Warren":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def health(self) -> Dict[str, Any]:
        """``{"status": "ok", "version": …}`` (no key needed)."""
        return self._http.call(_ops.health())

    # -- sandboxes ---------------------------------------------------------------------------

    def create_sandbox(
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
    ) -> Sandbox:
        """Create a sandbox from an ``image`` (pulled if not local) or a ``snapshot`` (id or
        name), and return it ``running``. Limits left out take the server's (or snapshot's)
        defaults. ``network`` is a :class:`NetworkPolicy` or just its mode."""
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
        return Sandbox(self._http, self._http.call(op, timeout=600))

    def get_sandbox(self, sandbox_id: str) -> Sandbox:
        """The sandbox with this id (``SandboxNotFoundError`` if none)."""
        return Sandbox(self._http, self._http.call(_ops.get_sandbox(sandbox_id)))

    def list_sandboxes(self, *, state: Optional[str] = None, image: Optional[str] = None, labels: Optional[Mapping[str, str]] = None, page_size: int = 100) -> List[Sandbox]:
        """Every sandbox matching all the filters given, oldest first (all pages)."""
        out: List[Sandbox] = []
        cursor: Optional[str] = None
        while True:
            page: Page = self._http.call(_ops.list_sandboxes(state=state, image=image, labels=labels, cursor=cursor, limit=page_size))
            out.extend(Sandbox(self._http, i) for i in page.items)
            cursor = page.next_cursor
            if cursor is None:
                return out

    def delete_sandbox(self, sandbox_id: str) -> None:
        """Delete a sandbox by id."""
        self._http.call(_ops.delete_sandbox(sandbox_id))

    # -- snapshots ---------------------------------------------------------------------------

    def list_snapshots(self, *, sandbox: Optional[str] = None) -> List[Snapshot]:
        """Every snapshot (of one source sandbox when ``sandbox`` is given), oldest first."""
        out: List[Snapshot] = []
        cursor: Optional[str] = None
        while True:
            page: Page = self._http.call(_ops.list_snapshots(sandbox, cursor, 500))
            out.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                return out

    def get_snapshot(self, snapshot_id: str) -> Snapshot:
        """A snapshot by id or name."""
        return self._http.call(_ops.get_snapshot(snapshot_id))

    def delete_snapshot(self, snapshot_id: str) -> None:
        """Delete a snapshot nothing was made from (``ConflictError`` otherwise)."""
        self._http.call(_ops.delete_snapshot(snapshot_id))

    # -- events --------------------------------------------------------------------------------

    def list_events(self, *, sandbox: Optional[str] = None, action: Optional[str] = None, after: Optional[int] = None, limit: Optional[int] = None) -> Page:
        """Recorded events, oldest first: the newest ``limit`` ones, or the ``limit`` after seq
        ``after`` (then ``next_cursor`` continues). ``action`` is a prefix (``"sandbox."``)."""
        return self._http.call(_ops.list_events(sandbox, action, after, limit))

    def stream_events(self, *, sandbox: Optional[str] = None, action: Optional[str] = None, after: Optional[int] = None) -> Iterator[Event]:
        """Events as they happen (after replaying those after seq ``after``), until you stop
        iterating. Use ``contextlib.closing`` or ``break`` to end it."""
        with self._http.stream(_ops.stream_events(sandbox, action, after)) as r:
            dec = SseDecoder()
            for chunk in r.iter_bytes():
                for msg in dec.feed(chunk):
                    yield _event(msg.data)

    # -- images ----------------------------------------------------------------------------------

    def list_images(self) -> List[Image]:
        """The local images, by reference."""
        return self._http.call(_ops.list_images())

    def get_image(self, reference: str) -> Image:
        """One local image by reference, digest or unique digest prefix."""
        return self._http.call(_ops.get_image(reference))

    def delete_image(self, reference: str) -> None:
        """Remove a local image (``ConflictError`` while a sandbox uses it)."""
        self._http.call(_ops.delete_image(reference))

    def pull_image(self, ref: str, *, insecure: bool = False, username: Optional[str] = None, password: Optional[str] = None, on_progress: Optional[Callable[[PullProgress], Any]] = None) -> Image:
        """Pull an image from a registry; ``on_progress`` gets each progress event as it happens."""
        op = _ops.pull_image(ref, insecure, username, password, stream=on_progress is not None)
        if on_progress is None:
            return self._http.call(op, timeout=3600)
        with self._http.stream(op) as r:
            dec = NdjsonDecoder()
            for chunk in r.iter_bytes():
                for line in dec.feed(chunk):
                    image = _pull_line(line, on_progress)
                    if image is not None:
                        return image
        raise error_from_body("protocol_error", "the pull stream ended without a result")

    def prometheus_metrics(self) -> str:
        """The daemon's metrics in the Prometheus text format."""
        return self._http.call(_ops.prometheus())


def _event(data: str) -> Event:
    import json

    return Event.from_json(json.loads(data))


def _pull_line(line: Dict[str, Any], on_progress: Callable[[PullProgress], Any]) -> Optional[Image]:
    """One NDJSON pull line: the image when it is the final ``image`` line; raises on ``error``."""
    event = str(line.get("event", ""))
    if event == "error":
        err = line.get("error", {})
        raise error_from_body(str(err.get("code", "internal")), str(err.get("message", "pull failed")))
    if event == "image":
        return Image.from_json(line["image"])
    on_progress(PullProgress(event, line))
    return None
