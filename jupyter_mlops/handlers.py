"""HTTP routes of the server extension, all under ``/jupyter-mlops/``.

Routes are thin: parse and validate the request into a model, call a service off the event
loop, serialise the answer. :class:`MlopsHandler` is the one place that turns errors into
responses: an :class:`~jupyter_mlops.errors.MlopsError` becomes its 4xx/503 with
``{"message", "code"}``; anything else is a bug and a logged 500.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from pydantic import BaseModel, ValidationError

from .errors import InvalidInput, MlopsError, NotFound
from .models import ErrorBody, ExperimentsQuery, ExperimentsResponse, StatusResponse
from .services.status import collect_status

if TYPE_CHECKING:
    from .app import MlopsApp

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

#: Where every route of the extension lives, below the server's base URL.
API_PREFIX = "jupyter-mlops"
#: Query arguments that belong to Jupyter's authentication, not to our routes.
_AUTH_ARGUMENTS = frozenset({"token", "_xsrf"})


@dataclass(frozen=True)
class Operation:
    """What the OpenAPI document says of one method of a route."""

    summary: str
    response: type[BaseModel] | None
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    errors: tuple[int, ...] = (400, 403)
    description: str = ""
    tags: tuple[str, ...] = field(default=("mlops",))


class MlopsHandler(ExtensionHandlerMixin, APIHandler):
    """Base of every route: authentication, error mapping and model (de)serialisation."""

    auth_resource = "mlops"
    operations: ClassVar[dict[str, Operation]] = {}

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
            raise InvalidInput(
                _validation_message(exc, "Query parameter"), code="invalid_query"
            ) from exc

    def parse_body(self, model: type[M]) -> M:
        try:
            return model.model_validate_json(self.request.body or b"{}")
        except ValidationError as exc:
            raise InvalidInput(_validation_message(exc, "Field"), code="invalid_body") from exc

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
            body = ErrorBody(**exc.to_json())
        elif isinstance(exc, tornado.web.HTTPError):
            reason = exc.log_message or self._reason
            body = ErrorBody(message=reason, code=f"http_{status_code}")
        else:
            body = ErrorBody(
                message="Internal error in jupyter-mlops; the server log has the details.",
                code="internal_error",
            )
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(body.model_dump_json())

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, MlopsError):
            self.log.info("jupyter-mlops %s %s: %s", self.request.method, self.request.path, value)
            return
        super().log_exception(typ, value, tb)


def _is_cache_buster(name: str, values: list[bytes]) -> bool:
    """JupyterLab's ServerConnection appends ``?<milliseconds>`` to requests made with
    ``cache: 'no-store'`` (its default): a bare number with no value."""
    return name.isdigit() and values == [b""]


def _validation_message(exc: ValidationError, what: str) -> str:
    parts = []
    for error in exc.errors():
        name = ".".join(str(p) for p in error["loc"]) or "(body)"
        if error["type"] == "extra_forbidden":
            parts.append(f"{what} '{name}' is not known.")
        else:
            parts.append(f"{what} '{name}': {error['msg']}.")
    return " ".join(parts)


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
]


def handlers() -> list[tuple[str, type[MlopsHandler]]]:
    """Tornado handler specs, the catch-all 404 last. Paths are regular expressions to
    tornado, so route names are escaped (the '.' of 'openapi.json' is a literal dot)."""
    specs = [(f"/{API_PREFIX}/{re.escape(path)}", handler) for path, handler in ROUTES]
    specs.append((f"/{API_PREFIX}/(.*)", NotFoundHandler))
    return specs
