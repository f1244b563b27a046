"""The one route table of the server extension, assembled from the slices' ``ROUTES``.

The app registers it (:func:`tornado_handlers`) and the OpenAPI document is generated from
it (:mod:`jupyter_mlops.openapi`), so a route a slice adds is served and documented at
once. A new slice adds its ``handlers.ROUTES`` here.
"""

from __future__ import annotations

import json

import tornado.web
from jupyter_server.auth.decorator import authorized

from .api.handler import API_PREFIX, MlopsHandler, NotFoundHandler, Operation, path_regex
from .api.openapi import build_openapi
from .audit.handlers import ROUTES as AUDIT_ROUTES
from .data.handlers import ROUTES as DATA_ROUTES
from .deployments.handlers import ROUTES as DEPLOYMENT_ROUTES
from .experiments.handlers import ROUTES as EXPERIMENT_ROUTES
from .jobs.handlers import ROUTES as JOB_ROUTES
from .lineage.handlers import ROUTES as LINEAGE_ROUTES
from .models.handlers import ROUTES as MODEL_ROUTES
from .monitoring.handlers import ROUTES as MONITORING_ROUTES
from .runs.handlers import ROUTES as RUN_ROUTES
from .status.handlers import ROUTES as STATUS_ROUTES
from .tasks.handlers import ROUTES as TASK_ROUTES


class OpenApiHandler(MlopsHandler):
    operations = {"get": Operation(summary="This API's OpenAPI document.", response=None)}

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(build_openapi(ROUTES)))


#: Routes relative to ``/jupyter-mlops/``. The OpenAPI document is generated from this table.
ROUTES: list[tuple[str, type[MlopsHandler]]] = [
    *STATUS_ROUTES,
    *EXPERIMENT_ROUTES,
    ("openapi.json", OpenApiHandler),
    *RUN_ROUTES,
    *JOB_ROUTES,
    *DEPLOYMENT_ROUTES,
    *DATA_ROUTES,
    *TASK_ROUTES,
    *AUDIT_ROUTES,
    *LINEAGE_ROUTES,
    *MODEL_ROUTES,
    *MONITORING_ROUTES,
]


def tornado_handlers() -> list[tuple[str, type[MlopsHandler]]]:
    """Tornado handler specs, the catch-all 404 last (see :func:`path_regex`)."""
    specs = [(f"/{API_PREFIX}/{path_regex(path, handler)}", handler) for path, handler in ROUTES]
    specs.append((f"/{API_PREFIX}/(.*)", NotFoundHandler))
    return specs
