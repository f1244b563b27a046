"""Request and response models of the experiments route, and the tracking store's status."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..api.models import ApiModel


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
