"""Pause, resume, hibernate, stop, start; snapshots, creating from them, branches."""

import pytest

import warren


def test_pause_resume_hibernate_stop_start(client: warren.Warren, image: str) -> None:
    with client.create_sandbox(image, cmd=["sleep", "infinity"]) as sb:
        sb.exec("echo kept > /root/state")
        counter = sb.start_process(["python3", "-c", "import time\nn=0\nwhile True:\n  n+=1; open('/tmp/n','w').write(str(n)); time.sleep(0.05)"], tag="counter")
        assert sb.pause().state == "paused"
        with pytest.raises(warren.ConflictError) as e:
            sb.exec("true")
        assert e.value.status == 409
        assert sb.resume().state == "running"
        assert sb.hibernate().state == "hibernated"
        assert sb.refresh().state == "hibernated"
        assert sb.resume().state == "running"
        # The process survived hibernation (memory restored, not restarted).
        assert counter.pid in [p.pid for p in sb.processes()]
        assert sb.stop().state == "stopped"
        with pytest.raises(warren.ConflictError):
            sb.stop().pause()
        assert sb.archive().state == "archived"  # files to the archive directory
        with pytest.raises(warren.ConflictError):
            sb.archive()
        assert sb.start().state == "running"  # brought back first, then started
        assert sb.files.read_text("/root/state") == "kept\n"
        assert counter.pid not in [p.pid for p in sb.processes()]


def test_snapshot_and_create_from_it(client: warren.Warren, image: str) -> None:
    with client.create_sandbox(image, labels={"suite": "python-sdk"}) as sb:
        sb.files.write("/data/seed.txt", "seeded")
        snap = sb.snapshot(name="sdk-py-files", labels={"k": "v"})
        assert snap.state == "ready" and not snap.memory and snap.name == "sdk-py-files" and snap.source_sandbox == sb.id
        assert client.get_snapshot("sdk-py-files").id == snap.id
        assert snap.id in [s.id for s in client.list_snapshots(sandbox=sb.id)]
        with client.create_sandbox(snapshot=snap.id) as child:
            assert child.info.parent_snapshot == snap.id
            assert child.files.read_text("/data/seed.txt") == "seeded"
            with pytest.raises(warren.ConflictError):
                client.delete_snapshot(snap.id)  # a sandbox was made from it
        with pytest.raises(warren.InvalidRequestError):
            sb.snapshot(name="snap-reserved-prefix")
    client.delete_snapshot(snap.id)
    with pytest.raises(warren.SnapshotNotFoundError):
        client.get_snapshot(snap.id)
    with pytest.raises(warren.SnapshotNotFoundError):
        client.create_sandbox(snapshot="no-such-snapshot")


def test_branch_continues_running_processes(client: warren.Warren, image: str) -> None:
    with client.create_sandbox(image, cmd=["sleep", "infinity"], labels={"suite": "python-sdk", "case": "branch"}) as sb:
        sb.start_process(["python3", "-c", "import time\nx = 41\nopen('/tmp/ready','w').write('1')\nwhile True: time.sleep(1)"], tag="holder")
        sb.exec("for i in $(seq 50); do [ -f /tmp/ready ] && break; sleep 0.1; done")
        br = sb.branch(2)
        try:
            assert br.snapshot.memory and len(br.sandboxes) == 2
            ids = {b.id for b in br.sandboxes}
            assert len(ids) == 2 and sb.id not in ids
            for b in br.sandboxes:
                assert b.state == "running" and b.info.labels["case"] == "branch"
                assert "holder" in [p.tag for p in b.processes()]
                assert b.exec("hostname").stdout.strip() == b.id
        finally:
            for b in br.sandboxes:
                b.delete()
            client.delete_snapshot(br.snapshot.id)
