"""Routes of the status report: ``GET /jupyter-mlops/status``."""

from __future__ import annotations

import tornado.web
from jupyter_server.auth.decorator import authorized

from ..api.handler import MlopsHandler, Operation
from ..api.models import NoQuery
from .models import StatusResponse
from .service import collect_status


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
        self.parse_query(NoQuery)
        status = await self.call(collect_status, self.mlops.tracking)
        self.send_model(status)


#: Routes relative to ``/jupyter-mlops/``.
ROUTES: list[tuple[str, type[MlopsHandler]]] = [
    ("status", StatusHandler),
]
