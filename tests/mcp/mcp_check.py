"""Drive warren's MCP server with the official `mcp` client library and check every tool.

Usage:
    python mcp_check.py stdio --warren BIN --url URL --key KEY --image REF
    python mcp_check.py http  --url URL --key KEY --image REF

`stdio` spawns `warren mcp` (configured by WARREN_URL / WARREN_API_KEY, as a desktop agent
would); `http` connects to the daemon's `/mcp` with the key as a bearer token. The daemon
must have pulled IMAGE (a Debian image with python3 and bash, but no node). Exits non-zero
on the first failed check; prints each check as it passes.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import time
from typing import Any

import httpx
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

TOOLS = {
    "create_sandbox",
    "list_sandboxes",
    "delete_sandbox",
    "run_command",
    "run_code",
    "read_file",
    "write_file",
    "list_files",
    "pause_sandbox",
    "resume_sandbox",
    "hibernate_sandbox",
    "snapshot_sandbox",
    "branch_sandbox",
    "expose_port",
}


def ok(what: str) -> None:
    print(f"ok   {what}", flush=True)


def text_of(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


async def call(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    """A successful call's structured result (fails the check on a tool error)."""
    result = await client.call_tool(tool, args)
    assert not result.is_error, f"{tool}({args}) failed: {text_of(result)}"
    data = result.structured_content
    assert isinstance(data, dict), f"{tool}: structured content {data!r}"
    # The text content carries the same JSON, for clients that ignore structured content.
    assert json.loads(text_of(result)) == data, f"{tool}: text and structured content differ"
    return data


async def fails(client: Client, tool: str, args: dict[str, Any], *needles: str) -> str:
    """Call expecting a tool error whose message contains every needle; returns it."""
    result = await client.call_tool(tool, args)
    message = text_of(result)
    assert result.is_error, f"{tool}({args}) should have failed, got {message}"
    for needle in needles:
        assert needle in message, f"{tool}({args}): {needle!r} not in {message!r}"
    return message


async def check_tools(client: Client) -> None:
    listed = await client.list_tools()
    names = {t.name for t in listed.tools}
    assert names == TOOLS, f"tools: {sorted(names)}"
    for t in listed.tools:
        assert t.description and len(t.description) > 20, f"{t.name}: description {t.description!r}"
        schema = t.input_schema
        assert schema.get("type") == "object", f"{t.name}: schema {schema}"
        for prop, spec in schema.get("properties", {}).items():
            assert spec.get("description") or "$ref" in spec or "anyOf" in spec or "oneOf" in spec, (
                f"{t.name}.{prop} has no description: {spec}"
            )
    by_name = {t.name: t for t in listed.tools}
    for name in ("list_sandboxes", "read_file", "list_files"):
        assert by_name[name].annotations and by_name[name].annotations.read_only_hint is True, name
    assert by_name["delete_sandbox"].annotations.destructive_hint is True
    assert by_name["create_sandbox"].annotations.destructive_hint is False
    run = by_name["run_command"].input_schema
    assert set(run["required"]) == {"sandbox_id", "command"}, run
    ok(f"list_tools: {len(names)} tools, each with a description, an input schema and hints")


async def check_commands(client: Client, sb: str) -> None:
    r = await call(client, "run_command", {"sandbox_id": sb, "command": "echo hi; echo oops >&2; exit 3"})
    assert (r["exit_code"], r["stdout"], r["stderr"]) == (3, "hi\n", "oops\n"), r
    assert r["truncated"] is False and r["timed_out"] is False, r
    ok("run_command: stdout, stderr and a failing exit code (a result, not a tool error)")

    r = await call(
        client, "run_command", {"sandbox_id": sb, "command": "seq 1 100000", "max_output_bytes": 1000}
    )
    out = r["stdout"]
    assert r["truncated"] is True and len(out.encode()) <= 1000, (r["truncated"], len(out))
    assert out.startswith("1\n2\n3\n") and out.endswith("99999\n100000\n"), out
    assert "bytes left out" in out, out
    ok("run_command: long output bounded, beginning and end kept, truncated=true")

    r = await call(
        client,
        "run_command",
        {"sandbox_id": sb, "command": 'echo "$GREETING from $(pwd)"', "cwd": "/tmp", "env": {"GREETING": "hello"}},
    )
    assert r["stdout"] == "hello from /tmp\n", r
    ok("run_command: cwd and env")

    r = await call(client, "run_code", {"sandbox_id": sb, "language": "python", "code": "import sys\nprint(6*7)\nsys.exit(0)"})
    assert (r["exit_code"], r["stdout"]) == (0, "42\n"), r
    r = await call(client, "run_code", {"sandbox_id": sb, "language": "python", "code": "raise ValueError('boom')"})
    assert r["exit_code"] == 1 and "ValueError: boom" in r["stderr"], r
    r = await call(client, "run_code", {"sandbox_id": sb, "language": "bash", "code": "x=(a b c); echo ${#x[@]}"})
    assert r["stdout"] == "3\n", r
    await fails(client, "run_code", {"sandbox_id": sb, "language": "node", "code": "console.log(1)"}, "no Node.js interpreter", "`node`")
    r = await call(client, "run_command", {"sandbox_id": sb, "command": "ls /tmp | grep -c warren-mcp || true"})
    assert r["stdout"] == "0\n", f"run_code left files behind: {r}"
    ok("run_code: python, bash, a failing program, a clear error without node, no files left")


async def check_timeout(client: Client, sb: str) -> None:
    r = await call(client, "run_command", {"sandbox_id": sb, "command": "sleep 30", "timeout_s": 1})
    assert r["timed_out"] is True and r["duration_ms"] < 10_000, r
    ok("run_command: timeout_s kills the command, timed_out=true")


async def check_files(client: Client, sb: str) -> None:
    r = await call(client, "write_file", {"sandbox_id": sb, "path": "/tmp/mcp/dir/hello.txt", "content": "héllo\n"})
    assert r == {"path": "/tmp/mcp/dir/hello.txt", "bytes": 7}, r
    r = await call(client, "read_file", {"sandbox_id": sb, "path": "/tmp/mcp/dir/hello.txt"})
    assert (r["encoding"], r["content"], r["size"], r["truncated"]) == ("text", "héllo\n", 7, False), r
    raw = bytes([0, 1, 2, 255, 254])
    await call(
        client,
        "write_file",
        {"sandbox_id": sb, "path": "/tmp/mcp/blob.bin", "content": base64.b64encode(raw).decode(), "encoding": "base64"},
    )
    r = await call(client, "read_file", {"sandbox_id": sb, "path": "/tmp/mcp/blob.bin"})
    assert r["encoding"] == "base64" and base64.b64decode(r["content"]) == raw, r
    r = await call(client, "read_file", {"sandbox_id": sb, "path": "/tmp/mcp/dir/hello.txt", "max_bytes": 2})
    assert (r["content"], r["truncated"], r["size"]) == ("h", True, 7), r
    r = await call(client, "list_files", {"sandbox_id": sb, "path": "/tmp/mcp", "depth": 2})
    entries = {e["path"]: e for e in r["entries"]}
    assert entries["/tmp/mcp/dir"]["type"] == "dir", entries
    assert entries["/tmp/mcp/dir/hello.txt"]["type"] == "file", entries
    assert entries["/tmp/mcp/blob.bin"]["size"] == 5, entries
    await fails(client, "read_file", {"sandbox_id": sb, "path": "/tmp/mcp/missing"}, "file_not_found")
    await fails(client, "write_file", {"sandbox_id": sb, "path": "/x", "content": "!!", "encoding": "base64"}, "not valid base64")
    ok("write_file, read_file (text, base64, cut at max_bytes), list_files")


async def check_port(client: Client, sb: str, url: str, key: str, transport: str) -> None:
    await call(
        client,
        "run_command",
        {"sandbox_id": sb, "command": "cd /tmp/mcp && nohup python3 -m http.server 8000 --bind 0.0.0.0 >/dev/null 2>&1 &"},
    )
    await fails(client, "expose_port", {"sandbox_id": sb, "port": 8001}, "listens on port 8001", "0.0.0.0")
    deadline = time.monotonic() + 20
    while True:
        result = await client.call_tool("expose_port", {"sandbox_id": sb, "port": 8000})
        if not result.is_error or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert not result.is_error, text_of(result)
    r = result.structured_content
    assert r["public"] is False and r["access_token"], r
    assert f"8000-{sb}." in r["url"] and r["url_with_token"].startswith(r["url"] + "?warren_token="), r
    # The path URL names the daemon as this client reached it (over HTTP: the Host it sent).
    assert r["path_url"] == f"{url}/v1/sandboxes/{sb}/ports/8000/", (r["path_url"], url)
    async with httpx.AsyncClient() as http:
        denied = await http.get(r["path_url"])
        assert denied.status_code in (401, 403), denied.status_code
        page = await http.get(r["path_url"], headers={"X-Warren-Token": r["access_token"]})
        assert page.status_code == 200 and "blob.bin" in page.text, (page.status_code, page.text[:200])
    r = await call(client, "expose_port", {"sandbox_id": sb, "port": 8000, "public": True})
    assert r["public"] is True and "access_token" not in r, r
    async with httpx.AsyncClient() as http:
        page = await http.get(r["path_url"])
        assert page.status_code == 200, page.status_code
    ok(f"expose_port: not listening is a clear error; token URL, then public URL serve the page ({transport})")


async def check_states(client: Client, sb: str) -> None:
    await call(client, "run_command", {"sandbox_id": sb, "command": "echo kept > /tmp/state.txt"})
    for tool, state in [
        ("pause_sandbox", "paused"),
        ("resume_sandbox", "running"),
        ("hibernate_sandbox", "hibernated"),
        ("resume_sandbox", "running"),
    ]:
        r = await call(client, tool, {"sandbox_id": sb})
        assert (r["id"], r["state"]) == (sb, state), r
    r = await call(client, "run_command", {"sandbox_id": sb, "command": "cat /tmp/state.txt"})
    assert r["stdout"] == "kept\n", r
    await fails(client, "resume_sandbox", {"sandbox_id": sb}, "conflict")
    ok("pause, resume, hibernate, resume; a resume of a running sandbox is a conflict error")


async def check_snapshots(client: Client, sb: str) -> None:

    snap = await call(client, "snapshot_sandbox", {"sandbox_id": sb})
    assert snap["id"].startswith("snap-") and snap["state"] == "ready" and snap["memory"] is False, snap
    restored = await call(client, "create_sandbox", {"snapshot": snap["id"], "labels": {"from": "snapshot"}})
    assert restored["parent_snapshot"] == snap["id"] and restored["state"] == "running", restored
    r = await call(client, "read_file", {"sandbox_id": restored["id"], "path": "/tmp/state.txt"})
    assert r["content"] == "kept\n", r
    await call(client, "delete_sandbox", {"sandbox_id": restored["id"]})
    ok("snapshot_sandbox; create_sandbox from the snapshot has the files")

    await call(client, "run_command", {"sandbox_id": sb, "command": "echo before > /tmp/branch.txt"})
    r = await call(client, "branch_sandbox", {"sandbox_id": sb, "count": 2})
    assert len(r["sandboxes"]) == 2 and r["snapshot"].startswith("snap-"), r
    for i, branch in enumerate(r["sandboxes"]):
        assert branch["state"] == "running" and branch["id"] != sb, branch
        out = await call(client, "run_command", {"sandbox_id": branch["id"], "command": f"echo {i} >> /tmp/branch.txt; cat /tmp/branch.txt"})
        assert out["stdout"] == f"before\n{i}\n", out
    original = await call(client, "read_file", {"sandbox_id": sb, "path": "/tmp/branch.txt"})
    assert original["content"] == "before\n", original
    for branch in r["sandboxes"]:
        await call(client, "delete_sandbox", {"sandbox_id": branch["id"]})
    ok("branch_sandbox: two independent copies of the running sandbox")


async def check_errors(client: Client) -> None:
    await fails(client, "run_command", {"sandbox_id": "sb-nosuchsandbox", "command": "true"}, "sandbox_not_found")
    await fails(client, "delete_sandbox", {"sandbox_id": "sb-nosuchsandbox"}, "sandbox_not_found")
    await fails(client, "run_command", {"sandbox_id": "sb-nosuchsandbox"}, "command")
    await fails(client, "run_command", {"sandbox_id": "sb-x", "command": "true", "timeout_s": 0}, "timeout_s")
    await fails(client, "run_command", {"sandbox_id": "sb-x", "command": "true", "colour": "red"}, "colour")
    await fails(client, "run_code", {"sandbox_id": "sb-x", "language": "cobol", "code": "x"}, "cobol")
    await fails(client, "create_sandbox", {}, "exactly one of `image` and `snapshot`")
    await fails(client, "create_sandbox", {"image": "no-such-image:1", "memory_mb": 1}, "invalid_request")
    await fails(client, "expose_port", {"sandbox_id": "sb-x", "port": 70000}, "invalid argument `port`")
    try:
        await client.call_tool("no_such_tool", {})
    except MCPError as e:
        assert "not found" in str(e), e
    else:
        raise AssertionError("an unknown tool should be a protocol error")
    ok("errors: unknown sandbox, missing/unknown/out-of-range arguments, unknown tool")


async def check_http_auth(url: str, key: str, image: str) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{url}/mcp", json=body, headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", (r.status_code, r.text)
        r = await http.post(f"{url}/mcp", json=body, headers=headers | {"Authorization": "Bearer wrn_wrong"})
        assert r.status_code == 401, (r.status_code, r.text)
        created = await http.post(
            f"{url}/v1/keys",
            json={"name": "mcp-read", "scope": "read"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert created.status_code in (200, 201), created.text
        read_key = created.json()["key"]
    ok("http: no key and a wrong key are 401 unauthorized")

    async with connect_http(url, read_key) as client:
        r = await call(client, "list_sandboxes", {})
        assert isinstance(r["sandboxes"], list), r
        await fails(client, "create_sandbox", {"image": image}, "forbidden", "read-only")
    ok("http: a read-only key may list but not create (the API's scope check, as a tool error)")


def connect_http(url: str, key: str) -> Client:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    return Client(streamable_http_client(f"{url}/mcp", http_client=http))


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("transport", choices=["stdio", "http"])
    p.add_argument("--url", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--warren", help="the warren binary (stdio)")
    a = p.parse_args()
    if a.transport == "stdio":
        params = StdioServerParameters(
            command=a.warren,
            args=["mcp"],
            env={"WARREN_URL": a.url, "WARREN_API_KEY": a.key, "WARREN_CONFIG": "/nonexistent/config.json"},
        )
        client = Client(params)
    else:
        await check_http_auth(a.url, a.key, a.image)
        client = connect_http(a.url, a.key)

    async with client:
        await check_tools(client)
        await check_errors(client)
        sb = await call(client, "create_sandbox", {"image": a.image, "labels": {"via": a.transport}})
        assert sb["id"].startswith("sb-") and sb["state"] == "running", sb
        listed = await call(client, "list_sandboxes", {"label": f"via={a.transport}"})
        assert [s["id"] for s in listed["sandboxes"]] == [sb["id"]], listed
        listed = await call(client, "list_sandboxes", {"state": "paused", "label": f"via={a.transport}"})
        assert listed["sandboxes"] == [], listed
        ok("create_sandbox, list_sandboxes (by label and state)")
        try:
            await check_states(client, sb["id"])
            await check_commands(client, sb["id"])
            await check_snapshots(client, sb["id"])
            await check_timeout(client, sb["id"])
            await check_files(client, sb["id"])
            await check_port(client, sb["id"], a.url, a.key, a.transport)
        finally:
            await call(client, "delete_sandbox", {"sandbox_id": sb["id"]})
        listed = await call(client, "list_sandboxes", {"label": f"via={a.transport}"})
        assert listed["sandboxes"] == [], listed
        await fails(client, "delete_sandbox", {"sandbox_id": sb["id"]}, "sandbox_not_found")
        ok("delete_sandbox; a second delete says sandbox_not_found")
    print(f"all MCP checks passed over {a.transport}")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except AssertionError as e:
        print(f"FAIL {e}", file=sys.stderr)
        raise
