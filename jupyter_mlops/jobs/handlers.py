"""Routes of jobs, under ``/jupyter-mlops/jobs``: the job folders, the export targets,
export (and its check), the image build (a task: ``jobs/builds`` answers it at once,
``jobs/build`` streams it), job runs started and stopped."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized
from tornado.iostream import StreamClosedError

from ..api.handler import NDJSON, MlopsHandler, Operation
from ..api.models import ErrorBody, NoQuery
from ..export.build import BuildEvent
from ..tasks.models import TaskRecord
from ..tasks.progress import Progress
from ..tasks.registry import Task
from .models import (
    BuildProgressEvent,
    BuildRequest,
    ExportCheck,
    ExportRequest,
    ExportTargetList,
    JobBuild,
    JobExecution,
    JobExecutionList,
    JobExecutionPath,
    JobInfo,
    JobRunRequest,
    JobsList,
)

_JOB_ERRORS = (400, 403, 404, 409)
_NO_RESULT = ErrorBody(message="The build ended without a result.", code="internal_error")


class JobsHandler(MlopsHandler):
    operations = {
        "get": Operation(
            summary="The job folders under the server's root, with their last build.",
            response=JobsList,
            errors=(400, 403),
        )
    }

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.parse_query(NoQuery)
        self.send_model(await self.call(self.mlops.jobs.list_jobs))


class JobTargetsHandler(MlopsHandler):
    operations = {
        "get": Operation(
            summary="The export targets installed (built in and plugins), with whether each "
            "runs on an orchestrator.",
            description="A target whose plugin cannot be loaded is listed with an 'error'; "
            "export refuses it.",
            response=ExportTargetList,
            errors=(400, 403),
        )
    }

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.parse_query(NoQuery)
        self.send_model(await self.call(self.mlops.jobs.targets))


class JobExportHandler(MlopsHandler):
    operations = {
        "post": Operation(
            summary="Export a notebook to a job folder (Dockerfile and orchestrator targets).",
            response=JobInfo,
            body=ExportRequest,
            errors=(*_JOB_ERRORS, 503, 507),
        )
    }

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        # The same check as jobs/export/validate, whose problems it answers with.
        self.send_model(await self.call(self.mlops.jobs.export, self.request.body))


class JobExportCheckHandler(MlopsHandler):
    operations = {
        "post": Operation(
            summary="Check an export request in full without exporting: every problem, each "
            "with the field it names.",
            description="Writes nothing. The same check POST jobs/export makes first: "
            "problems found here are the ones it refuses with (its error body's 'fields'). "
            "A body that is not a JSON object is a 400, a path leading outside the server's "
            "root a 403.",
            response=ExportCheck,
            body=ExportRequest,
            errors=(400, 403),
        )
    }

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        self.send_model(await self.call(self.mlops.jobs.check_export, self.request.body))


class BuildBase(MlopsHandler):
    def start_build(
        self,
        folder: Path,
        client: Any,
        request: BuildRequest,
        listener: Callable[[BuildProgressEvent], None] = lambda event: None,
    ) -> Task:
        """Start a checked build as a task (kind ``build``): its steps are the task's
        progress, the engine's lines its log, cancelling it stops the build at the engine's
        next line. ``listener`` also gets each event (the streaming route)."""
        jobs = self.mlops.jobs

        def work(progress: Progress) -> JobBuild:
            def report(event: BuildEvent) -> None:
                progress.check()
                if event.kind == "done":  # the result carries the recorded build instead
                    return
                if event.kind == "step" and event.step is not None:
                    progress.begin("building", total=event.total or 0, unit="steps")
                    progress.advance(event.step)
                    progress.log(f"Step {event.step}/{event.total}: {event.text}")
                else:
                    if event.kind == "push" and progress.state().phase != "pushing":
                        progress.begin("pushing", unit="steps")
                    progress.log(event.text)
                listener(
                    BuildProgressEvent(
                        event=event.kind,  # type: ignore[arg-type]
                        text=event.text,
                        step=event.step,
                        total=event.total,
                    )
                )

            progress.begin("starting", unit="steps")
            return jobs.build(folder, client, request, report)

        return self.mlops.tasks.start("build", work, request=request.model_dump(mode="json"))


class JobBuildsHandler(BuildBase):
    operations = {
        "post": Operation(
            summary="Start building (and pushing) a job's image; answers the build's task "
            "at once (follow it at tasks/{task_id}; its result is the job's build).",
            description="Errors found before the build starts (no such job, no container "
            "engine) are answered as usual; a failure during the build is the task's error.",
            response=TaskRecord,
            body=BuildRequest,
            status=202,
            errors=(*_JOB_ERRORS, 503),
        )
    }

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        request = self.parse_body(BuildRequest)
        folder, client = await self.call(self.mlops.jobs.check_build, request)
        task = self.start_build(folder, client, request)
        self.send_model(task.model(), status=202)


class JobBuildHandler(BuildBase):
    operations = {
        "post": Operation(
            summary="Build (and push) a job's image; progress streamed as it happens.",
            description="Errors found before the build starts (no such job, no container "
            "engine) are answered as usual; a failure during the build is the stream's last "
            "line, an 'error' event. The build is a task (jobs/builds starts one without a "
            "stream): it goes on if the client goes, and tasks/{task_id} follows it.",
            response=BuildProgressEvent,
            body=BuildRequest,
            media_type=NDJSON,
            errors=(*_JOB_ERRORS, 503),
        )
    }

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        request = self.parse_body(BuildRequest)
        folder, client = await self.call(self.mlops.jobs.check_build, request)
        self.set_header("Content-Type", f"{NDJSON}; charset=UTF-8")
        self.set_header("Cache-Control", "no-cache")
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[BuildProgressEvent | None] = asyncio.Queue()

        def listener(line: BuildProgressEvent) -> None:
            loop.call_soon_threadsafe(events.put_nowait, line)

        task = self.start_build(folder, client, request, listener)
        ended = loop.run_in_executor(None, task.done_event.wait)
        ended.add_done_callback(lambda _: loop.call_soon(events.put_nowait, None))
        connected = True
        while (event := await events.get()) is not None:
            connected = connected and await self._send_line(event)
        if task.state == "done" and isinstance(task.result, JobBuild):
            last = BuildProgressEvent(event="done", text="built", build=task.result)
        else:
            error = self.error_body(task.model().error or _NO_RESULT)
            last = BuildProgressEvent(event="error", text=error.message, code=error.code)
        if connected and await self._send_line(last):
            self.finish()

    async def _send_line(self, event: BuildProgressEvent) -> bool:
        """Write one line; False once the client has gone (the build goes on)."""
        try:
            self.write(event.model_dump_json(exclude_none=True) + "\n")
            await self.flush()
        except StreamClosedError:
            return False
        return True


class JobRunsHandler(MlopsHandler):
    operations = {
        "get": Operation(
            summary="The job runs of this project (kept across restarts), newest first.",
            response=JobExecutionList,
        ),
        "post": Operation(
            summary="Run a job (locally or in its image) with checked parameters.",
            response=JobExecution,
            body=JobRunRequest,
            status=202,
            errors=_JOB_ERRORS,
        ),
    }

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.parse_query(NoQuery)
        executions = await self.call(self.mlops.jobs.executions)
        self.send_model(JobExecutionList(executions=executions))

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        request = self.parse_body(JobRunRequest)
        self.send_model(await self.call(self.mlops.jobs.start_run, request), status=202)


class JobRunHandler(MlopsHandler):
    operations = {
        "get": Operation(
            summary="A job run: status, exit code, output notebook and the log's last lines.",
            response=JobExecution,
            path=JobExecutionPath,
            errors=(400, 403, 404),
        ),
        "delete": Operation(
            summary="Stop a job run as Ctrl-C does (its MLflow run is marked KILLED).",
            response=JobExecution,
            path=JobExecutionPath,
            errors=(400, 403, 404),
        ),
    }

    def _id(self, execution_id: str) -> str:
        return self.parse_path(JobExecutionPath, execution_id=execution_id).execution_id

    @tornado.web.authenticated
    @authorized
    async def get(self, execution_id: str) -> None:
        self.parse_query(NoQuery)
        self.send_model(await self.call(self.mlops.jobs.execution, self._id(execution_id)))

    @tornado.web.authenticated
    @authorized
    async def delete(self, execution_id: str) -> None:
        self.send_model(await self.call(self.mlops.jobs.stop, self._id(execution_id)))


#: Routes relative to ``/jupyter-mlops/``.
ROUTES: list[tuple[str, type[MlopsHandler]]] = [
    ("jobs", JobsHandler),
    ("jobs/targets", JobTargetsHandler),
    ("jobs/export", JobExportHandler),
    ("jobs/export/validate", JobExportCheckHandler),
    ("jobs/build", JobBuildHandler),
    ("jobs/builds", JobBuildsHandler),
    ("jobs/runs", JobRunsHandler),
    ("jobs/runs/{execution_id}", JobRunHandler),
]
