"""Docker tests without an engine: skip with one line, unless FIREDRILL_REQUIRE_DOCKER=1 (CI),
which turns a missing engine or image into a failure."""

from __future__ import annotations

import os

import pytest

from harness.errors import FiredrillError


def docker_unavailable() -> str | None:
    """None when the engine and the image are there, else why not."""
    try:
        from harness.environments.containers import docker_client, require_image

        require_image(docker_client())
    except FiredrillError as exc:
        return str(exc)
    return None


def require_docker() -> None:
    """Return when docker tests can run; skip (or fail under FIREDRILL_REQUIRE_DOCKER=1)."""
    why = docker_unavailable()
    if why is None:
        return
    if os.environ.get("FIREDRILL_REQUIRE_DOCKER") == "1":
        pytest.fail(f"FIREDRILL_REQUIRE_DOCKER=1 but {why}")
    pytest.skip(f"docker backend not available: {why}")
