"""The lineage route, ``GET /jupyter-mlops/lineage?run=ID | model=NAME&version=V |
output=PATH``: the graph around one run, model version or job output notebook."""

from __future__ import annotations

import tornado.web
from jupyter_server.auth.decorator import authorized

from ..api.handler import MlopsHandler, Operation
from .models import LineageGraph, LineageQuery
from .service import LineageService


class LineageHandler(MlopsHandler):
    operations = {
        "get": Operation(
            summary="The lineage graph of a run, a model version or a job's output notebook.",
            response=LineageGraph,
            query=LineageQuery,
            errors=(400, 403, 404, 503),
        )
    }

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(LineageQuery)
        service = LineageService(self.mlops.settings_resolved, self.mlops.tracking, self.mlops.jobs)
        self.send_model(await self.call(service.graph, query))


ROUTES: list[tuple[str, type[MlopsHandler]]] = [("lineage", LineageHandler)]
