#!/usr/bin/env python3
"""How much time the SDK adds per call over raw HTTP (target: <= 1 ms at p50).

Against a running daemon (``WARREN_URL``, ``WARREN_API_KEY``, ``WARREN_TEST_IMAGE`` or
``--image``): creates one sandbox, then times ``get_sandbox`` and ``exec(["true"])`` through the
SDK and the same requests through a bare ``httpx.Client`` (JSON decoded, nothing else),
interleaved so both see the same daemon and machine load. Prints p50/p99 per variant and the
SDK's extra p50. A benchmark, not a test: it asserts nothing.

Then the same comparison with the network taken out: both the SDK and raw httpx talk to an
``httpx.MockTransport`` that answers the bodies recorded from the daemon, so the difference is
only the SDK's own CPU time per call (the daemon and loopback add noise of their own above).

    PYTHONPATH=sdk/python/src python3 sdk/python/bench/overhead.py --iterations 500
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Callable, Dict, List

import httpx

import warren


def pct(xs: List[float], p: float) -> float:
    """The p-th percentile (nearest rank) in ms."""
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] * 1000


def measure(calls: Dict[str, Callable[[], object]], iterations: int) -> Dict[str, List[float]]:
    """Interleaved timings of each call (after a warm-up)."""
    times: Dict[str, List[float]] = {k: [] for k in calls}
    for _ in range(20):
        for f in calls.values():
            f()
    for _ in range(iterations):
        for name, f in calls.items():
            t = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t)
    return times


def report(title: str, times: Dict[str, List[float]]) -> None:
    """Print p50/p99 per call and the SDK's extra p50 per operation."""
    print(title)
    print(f"{'call':<18}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}")
    for name, xs in times.items():
        print(f"{name:<18}{pct(xs, 50):>9.3f}{pct(xs, 99):>9.3f}{statistics.mean(xs) * 1000:>9.3f}")
    for op in ("get_sandbox", "exec"):
        extra = pct(times[f"{op} sdk"], 50) - pct(times[f"{op} raw"], 50)
        print(f"SDK overhead {op}: p50 {extra:+.3f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=500)
    ap.add_argument("--image", default=os.environ.get("WARREN_TEST_IMAGE"))
    args = ap.parse_args()
    w = warren.Warren()
    raw = httpx.Client(base_url=w.url, headers={"authorization": f"Bearer {os.environ['WARREN_API_KEY']}"}, timeout=60)
    with w.create_sandbox(args.image, cmd=["sleep", "infinity"]) as sb:
        path = f"/v1/sandboxes/{sb.id}"
        calls: Dict[str, Callable[[], object]] = {
            "get_sandbox sdk": lambda: w.get_sandbox(sb.id),
            "get_sandbox raw": lambda: raw.get(path).json(),
            "exec sdk": lambda: sb.exec(["true"]),
            "exec raw": lambda: raw.post(path + "/exec", json={"cmd": ["true"]}).json(),
        }
        times = measure(calls, args.iterations)
        bodies = {path: raw.get(path).content, path + "/exec": raw.post(path + "/exec", json={"cmd": ["true"]}).content}
    raw.close()
    w.close()
    print(f"python {os.sys.version.split()[0]}, httpx {httpx.__version__}, {args.iterations} iterations each")
    report("against the daemon:", times)

    mock = httpx.MockTransport(lambda req: httpx.Response(200, content=bodies[req.url.path], headers={"content-type": "application/json"}))
    headers = {"authorization": f"Bearer {os.environ['WARREN_API_KEY']}"}
    mw = warren.Warren(http_client=httpx.Client(base_url=w.url, headers=headers, transport=mock))
    mraw = httpx.Client(base_url=w.url, headers=headers, transport=mock)
    msb = mw.get_sandbox(sb.id)
    offline = {
        "get_sandbox sdk": lambda: mw.get_sandbox(sb.id),
        "get_sandbox raw": lambda: mraw.get(path).json(),
        "exec sdk": lambda: msb.exec(["true"]),
        "exec raw": lambda: mraw.post(path + "/exec", json={"cmd": ["true"]}).json(),
    }
    report("client side only (httpx.MockTransport with the recorded answers):", measure(offline, args.iterations))


if __name__ == "__main__":
    main()
