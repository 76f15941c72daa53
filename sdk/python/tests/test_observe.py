"""Ports and preview URLs, metrics, events (list and stream), images, health, Prometheus."""

import itertools
import os
import threading
import time

import httpx
import pytest

import warren


def test_ports_and_preview_url(client: warren.Warren, image: str) -> None:
    with client.create_sandbox(image, public_ports=[8001]) as sb:
        sb.files.write("/srv/index.html", "preview works")
        sb.start_process(["python3", "-m", "http.server", "8000", "-d", "/srv"], tag="web")
        sb.start_process(["python3", "-m", "http.server", "8001", "-d", "/srv"], tag="web2")
        for _ in range(100):
            ports = sb.ports()
            if len(ports) == 2:
                break
            time.sleep(0.1)
        assert [(p.port, p.public) for p in ports] == [(8000, False), (8001, True)]
        assert ports[0].url.startswith("http://8000-" + sb.id) and ports[0].path_url.endswith(f"/v1/sandboxes/{sb.id}/ports/8000/")
        url = sb.preview_url(8000)
        assert "warren_token=" in url
        with httpx.Client(follow_redirects=True) as h:
            assert h.get(url).text == "preview works"  # the token becomes a cookie
            assert h.get(sb.preview_url(8000, with_token=False)).text == "preview works"
        with httpx.Client() as h:
            assert h.get(sb.preview_url(8000, with_token=False)).status_code == 401
            assert h.get(sb.preview_url(8001, with_token=False)).text == "preview works"  # public


def test_metrics(sandbox: warren.Sandbox, client: warren.Warren) -> None:
    m = sandbox.metrics()
    assert m.current.memory_bytes > 0 and m.current.pids >= 1 and m.current.memory_limit_bytes == 512 << 20
    assert isinstance(m.history, list)
    text = client.prometheus_metrics()
    assert "warren_build_info" in text and "warren_sandboxes" in text


def test_events_list_and_stream(client: warren.Warren, image: str) -> None:
    got = []
    # Start from the newest recorded seq: the stream replays from there, so nothing is missed
    # however late the reader thread subscribes.
    newest = client.list_events(limit=1).items
    stream = client.stream_events(action="sandbox.", after=newest[-1].seq if newest else 0)

    target: list = []  # the sandbox whose deletion ends the reader (set once it exists)

    def reader() -> None:
        for ev in stream:
            got.append(ev)
            if ev.action == "sandbox.deleted" and target and ev.sandbox_id == target[0]:
                return

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    sb = client.create_sandbox(image)
    target.append(sb.id)
    sb.pause()
    sb.delete()
    t.join(20)
    mine = [e for e in got if e.sandbox_id == sb.id]
    assert [e.action for e in mine][:2] == ["sandbox.create", "sandbox.started"]
    assert "sandbox.pause" in [e.action for e in mine] and mine[-1].action == "sandbox.deleted"
    page = client.list_events(sandbox=sb.id)
    assert [e.seq for e in page.items] == sorted(e.seq for e in page.items)
    assert {e.action for e in page.items} >= {"sandbox.create", "sandbox.pause", "sandbox.deleted"}
    first = page.items[0].seq
    after = client.list_events(sandbox=sb.id, after=first, limit=1)
    assert len(after.items) == 1 and after.items[0].seq > first and after.next_cursor is not None
    # Replay: a stream from a seq sends the recorded events after it first.
    replay = list(itertools.islice(client.stream_events(sandbox=sb.id, after=first), 2))
    assert [e.seq for e in replay] == [e.seq for e in page.items[1:3]]


def test_sandbox_events(sandbox: warren.Sandbox) -> None:
    actions = [e.action for e in sandbox.events()]
    assert "sandbox.create" in actions and all(e.sandbox_id == sandbox.id for e in sandbox.events())


def test_images(client: warren.Warren, image: str) -> None:
    assert client.health()["status"] == "ok"
    listed = {i.reference: i for i in client.list_images()}
    assert image in listed
    got = client.get_image(image)
    assert got.digest == listed[image].digest and got.layers >= 1 and got.config["cmd"] == ["python3"]
    assert client.get_image(got.digest[:19]).reference == image
    with pytest.raises(warren.ConflictError):
        client.delete_image(image)  # the module's sandbox uses it
    small = os.environ.get("WARREN_TEST_SMALL_IMAGE")
    if not small:
        pytest.skip("WARREN_TEST_SMALL_IMAGE unset")
    progress = []
    pulled = client.pull_image(small, on_progress=progress.append)
    assert pulled.reference == small
    events = [p.event for p in progress]
    assert events[0] == "resolved" and events[-1] == "done"
    assert client.pull_image(small).digest == pulled.digest  # again, without progress
    client.delete_image(small)
    with pytest.raises(warren.ImageNotFoundError):
        client.get_image(small)
    with pytest.raises(warren.RegistryError):
        client.pull_image("127.0.0.1:1/nothing:here")
    with pytest.raises(warren.RegistryError):
        client.pull_image("127.0.0.1:1/nothing:here", on_progress=progress.append)
