"""The asyncio client: the same operations, awaited (it shares the request code with the
blocking client, so these cover its own I/O paths: calls, streams, tasks, the WebSocket)."""

import asyncio
import os

import pytest

import warren


def run(coro):
    return asyncio.run(coro)


def test_async_streamed_files(image: str, tmp_path) -> None:
    import io
    import tarfile

    src = tmp_path / "up.bin"
    data = os.urandom(3 << 20)
    src.write_bytes(data)

    async def main() -> None:
        async with warren.AsyncWarren() as w:
            async with await w.create_sandbox(image, cmd=["sleep", "infinity"]) as sb:
                await sb.files.upload(src, "/tmp/up.bin")
                assert await sb.files.download("/tmp/up.bin", tmp_path / "down.bin") == len(data)
                assert (tmp_path / "down.bin").read_bytes() == data
                await sb.files.write("/tmp/fileobj.txt", io.BytesIO(b"from a file object"))
                assert await sb.files.read_text("/tmp/fileobj.txt") == "from a file object"
                buf = io.BytesIO()
                with tarfile.open(fileobj=buf, mode="w") as tar:
                    info = tarfile.TarInfo("x/y.txt")
                    info.size = 1
                    tar.addfile(info, io.BytesIO(b"Y"))
                await sb.files.upload_tar("/opt/t", buf.getvalue())
                assert await sb.files.read_text("/opt/t/x/y.txt") == "Y"
                out = io.BytesIO()
                assert await sb.files.download_tar("/opt/t", out) > 0
                out.seek(0)
                with tarfile.open(fileobj=out) as tar:
                    assert sorted(tar.getnames()) == ["t", "t/x", "t/x/y.txt"]

    run(main())


def test_async_sandbox_flow(image: str) -> None:
    async def main() -> None:
        async with warren.AsyncWarren() as w:
            assert (await w.health())["status"] == "ok"
            async with await w.create_sandbox(image, cmd=["sleep", "infinity"], labels={"suite": "python-sdk", "case": "async"}) as sb:
                assert sb.state == "running"
                assert [s.id for s in await w.list_sandboxes(labels={"case": "async"})] == [sb.id]
                assert (await w.get_sandbox(sb.id)).id == sb.id
                r = await sb.exec(["python3", "-c", "print(6*7)"])
                assert (r.exit_code, r.stdout) == (0, "42\n")
                seen = []
                r = await sb.exec("echo a; echo b >&2; exit 2", on_stdout=seen.append, on_stderr=seen.append)
                assert r.exit_code == 2 and sorted(seen) == ["a\n", "b\n"]
                assert (await sb.exec(["cat"], stdin="in")).stdout == "in"
                # Two commands at once on one client.
                a, b = await asyncio.gather(sb.exec("sleep 0.3; echo A"), sb.exec("sleep 0.3; echo B"))
                assert (a.stdout, b.stdout) == ("A\n", "B\n")
                h = await sb.spawn("tr a-z A-Z", stdin=True)
                assert h.pid > 1 and h.running
                await h.send_stdin("it")
                await h.close_stdin()
                assert (await h.wait(10)).stdout == "IT"
                k = await sb.spawn(["sleep", "60"])
                with pytest.raises(TimeoutError):
                    await k.wait(0.2)
                await k.kill("TERM")
                assert (await k.wait(10)).exit_code == -1
                p = await sb.start_process(["sleep", "60"], tag="bg", stdin=True)
                assert "bg" in [q.tag for q in await sb.processes()]
                await sb.send_stdin(p.pid, "x")
                await sb.close_stdin(p.pid)
                attach = asyncio.ensure_future(sb.attach(p.pid))
                await asyncio.sleep(0.3)
                await sb.kill(p.pid)
                assert (await attach).exit_code == -1
                # files
                f = sb.files
                await f.write("/tmp/x/a.txt", "héllo")
                assert await f.read_text("/tmp/x/a.txt") == "héllo"

                async def chunks():
                    for c in (b"1", b"2", b"3"):
                        yield c

                await f.write("/tmp/x/b.bin", chunks())
                assert await f.read_bytes("/tmp/x/b.bin") == b"123"
                assert b"".join([c async for c in f.iter_bytes("/tmp/x/b.bin")]) == b"123"
                assert (await f.mkdir("/tmp/x/d")).is_dir
                assert [e.name for e in await f.list("/tmp/x")] == ["a.txt", "b.bin", "d"]
                assert (await f.chmod("/tmp/x/a.txt", "0600")).mode == "0600"
                assert (await f.chown("/tmp/x/a.txt", owner="app")).owner == "app"
                assert (await f.move("/tmp/x/a.txt", "/tmp/y/a.txt")).path == "/tmp/y/a.txt"
                assert (await f.stat("/tmp/y/a.txt")).size == 6
                await f.remove("/tmp/x", recursive=True)
                assert not await f.exists("/tmp/x")
                with pytest.raises(warren.SandboxFileNotFoundError):
                    await f.read_bytes("/tmp/x/a.txt")
                # pty
                async with await sb.pty(cmd="stty size; read l; echo [$l]; exit 5", cols=90, rows=20) as t:
                    assert b"20 90" in await t.read_until("20 90")
                    await t.resize(100, 30)
                    await t.write("typed\n")
                    assert b"[typed]" in await t.read_until("[typed]")
                    assert await t.wait() == 5
                # lifecycle, policy, metrics, ports, logs, events
                assert (await sb.pause()).state == "paused"
                with pytest.raises(warren.ConflictError):
                    await sb.exec("true")
                assert (await sb.resume()).state == "running"
                await sb.set_lifecycle(warren.LifecyclePolicy(idle_timeout_s=600, idle_action="stop"))
                assert sb.info.lifecycle.idle_action == "stop"
                await sb.update(metadata={"m": "1"})
                assert (await sb.refresh()).info.metadata == {"m": "1"}
                assert (await sb.metrics()).current.pids >= 1
                assert await sb.ports() == []
                assert sb.preview_url(8080).endswith("/ports/8080/?warren_token=" + sb.info.network.access_token)
                assert await sb.logs() == ""
                assert "sandbox.pause" in [e.action for e in await sb.events()]
                assert (await sb.hibernate()).state == "hibernated"
                assert (await sb.resume()).state == "running"
                assert (await sb.stop()).state == "stopped"
                assert (await sb.start()).state == "running"
            with pytest.raises(warren.SandboxNotFoundError):
                await w.get_sandbox(sb.id)

    run(main())


def test_async_snapshots_branch_events_images(image: str) -> None:
    async def main() -> None:
        async with warren.AsyncWarren() as w:
            newest = (await w.list_events(limit=1)).items
            events = w.stream_events(action="sandbox.", after=newest[-1].seq if newest else 0)
            async with await w.create_sandbox(image, cmd=["sleep", "infinity"]) as sb:
                await sb.files.write("/data/f", "snap")
                snap = await sb.snapshot(name="sdk-py-async")
                assert (await w.get_snapshot("sdk-py-async")).id == snap.id
                assert snap.id in [s.id for s in await w.list_snapshots()]
                async with await w.create_sandbox(snapshot=snap.id) as child:
                    assert await child.files.read_text("/data/f") == "snap"
                br = await sb.branch(1)
                assert br.snapshot.memory and len(br.sandboxes) == 1
                assert (await br.sandboxes[0].exec("cat /data/f")).stdout == "snap"
                await br.sandboxes[0].delete()
                await w.delete_snapshot(br.snapshot.id)
                first = await events.__anext__()
                assert first.action == "sandbox.create" and first.sandbox_id == sb.id
                await events.aclose()
            await w.delete_snapshot(snap.id)
            with pytest.raises(warren.SnapshotNotFoundError):
                await w.delete_snapshot(snap.id)
            assert image in [i.reference for i in await w.list_images()]
            assert (await w.get_image(image)).reference == image
            assert "warren_sandboxes" in await w.prometheus_metrics()
            small = os.environ.get("WARREN_TEST_SMALL_IMAGE")
            if small:
                seen = []
                img = await w.pull_image(small, on_progress=seen.append)
                assert seen and img.reference == small
                assert (await w.pull_image(small)).digest == img.digest
                await w.delete_image(small)
                with pytest.raises(warren.ImageNotFoundError):
                    await w.delete_image(small)
        async with warren.AsyncWarren(api_key="wrn_nope") as bad:
            with pytest.raises(warren.UnauthorizedError):
                await bad.list_sandboxes()

    run(main())
