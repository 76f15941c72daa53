"""Round-trip latency of MCP `run_command` against a raw REST exec, measured in one run.

Usage: python bench_mcp.py --url URL --key KEY --warren BIN --sandbox ID [--n 300]

Each path runs `sh -c true` in the same running sandbox, one call after another, after 20
warm-up calls: (1) REST `POST /v1/sandboxes/{id}/exec` with httpx (the HTTP library the mcp
client itself uses, over a kept-alive connection): the baseline; (2) `run_command` through the
official mcp client over streamable HTTP (`/mcp`); (3) `run_command` over stdio (`warren
mcp`). Prints one JSON object: each path's samples in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import httpx
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

WARMUP = 20


async def timed(n: int, once: Callable[[], Awaitable[None]]) -> list[float]:
    for _ in range(WARMUP):
        await once()
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        await once()
        samples.append((time.perf_counter() - t) * 1000)
    return samples


async def mcp_path(client: Client, sandbox: str, n: int) -> list[float]:
    async def once() -> None:
        r = await client.call_tool("run_command", {"sandbox_id": sandbox, "command": "true"})
        assert not r.is_error and r.structured_content["exit_code"] == 0, r

    async with client:
        return await timed(n, once)


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--warren", required=True)
    p.add_argument("--sandbox", required=True)
    p.add_argument("--n", type=int, default=300)
    a = p.parse_args()
    out: dict[str, list[float]] = {}

    headers = {"Authorization": f"Bearer {a.key}"}
    async with httpx.AsyncClient(base_url=a.url, headers=headers) as http:

        async def rest() -> None:
            r = await http.post(f"/v1/sandboxes/{a.sandbox}/exec", json={"cmd": ["sh", "-c", "true"]})
            assert r.status_code == 200 and r.json()["exit_code"] == 0, r.text

        out["rest_httpx"] = await timed(a.n, rest)

    http_client = create_mcp_http_client(headers=headers)
    out["mcp_http"] = await mcp_path(
        Client(streamable_http_client(f"{a.url}/mcp", http_client=http_client)), a.sandbox, a.n
    )
    stdio = StdioServerParameters(
        command=a.warren,
        args=["mcp"],
        env={"WARREN_URL": a.url, "WARREN_API_KEY": a.key, "WARREN_CONFIG": "/nonexistent/config.json"},
    )
    out["mcp_stdio"] = await mcp_path(Client(stdio), a.sandbox, a.n)
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
