"""Long data operations run by the server: one thread each, progress readable at any time.

A route starts a task and answers at once with its id; the client polls
``GET data/tasks/{id}`` (phase, bytes or files done of the total, then the result or the
error) and may cancel it. The JupyterLab server's event loop never waits for the work.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel

from ..apibase import ErrorBody
from ..errors import MlopsError
from .errors import Cancelled
from .hashing import Progress
from .journal import now_ms
from .models import DataTask, RestoreResult, SnapshotResult, TransferResult

TaskKind = Literal["snapshot", "restore", "push", "pull"]
#: Finished tasks kept for polling clients, at most.
KEEP_FINISHED = 50


class Task:
    def __init__(self, kind: TaskKind) -> None:
        self.task_id = uuid.uuid4().hex
        self.kind: TaskKind = kind
        self.progress = Progress()
        self.started = now_ms()
        self.finished: int | None = None
        self.state: Literal["running", "done", "failed", "cancelled"] = "running"
        self.result: BaseModel | None = None
        self.error: ErrorBody | None = None
        self.done_event = threading.Event()

    def run(self, work: Callable[[Progress], BaseModel]) -> None:
        try:
            self.result = work(self.progress)
            self.state = "done"
        except Cancelled as exc:
            self.state, self.error = "cancelled", ErrorBody(**exc.to_json())
        except MlopsError as exc:
            self.state, self.error = "failed", ErrorBody(**exc.to_json())
        except Exception:  # a bug: logged by the thread's caller, reported as such
            import logging

            logging.getLogger(__name__).exception("jupyter-mlops: data task %s failed", self.kind)
            self.state = "failed"
            self.error = ErrorBody(
                message="Internal error in jupyter-mlops; the server log has the details.",
                code="internal_error",
            )
        finally:
            self.finished = now_ms()
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


class TaskRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tasks: OrderedDict[str, Task] = OrderedDict()

    def start(self, kind: TaskKind, work: Callable[[Progress], BaseModel]) -> Task:
        task = Task(kind)
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
            return self._tasks.get(task_id)

    def all(self) -> list[Task]:
        with self._lock:
            return list(reversed(self._tasks.values()))

    def _prune(self) -> None:
        finished = [t for t in self._tasks.values() if t.state != "running"]
        for task in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._tasks[task.task_id]
