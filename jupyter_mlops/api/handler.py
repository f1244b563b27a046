"""The API base every slice's routes stand on, all under ``/jupyter-mlops/``.

Routes are thin: parse and validate the request into a model, call a service off the event
loop, serialise the answer. :class:`MlopsHandler` is the one place that turns errors into
responses: an :class:`~jupyter_mlops.errors.MlopsError` becomes its 4xx/503 with
``{"message", "code", "fields"?}``; anything else is a bug and a logged 500.
:class:`Operation` is what a route says of each of its methods, from which the OpenAPI
document (and the frontend's types) are generated. No service imports this module.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from pydantic import BaseModel, ValidationError

from .. import audit
from ..errors import InvalidInput, MlopsError, NotFound, invalid_request, without_root
from .models import ErrorBody

if TYPE_CHECKING:
    from ..app import MlopsApp

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

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        # Tasks this request starts from the event loop copy its context: they record the
        # request's user in the audit trail.
        audit.set_acting_user(getattr(self.current_user, "username", None))

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking service call on the extension's worker threads, as the request's
        user (what it records in the audit trail is theirs, also in the tasks it starts)."""
        user = getattr(self.current_user, "username", None)
        return await self.mlops.run_blocking(_as_user, user, fn, *args)

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
            body = ErrorBody.internal()
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


def _as_user(user: str | None, fn: Callable[..., T], *args: Any) -> T:
    with audit.acting_as(user):
        return fn(*args)


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


class NotFoundHandler(MlopsHandler):
    """Answers any unknown path under the prefix with a JSON 404 (after authentication)."""

    def _not_found(self, *args: Any) -> None:
        raise NotFound(f"No such route: {self.request.path}", code="no_route")

    get = post = put = patch = delete = tornado.web.authenticated(authorized(_not_found))


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
