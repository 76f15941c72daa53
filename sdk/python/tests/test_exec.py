"""Exec (JSON and streamed), stdin, background handles, detached processes."""

import time

import pytest

import warren


def test_exec_result(sandbox: warren.Sandbox) -> None:
    r = sandbox.exec(["python3", "-c", "import sys; print(6*7); print('oops', file=sys.stderr); sys.exit(3)"])
    assert (r.exit_code, r.stdout, r.stderr, r.truncated, r.timed_out) == (3, "42\n", "oops\n", False, False)
    assert not r.ok
    with pytest.raises(warren.CommandFailed) as e:
        r.check()
    assert e.value.result is r
    assert sandbox.exec("true").check().ok


def test_exec_options(sandbox: warren.Sandbox) -> None:
    r = sandbox.exec("echo $A $(pwd) $(id -un)", env={"A": "x"}, cwd="/tmp", user="app")
    assert r.stdout == "x /tmp app\n"
    slow = sandbox.exec(["sleep", "30"], timeout_s=1)
    assert slow.timed_out and slow.exit_code == -1


def test_exec_streaming_callbacks(sandbox: warren.Sandbox) -> None:
    seen = []
    started = time.monotonic()
    r = sandbox.exec(
        "echo first; sleep 0.5; echo second; echo err >&2; printf '\\377'",
        on_stdout=lambda s: seen.append(("out", s, time.monotonic() - started)),
        on_stderr=lambda s: seen.append(("err", s, time.monotonic() - started)),
    )
    assert r.exit_code == 0 and r.status == "exit status 0"
    assert r.stdout == "first\nsecond\n\ufffd" and r.stderr == "err\n"
    first = next(t for kind, s, t in seen if s == "first\n")
    assert first < r.duration_ms / 1000, "output arrives before the command ends"
    assert ("err", "err\n") in [(k, s) for k, s, _ in seen]


def test_exec_stdin(sandbox: warren.Sandbox) -> None:
    assert sandbox.exec(["wc", "-c"], stdin=b"x" * 1000).stdout.strip() == "1000"
    assert sandbox.exec(["cat"], stdin="").stdout == ""
    big = sandbox.exec(["sha256sum"], stdin=b"y" * (3 << 20))  # more than one 1 MiB write
    import hashlib

    assert big.stdout.split()[0] == hashlib.sha256(b"y" * (3 << 20)).hexdigest()


def test_spawn_wait_and_stdin(sandbox: warren.Sandbox) -> None:
    lines = []
    h = sandbox.spawn("while read l; do echo got:$l; done; echo done", stdin=True, on_stdout=lines.append)
    assert h.pid > 1 and h.running
    h.send_stdin("a\nb\n")
    h.close_stdin()
    r = h.wait(timeout=10)
    assert r.stdout == "got:a\ngot:b\ndone\n" and r.exit_code == 0 and not h.running
    assert "".join(lines) == r.stdout


def test_spawn_kill(sandbox: warren.Sandbox) -> None:
    h = sandbox.spawn(["sleep", "60"])
    with pytest.raises(TimeoutError):
        h.wait(timeout=0.2)
    h.kill()
    r = h.wait(timeout=10)
    assert r.exit_code == -1 and "kill" in (r.status or "")
    with pytest.raises(warren.ConflictError):
        sandbox.spawn("sleep 1", stdin=False).send_stdin("x")


def test_detached_processes(sandbox: warren.Sandbox) -> None:
    p = sandbox.start_process(["python3", "-c", "import sys\nfor l in sys.stdin: print('echo', l.strip(), flush=True)"], tag="echoer", stdin=True)
    assert p.tag == "echoer" and p.cmd[0] == "python3"
    listed = {q.pid: q for q in sandbox.processes()}
    assert listed[p.pid].tag == "echoer"
    assert any(q.tag == "main" for q in listed.values())
    got = []

    import threading

    result = {}
    t = threading.Thread(target=lambda: result.setdefault("r", sandbox.attach(p.pid, on_stdout=got.append)))
    t.start()
    for _ in range(50):  # until the attach is live, feed a line
        sandbox.send_stdin(p.pid, "ping\n")
        time.sleep(0.1)
        if got:
            break
    sandbox.close_stdin(p.pid)
    t.join(10)
    assert "echo ping\n" in "".join(got)
    assert result["r"].exit_code == 0
    assert p.pid not in [q.pid for q in sandbox.processes()]
    with pytest.raises(warren.ProcessNotFoundError):
        sandbox.attach(p.pid)


def test_kill_detached_with_term(sandbox: warren.Sandbox) -> None:
    p = sandbox.start_process(["sleep", "60"], tag="sleeper")
    sandbox.kill(p.pid, "TERM")
    for _ in range(50):
        if p.pid not in [q.pid for q in sandbox.processes()]:
            break
        time.sleep(0.1)
    assert p.pid not in [q.pid for q in sandbox.processes()]
