"""Request and response models of deployments (the routes and ``--json`` of the CLI)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ..api.models import ApiModel
from ..tasks.models import TaskRecord

#: A deployment's name: a DNS label, as a job's name is (it becomes the DAG id).
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
#: An engine's run id as a path segment (Airflow's are like manual__2026-12-06T05:00:00+00:00).
RUN_ID_PATTERN = r"^[A-Za-z0-9_.:+@~-]{1,250}$"

RunState = Literal["queued", "running", "success", "failed", "unknown"]


class DeploymentRun(ApiModel):
    """One run of a deployment on its engine."""

    run_id: str
    state: RunState
    start: str | None = Field(default=None, description="ISO 8601, when it started.")
    end: str | None = Field(default=None, description="ISO 8601, when it ended.")
    duration: float | None = Field(default=None, description="Seconds.")
    try_number: int | None = Field(default=None, description="The task's try (retries).")
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="The run's configuration (the job's parameters)."
    )
    mlflow_run_id: str | None = Field(
        default=None, description="The job's MLflow run (tagged jupyter_mlops.engine_run_id)."
    )
    output: str | None = Field(default=None, description="The output notebook, where known.")
    failed_cell: str | None = Field(
        default=None, description="The notebook cell that failed: [N] `its first line`."
    )
    error: str | None = Field(default=None, description="Why it failed, one line.")


class DeploymentInfo(ApiModel):
    """A job deployed onto an engine, as recorded in ``.mlops/deployments/<name>.json``."""

    name: str
    job: str = Field(description="The job folder (relative to the project root when inside).")
    engine: str
    url: str = Field(description="The engine's API.")
    dags_folder: str = Field(default="", description="Where the DAG file went (Airflow).")
    dag_id: str
    dag_file: str = ""
    schedule: str | None = None
    paused: bool = False
    image: str
    image_digest: str | None = None
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="The job's parameters and their defaults."
    )
    options: dict[str, Any] = Field(default_factory=dict, description="DeploymentInfo options.")
    deployed_by: str
    deployed_at: str


class DeploymentWithRuns(DeploymentInfo):
    runs: list[DeploymentRun] = Field(default_factory=list)
    latest_runs: list[DeploymentRun] = Field(default_factory=list)


class EngineError(ApiModel):
    engine: str
    url: str
    message: str


class DeploymentList(ApiModel):
    deployments: list[DeploymentWithRuns]
    engine_errors: list[EngineError] = Field(default_factory=list)


class DeployRequest(ApiModel):
    job: str = Field(description="The job folder, relative to the server's root.")
    engine: str = "airflow"
    name: str | None = Field(
        default=None, pattern=NAME_PATTERN, description="Default: the job's name."
    )
    paused: bool = False
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="DeploymentInfo options (image, schedule, cpu, memory, secrets, ...), as "
        "export takes them.",
    )


class TriggerRequest(ApiModel):
    parameters: dict[str, Any] = Field(default_factory=dict)


class RunList(ApiModel):
    runs: list[DeploymentRun]


class RunLogs(ApiModel):
    text: str


class DeployTask(ApiModel):
    task: TaskRecord


class DeploymentPath(ApiModel):
    name: str = Field(pattern=NAME_PATTERN)


class DeploymentRunPath(ApiModel):
    name: str = Field(pattern=NAME_PATTERN)
    run_id: str = Field(pattern=RUN_ID_PATTERN)
