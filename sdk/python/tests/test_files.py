"""Files: text and bytes, streamed upload and download, list, stat, mkdir, move, chmod, chown,
remove, tar archives."""

import io
import os
import tarfile

import pytest

import warren


def test_text_and_bytes(sandbox: warren.Sandbox) -> None:
    f = sandbox.files
    f.write("/tmp/t/hello.txt", "héllo\n")
    assert f.read_text("/tmp/t/hello.txt") == "héllo\n"
    blob = bytes(range(256)) * 4
    f.write("/tmp/t/blob.bin", blob)
    assert f.read_bytes("/tmp/t/blob.bin") == blob
    f.write("/tmp/t/iter.txt", (c for c in [b"a", b"b", b"c"]))
    assert f.read_text("/tmp/t/iter.txt") == "abc"
    f.write("/tmp/t/file.txt", io.BytesIO(b"from a file object"))
    assert sandbox.exec("cat /tmp/t/file.txt").stdout == "from a file object"
    f.write("/home/app/mine.txt", "x", user="app")
    assert f.stat("/home/app/mine.txt").owner == "app"


def test_streaming_upload_download(sandbox: warren.Sandbox, tmp_path) -> None:
    src = tmp_path / "big.bin"
    data = os.urandom(8 << 20)
    src.write_bytes(data)
    sandbox.files.upload(src, "/tmp/big.bin")
    assert sandbox.exec("stat -c %s /tmp/big.bin").stdout.strip() == str(len(data))
    dst = tmp_path / "back.bin"
    assert sandbox.files.download("/tmp/big.bin", dst) == len(data)
    assert dst.read_bytes() == data
    chunks = list(sandbox.files.iter_bytes("/tmp/big.bin"))
    assert len(chunks) > 1 and b"".join(chunks) == data


def test_list_stat_mkdir_move_remove(sandbox: warren.Sandbox) -> None:
    f = sandbox.files
    d = f.mkdir("/srv/app/logs", mode="0750")
    assert d.is_dir and d.mode == "0750"
    f.write("/srv/app/run.sh", "#!/bin/sh\necho run\n")
    f.chmod("/srv/app/run.sh", 0o755)
    assert sandbox.exec(["/srv/app/run.sh"]).stdout == "run\n"
    entry = f.stat("/srv/app/run.sh")
    assert (entry.type, entry.size, entry.mode, entry.name) == ("file", 19, "0755", "run.sh")
    assert [e.name for e in f.list("/srv/app")] == ["logs", "run.sh"]
    assert [e.path for e in f.list("/srv", depth=2)] == ["/srv/app", "/srv/app/logs", "/srv/app/run.sh"]
    chowned = f.chown("/srv/app/logs", owner="app", group="app")
    assert (chowned.owner, chowned.group) == ("app", "app")
    moved = f.move("/srv/app/run.sh", "/srv/bin/run.sh")
    assert moved.path == "/srv/bin/run.sh" and not f.exists("/srv/app/run.sh") and f.exists("/srv/bin/run.sh")
    with pytest.raises(warren.ConflictError):
        f.remove("/srv/app")  # not empty
    f.remove("/srv/app", recursive=True)
    f.remove("/srv/bin/run.sh")
    assert not f.exists("/srv/app")
    with pytest.raises(warren.SandboxFileNotFoundError):
        f.remove("/srv/app")
    with pytest.raises(warren.SandboxFileNotFoundError):
        f.list("/srv/nothing")
    with pytest.raises(warren.InvalidRequestError):
        f.chown("/srv", owner="nobody-like-this")


def test_tar_round_trip(sandbox: warren.Sandbox, tmp_path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, body in [("a.txt", b"A"), ("sub/b.txt", b"BB")]:
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    sandbox.files.upload_tar("/opt/tree", buf.getvalue())
    assert sandbox.files.read_text("/opt/tree/sub/b.txt") == "BB"
    out = tmp_path / "tree.tar"
    assert sandbox.files.download_tar("/opt/tree", out) > 0
    with tarfile.open(out) as tar:
        assert sorted(tar.getnames()) == ["tree", "tree/a.txt", "tree/sub", "tree/sub/b.txt"]
