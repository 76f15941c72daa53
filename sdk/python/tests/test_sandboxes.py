"""Sandboxes: create, get, list with filters, update, lifecycle policy, logs, delete."""

import pytest

import warren


def test_create_get_list_delete(client: warren.Warren, image: str) -> None:
    sb = client.create_sandbox(
        image,
        cmd=["sleep", "infinity"],
        env={"GREETING": "hello"},
        cpu=0.5,
        memory_mb=256,
        labels={"suite": "python-sdk", "case": "crud"},
        metadata={"note": "from the sdk"},
    )
    try:
        assert sb.id.startswith("sb-") and sb.state == "running"
        assert sb.info.cpu == 0.5 and sb.info.memory_mb == 256 and sb.info.cmd == ["sleep", "infinity"]
        assert sb.exec("echo $GREETING").stdout == "hello\n"
        got = client.get_sandbox(sb.id)
        assert got.info.metadata == {"note": "from the sdk"} and got.info.labels["case"] == "crud"
        ids = [s.id for s in client.list_sandboxes(labels={"case": "crud"})]
        assert ids == [sb.id]
        assert sb.id in [s.id for s in client.list_sandboxes(state="running", image=sb.info.image)]
        assert sb.id not in [s.id for s in client.list_sandboxes(state="paused")]
        # Paging: a page size of 1 still returns every sandbox.
        assert sb.id in [s.id for s in client.list_sandboxes(page_size=1)]
    finally:
        client.delete_sandbox(sb.id)
    with pytest.raises(warren.SandboxNotFoundError):
        sb.refresh()


def test_context_manager_deletes(client: warren.Warren, image: str) -> None:
    with client.create_sandbox(image) as sb:
        sid = sb.id
        assert sb.refresh().state == "running"
    with pytest.raises(warren.SandboxNotFoundError):
        client.get_sandbox(sid)


def test_context_manager_deletes_on_error(client: warren.Warren, image: str) -> None:
    sid = None
    with pytest.raises(RuntimeError):
        with client.create_sandbox(image) as sb:
            sid = sb.id
            raise RuntimeError("boom")
    with pytest.raises(warren.SandboxNotFoundError):
        client.get_sandbox(sid)


def test_update_and_lifecycle_policy(sandbox: warren.Sandbox) -> None:
    sandbox.update(labels={"suite": "python-sdk", "tier": "gold"}, metadata={"k": "v"})
    assert sandbox.info.labels == {"suite": "python-sdk", "tier": "gold"} and sandbox.info.metadata == {"k": "v"}
    sandbox.set_lifecycle(warren.LifecyclePolicy(idle_timeout_s=3600, idle_action="hibernate", ttl_s=7200))
    pol = sandbox.refresh().info.lifecycle
    assert pol.idle_timeout_s == 3600 and pol.idle_action == "hibernate" and pol.ttl_s == 7200
    sandbox.set_lifecycle({"idle_timeout_s": 0, "ttl_s": 0})
    assert sandbox.info.lifecycle.idle_timeout_s is None and sandbox.info.lifecycle.ttl_s is None
    with pytest.raises(warren.InvalidRequestError):
        sandbox.set_lifecycle({"idle_action": "explode"})
    with pytest.raises(warren.InvalidRequestError):
        sandbox.update()


def test_policy_at_creation_and_network(client: warren.Warren, image: str) -> None:
    with client.create_sandbox(image, lifecycle=warren.LifecyclePolicy(ttl_s=600), network="none") as sb:
        assert sb.info.lifecycle.ttl_s == 600
        assert sb.info.network.mode == "none"
        sb.update(network=warren.NetworkPolicy("restricted", allow=["10.0.0.0/8"]))
        assert sb.info.network.mode == "restricted" and sb.info.network.allow == ["10.0.0.0/8"]


def test_logs(client: warren.Warren, image: str) -> None:
    with client.create_sandbox(image, cmd=["sh", "-c", "echo line-one; echo line-two; sleep infinity"]) as sb:
        import time

        for _ in range(50):
            if "line-two" in sb.logs():
                break
            time.sleep(0.1)
        assert sb.logs() == "line-one\nline-two\n"
        assert sb.logs(tail=1) == "line-two\n"
