"""Routes of the one task lifecycle, under ``/jupyter-mlops/tasks``: every kind of long work
(snapshots, restores, pushes, pulls, builds, job runs) listed, followed and cancelled the
same way, so a reloaded page finds what is still running."""

from __future__ import annotations

from typing import TYPE_CHECKING

import tornado.web
from jupyter_server.auth.decorator import authorized

from ..api.handler import MlopsHandler, Operation
from ..api.models import NoQuery
from ..errors import NotFound
from .models import TaskList, TaskPath, TaskQuery, TaskRecord

if TYPE_CHECKING:
    from .registry import TaskRegistry

_TAGS = ("tasks",)


class TaskBase(MlopsHandler):
    @property
    def tasks(self) -> TaskRegistry:
        return self.mlops.tasks

    def task_id(self, task_id: str) -> str:
        return self.parse_path(TaskPath, task_id=task_id).task_id

    def found(self, task_id: str, model: TaskRecord | None) -> TaskRecord:
        if model is None:
            raise NotFound(f"No task {task_id}.", code="no_such_task")
        return self.task_model(model)

    def task_model(self, model: TaskRecord) -> TaskRecord:
        """A task as the server answers it: its error told as :meth:`error_body` does."""
        if model.error is None:
            return model
        return model.model_copy(update={"error": self.error_body(model.error)})


class TasksHandler(TaskBase):
    operations = {
        "get": Operation(
            summary="Recent tasks of this project (long work of every kind), newest first; "
            "those of earlier servers too.",
            response=TaskList,
            query=TaskQuery,
            tags=_TAGS,
        )
    }

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(TaskQuery)
        kinds = None if query.kind is None else (query.kind,)
        records = await self.call(self.tasks.records, kinds)
        tasks = [
            self.task_model(t) for t in records if query.state is None or t.state == query.state
        ]
        self.send_model(TaskList(tasks=tasks))


class TaskHandler(TaskBase):
    operations = {
        "get": Operation(
            summary="One task: its progress, then its result or error.",
            response=TaskRecord,
            path=TaskPath,
            errors=(400, 403, 404),
            tags=_TAGS,
        ),
        "delete": Operation(
            summary="Cancel a running task; it stops at the next safe point (a finished "
            "task is answered as it is).",
            response=TaskRecord,
            path=TaskPath,
            errors=(400, 403, 404),
            tags=_TAGS,
        ),
    }

    @tornado.web.authenticated
    @authorized
    async def get(self, task_id: str) -> None:
        self.parse_query(NoQuery)
        task_id = self.task_id(task_id)
        self.send_model(self.found(task_id, await self.call(self.tasks.record, task_id)))

    @tornado.web.authenticated
    @authorized
    async def delete(self, task_id: str) -> None:
        task_id = self.task_id(task_id)
        self.send_model(self.found(task_id, await self.call(self.tasks.cancel, task_id)))


ROUTES: list[tuple[str, type[MlopsHandler]]] = [
    ("tasks", TasksHandler),
    ("tasks/{task_id}", TaskHandler),
]
