"""Routes of the panel's Data view, under ``/jupyter-mlops/data/``.

Reads (tracked paths, history, diff, what a run read) answer directly, computed on the
extension's worker threads. Snapshots, restores, pushes and pulls are checked first (a bad
path, a git-tracked path or local changes a restore would lose answer 4xx at once) and
then run as a task of the one lifecycle (:mod:`jupyter_mlops.tasks`): the answer is the
task, and ``GET data/tasks/{task_id}`` (or ``GET tasks/{task_id}``) reports its progress and
finally its result or error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import tornado.web
from jupyter_server.auth.decorator import authorized
from pydantic import BaseModel

from ..api.handler import MlopsHandler, Operation
from ..api.models import NoQuery
from ..errors import InvalidInput, NotFound
from ..runs.models import RunPath
from .models import (
    DataDiff,
    DataDiffQuery,
    DataHistory,
    DataHistoryQuery,
    DataPaths,
    DataTask,
    DataTaskPath,
    DataTasks,
    RestoreRequest,
    RunData,
    SnapshotRequest,
    TransferRequest,
)
from .tasks import DATA_KINDS, TaskKind, data_task

if TYPE_CHECKING:
    from ..tasks.progress import Progress
    from ..tasks.registry import Task, TaskRegistry
    from .service import DataService

_TAGS = ("data",)
_ERRORS = (400, 403, 404, 409)


class DataBase(MlopsHandler):
    @property
    def data(self) -> DataService:
        return self.mlops.data

    @property
    def tasks(self) -> TaskRegistry:
        return self.mlops.tasks

    def task(self, task_id: str) -> Task:
        task_id = self.parse_path(DataTaskPath, task_id=task_id).task_id
        task = self.tasks.get(task_id)
        if task is None or task.kind not in DATA_KINDS:
            raise NotFound(f"No data task {task_id}.", code="no_such_task")
        return task

    async def start_task(
        self,
        kind: TaskKind,
        request: BaseModel,
        check: Callable[[], object],
        work: Callable[[Progress], BaseModel],
    ) -> None:
        """Run ``check`` first (what it raises answers at once), then start ``work`` as a
        task (``request`` recorded with it) and answer with the task."""
        await self.call(check)
        started = self.tasks.start(kind, work, request=request.model_dump(mode="json"))
        self.send_model(self.task_model(started))

    def task_model(self, task: Task) -> DataTask:
        """A task as the server answers it: its error told as :meth:`error_body` does."""
        model = data_task(task.model())
        if model.error is None:
            return model
        return model.model_copy(update={"error": self.error_body(model.error)})


class DataPathsHandler(DataBase):
    operations = {
        "get": Operation(
            summary="Tracked data paths with their current version and state on disk.",
            response=DataPaths,
            tags=_TAGS,
        )
    }

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.parse_query(NoQuery)
        self.send_model(await self.call(self.data.list_paths))


class DataHistoryHandler(DataBase):
    operations = {
        "get": Operation(
            summary="Versions of one data path (git and the journal) and the runs that read each.",
            response=DataHistory,
            query=DataHistoryQuery,
            errors=_ERRORS,
            tags=_TAGS,
        )
    }

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(DataHistoryQuery)
        self.send_model(await self.call(self.data.history, query.path))


class DataDiffHandler(DataBase):
    operations = {
        "get": Operation(
            summary="Files added, removed and changed between two versions of a data path "
            "(or a version and the data on disk).",
            response=DataDiff,
            query=DataDiffQuery,
            errors=_ERRORS,
            tags=_TAGS,
        )
    }

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(DataDiffQuery)
        self.send_model(await self.call(self.data.diff, query.path, query.a, query.b))


class SnapshotsHandler(DataBase):
    operations = {
        "post": Operation(
            summary="Snapshot data paths with DVC (a task: poll data/tasks/{task_id}).",
            response=DataTask,
            body=SnapshotRequest,
            errors=_ERRORS,
            tags=_TAGS,
        )
    }

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        request = self.parse_body(SnapshotRequest)
        service = self.data
        await self.start_task(
            "snapshot",
            request,
            lambda: service.validate(request.paths),
            lambda progress: service.snapshot(
                request.paths,
                message=request.message,
                push=request.push,
                commit=request.commit,
                remote=request.remote,
                link=request.link,
                progress=progress,
            ),
        )


class RestoreHandler(DataBase):
    operations = {
        "post": Operation(
            summary="Check out a version of a data path, or the data a run read (a task). "
            "Answers 409 when local changes would be lost, unless force is true.",
            response=DataTask,
            body=RestoreRequest,
            errors=(*_ERRORS, 503),
            tags=_TAGS,
        )
    }

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        request = self.parse_body(RestoreRequest)
        service, force = self.data, request.force
        if request.run_id is not None:
            if request.path is not None or request.version is not None:
                raise InvalidInput("Give either run_id, or path and version.", code="invalid_body")
            run_id = request.run_id
            await self.start_task(
                "restore",
                request,
                lambda: service.check_restore_run(run_id, force=force),
                lambda progress: service.restore_run(run_id, force=force, progress=progress),
            )
        else:
            if request.path is None or request.version is None:
                raise InvalidInput(
                    "Give path and version (an md5 from the history), or run_id.",
                    code="invalid_body",
                )
            path, version = request.path, request.version
            await self.start_task(
                "restore",
                request,
                lambda: service.check_restore(path, version, force=force),
                lambda progress: service.restore(path, version, force=force, progress=progress),
            )


class TransferHandler(DataBase):
    direction: Literal["push", "pull"] = "push"

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        request = self.parse_body(TransferRequest)
        service = self.data
        transfer = service.push if self.direction == "push" else service.pull
        await self.start_task(
            self.direction,
            request,
            # Unknown paths and a project with nothing tracked answer at once.
            lambda: service.tracked_versions(request.paths),
            lambda progress: transfer(request.paths, remote=request.remote, progress=progress),
        )


class PushHandler(TransferHandler):
    direction = "push"
    operations = {
        "post": Operation(
            summary="Push data versions to a DVC remote through DVC (a task); earlier pushes "
            "that failed are retried.",
            response=DataTask,
            body=TransferRequest,
            errors=_ERRORS,
            tags=_TAGS,
        )
    }


class PullHandler(TransferHandler):
    direction = "pull"
    operations = {
        "post": Operation(
            summary="Fetch the current versions from a DVC remote and check them out where "
            "that loses no local change (a task).",
            response=DataTask,
            body=TransferRequest,
            errors=_ERRORS,
            tags=_TAGS,
        )
    }


class TasksHandler(DataBase):
    operations = {
        "get": Operation(
            summary="Recent data tasks of this server, newest first.",
            response=DataTasks,
            tags=_TAGS,
        )
    }

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.parse_query(NoQuery)
        tasks = self.tasks.all(DATA_KINDS)
        self.send_model(DataTasks(tasks=[self.task_model(t) for t in tasks]))


class TaskHandler(DataBase):
    operations = {
        "get": Operation(
            summary="One data task: its progress, then its result or error.",
            response=DataTask,
            path=DataTaskPath,
            errors=(400, 403, 404),
            tags=_TAGS,
        ),
        "delete": Operation(
            summary="Cancel a running task; it stops at the next safe point.",
            response=DataTask,
            path=DataTaskPath,
            errors=(400, 403, 404),
            tags=_TAGS,
        ),
    }

    @tornado.web.authenticated
    @authorized
    async def get(self, task_id: str) -> None:
        self.parse_query(NoQuery)
        self.send_model(self.task_model(self.task(task_id)))

    @tornado.web.authenticated
    @authorized
    async def delete(self, task_id: str) -> None:
        task = self.task(task_id)
        task.progress.cancel()
        self.send_model(self.task_model(task))


class RunDataHandler(DataBase):
    operations = {
        "get": Operation(
            summary="The DVC versions a run read, and whether each can be restored.",
            response=RunData,
            path=RunPath,
            errors=(400, 403, 404, 503),
            tags=_TAGS,
        )
    }

    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        self.parse_query(NoQuery)
        run = self.parse_path(RunPath, run_id=run_id).run_id
        self.send_model(await self.call(self.data.run_data, run))


#: Appended to the extension's ROUTES (relative to ``/jupyter-mlops/``).
ROUTES: list[tuple[str, type[MlopsHandler]]] = [
    ("data/paths", DataPathsHandler),
    ("data/history", DataHistoryHandler),
    ("data/diff", DataDiffHandler),
    ("data/snapshots", SnapshotsHandler),
    ("data/restore", RestoreHandler),
    ("data/push", PushHandler),
    ("data/pull", PullHandler),
    ("data/tasks", TasksHandler),
    ("data/tasks/{task_id}", TaskHandler),
    ("data/runs/{run_id}", RunDataHandler),
]
