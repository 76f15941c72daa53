"""Errors: every API error is an exception carrying its code; unit tests of the decoders."""

import json

import pytest

import warren
from warren import _ops
from warren._streams import ExecCollector, NdjsonDecoder, SseDecoder
from warren.errors import error_from_response


def test_unauthorized_key(client: warren.Warren) -> None:
    with warren.Warren(client.url, "wrn_not_a_key") as bad:
        with pytest.raises(warren.UnauthorizedError) as e:
            bad.list_sandboxes()
    assert e.value.code == "unauthorized" and e.value.status == 401


def test_missing_key_is_unauthorized(client: warren.Warren, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WARREN_API_KEY")
    with warren.Warren(client.url) as anon:
        assert anon.health()["status"] == "ok"  # no key needed
        with pytest.raises(warren.UnauthorizedError):
            anon.list_images()


def test_env_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARREN_URL", "http://127.0.0.1:1/")
    w = warren.Warren()
    assert w.url == "http://127.0.0.1:1"
    with pytest.raises(warren.WarrenConnectionError) as e:
        w.health()
    assert e.value.code == "connection_error"
    with pytest.raises(ValueError):
        warren.Warren("ftp://x")


def test_not_found_codes(client: warren.Warren, sandbox: warren.Sandbox) -> None:
    with pytest.raises(warren.SandboxNotFoundError) as e:
        client.get_sandbox("sb-doesnotexist")
    assert isinstance(e.value, warren.NotFoundError) and e.value.status == 404
    with pytest.raises(warren.SnapshotNotFoundError):
        client.get_snapshot("snap-doesnotexist")
    with pytest.raises(warren.ImageNotFoundError):
        client.get_image("nothing/here:never")
    with pytest.raises(warren.SandboxFileNotFoundError):
        sandbox.files.read_text("/no/such/file")
    with pytest.raises(warren.ProcessNotFoundError):
        sandbox.kill(999999)


def test_invalid_requests(client: warren.Warren, image: str, sandbox: warren.Sandbox) -> None:
    # Refused by the server, which names the field.
    with pytest.raises(warren.InvalidRequestError) as e:
        client.create_sandbox(image, cpu=1000)
    assert "cpu" in e.value.message and e.value.status == 400
    with pytest.raises(warren.InvalidRequestError):
        sandbox.exec(["/no/such/program"])
    with pytest.raises(warren.InvalidRequestError):
        client.list_sandboxes(state="sleepy")
    # Refused by the SDK before sending anything.
    with pytest.raises(warren.InvalidRequestError):
        client.create_sandbox()
    with pytest.raises(warren.InvalidRequestError):
        sandbox.exec([])
    with pytest.raises(warren.InvalidRequestError):
        sandbox.files.read_text("relative/path")
    with pytest.raises(warren.InvalidRequestError):
        sandbox.branch(0)
    with pytest.raises(warren.InvalidRequestError):
        sandbox.kill(1, "HUP")


def test_every_code_has_a_class() -> None:
    for code, cls in warren.ERRORS_BY_CODE.items():
        body = json.dumps({"error": {"code": code, "message": "m"}}).encode()
        err = error_from_response(418, {"retry-after": "3"}, body)
        assert type(err) is cls and err.code == code and err.message == "m"
    limited = error_from_response(429, {"retry-after": "3"}, b'{"error":{"code":"rate_limited","message":"slow"}}')
    assert isinstance(limited, warren.RateLimitedError) and limited.retry_after == 3.0
    odd = error_from_response(502, {}, b"<html>bad gateway</html>")
    assert isinstance(odd, warren.ProtocolError) and "bad gateway" in odd.message
    unknown = error_from_response(400, {}, b'{"error":{"code":"brand_new","message":"x"}}')
    assert type(unknown) is warren.WarrenError and unknown.code == "brand_new"


def test_sse_decoder_handles_split_chunks_and_comments() -> None:
    dec = SseDecoder()
    stream = b": keep-alive\n\nevent: start\ndata: {\"pid\":7}\n\nevent: stdout\r\ndata: {\"b64\":\"/w==\"}\n\nid: 9\ndata: x\ndata: y\n\n"
    msgs = []
    for i in range(len(stream)):
        msgs += dec.feed(stream[i : i + 1])
    assert [(m.event, m.data) for m in msgs] == [("start", '{"pid":7}'), ("stdout", '{"b64":"/w=="}'), ("message", "x\ny")]
    assert msgs[2].id == "9"
    coll = ExecCollector()
    coll.handle(msgs[0])
    coll.handle(msgs[1])
    assert coll.pid == 7
    with pytest.raises(warren.ProtocolError):
        coll.result()  # no exit yet


def test_stream_error_event_raises() -> None:
    from warren._streams import SseMessage

    with pytest.raises(warren.AgentError):
        ExecCollector().handle(SseMessage("error", '{"error":{"code":"agent_error","message":"gone"}}', None))


def test_ndjson_decoder() -> None:
    dec = NdjsonDecoder()
    assert dec.feed(b'{"a":1}\n{"b"') == [{"a": 1}]
    assert dec.feed(b":2}\n") == [{"b": 2}]


def test_command_forms() -> None:
    assert _ops.command("echo hi") == ["sh", "-c", "echo hi"]
    assert _ops.command(("ls", "-l")) == ["ls", "-l"]
