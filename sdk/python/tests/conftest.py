"""Fixtures for the SDK's tests against a real daemon.

Needs ``WARREN_URL``, ``WARREN_API_KEY`` and ``WARREN_TEST_IMAGE`` (an image with python3 and
bash, e.g. the repo's ``python`` fixture pushed to a local registry); ``WARREN_TEST_SMALL_IMAGE``
(busybox) for the image pull/delete test. ``crates/warren/tests/sdk_e2e.rs`` starts a daemon and
a registry and runs this suite with them.
"""

import os
from typing import Iterator

import pytest

import warren


def _need(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set (run through crates/warren/tests/sdk_e2e.rs)", returncode=2)
    return value


@pytest.fixture(scope="session")
def image() -> str:
    """A python3 + bash image the daemon can create sandboxes from."""
    return _need("WARREN_TEST_IMAGE")


@pytest.fixture(scope="session")
def client() -> Iterator[warren.Warren]:
    """A blocking client configured from the environment."""
    _need("WARREN_URL")
    _need("WARREN_API_KEY")
    with warren.Warren() as w:
        yield w


@pytest.fixture(scope="module")
def sandbox(client: warren.Warren, image: str) -> Iterator[warren.Sandbox]:
    """One running sandbox shared by a test module (deleted at its end)."""
    with client.create_sandbox(image, cmd=["sleep", "infinity"], labels={"suite": "python-sdk"}) as sb:
        yield sb
