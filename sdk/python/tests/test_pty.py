"""PTY: an interactive shell over the WebSocket."""

import pytest

import warren


def test_interactive_shell(sandbox: warren.Sandbox) -> None:
    with sandbox.pty(cols=100, rows=30) as t:
        t.write("stty size; tty\n")
        out = t.read_until("/dev/pts/")
        assert b"30 100" in out
        t.resize(120, 40)
        t.write("stty size\n")
        assert b"40 120" in t.read_until("40 120")
        t.write("exit 7\n")
        assert t.wait() == 7
        assert t.read() == b""


def test_command_and_user(sandbox: warren.Sandbox) -> None:
    with sandbox.pty(cmd="id -un; pwd", user="app", cwd="/tmp") as t:
        out = t.read_until("/tmp")
        assert b"app" in out
        assert t.wait() == 0


def test_pty_errors(client: warren.Warren, sandbox: warren.Sandbox) -> None:
    with pytest.raises(warren.InvalidRequestError):
        sandbox.pty(cols=0)
    with pytest.raises(warren.SandboxNotFoundError):
        warren.Sandbox(sandbox._http, sandbox.info.__class__.from_json({**sandbox.info.raw, "id": "sb-doesnotexist"})).pty()
    with warren.Warren(client.url, "wrn_wrong") as bad:
        ghost = warren.Sandbox(bad._http, sandbox.info)
        with pytest.raises(warren.UnauthorizedError):
            ghost.pty()
