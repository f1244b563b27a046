"""Request and response bodies of the REST API.

These pydantic models are the single source of the API's shapes: the OpenAPI document is
generated from them (``openapi.py``) and the frontend's TypeScript types are generated from
that document (``jlpm api:types``); CI fails when the checked-in types drift.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from .apibase import (  # noqa: F401 - re-exported: the API's models are all here
    RUN_ID_PATTERN,
    ApiModel,
    ErrorBody,
    FieldError,
    ParameterError,
)
from .data.models import (  # noqa: F401 - the API's models, re-exported
    DATA_PATH_DESCRIPTION,
    DVC_MD5_PATTERN,
    TASK_ID_PATTERN,
    DataDiff,
    DataDiffEntry,
    DataDiffQuery,
    DataHistory,
    DataHistoryQuery,
    DataPaths,
    DataPathSummary,
    DataRemote,
    DataRunRef,
    DataTask,
    DataTaskPath,
    DataTasks,
    DataVersionEntry,
    LinkType,
    PathRestore,
    PathSnapshot,
    RestoreRequest,
    RestoreResult,
    RunData,
    RunDataPath,
    SnapshotRequest,
    SnapshotResult,
    TransferRequest,
    TransferResult,
    WorkspaceState,
)
from .errors import MlopsError
from .export.deploy import IMAGE_MAX, Deployment, image_problem


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


# -- runs -------------------------------------------------------------------------------------
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


# -- jobs: export, build, run -------------------------------------------------------------
class JobBuild(ApiModel):
    """The image `jupyter mlops build` (or the build route) made of a job folder."""

    image: str = Field(description="The local tag built.")
    image_id: str
    size: int = Field(description="Bytes.")
    seconds: float
    steps: int
    pushed: str | None = Field(default=None, description="registry/name@sha256:... once pushed.")
    engine: str = ""
    built_at: str


class JobDataPin(ApiModel):
    """DVC-tracked data the job reads, pinned to the version it was exported with."""

    path: str = Field(description="The data's path in the job folder.")
    md5: str = Field(description="The pinned DVC version.")
    size: int | None
    nfiles: int | None = Field(description="Files in it, for a folder.")
    remote_url: str | None = Field(
        description="The DVC remote the job pulls it from when it lacks it (no credentials); "
        "null when the project had no default remote."
    )


class JobWarning(ApiModel):
    """One warning of an export, with what a UI needs to word it itself."""

    message: str = Field(description="The warning as the CLI words it (it names options).")
    code: str | None = Field(
        default=None,
        description="Which warning it is ('image_guessed', 'output_in_container'...); null "
        "for a warning that names no option (its message reads well anywhere).",
    )
    field: str | None = Field(
        default=None, description="The export request's field it is about ('deployment.image')."
    )
    values: dict[str, str] = Field(
        default_factory=dict, description="What the message quotes, by name ('image')."
    )


class JobInfo(ApiModel):
    """A job folder made by export."""

    name: str
    path: str = Field(description="The job folder, relative to the server's root.")
    notebook: str = Field(description="The cleaned notebook's file name in the job folder.")
    source: str | None = Field(
        description="The exported notebook relative to the server's root, if inside it."
    )
    experiment: str
    targets: list[str]
    parameters: dict[str, Any] = Field(description="The parameter schema (JSON Schema).")
    exported_at: str | None
    warnings: list[str]
    warning_details: list[JobWarning] = Field(
        default_factory=list,
        description="The same warnings in the same order, each with its code, field and values.",
    )
    data: list[JobDataPin] = Field(
        default_factory=list, description="The DVC-tracked data it reads, pinned."
    )
    build: JobBuild | None = Field(description="The image built from it, if any.")


class JobsList(ApiModel):
    jobs: list[JobInfo]


class ExportTargetInfo(ApiModel):
    """An export target installed on the server (built in, or a plugin's)."""

    name: str = Field(description="What export's 'targets' (and --target) take.")
    description: str = Field(description="One line for people: what the target writes.")
    orchestrator: bool = Field(
        description="Runs the job on an orchestrator: uses the job's image and the "
        "deployment options (image, schedule, resources, secrets...)."
    )
    error: str | None = Field(
        default=None,
        description="Why the target cannot be loaded (a broken or half-installed plugin); "
        "export refuses it until that is fixed.",
    )


class ExportTargetList(ApiModel):
    targets: list[ExportTargetInfo] = Field(description="Sorted by name.")


class ExportRequest(ApiModel):
    notebook: str = Field(description="The notebook, relative to the server's root.")
    name: str | None = Field(
        default=None,
        max_length=63,
        description="Job name: lowercase letters, digits and '-' (a DNS label); default: "
        "from the notebook's name.",
    )
    out: str | None = Field(
        default=None, description="The job folder, relative to the root (default: pipelines/NAME)."
    )
    targets: list[str] = Field(default_factory=lambda: ["docker"])
    base_image: str | None = Field(
        default=None,
        max_length=IMAGE_MAX,
        description="The image's FROM: an image reference "
        "([registry/]path[:tag][@sha256:digest]); default: python:<kernel's version>-slim.",
    )
    requirements: str | None = Field(
        default=None, description="A requirements file (relative to the root) replacing the guess."
    )
    include: list[str] = Field(
        default_factory=list, description="Files or folders to add, relative to the notebook."
    )
    deployment: Deployment = Field(default_factory=Deployment)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        from .export.exporter import job_name

        try:
            return None if value is None else job_name(value)
        except MlopsError as exc:
            raise ValueError(exc.message) from None

    @field_validator("base_image")
    @classmethod
    def _base_image(cls, value: str | None) -> str | None:
        problem = None if value is None else image_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class ExportCheck(ApiModel):
    """What checking an export request found: every problem, each beside its field."""

    problems: list[FieldError] = Field(
        description="Each problem with the request field it names ('name', 'targets.1', "
        "'deployment.schedule', 'notebook' for the notebook and its parameters cell...); "
        "empty: the export can go ahead. POST jobs/export refuses with the same list."
    )


class BuildRequest(ApiModel):
    job: str = Field(description="The job folder, relative to the server's root.")
    tag: str | None = Field(default=None, description="Image reference (default: NAME:latest).")
    push: bool = False


class BuildProgressEvent(ApiModel):
    """One line of the build route's stream (newline-delimited JSON)."""

    event: Literal["step", "log", "push", "done", "error"]
    text: str = ""
    step: int | None = None
    total: int | None = None
    build: JobBuild | None = Field(default=None, description="With 'done': what was built.")
    code: str | None = Field(default=None, description="With 'error': the error's code.")


class JobRunRequest(ApiModel):
    job: str = Field(description="The job folder, relative to the server's root.")
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="Values, checked against the job's schema."
    )
    in_container: bool = Field(default=False, description="Run in the built image.")


class JobExecutionPath(ApiModel):
    execution_id: str = Field(pattern=r"^[0-9a-f]{32}$")


class JobExecution(ApiModel):
    """One run of a job started through the API."""

    execution_id: str
    job: str
    status: Literal["running", "succeeded", "failed", "invalid", "killed", "interrupted"] = Field(
        description="'killed': stopped (Stop, or the server stopping); 'interrupted': its "
        "process ended with no outcome recorded (the server or the machine stopped under "
        "it), its output notebook incomplete."
    )
    exit_code: int | None
    in_container: bool
    started_at: str
    ended_at: str | None
    output: str = Field(description="The output notebook, relative to the server's root.")
    log: str = Field(description="The last lines of the job's output.")


class JobExecutionList(ApiModel):
    executions: list[JobExecution]
