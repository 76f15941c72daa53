"""The unmodified `e2b` Python SDK (PyPI e2b==2.63.0) against warren.

Run by crates/warren/tests/e2b_e2e.rs with E2B_API_URL, E2B_SANDBOX_URL and E2B_API_KEY
pointing at a test daemon whose `base` template is the `python` fixture image. Each check
prints what it saw; any failed assertion exits non-zero and fails the Rust test.
"""

import datetime
import os
import sys
import time
import uuid

from e2b import CommandExitException, FilesystemEventType, Sandbox, SandboxQuery, SandboxState
from e2b.exceptions import NotFoundException, SandboxNotFoundException

RUN = uuid.uuid4().hex[:8]


def step(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def listed(**query):
    """Every sandbox the list returns for this query, following x-next-token pages of 1."""
    paginator = Sandbox.list(query=SandboxQuery(**query), limit=1)
    out = []
    while paginator.has_next:
        out.extend(paginator.next_items())
    return out


def main():
    step("create")
    sbx = Sandbox.create(timeout=120, metadata={"run": RUN, "role": "main"}, envs={"GREETING": "hi"})
    other = Sandbox.create(timeout=120, metadata={"run": RUN, "role": "other"})
    step(f"created {sbx.sandbox_id} and {other.sandbox_id}")

    step("commands.run foreground")
    r = sbx.commands.run("echo $GREETING from $(hostname); echo err >&2")
    assert r.exit_code == 0, r
    assert r.stdout.strip() == f"hi from {sbx.sandbox_id}", r.stdout
    assert r.stderr.strip() == "err", r.stderr

    step("commands.run with on_stdout streaming")
    seen = []
    r = sbx.commands.run(
        "for i in 1 2 3; do echo line$i; sleep 0.3; done",
        on_stdout=lambda line: seen.append((time.monotonic(), line)),
    )
    lines = [l.strip() for _, l in seen]
    assert lines == ["line1", "line2", "line3"], lines
    # Streamed as produced, not all at the end.
    assert seen[-1][0] - seen[0][0] > 0.4, seen

    step("non-zero exit raises CommandExitException")
    try:
        sbx.commands.run("echo about to fail; exit 7")
        raise AssertionError("no exception")
    except CommandExitException as e:
        assert e.exit_code == 7, e
        assert "about to fail" in e.stdout, e.stdout

    step("background + wait")
    h = sbx.commands.run("sleep 0.5; echo done-in-background", background=True)
    assert h.pid > 0
    r = h.wait()
    assert r.exit_code == 0 and r.stdout.strip() == "done-in-background", r

    step("files write/read/list")
    sbx.files.write("/tmp/e2b/hello.txt", "hello from the SDK\n")
    sbx.files.write("/tmp/e2b/bin.dat", bytes(range(256)) * 1024)
    assert sbx.files.read("/tmp/e2b/hello.txt") == "hello from the SDK\n"
    data = sbx.files.read("/tmp/e2b/bin.dat", format="bytes")
    assert bytes(data) == bytes(range(256)) * 1024
    names = sorted(e.name for e in sbx.files.list("/tmp/e2b"))
    assert names == ["bin.dat", "hello.txt"], names
    assert sbx.files.exists("/tmp/e2b/hello.txt")
    assert not sbx.files.exists("/tmp/e2b/nope")
    # gzip=True sends the body with Content-Encoding: gzip (envd >= 0.5.7): stored decompressed.
    text = "compressed upload " * 20000
    sbx.files.write("/tmp/e2bgz/big.txt", text, gzip=True)
    assert sbx.files.read("/tmp/e2bgz/big.txt") == text
    assert sbx.files.read("/tmp/e2bgz/big.txt", gzip=True) == text
    r = sbx.commands.run("wc -c < /tmp/e2bgz/big.txt")
    assert r.stdout.strip() == str(len(text)), r
    # Metadata on write (envd >= 0.6.2): kept as user.e2b.* attributes, read back by get_info.
    written = sbx.files.write("/tmp/e2bgz/meta.txt", "m", metadata={"owner": "alice", "Stage": "two"})
    assert written.metadata == {"owner": "alice", "stage": "two"}, written
    info = sbx.files.get_info("/tmp/e2bgz/meta.txt")
    assert info.metadata == {"owner": "alice", "stage": "two"}, info
    assert sbx.files.get_info("/tmp/e2bgz/big.txt").metadata is None
    r = sbx.commands.run("cat /tmp/e2b/hello.txt")
    assert r.stdout == "hello from the SDK\n", r.stdout

    step("watch_dir (recursive)")
    sbx.files.make_dir("/tmp/watched/sub")
    w = sbx.files.watch_dir("/tmp/watched", recursive=True)
    sbx.files.write("/tmp/watched/new.txt", "x")
    sbx.files.write("/tmp/watched/sub/deep.txt", "y")
    sbx.commands.run("rm /tmp/watched/new.txt")
    want = {("new.txt", FilesystemEventType.CREATE), ("sub/deep.txt", FilesystemEventType.CREATE),
            ("new.txt", FilesystemEventType.REMOVE)}
    got = set()
    deadline = time.monotonic() + 10
    while not want <= got and time.monotonic() < deadline:
        got |= {(e.name, e.type) for e in w.get_new_events()}
        time.sleep(0.1)
    w.stop()
    assert want <= got, got

    step("get_info")
    info = sbx.get_info()
    assert info.sandbox_id == sbx.sandbox_id
    assert info.state == SandboxState.RUNNING, info.state
    assert info.metadata == {"run": RUN, "role": "main"}, info.metadata
    left = (info.end_at - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    assert 100 < left <= 121, left

    step("set_timeout moves the end")
    sbx.set_timeout(900)
    left = (sbx.get_info().end_at - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    assert 880 < left <= 901, left

    step("list: metadata filter and x-next-token paging")
    mine = listed(metadata={"run": RUN})
    assert sorted(s.sandbox_id for s in mine) == sorted([sbx.sandbox_id, other.sandbox_id]), mine
    only = listed(metadata={"run": RUN, "role": "other"})
    assert [s.sandbox_id for s in only] == [other.sandbox_id], only

    step("pause with a process running")
    counter = sbx.commands.run(
        "i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done",
        background=True,
    )
    time.sleep(1.0)
    before = int(sbx.files.read("/tmp/count").strip())
    assert before >= 3, before
    sbx.pause()
    assert not Sandbox.pause(sbx.sandbox_id), "a second pause must say it was paused already (409)"
    paused = listed(metadata={"run": RUN}, state=[SandboxState.PAUSED])
    assert [s.sandbox_id for s in paused] == [sbx.sandbox_id], paused
    running = listed(metadata={"run": RUN}, state=[SandboxState.RUNNING])
    assert [s.sandbox_id for s in running] == [other.sandbox_id], running
    assert sbx.get_info().state == SandboxState.PAUSED

    step("connect resumes with memory intact")
    time.sleep(1.0)
    resumed = Sandbox.connect(sbx.sandbox_id, timeout=300)
    assert resumed.get_info().state == SandboxState.RUNNING
    procs = {p.pid for p in resumed.commands.list()}
    assert counter.pid in procs, (counter.pid, procs)
    time.sleep(0.5)
    after = int(resumed.files.read("/tmp/count").strip())
    # The shell's counter lives only in its memory: it went on from where it was, not from 1.
    assert after > before, (before, after)
    r = resumed.commands.run("echo again")
    assert r.stdout.strip() == "again"
    resumed.commands.kill(counter.pid)

    step("connect to a running sandbox")
    again = Sandbox.connect(other.sandbox_id)
    assert again.commands.run("echo still-here").stdout.strip() == "still-here"

    step("get_metrics, fork, snapshots")
    metrics = resumed.get_metrics()
    assert metrics and metrics[-1].mem_total > 0 and metrics[-1].cpu_count >= 1, metrics
    # (A sandbox that was never hibernated: see docs/e2b.md on forking a resumed one.)
    again.files.write("/tmp/before-fork.txt", "forked")
    forks = again.fork(count=1, timeout=60)
    assert len(forks) == 1 and isinstance(forks[0], Sandbox), forks
    child = forks[0]
    assert child.sandbox_id != again.sandbox_id
    assert child.files.read("/tmp/before-fork.txt") == "forked"
    assert child.get_info().metadata == {"run": RUN, "role": "other"}
    child.kill()
    snap = resumed.create_snapshot(name=f"e2b-{RUN}", mode="filesystem")
    assert snap.snapshot_id.startswith("snap-"), snap
    from_snap = Sandbox.create(snap.snapshot_id, timeout=60, metadata={"run": RUN, "role": "from-snap"})
    assert from_snap.files.read("/tmp/e2b/hello.txt") == "hello from the SDK\n"
    from_snap.kill()
    assert snap.snapshot_id in [s.snapshot_id for s in Sandbox.list_snapshots(sandbox_id=resumed.sandbox_id).next_items()]
    assert Sandbox.delete_snapshot(snap.snapshot_id) is True

    step("auto-pause at the timeout, then connect")
    napper = Sandbox.create(timeout=2, lifecycle={"on_timeout": "pause"}, metadata={"run": RUN, "role": "napper"})
    napper.files.write("/tmp/kept.txt", "kept")
    deadline = time.monotonic() + 30
    while napper.get_info().state != SandboxState.PAUSED:
        assert time.monotonic() < deadline, "not paused 30 s after a 2 s timeout"
        time.sleep(0.5)
    woken = Sandbox.connect(napper.sandbox_id, timeout=60)
    assert woken.files.read("/tmp/kept.txt") == "kept"
    woken.kill()

    step("a sandbox ends at its timeout")
    short = Sandbox.create(timeout=2, metadata={"run": RUN, "role": "short"})
    assert short.is_running()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            short.get_info()
        except (SandboxNotFoundException, NotFoundException):
            break
        time.sleep(0.5)
    else:
        raise AssertionError("the 2 s sandbox still exists after 20 s")

    step("kill")
    assert other.kill() is True
    assert Sandbox.kill(other.sandbox_id) is False
    try:
        Sandbox.get_info(other.sandbox_id)
        raise AssertionError("killed sandbox still has info")
    except (SandboxNotFoundException, NotFoundException):
        pass
    resumed.kill()
    assert listed(metadata={"run": RUN}) == []
    step("ok")


if __name__ == "__main__":
    main()
    sys.exit(0)
