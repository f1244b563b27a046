"""Routes of the monitoring view, under ``/jupyter-mlops/monitoring``: a job's or a
deployment's runs over time, from the tracking store."""

from __future__ import annotations

import tornado.web
from jupyter_server.auth.decorator import authorized

from ..api.handler import MlopsHandler, Operation
from .history import HistoryService
from .models import HistoryPath, HistoryQuery, Kind, MonitoringHistory

_ERRORS = (400, 403, 503)


class _HistoryHandler(MlopsHandler):
    kind: Kind

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        path = self.parse_path(HistoryPath, name=name)
        query = self.parse_query(HistoryQuery)
        service = HistoryService(self.mlops.tracking)
        self.send_model(await self.call(service.history, self.kind, path.name, query))


class JobHistoryHandler(_HistoryHandler):
    kind: Kind = "job"
    operations = {
        "get": Operation(
            summary="A job's runs over time: outcome, duration, chosen metrics, drift share.",
            response=MonitoringHistory,
            path=HistoryPath,
            query=HistoryQuery,
            errors=_ERRORS,
        )
    }


class DeploymentHistoryHandler(_HistoryHandler):
    kind: Kind = "deployment"
    operations = {
        "get": Operation(
            summary="A deployment's runs over time: outcome, duration, chosen metrics, drift "
            "share.",
            response=MonitoringHistory,
            path=HistoryPath,
            query=HistoryQuery,
            errors=_ERRORS,
        )
    }


ROUTES: list[tuple[str, type[MlopsHandler]]] = [
    ("monitoring/jobs/{name}", JobHistoryHandler),
    ("monitoring/deployments/{name}", DeploymentHistoryHandler),
]
