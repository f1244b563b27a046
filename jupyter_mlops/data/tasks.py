"""Data tasks (snapshots, restores, pushes and pulls) in the Data routes' shape.

They run as tasks of the one lifecycle (:mod:`jupyter_mlops.tasks`): the route starts one
and answers at once; the client polls ``GET data/tasks/{id}`` (or ``GET tasks/{id}``) for
the phase, bytes or files done of the total, then the result or the error, and may cancel
it. Here is only what the data routes add: the kinds, and the task as a
:class:`~.models.DataTask` (its result typed by kind).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from ..tasks.models import TaskRecord
from .models import DataTask, RestoreResult, SnapshotResult, TransferResult

TaskKind = Literal["snapshot", "restore", "push", "pull"]
DATA_KINDS: tuple[TaskKind, ...] = ("snapshot", "restore", "push", "pull")
_RESULTS: dict[str, type[BaseModel]] = {
    "snapshot": SnapshotResult,
    "restore": RestoreResult,
    "push": TransferResult,
    "pull": TransferResult,
}


def data_task(record: TaskRecord) -> DataTask:
    """A data task's record as the Data routes answer it."""
    result: BaseModel | None = None
    if record.result is not None:
        try:
            result = _RESULTS[record.kind].model_validate(record.result)
        except ValidationError:  # a record of another version: the result is left out
            result = None
    unit: Any = record.unit if record.unit in ("bytes", "files") else "files"
    kind: Any = record.kind
    return DataTask(
        task_id=record.task_id,
        kind=kind,
        state=record.state,
        phase=record.phase,
        done=record.done,
        total=record.total,
        unit=unit,
        started=record.started,
        finished=record.finished,
        snapshot=result if isinstance(result, SnapshotResult) else None,
        restore=result if isinstance(result, RestoreResult) else None,
        transfer=result if isinstance(result, TransferResult) else None,
        error=record.error,
    )
