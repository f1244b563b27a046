"""Request and response models of the jobs routes: job folders, export, build, job runs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from ..api.models import ApiModel, FieldError
from ..errors import MlopsError
from ..export.deploy import IMAGE_MAX, Deployment, image_problem


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
        from ..export.exporter import job_name

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
