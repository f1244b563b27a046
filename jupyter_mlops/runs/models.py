"""Request and response models of the runs routes.

Like every slice's models, they are the single source of the API's shapes: the OpenAPI
document is generated from them and the frontend's TypeScript types from that document
(``jlpm api:types``); CI fails when the checked-in types drift.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..api.models import RUN_ID_PATTERN, ApiModel

#: MLflow experiment ids are integers (as strings) in every store it ships.
EXPERIMENT_ID_PATTERN = r"^[0-9]{1,18}$"
RunSource = Literal["cell", "job", "script", "other"]


class RunPath(ApiModel):
    """Path parameters of ``runs/{run_id}`` and the routes below it."""

    run_id: str = Field(pattern=RUN_ID_PATTERN, description="The MLflow run id.")


class MetricPath(RunPath):
    key: str = Field(
        min_length=1,
        max_length=250,
        description="Metric name; may contain '/' (send it URL-encoded or as is).",
    )


class RunsQuery(ApiModel):
    """Query parameters of ``GET /jupyter-mlops/runs``."""

    experiment_id: str = Field(pattern=EXPERIMENT_ID_PATTERN, description="The experiment.")
    filter: str = Field(
        default="",
        max_length=4096,
        description="MLflow's search syntax, e.g. \"metrics.loss < 0.5 and params.lr = '0.1'\".",
    )
    order_by: str = Field(
        default="attributes.start_time DESC",
        min_length=1,
        max_length=300,
        description="One clause, e.g. 'metrics.loss ASC', 'params.lr DESC', "
        "'attributes.start_time DESC'.",
    )
    max_results: int = Field(default=100, ge=1, le=1000, description="Runs per page.")
    page_token: str | None = Field(
        default=None, max_length=4096, description="next_page_token of the previous page."
    )
    include_deleted: bool = Field(default=False, description="Also list deleted runs.")


class RunSummary(ApiModel):
    run_id: str
    run_name: str
    experiment_id: str
    status: Literal["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"]
    lifecycle_stage: Literal["active", "deleted"]
    start_time: int | None = Field(description="Milliseconds since the epoch.")
    end_time: int | None = Field(description="Milliseconds since the epoch; null while running.")
    duration_ms: int | None = Field(description="end_time - start_time; null while running.")
    source: RunSource = Field(
        description="What made the run: a %%track cell, an exported job, a script, or other."
    )
    notebook: str | None = Field(description="The notebook that made the run, as recorded.")
    notebook_path: str | None = Field(
        description="That notebook relative to the server's root (openable in JupyterLab); "
        "null when it is outside the root or unknown."
    )
    params: dict[str, str]
    metrics: dict[str, float | None] = Field(
        description="Latest value of each metric; null for NaN or an infinity (JSON has none)."
    )
    tags: dict[str, str] = Field(
        description="The user's tags: those not starting with 'mlflow.' or 'jupyter_mlops.'."
    )
    parent_run_id: str | None = Field(
        default=None,
        description="The run this one is nested in (MLflow's mlflow.parentRunId): for a "
        "tracked cell of a job, the job's run.",
    )


class RunsPage(ApiModel):
    runs: list[RunSummary]
    next_page_token: str | None = Field(description="Pass as page_token for the next page.")
    param_keys: list[str] = Field(description="Parameter names of the runs in this page, sorted.")
    metric_keys: list[str] = Field(description="Metric names of the runs in this page, sorted.")


class DataVersion(ApiModel):
    kind: str = Field(description="'dvc' (DVC's md5), 'sha256' or 'missing'.")
    hash: str


# A run's lineage as the API answers it (the schema keeps the name 'Lineage'). Not what the
# kernel side captures for a run (tracking.capture.CapturedLineage) nor an exported job's
# origin (export.targets.JobLineage).
class Lineage(ApiModel):
    git_commit: str | None
    git_branch: str | None
    git_dirty: bool | None
    python: str | None = Field(description="Python version of the kernel.")
    data: dict[str, DataVersion] = Field(description="Data path -> the version the run read.")
    packages_artifact: Literal["lineage/requirements.txt"] | None = Field(
        description="Artifact with the kernel's package versions, when recorded."
    )


class RunDetails(ApiModel):
    run: RunSummary
    all_tags: dict[str, str]
    cell_source: str | None = Field(description="The tracked cell's source (source/cell.py).")
    lineage: Lineage
    error: str | None = Field(description="The exception that failed the run, when it did.")
    mlflow_ui_url: str | None = Field(
        description="The run in the MLflow UI, when the store is a tracking server."
    )
    job_output: str | None = Field(
        default=None,
        description="A job's run: where its output notebook was written, as recorded.",
    )
    job_output_path: str | None = Field(
        default=None,
        description="That output notebook relative to the server's root (openable in "
        "JupyterLab); null when it is outside the root or unknown.",
    )


class MetricPoint(ApiModel):
    step: int
    value: float | None = Field(description="null for NaN or an infinity (JSON has none).")
    timestamp: int = Field(description="Milliseconds since the epoch.")


class MetricHistory(ApiModel):
    key: str
    points: list[MetricPoint] = Field(description="Ordered by step, then timestamp.")
    downsampled: bool = Field(
        description="True when the history had more points than the cap and was evenly thinned."
    )


class ArtifactsQuery(ApiModel):
    path: str = Field(
        default="", max_length=1024, description="Folder inside the run's artifacts; '' = root."
    )


class ArtifactEntry(ApiModel):
    path: str = Field(description="Relative to the run's artifact root.")
    is_dir: bool
    size: int | None = Field(description="Bytes; null for folders or when the store omits it.")


class ArtifactList(ApiModel):
    path: str
    entries: list[ArtifactEntry]


class ArtifactQuery(ApiModel):
    path: str = Field(min_length=1, max_length=1024, description="File inside the artifacts.")
    download: bool = Field(
        default=False,
        description="Send as an attachment, whatever its type or size (no preview limit).",
    )


class RunUpdate(ApiModel):
    """Body of ``PATCH /jupyter-mlops/runs/{run_id}``: what to change."""

    name: str | None = Field(default=None, min_length=1, max_length=250, description="New name.")
    set_tags: dict[str, str] = Field(
        default_factory=dict,
        description="Tags to set (keys may not start with 'mlflow.' or 'jupyter_mlops.').",
    )
    delete_tags: list[str] = Field(
        default_factory=list, description="Tag keys to remove (absent keys are ignored)."
    )
