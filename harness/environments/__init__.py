"""Environments: how a drill's servers run, and what surrounds them.

`backend` (the Backend protocol, its optional capabilities, the no-op backend), `local`
(processes on loopback), `containers` (the docker backend, testcontainers), `network` (a
loopback /24 leased per drill), `probe` (asking servers from outside, as a client would),
`cleanup` (what crashed drills left behind).
"""

from __future__ import annotations

from harness.environments.local import LocalBackend
from harness.errors import FiredrillError

BACKENDS = ("local", "docker")


def backend_class(name: str) -> type:
    """The class of the backend called `name`, built from a Layout. The docker backend's
    module (the docker SDK and testcontainers, ~0.3 s to import) loads only when asked for."""
    if name == "local":
        return LocalBackend
    if name == "docker":
        # Deferred for its cost (not a cycle): local drills never load the docker SDK.
        from harness.environments.containers import DockerBackend

        return DockerBackend
    raise FiredrillError(f"unknown backend {name!r}: choose {' or '.join(BACKENDS)}")


def require_available(name: str) -> None:
    """Refuse, before anything starts, a backend that cannot run here: for docker, an engine
    that does not answer or a missing image (DockerUnavailable, one line)."""
    if name == "docker":
        # Deferred for its cost (not a cycle), as in backend_class.
        from harness.environments.containers import docker_client, require_image

        require_image(docker_client())
