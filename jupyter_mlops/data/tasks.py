"""Long data operations run by the server: one thread each, progress readable at any time.

A route starts a task and answers at once with its id; the client polls
``GET data/tasks/{id}`` (phase, bytes or files done of the total, then the result or the
error) and may cancel it. The JupyterLab server's event loop never waits for the work.

Each task is also a record in ``<state>/data/tasks/`` (written when it starts and when it
ends), so a restarted server still answers for it: a task recorded as running whose
server is gone ends ``interrupted``, with a message saying what that left behind.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from ..api.models import ErrorBody
from ..errors import InsufficientStorage, MlopsError, disk_full
from ..statefiles import Owner, read_json, records, write_json
from .errors import Cancelled
from .hashing import Progress
from .journal import data_dir, now_ms
from .models import DataTask, RestoreResult, SnapshotResult, TransferResult

TaskKind = Literal["snapshot", "restore", "push", "pull"]
TaskState = Literal["running", "done", "failed", "cancelled", "interrupted"]
#: Finished tasks kept for polling clients, at most.
KEEP_FINISHED = 50
#: Folder of the task records, in the project's data state folder.
TASKS_DIR = "tasks"
_log = logging.getLogger(__name__)

#: What a task that stopped half-way (server gone, disk full) leaves behind, by kind.
_LEFT_BEHIND = {
    "snapshot": "the previous version of the data is unchanged (a version is recorded only "
    "once all of it is stored)",
    "restore": "the data may be partly restored: look at the path's state",
    "push": "what reached the remote stays there",
    "pull": "some data may not be fetched or checked out yet",
}


class Task:
    def __init__(self, kind: TaskKind) -> None:
        self.task_id = uuid.uuid4().hex
        self.kind: TaskKind = kind
        self.progress = Progress()
        self.started = now_ms()
        self.finished: int | None = None
        self.state: TaskState = "running"
        self.result: BaseModel | None = None
        self.error: ErrorBody | None = None
        self.done_event = threading.Event()
        #: Called when the task starts and when it ends (the registry records it).
        self.on_change: Callable[[Task], None] = lambda task: None

    def run(self, work: Callable[[Progress], BaseModel]) -> None:
        try:
            self.result = work(self.progress)
            self.state = "done"
        except Cancelled as exc:
            self.state, self.error = "cancelled", ErrorBody(**exc.to_json())
        except Exception as exc:
            self.state = "failed"
            if isinstance(exc, MlopsError) and not disk_full(exc):
                self.error = ErrorBody(**exc.to_json())
            elif disk_full(exc):
                self.error = ErrorBody(
                    **InsufficientStorage(
                        f"No space left on the disk: the {self.kind} stopped; "
                        f"{_LEFT_BEHIND[self.kind]}. Free some space and try again."
                    ).to_json()
                )
            else:  # a bug: logged, reported as such
                _log.exception("jupyter-mlops: data task %s failed", self.kind)
                self.error = ErrorBody(
                    message="Internal error in jupyter-mlops; the server log has the details.",
                    code="internal_error",
                )
        finally:
            self.finished = now_ms()
            self.on_change(self)
            self.done_event.set()

    def model(self) -> DataTask:
        progress = self.progress.state()
        unit: Any = progress.unit if progress.unit in ("bytes", "files") else "files"
        return DataTask(
            task_id=self.task_id,
            kind=self.kind,
            state=self.state,
            phase=progress.phase if self.state == "running" else self.state,
            done=progress.done,
            total=progress.total,
            unit=unit,
            started=self.started,
            finished=self.finished,
            snapshot=self.result if isinstance(self.result, SnapshotResult) else None,
            restore=self.result if isinstance(self.result, RestoreResult) else None,
            transfer=self.result if isinstance(self.result, TransferResult) else None,
            error=self.error,
        )

    def record(self, owner: Owner) -> dict[str, Any]:
        """What the task's record holds: its model, and the process working on it."""
        return {"task": self.model().model_dump(mode="json"), "owner": owner.to_json()}

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Task | None:
        """A task as a record left it (None for a record this version cannot read)."""
        try:
            model = DataTask.model_validate(data.get("task"))
        except ValidationError:
            return None
        task = cls(model.kind)
        task.task_id, task.started, task.finished = model.task_id, model.started, model.finished
        task.state, task.error = model.state, model.error
        task.result = model.snapshot or model.restore or model.transfer
        task.progress.begin(model.phase, model.total, model.unit)
        task.progress.advance(model.done)
        if task.state != "running":
            task.done_event.set()
        return task

    def interrupt(self) -> None:
        """End a task whose server is gone: ``interrupted``, saying what that left."""
        self.state = "interrupted"
        self.finished = now_ms()
        self.error = ErrorBody(
            message=f"Interrupted: the server stopped while this {self.kind} ran; "
            f"{_LEFT_BEHIND[self.kind]}. Run it again.",
            code="interrupted",
        )
        self.done_event.set()


class TaskRegistry:
    """The tasks of this server; with a state folder, also those recorded by earlier ones
    (read once, when the registry is made)."""

    def __init__(self, state_dir: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._tasks: OrderedDict[str, Task] = OrderedDict()
        self._owner = Owner.current()
        self._folder = data_dir(state_dir) / TASKS_DIR if state_dir is not None else None
        if self._folder is not None:
            self._load(self._folder)

    def _load(self, folder: Path) -> None:
        found = []
        for path, data in records(folder):
            task = self._recorded(path, data)
            if task is not None:
                found.append(task)
        for task in sorted(found, key=lambda t: t.started):
            self._tasks[task.task_id] = task
        self._prune()

    def _recorded(self, path: Path, data: dict[str, Any]) -> Task | None:
        """The task of a record; one still running whose server is gone is interrupted
        (and recorded so)."""
        task = Task.from_record(data)
        if task is None or path.stem != task.task_id:
            return None
        owner = Owner.from_json(data.get("owner"))
        if task.state == "running" and (owner is None or not owner.alive()):
            task.interrupt()
            self._save(task)
        return task

    def _save(self, task: Task) -> None:
        if self._folder is None:
            return
        try:
            write_json(self._folder / f"{task.task_id}.json", task.record(self._owner))
        except OSError as exc:  # the task itself goes on; only its record is missing
            _log.warning("jupyter-mlops: cannot record data task %s: %s", task.task_id, exc)

    def start(self, kind: TaskKind, work: Callable[[Progress], BaseModel]) -> Task:
        task = Task(kind)
        task.on_change = self._save
        self._save(task)
        with self._lock:
            self._tasks[task.task_id] = task
            self._prune()
        thread = threading.Thread(
            target=task.run, args=(work,), name=f"mlops-data-{kind}", daemon=True
        )
        thread.start()
        return task

    def get(self, task_id: str) -> Task | None:
        with self._lock:
            found = self._tasks.get(task_id)
        if found is None and self._folder is not None:
            # Started by another server on this project after this one started.
            path = self._folder / f"{task_id}.json"
            data = read_json(path)
            found = self._recorded(path, data) if data else None
        return found

    def all(self) -> list[Task]:
        with self._lock:
            return list(reversed(self._tasks.values()))

    def _prune(self) -> None:
        finished = [t for t in self._tasks.values() if t.state != "running"]
        for task in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._tasks[task.task_id]
            if self._folder is not None:
                (self._folder / f"{task.task_id}.json").unlink(missing_ok=True)
