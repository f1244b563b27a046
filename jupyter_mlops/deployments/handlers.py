"""Routes of deployments, under ``/jupyter-mlops/deployments``: list and deploy (a task),
one deployment, undeploy, pause and resume, its runs (list, trigger with checked
parameters), a run's logs and cancel. Credentials for the engines come from settings or
the server's environment, never from a request."""

from __future__ import annotations

import tornado.web
from jupyter_server.auth.decorator import authorized

from ..api.handler import MlopsHandler, Operation
from ..api.models import NoQuery
from ..tasks.models import TaskRecord
from ..tasks.progress import Progress
from .models import (
    DeploymentInfo,
    DeploymentList,
    DeploymentPath,
    DeploymentRun,
    DeploymentRunPath,
    DeploymentWithRuns,
    DeployRequest,
    RunList,
    RunLogs,
    TriggerRequest,
)
from .service import DeploymentsService

_ERRORS = (400, 403, 404, 409, 503)


class DeploymentsBase(MlopsHandler):
    @property
    def service(self) -> DeploymentsService:
        return DeploymentsService(self.mlops.settings_resolved, engine_config=self.mlops.config)

    def _name(self, name: str) -> str:
        return self.parse_path(DeploymentPath, name=name).name

    def _run(self, name: str, run_id: str) -> DeploymentRunPath:
        return self.parse_path(DeploymentRunPath, name=name, run_id=run_id)


class DeploymentsHandler(DeploymentsBase):
    operations = {
        "get": Operation(
            summary="The project's deployments, each with its latest runs (one request to "
            "each engine for all of them); engines that do not answer in engine_errors.",
            response=DeploymentList,
        ),
        "post": Operation(
            summary="Deploy a job onto an engine; answers the deploy task at once (follow it "
            "at tasks/{task_id}; its result is the deployment).",
            description="The job, its image, the options and the engine's place are checked "
            "first (4xx at once); the engine refusing the DAG (import errors) or not parsing "
            "it is the task's error, and nothing is left deployed.",
            response=TaskRecord,
            body=DeployRequest,
            status=202,
            errors=_ERRORS,
        ),
    }

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.parse_query(NoQuery)
        self.send_model(await self.call(self.service.list_deployments))

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        request = self.parse_body(DeployRequest)
        service = self.service

        def prepare() -> object:
            return service.prepare(
                request.job,
                request.engine,
                name=request.name,
                paused=request.paused,
                options=request.options,
                confined=True,
            )

        prepared = await self.call(prepare)

        def work(progress: Progress) -> DeploymentInfo:
            def report(line: str) -> None:
                progress.begin(line, unit="steps")
                progress.log(line)

            return service.deploy(prepared, report)  # type: ignore[arg-type]

        task = self.mlops.tasks.start("deploy", work, request=request.model_dump(mode="json"))
        self.send_model(task.model(), status=202)


class DeploymentHandler(DeploymentsBase):
    operations = {
        "get": Operation(
            summary="A deployment with its runs.",
            response=DeploymentWithRuns,
            path=DeploymentPath,
            errors=_ERRORS,
        ),
        "delete": Operation(
            summary="Undeploy: the DAG file and the engine's DAG removed, the record too.",
            response=DeploymentInfo,
            path=DeploymentPath,
            errors=_ERRORS,
        ),
    }

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.parse_query(NoQuery)
        self.send_model(await self.call(self.service.deployment, self._name(name)))

    @tornado.web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        self.send_model(await self.call(self.service.undeploy, self._name(name)))


class DeploymentPauseHandler(DeploymentsBase):
    paused = True
    operations = {
        "post": Operation(
            summary="Pause the deployment's schedule.",
            response=DeploymentInfo,
            path=DeploymentPath,
            errors=_ERRORS,
        )
    }

    @tornado.web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        self.send_model(await self.call(self.service.set_paused, self._name(name), self.paused))


class DeploymentResumeHandler(DeploymentPauseHandler):
    paused = False
    operations = {
        "post": Operation(
            summary="Resume the deployment's schedule.",
            response=DeploymentInfo,
            path=DeploymentPath,
            errors=_ERRORS,
        )
    }


class DeploymentRunsHandler(DeploymentsBase):
    operations = {
        "get": Operation(
            summary="The deployment's runs on its engine, newest first, with their MLflow "
            "runs and, for failed ones, the failing cell.",
            response=RunList,
            path=DeploymentPath,
            errors=_ERRORS,
        ),
        "post": Operation(
            summary="Start a run with parameters, checked against the job's schema first "
            "(a 400 naming each wrong parameter).",
            response=DeploymentRun,
            body=TriggerRequest,
            path=DeploymentPath,
            status=201,
            errors=_ERRORS,
        ),
    }

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.parse_query(NoQuery)
        self.send_model(RunList(runs=await self.call(self.service.runs, self._name(name))))

    @tornado.web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        checked = self._name(name)
        request = self.parse_body(TriggerRequest)
        run = await self.call(self.service.trigger, checked, request.parameters)
        self.send_model(run, status=201)


class DeploymentRunLogsHandler(DeploymentsBase):
    operations = {
        "get": Operation(
            summary="The log of a run (every try of its task).",
            response=RunLogs,
            path=DeploymentRunPath,
            errors=_ERRORS,
        )
    }

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str, run_id: str) -> None:
        self.parse_query(NoQuery)
        path = self._run(name, run_id)
        text = await self.call(self.service.logs, path.name, path.run_id)
        self.send_model(RunLogs(text=text))


class DeploymentRunCancelHandler(DeploymentsBase):
    operations = {
        "post": Operation(
            summary="Cancel a queued or running run (its state becomes failed).",
            response=DeploymentRun,
            path=DeploymentRunPath,
            errors=_ERRORS,
        )
    }

    @tornado.web.authenticated
    @authorized
    async def post(self, name: str, run_id: str) -> None:
        path = self._run(name, run_id)
        self.send_model(await self.call(self.service.cancel, path.name, path.run_id))


#: Routes relative to ``/jupyter-mlops/``.
ROUTES: list[tuple[str, type[MlopsHandler]]] = [
    ("deployments", DeploymentsHandler),
    ("deployments/{name}", DeploymentHandler),
    ("deployments/{name}/pause", DeploymentPauseHandler),
    ("deployments/{name}/resume", DeploymentResumeHandler),
    ("deployments/{name}/runs", DeploymentRunsHandler),
    ("deployments/{name}/runs/{run_id}/logs", DeploymentRunLogsHandler),
    ("deployments/{name}/runs/{run_id}/cancel", DeploymentRunCancelHandler),
]
