"""HTTP routes of the server extension, all under ``/jupyter-mlops/``.

Routes are thin: parse and validate the request into a model, call a service off the event
loop, serialise the answer. :class:`MlopsHandler` is the one place that turns errors into
responses: an :class:`~jupyter_mlops.errors.MlopsError` becomes its 4xx/503 with
``{"message", "code"}``; anything else is a bug and a logged 500.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import quote

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from pydantic import BaseModel, ValidationError
from tornado.iostream import StreamClosedError

from .errors import InvalidInput, MlopsError, NotFound, invalid_request, without_root
from .export.build import BuildEvent
from .models import (
    ArtifactList,
    ArtifactQuery,
    ArtifactsQuery,
    BuildProgressEvent,
    BuildRequest,
    ErrorBody,
    ExperimentsQuery,
    ExperimentsResponse,
    ExportCheck,
    ExportRequest,
    ExportTargetList,
    JobExecution,
    JobExecutionList,
    JobExecutionPath,
    JobInfo,
    JobRunRequest,
    JobsList,
    MetricHistory,
    MetricPath,
    RunDetails,
    RunPath,
    RunsPage,
    RunsQuery,
    RunSummary,
    RunUpdate,
    StatusResponse,
)
from .services.runs import RunsService
from .services.status import collect_status

if TYPE_CHECKING:
    from .app import MlopsApp

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

#: Where every route of the extension lives, below the server's base URL.
API_PREFIX = "jupyter-mlops"
#: Streamed answers: newline-delimited JSON, each line one object of the response model.
NDJSON = "application/x-ndjson"
#: Query arguments that belong to Jupyter's authentication, not to our routes.
_AUTH_ARGUMENTS = frozenset({"token", "_xsrf"})


@dataclass(frozen=True)
class Operation:
    """What the OpenAPI document says of one method of a route."""

    summary: str
    response: type[BaseModel] | None
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    #: Path parameters: one field per ``{name}`` of the route's path.
    path: type[BaseModel] | None = None
    #: The success status; 204 has no body.
    status: int = 200
    #: Media type of a success body; anything but JSON is documented as raw bytes.
    media_type: str = "application/json"
    errors: tuple[int, ...] = (400, 403)
    description: str = ""
    tags: tuple[str, ...] = field(default=("mlops",))


class MlopsHandler(ExtensionHandlerMixin, APIHandler):
    """Base of every route: authentication, error mapping and model (de)serialisation."""

    auth_resource = "mlops"
    operations: ClassVar[dict[str, Operation]] = {}
    #: Regular expression of a path parameter when it is not "one path segment".
    path_patterns: ClassVar[dict[str, str]] = {}

    @property
    def mlops(self) -> MlopsApp:
        return self.extensionapp  # type: ignore[return-value]

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking service call on the extension's worker threads."""
        return await self.mlops.run_blocking(fn, *args)

    def parse_query(self, model: type[M]) -> M:
        raw: dict[str, str] = {}
        for name, values in self.request.query_arguments.items():
            if name in _AUTH_ARGUMENTS or _is_cache_buster(name, values):
                continue
            if len(values) != 1:
                raise InvalidInput(
                    f"Query parameter '{name}' is given {len(values)} times; give it once.",
                    code="invalid_query",
                )
            raw[name] = values[0].decode("utf-8", "replace")
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            raise invalid_request(
                exc, "Query parameter", code="invalid_query", whole="The query"
            ) from exc

    def parse_path(self, model: type[M], **values: str) -> M:
        try:
            return model.model_validate(values)
        except ValidationError as exc:
            raise invalid_request(
                exc, "Path parameter", code="invalid_path", whole="The path"
            ) from exc

    def parse_body(self, model: type[M]) -> M:
        try:
            return model.model_validate_json(self.request.body or b"{}")
        except ValidationError as exc:
            raise invalid_request(exc, "Field", code="invalid_body") from exc

    def send_model(self, model: BaseModel, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(model.model_dump_json())

    # -- the one error mapper -------------------------------------------------------------
    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, MlopsError):
            status_code = exc.status
        super().send_error(status_code, **kwargs)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, MlopsError):
            body = self.error_body(exc)
        elif isinstance(exc, tornado.web.HTTPError):
            reason = exc.log_message or self._reason
            body = ErrorBody(message=reason, code=f"http_{status_code}")
        else:
            body = ErrorBody(
                message="Internal error in jupyter-mlops; the server log has the details.",
                code="internal_error",
            )
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(body.model_dump_json(exclude_unset=True))

    def error_body(self, error: MlopsError | ErrorBody) -> ErrorBody:
        """An error's body as the server answers it: paths below the server's root told
        relative to it (services name files by their absolute paths, which the CLI
        shows; where the project lives on the server's disk is not the client's business)."""
        if isinstance(error, MlopsError):
            body = error.to_json()
        else:
            body = error.model_dump(exclude_unset=True)
        root = self.mlops.settings_resolved.root_dir
        return ErrorBody.model_validate(_map_strings(body, lambda text: without_root(text, root)))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, MlopsError):
            self.log.info("jupyter-mlops %s %s: %s", self.request.method, self.request.path, value)
            return
        super().log_exception(typ, value, tb)


def _is_cache_buster(name: str, values: list[bytes]) -> bool:
    """JupyterLab's ServerConnection appends ``?<milliseconds>`` to requests made with
    ``cache: 'no-store'`` (its default): a bare number with no value."""
    return name.isdigit() and values == [b""]


def _map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """``value`` (JSON-like) with ``change`` applied to every string in it."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {k: _map_strings(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(v, change) for v in value]
    return value


class StatusHandler(MlopsHandler):
    operations = {
        "get": Operation(
            summary="Versions, tracking store, project and container engine status.",
            response=StatusResponse,
        )
    }

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.parse_query(_NoQuery)
        status = await self.call(collect_status, self.mlops.tracking)
        self.send_model(status)


class ExperimentsHandler(MlopsHandler):
    operations = {
        "get": Operation(
            summary="MLflow experiments with their run counts.",
            response=ExperimentsResponse,
            query=ExperimentsQuery,
            errors=(400, 403, 503),
        )
    }

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(ExperimentsQuery)
        self.send_model(await self.call(self.mlops.tracking.list_experiments, query))


class OpenApiHandler(MlopsHandler):
    operations = {"get": Operation(summary="This API's OpenAPI document.", response=None)}

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        from .openapi import build_openapi

        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(build_openapi()))


# -- runs --------------------------------------------------------------------------------------
_RUN_ERRORS = (400, 403, 404, 503)


class RunsBase(MlopsHandler):
    @property
    def runs(self) -> RunsService:
        return RunsService(self.mlops.tracking)

    def run_id(self, run_id: str) -> str:
        return self.parse_path(RunPath, run_id=run_id).run_id


class RunsHandler(RunsBase):
    operations = {
        "get": Operation(
            summary="A page of an experiment's runs, filtered and sorted by the store.",
            response=RunsPage,
            query=RunsQuery,
            errors=_RUN_ERRORS,
        )
    }

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(RunsQuery)
        self.send_model(await self.call(self.runs.search, query))


class RunHandler(RunsBase):
    operations = {
        "get": Operation(
            summary="One run: summary, all tags, cell source, lineage and error.",
            response=RunDetails,
            path=RunPath,
            errors=_RUN_ERRORS,
        ),
        "patch": Operation(
            summary="Rename a run, set or delete its tags.",
            response=RunSummary,
            path=RunPath,
            body=RunUpdate,
            errors=(*_RUN_ERRORS, 409),
        ),
        "delete": Operation(
            summary="Delete a run (MLflow's soft delete; POST .../restore undoes it).",
            response=None,
            path=RunPath,
            status=204,
            errors=_RUN_ERRORS,
        ),
    }

    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        self.parse_query(_NoQuery)
        self.send_model(await self.call(self.runs.details, self.run_id(run_id)))

    @tornado.web.authenticated
    @authorized
    async def patch(self, run_id: str) -> None:
        run = self.run_id(run_id)
        change = self.parse_body(RunUpdate)
        self.send_model(await self.call(self.runs.update, run, change))

    @tornado.web.authenticated
    @authorized
    async def delete(self, run_id: str) -> None:
        run = self.run_id(run_id)
        await self.call(self.runs.delete, run)
        self.set_status(204)
        self.finish()


class RunRestoreHandler(RunsBase):
    operations = {
        "post": Operation(
            summary="Restore a deleted run.",
            response=RunSummary,
            path=RunPath,
            errors=_RUN_ERRORS,
        )
    }

    @tornado.web.authenticated
    @authorized
    async def post(self, run_id: str) -> None:
        self.send_model(await self.call(self.runs.restore, self.run_id(run_id)))


class MetricHistoryHandler(RunsBase):
    operations = {
        "get": Operation(
            summary="Every value of one metric of a run, thinned evenly above 10,000 points.",
            response=MetricHistory,
            path=MetricPath,
            errors=_RUN_ERRORS,
        )
    }
    path_patterns = {"key": ".+"}  # metric names may contain '/'

    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str, key: str) -> None:
        self.parse_query(_NoQuery)
        path = self.parse_path(MetricPath, run_id=run_id, key=key)
        self.send_model(await self.call(self.runs.metric_history, path.run_id, path.key))


class ArtifactsHandler(RunsBase):
    operations = {
        "get": Operation(
            summary="The files and folders in one folder of a run's artifacts.",
            response=ArtifactList,
            path=RunPath,
            query=ArtifactsQuery,
            errors=_RUN_ERRORS,
        )
    }

    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        run = self.run_id(run_id)
        query = self.parse_query(ArtifactsQuery)
        self.send_model(await self.call(self.runs.list_artifacts, run, query.path))


#: Bytes read and sent at a time when streaming an artifact.
_CHUNK = 1 << 20


class ArtifactHandler(RunsBase):
    operations = {
        "get": Operation(
            summary="One artifact file's bytes, typed by its extension for preview "
            "(unknown types and download=true: an attachment).",
            response=None,
            path=RunPath,
            query=ArtifactQuery,
            media_type="*/*",
            errors=_RUN_ERRORS,
        )
    }

    @property
    def content_security_policy(self) -> str:
        # An artifact (an SVG, say) opened on its own must not run script in our origin.
        return super().content_security_policy + "; sandbox"

    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        run = self.run_id(run_id)
        query = self.parse_query(ArtifactQuery)
        artifact = await self.call(self.runs.open_artifact, run, query.path, query.download)
        try:
            disposition = "attachment" if artifact.attachment else "inline"
            filename = quote(artifact.filename, safe="")
            self.set_header("Content-Disposition", f"{disposition}; filename*=UTF-8''{filename}")
            self.set_header("Content-Length", str(artifact.size))
            self.set_header("X-Content-Type-Options", "nosniff")
            self.set_header("Cache-Control", "no-store")
            self.set_header("Content-Type", artifact.content_type)
            with artifact.file.open("rb") as handle:
                while chunk := await self.call(handle.read, _CHUNK):
                    self.write(chunk)
                    await self.flush()
            await self.finish(set_content_type=artifact.content_type)
        except StreamClosedError:
            self.log.info("jupyter-mlops: %s closed the connection", self.request.remote_ip)
        finally:
            await self.call(artifact.close)


# -- jobs: export, build, run ----------------------------------------------------------------
_JOB_ERRORS = (400, 403, 404, 409)


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
        self.parse_query(_NoQuery)
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
        self.parse_query(_NoQuery)
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


class JobBuildHandler(MlopsHandler):
    operations = {
        "post": Operation(
            summary="Build (and push) a job's image; progress streamed as it happens.",
            description="Errors found before the build starts (no such job, no container "
            "engine) are answered as usual; a failure during the build is the stream's last "
            "line, an 'error' event.",
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

        def report(event: BuildEvent) -> None:
            if event.kind != "done":  # the last line carries the recorded build instead
                line = BuildProgressEvent(
                    event=event.kind,  # type: ignore[arg-type]
                    text=event.text,
                    step=event.step,
                    total=event.total,
                )
                loop.call_soon_threadsafe(events.put_nowait, line)

        build = asyncio.ensure_future(
            self.call(self.mlops.jobs.build, folder, client, request, report)
        )
        build.add_done_callback(lambda _: loop.call_soon(events.put_nowait, None))
        connected = True
        while (event := await events.get()) is not None:
            connected = connected and await self._send_line(event)
        try:
            last = BuildProgressEvent(event="done", text="built", build=build.result())
        except MlopsError as exc:
            error = self.error_body(exc)
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
        self.parse_query(_NoQuery)
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
        self.parse_query(_NoQuery)
        self.send_model(await self.call(self.mlops.jobs.execution, self._id(execution_id)))

    @tornado.web.authenticated
    @authorized
    async def delete(self, execution_id: str) -> None:
        self.send_model(await self.call(self.mlops.jobs.stop, self._id(execution_id)))


class NotFoundHandler(MlopsHandler):
    """Answers any unknown path under the prefix with a JSON 404 (after authentication)."""

    def _not_found(self, *args: Any) -> None:
        raise NotFound(f"No such route: {self.request.path}", code="no_route")

    get = post = put = patch = delete = tornado.web.authenticated(authorized(_not_found))


class _NoQuery(BaseModel):
    model_config = {"extra": "forbid"}


#: Routes relative to ``/jupyter-mlops/``. The OpenAPI document is generated from this table.
ROUTES: list[tuple[str, type[MlopsHandler]]] = [
    ("status", StatusHandler),
    ("experiments", ExperimentsHandler),
    ("openapi.json", OpenApiHandler),
    ("runs", RunsHandler),
    ("runs/{run_id}", RunHandler),
    ("runs/{run_id}/restore", RunRestoreHandler),
    ("runs/{run_id}/metrics/{key}", MetricHistoryHandler),
    ("runs/{run_id}/artifacts", ArtifactsHandler),
    ("runs/{run_id}/artifact", ArtifactHandler),
    ("jobs", JobsHandler),
    ("jobs/targets", JobTargetsHandler),
    ("jobs/export", JobExportHandler),
    ("jobs/export/validate", JobExportCheckHandler),
    ("jobs/build", JobBuildHandler),
    ("jobs/runs", JobRunsHandler),
    ("jobs/runs/{execution_id}", JobRunHandler),
]

# Data snapshots (DVC): their routes live in jupyter_mlops/data/handlers.py, which needs
# MlopsHandler from this module, hence the import down here.
from .data.handlers import ROUTES as DATA_ROUTES  # noqa: E402

ROUTES += DATA_ROUTES

_PATH_PARAMETER = re.compile(r"\{([a-z_]+)\}")


def path_regex(path: str, handler: type[MlopsHandler]) -> str:
    """A route's tornado pattern: literal parts escaped (the '.' of 'openapi.json' is a
    dot), each ``{name}`` a named group matching one path segment unless the handler says
    otherwise."""
    parts = []
    for i, piece in enumerate(_PATH_PARAMETER.split(path)):
        if i % 2:
            parts.append(f"(?P<{piece}>{handler.path_patterns.get(piece, '[^/]+')})")
        else:
            parts.append(re.escape(piece))
    return "".join(parts)


def handlers() -> list[tuple[str, type[MlopsHandler]]]:
    """Tornado handler specs, the catch-all 404 last (see :func:`path_regex`)."""
    specs = [(f"/{API_PREFIX}/{path_regex(path, handler)}", handler) for path, handler in ROUTES]
    specs.append((f"/{API_PREFIX}/(.*)", NotFoundHandler))
    return specs
