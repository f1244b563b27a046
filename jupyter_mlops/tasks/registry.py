"""The tasks of a project: started, followed, cancelled, recorded, and found again after a
restart.

Each task runs ``work(progress)`` on a daemon thread of its own (long work never holds one
of the server's request workers, and a stopping server does not wait for a push or a
build to end). Its record, ``<state>/tasks/<task_id>.json``, is written when it starts and
when it ends (with :mod:`~jupyter_mlops.statefiles`: atomic, owner-only, naming the
process that works on it), so a restarted server lists it again; one recorded as running
whose process is gone ends ``interrupted`` with a message saying what that left behind.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from ..api.models import ErrorBody
from ..errors import InsufficientStorage, MlopsError, disk_full
from ..statefiles import Owner, read_json, records, write_json
from .models import TaskRecord, TaskState
from .progress import Cancelled, Progress

#: Finished tasks kept (in memory and on disk), at most.
KEEP_FINISHED = 100
#: Folder of the task records, in the project's state folder.
TASKS_DIR = "tasks"
_log = logging.getLogger(__name__)

#: What a task that stopped half-way (server gone, disk full) leaves behind, by kind.
LEFT_BEHIND = {
    "snapshot": "the previous version of the data is unchanged (a version is recorded only "
    "once all of it is stored)",
    "restore": "the data may be partly restored: look at the path's state",
    "push": "what reached the remote stays there",
    "pull": "some data may not be fetched or checked out yet",
    "build": "no image was tagged for this build (an image is tagged only once built)",
    "job-run": "the job's process may have been stopped with it; its log and any output "
    "written so far are kept",
    "deploy": "the DAG file may be in the engine's DAG folder with no deployment recorded: "
    "deploy again, or remove it from there",
}

Work = Callable[[Progress], BaseModel | None]


class TaskSource(Protocol):
    """Tasks of one kind whose work another component holds and records (job runs: a
    process of their own that outlives the server); the registry lists, follows and
    cancels them as its own."""

    kind: str

    def task_records(self) -> list[TaskRecord]: ...

    def task_record(self, task_id: str) -> TaskRecord | None: ...

    def cancel_task(self, task_id: str) -> TaskRecord: ...


def now_ms() -> int:
    return int(time.time() * 1000)


def _left_behind(kind: str) -> str:
    return LEFT_BEHIND.get(kind, "its work may be partly done")


class Task:
    """One piece of long work as this server holds it: its progress (also its cancel
    switch), its result or error, and the event set when it ends."""

    def __init__(self, kind: str, request: dict[str, Any] | None = None) -> None:
        self.task_id = uuid.uuid4().hex
        self.kind = kind
        self.request: dict[str, Any] = dict(request or {})
        self.progress = Progress()
        self.started = now_ms()
        self.finished: int | None = None
        self.state: TaskState = "running"
        self.result: BaseModel | None = None
        #: The result as a record held it (a task of an earlier server).
        self.recorded_result: dict[str, Any] | None = None
        self.error: ErrorBody | None = None
        self.cancellable = True
        self.done_event = threading.Event()
        #: Called when the task starts and when it ends (the registry records it).
        self.on_change: Callable[[Task], None] = lambda task: None

    def run(self, work: Work) -> None:
        try:
            self.result = work(self.progress)
            self.state = "done"
        except Cancelled as exc:
            self.state, self.error = "cancelled", ErrorBody(**exc.to_json())
        except Exception as exc:
            self.state = "failed"
            self.error = self._error_of(exc)
        finally:
            self.finished = now_ms()
            self.on_change(self)
            self.done_event.set()

    def _error_of(self, exc: Exception) -> ErrorBody:
        if disk_full(exc):
            return ErrorBody(
                **InsufficientStorage(
                    f"No space left on the disk: the {self.kind} stopped; "
                    f"{_left_behind(self.kind)}. Free some space and try again."
                ).to_json()
            )
        if isinstance(exc, MlopsError):
            return ErrorBody(**exc.to_json())
        # A bug: logged, reported as such.
        _log.exception("jupyter-mlops: %s task failed", self.kind)
        return ErrorBody.internal()

    def model(self) -> TaskRecord:
        progress = self.progress.state()
        result = self.result.model_dump(mode="json") if self.result is not None else None
        return TaskRecord(
            task_id=self.task_id,
            kind=self.kind,
            state=self.state,
            phase=progress.phase if self.state == "running" else self.state,
            done=progress.done,
            total=progress.total,
            unit=progress.unit,
            started=self.started,
            finished=self.finished,
            request=self.request,
            result=result if result is not None else self.recorded_result,
            error=self.error,
            log=self.progress.lines(),
            cancellable=self.cancellable and self.state == "running",
        )

    def record(self, owner: Owner) -> dict[str, Any]:
        """What the task's record holds: its model, and the process working on it."""
        return {"task": self.model().model_dump(mode="json"), "owner": owner.to_json()}

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Task | None:
        """A task as a record left it (None for a record this version cannot read)."""
        try:
            model = TaskRecord.model_validate(data.get("task"))
        except ValidationError:
            return None
        task = cls(model.kind, model.request)
        task.task_id, task.started, task.finished = model.task_id, model.started, model.finished
        task.state, task.error = model.state, model.error
        task.recorded_result = model.result
        task.cancellable = model.cancellable
        for line in model.log:
            task.progress.log(line)
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
            f"{_left_behind(self.kind)}. Run it again.",
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
        self._folder = state_dir / TASKS_DIR if state_dir is not None else None
        self._sources: dict[str, TaskSource] = {}
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
            self.save(task)
        return task

    def save(self, task: Task) -> None:
        """Write the task's record (its state now)."""
        if self._folder is None:
            return
        try:
            write_json(self._folder / f"{task.task_id}.json", task.record(self._owner))
        except OSError as exc:  # the task itself goes on; only its record is missing
            _log.warning("jupyter-mlops: cannot record task %s: %s", task.task_id, exc)

    def add(self, task: Task) -> Task:
        """Hold and record a task whose work runs elsewhere (the caller ends it with
        :meth:`finish`)."""
        task.on_change = self.save
        self.save(task)
        with self._lock:
            self._tasks[task.task_id] = task
            self._prune()
        return task

    def start(self, kind: str, work: Work, *, request: dict[str, Any] | None = None) -> Task:
        """Start ``work`` as a task of ``kind`` on a thread of its own; answer at once."""
        task = self.add(Task(kind, request))
        # The caller's context goes with it: who the audit trail records as acting.
        thread = threading.Thread(
            target=contextvars.copy_context().run,
            args=(task.run, work),
            name=f"mlops-task-{kind}",
            daemon=True,
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

    def all(self, kinds: Collection[str] | None = None) -> list[Task]:
        """The tasks held, newest first; only those of ``kinds`` when given."""
        with self._lock:
            tasks = list(reversed(self._tasks.values()))
        return [t for t in tasks if kinds is None or t.kind in kinds]

    # -- every task, those of sources included ---------------------------------------------
    def attach(self, source: TaskSource) -> None:
        """List, follow and cancel the tasks of ``source`` with this registry's own."""
        self._sources[source.kind] = source

    def records(self, kinds: Collection[str] | None = None) -> list[TaskRecord]:
        """Every task (this registry's and its sources'), newest first."""
        found = [t.model() for t in self.all(kinds)]
        for kind, source in self._sources.items():
            if kinds is None or kind in kinds:
                found += source.task_records()
        return sorted(found, key=lambda t: t.started, reverse=True)

    def record(self, task_id: str) -> TaskRecord | None:
        task = self.get(task_id)
        if task is not None:
            return task.model()
        for source in self._sources.values():
            found = source.task_record(task_id)
            if found is not None:
                return found
        return None

    def cancel(self, task_id: str) -> TaskRecord | None:
        """Ask a running task to stop (it stops at its next safe point); None when no task
        has this id."""
        task = self.get(task_id)
        if task is not None:
            task.progress.cancel()
            return task.model()
        for source in self._sources.values():
            if source.task_record(task_id) is not None:
                return source.cancel_task(task_id)
        return None

    def _prune(self) -> None:
        finished = [t for t in self._tasks.values() if t.state != "running"]
        for task in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._tasks[task.task_id]
            if self._folder is not None:
                (self._folder / f"{task.task_id}.json").unlink(missing_ok=True)
