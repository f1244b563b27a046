"""Routes of the tracking store's experiments: ``GET /jupyter-mlops/experiments``."""

from __future__ import annotations

import tornado.web
from jupyter_server.auth.decorator import authorized

from ..api.handler import MlopsHandler, Operation
from .models import ExperimentsQuery, ExperimentsResponse


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


#: Routes relative to ``/jupyter-mlops/``.
ROUTES: list[tuple[str, type[MlopsHandler]]] = [
    ("experiments", ExperimentsHandler),
]
