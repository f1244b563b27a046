"""Request and response bodies of the REST API.

These pydantic models are the single source of the API's shapes: the OpenAPI document is
generated from them (``openapi.py``) and the frontend's TypeScript types are generated from
that document (``jlpm api:types``); CI fails when the checked-in types drift.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(ApiModel):
    """What every 4xx/5xx answer of the API carries."""

    message: str = Field(description="A sentence for people: what went wrong and what to do.")
    code: str = Field(description="A stable machine-readable error code.")


class TrackingStatus(ApiModel):
    uri: str = Field(description="Tracking URI in use, credentials masked.")
    kind: Literal["embedded", "server", "database", "file", "other"]
    source: Literal["environment", "config", "default"] = Field(
        description="Where the URI came from: MLFLOW_TRACKING_URI, server config, or the default."
    )
    reachable: bool
    error: str | None = None
    ui_url: str | None = Field(
        default=None, description="Base URL of the MLflow UI when a tracking server is used."
    )


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


class ExperimentsQuery(ApiModel):
    """Query parameters of ``GET /jupyter-mlops/experiments``."""

    search: str | None = Field(
        default=None, max_length=256, description="Only experiments whose name contains this."
    )
    max_results: int = Field(default=100, ge=1, le=1000, description="At most this many.")
    include_deleted: bool = Field(default=False, description="Also list deleted experiments.")


class ExperimentSummary(ApiModel):
    experiment_id: str
    name: str
    lifecycle_stage: Literal["active", "deleted"]
    artifact_location: str | None = None
    creation_time: int | None = Field(default=None, description="Milliseconds since the epoch.")
    last_update_time: int | None = Field(default=None, description="Milliseconds since the epoch.")
    run_count: int = Field(description="Number of active runs (a lower bound when capped).")
    run_count_capped: bool = Field(
        description="True when counting stopped at the configured limit."
    )
    tags: dict[str, str] = Field(default_factory=dict)


class ExperimentsResponse(ApiModel):
    tracking_uri: str = Field(description="Tracking URI listed, credentials masked.")
    experiments: list[ExperimentSummary]
