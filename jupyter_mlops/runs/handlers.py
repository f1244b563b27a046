"""Routes of the runs in the tracking store, under ``/jupyter-mlops/runs``: a page of runs,
one run's details, rename and tags, delete and restore, a metric's history, artifacts."""

from __future__ import annotations

from urllib.parse import quote

import tornado.web
from jupyter_server.auth.decorator import authorized
from tornado.iostream import StreamClosedError

from ..api.handler import MlopsHandler, Operation
from ..api.models import NoQuery
from .models import (
    ArtifactList,
    ArtifactQuery,
    ArtifactsQuery,
    MetricHistory,
    MetricPath,
    RunDetails,
    RunPath,
    RunsPage,
    RunsQuery,
    RunSummary,
    RunUpdate,
)
from .service import RunsService

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
        self.parse_query(NoQuery)
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
        self.parse_query(NoQuery)
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


#: Routes relative to ``/jupyter-mlops/``.
ROUTES: list[tuple[str, type[MlopsHandler]]] = [
    ("runs", RunsHandler),
    ("runs/{run_id}", RunHandler),
    ("runs/{run_id}/restore", RunRestoreHandler),
    ("runs/{run_id}/metrics/{key}", MetricHistoryHandler),
    ("runs/{run_id}/artifacts", ArtifactsHandler),
    ("runs/{run_id}/artifact", ArtifactHandler),
]
