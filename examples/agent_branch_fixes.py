#!/usr/bin/env python3
"""An agent loop that tries three fixes in parallel and keeps the one whose tests pass.

The "agent" (here: a list of candidate patches, where a real one would ask a model) works in a
sandbox: it sets up a project, runs its tests and sees them fail. Instead of trying fixes one
after another, it *branches* the sandbox into three copies that continue from that same instant
(files, processes and all), applies one candidate fix in each, runs the tests in all three at
once, keeps the branch whose tests pass and deletes the rest.

    WARREN_URL=http://127.0.0.1:7070 WARREN_API_KEY=... python3 examples/agent_branch_fixes.py --image python:3.12-slim

Needs the warren SDK (``pip install ./sdk/python`` or ``PYTHONPATH=sdk/python/src``) and an image
with python3. Exits 0 when a fix was found (and prints the kept sandbox), 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import List, Optional, Tuple

from warren import AsyncSandbox, AsyncWarren

PROJECT = {
    "/work/stats.py": '''def median(values):
    """The median of a non-empty list of numbers."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid]
''',
    "/work/test_stats.py": '''import unittest
from stats import median


class MedianTest(unittest.TestCase):
    def test_odd(self):
        self.assertEqual(median([3, 1, 2]), 2)

    def test_even(self):
        self.assertEqual(median([4, 1, 3, 2]), 2.5)

    def test_skewed(self):
        self.assertEqual(median([1, 2, 10]), 2)

    def test_single(self):
        self.assertEqual(median([7]), 7)


if __name__ == "__main__":
    unittest.main()
''',
}

# Three candidate fixes an agent might propose; only one is right.
CANDIDATES: List[Tuple[str, str]] = [
    ("average of all values", "    return sum(ordered) / len(ordered)\n"),
    ("lower middle on even length", "    return ordered[mid - 1] if len(ordered) % 2 == 0 else ordered[mid]\n"),
    ("mean of the two middles on even length", "    if len(ordered) % 2 == 0:\n        return (ordered[mid - 1] + ordered[mid]) / 2\n    return ordered[mid]\n"),
]

TESTS = ["python3", "-m", "unittest", "-q", "test_stats"]


def patched(fix: str) -> str:
    """stats.py with its last line replaced by ``fix``."""
    head = PROJECT["/work/stats.py"].rstrip("\n").rsplit("\n", 1)[0]
    return head + "\n" + fix


async def try_fix(branch: AsyncSandbox, name: str, fix: str) -> Tuple[AsyncSandbox, str, bool, str]:
    """Apply one fix in one branch and run the tests there."""
    await branch.files.write("/work/stats.py", patched(fix))
    result = await branch.exec(TESTS, cwd="/work")
    return branch, name, result.exit_code == 0, (result.stderr or result.stdout).strip().splitlines()[-1]


async def main(image: str, keep: bool) -> int:
    async with AsyncWarren() as w:
        started = time.monotonic()
        sandbox = await w.create_sandbox(image, cmd=["sleep", "infinity"], labels={"example": "agent-branch-fixes"})
        kept: Optional[AsyncSandbox] = None
        snapshot_id: Optional[str] = None
        try:
            for path, text in PROJECT.items():
                await sandbox.files.write(path, text)
            first = await sandbox.exec(TESTS, cwd="/work")
            print(f"[{sandbox.id}] tests before any fix: exit {first.exit_code} ({first.stderr.strip().splitlines()[-1]})")
            if first.exit_code == 0:
                print("nothing to fix")
                return 0

            t0 = time.monotonic()
            branches = await sandbox.branch(len(CANDIDATES))
            snapshot_id = branches.snapshot.id
            print(f"branched into {[b.id for b in branches.sandboxes]} in {(time.monotonic() - t0) * 1000:.0f} ms (snapshot {branches.snapshot.id})")
            outcomes = await asyncio.gather(*(try_fix(b, name, fix) for b, (name, fix) in zip(branches.sandboxes, CANDIDATES)))
            for branch, name, ok, summary in outcomes:
                print(f"[{branch.id}] {'PASS' if ok else 'fail'}  {name}: {summary}")
            winners = [o for o in outcomes if o[2]]
            kept = winners[0][0] if winners else None
            await asyncio.gather(*(b.delete() for b, *_ in outcomes if b is not kept))
            if kept is None:
                print("no candidate fixed the tests")
                return 1
            print(f"kept {kept.id} ({winners[0][1]}); total {time.monotonic() - started:.1f} s")
            print((await kept.files.read_text("/work/stats.py")).rstrip())
            return 0
        finally:
            await sandbox.delete()
            if kept is not None and not keep:
                await kept.delete()
                print(f"deleted {kept.id} (pass --keep to keep it)")
            if snapshot_id is not None and (kept is None or not keep):
                await w.delete_snapshot(snapshot_id)  # nothing made from it is left


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--image", default=os.environ.get("WARREN_IMAGE", "python:3.12-slim"), help="an image with python3 (default $WARREN_IMAGE)")
    ap.add_argument("--keep", action="store_true", help="keep the winning sandbox instead of deleting it")
    args = ap.parse_args()
    sys.exit(asyncio.run(main(args.image, args.keep)))
