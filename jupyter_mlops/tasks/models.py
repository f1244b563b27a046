"""The task model as the API answers it (pydantic only: loads without tornado)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ..api.models import ApiModel, ErrorBody
from .progress import LOG_LINES

TASK_ID_PATTERN = r"^[0-9a-f]{32}$"
TaskState = Literal["running", "done", "failed", "cancelled", "interrupted"]


class TaskPath(ApiModel):
    task_id: str = Field(pattern=TASK_ID_PATTERN)


class TaskQuery(ApiModel):
    kind: str | None = Field(
        default=None, description="Only tasks of this kind ('snapshot', 'build', ...)."
    )
    state: TaskState | None = Field(default=None, description="Only tasks in this state.")


class TaskRecord(ApiModel):
    """One piece of long work: what was asked, how far it is, and how it ended."""

    task_id: str
    kind: str = Field(
        description="'snapshot', 'restore', 'push', 'pull' (data), 'build' (a job's image), "
        "'job-run' (a job's execution)."
    )
    state: TaskState = Field(
        description="'interrupted': the server stopped while the task ran (the error says "
        "what that left behind)."
    )
    phase: str = Field(description="What it is doing now: hashing, pushing, building...")
    done: int
    total: int = Field(description="0 while unknown.")
    unit: str = Field(description="What done and total count: 'bytes', 'files', 'steps'.")
    started: int = Field(description="Milliseconds since the epoch.")
    finished: int | None
    request: dict[str, Any] = Field(
        default_factory=dict, description="What the user asked for (the route's body)."
    )
    result: dict[str, Any] | None = Field(
        default=None, description="Once done: the result, in the shape of the kind's route."
    )
    error: ErrorBody | None = None
    log: list[str] = Field(
        default_factory=list,
        description=f"The task's latest lines of output (at most {LOG_LINES}), for builds.",
    )
    cancellable: bool = Field(default=True, description="Whether DELETE stops it.")


class TaskList(ApiModel):
    tasks: list[TaskRecord] = Field(description="Recent tasks, newest first.")
