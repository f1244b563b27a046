"""The one exception family of jupyter-mlops.

Every error a user can cause is a :class:`MlopsError` carrying a stable ``code`` and the
HTTP status it maps to, so the server, the CLI and the UI all report it the same way:
routes answer ``{"message", "code"}`` with that status, the CLI prints one line.
An error may add structured detail to that body (``InvalidParameters`` adds
``parameters``: each problem with the parameter it names, so a form can show it beside
its field); ``message`` always says everything on its own, for the CLI and other clients.
Anything else that escapes is a bug and is answered as a 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError


class MlopsError(Exception):
    """Root of every error jupyter-mlops raises on purpose."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def to_json(self) -> dict[str, Any]:
        """The API's error body (``ErrorBody``)."""
        return {"message": self.message, "code": self.code}


class InvalidInput(MlopsError):
    """The request or command names something malformed (400)."""

    status = 400
    code = "invalid_input"


class NotFound(MlopsError):
    """The thing asked for does not exist (404)."""

    status = 404
    code = "not_found"


class Forbidden(MlopsError):
    """The request reaches outside what it may touch, such as a path outside the root (403)."""

    status = 403
    code = "forbidden"


class Conflict(MlopsError):
    """The request clashes with the current state (409)."""

    status = 409
    code = "conflict"


class ServiceUnavailable(MlopsError):
    """A service we depend on (tracking server, container engine) does not answer (503)."""

    status = 503
    code = "service_unavailable"


def option_errors(exc: ValidationError, names: Mapping[str, str] | None = None) -> str:
    """A pydantic error on command-line values, told in terms of the options: one
    ``--option: problem`` per mistake; ``names`` maps a field to its option's name."""
    parts = []
    for error in exc.errors():
        field = "_".join(str(p) for p in error["loc"] if isinstance(p, str))
        option = "--" + (names or {}).get(field, field).replace("_", "-")
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{option}: {message}")
    return "; ".join(parts)
