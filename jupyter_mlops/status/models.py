"""Response models of the status report."""

from __future__ import annotations

from pydantic import Field

from ..api.models import ApiModel
from ..experiments.models import TrackingStatus


class ProjectStatus(ApiModel):
    root: str = Field(description="The server's root folder, which is the project root.")
    git: bool = Field(description="Whether the root is inside a git work tree.")
    git_branch: str | None = None
    git_commit: str | None = None
    dvc: bool = Field(description="Whether the root is inside a DVC repository.")


class ContainerEngineStatus(ApiModel):
    docker_host: str = Field(description="The Docker API endpoint tried (DOCKER_HOST honoured).")
    reachable: bool
    name: str | None = Field(default=None, description="Engine name, e.g. 'Docker Engine'.")
    version: str | None = None
    error: str | None = None


class StatusResponse(ApiModel):
    version: str = Field(description="Version of the jupyter-mlops server extension.")
    python: str
    packages: dict[str, str | None] = Field(
        description="Installed versions of the libraries jupyter-mlops drives (null: missing)."
    )
    tracking: TrackingStatus
    project: ProjectStatus
    container_engine: ContainerEngineStatus
