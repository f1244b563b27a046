"""Whether a container engine answers on the Docker API (Docker, or Podman's socket)."""

from __future__ import annotations

import os

from ..errors import reason
from .models import ContainerEngineStatus

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"


def engine_status(timeout: float = 3.0) -> ContainerEngineStatus:
    host = os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
    try:
        import docker
        from docker.errors import DockerException

        client = docker.from_env(timeout=max(1, int(timeout)))
    except Exception as exc:  # docker.from_env raises DockerException for a bad DOCKER_HOST
        return ContainerEngineStatus(docker_host=host, reachable=False, error=_first_line(exc))
    try:
        info = client.version()
    except (DockerException, OSError) as exc:
        return ContainerEngineStatus(docker_host=host, reachable=False, error=_first_line(exc))
    finally:
        client.close()
    components = info.get("Components") or [{}]
    return ContainerEngineStatus(
        docker_host=host,
        reachable=True,
        name=components[0].get("Name") or "Docker Engine",
        version=info.get("Version"),
    )


def _first_line(exc: BaseException) -> str:
    return reason(exc)
