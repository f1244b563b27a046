"""The one exception family of jupyter-mlops.

Every error a user can cause is a :class:`MlopsError` carrying a stable ``code`` and the
HTTP status it maps to, so the server, the CLI and the UI all report it the same way:
routes answer ``{"message", "code"}`` with that status, the CLI prints one line.
An error may add structured detail to that body: ``fields``, each problem with the field
of the request it names (:func:`invalid_request` makes it from a pydantic validation
error), and ``InvalidParameters``'s ``parameters``, each problem with the job parameter it
names, so a form can show them beside their fields; ``message`` always says everything on
its own, for the CLI and other clients.
Anything else that escapes is a bug and is answered as a 500.
"""

from __future__ import annotations

import contextlib
import errno
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError
    from pydantic_core import ErrorDetails

    from .api.models import FieldError


class MlopsError(Exception):
    """Root of every error jupyter-mlops raises on purpose."""

    status: int = 500
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: Sequence[FieldError] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        #: The fields of the request the error is about, each with its problem.
        self.fields = list(fields) if fields else None

    def to_json(self) -> dict[str, Any]:
        """The API's error body (``ErrorBody``)."""
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.fields:
            body["fields"] = [f.model_dump() for f in self.fields]
        return body


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


class InsufficientStorage(MlopsError):
    """The disk (or quota) is full: what was being written was given up and the previous
    state kept (507)."""

    status = 507
    code = "insufficient_storage"


#: ``errno`` values of a full disk or an exhausted quota.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
#: SQLite's own "database or disk is full" (``sqlite3`` errors carry no errno).
SQLITE_FULL = 13


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc``, or an exception it was raised from, is a full disk or quota."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in DISK_FULL_ERRNOS:
            return True
        if getattr(current, "sqlite_errorcode", None) == SQLITE_FULL:
            return True
        current = current.__cause__ or current.__context__
    return False


@contextlib.contextmanager
def disk_full_is_clear(doing: str, kept: str) -> Iterator[None]:
    """Turn a full disk met inside the block into :class:`InsufficientStorage`, one line
    saying what was being done (``doing``: "exporting the job") and what was kept
    (``kept``: "the previous job folder is unchanged"), with no path in it."""
    try:
        yield
    except InsufficientStorage:
        raise
    except Exception as exc:
        if not disk_full(exc):
            raise
        raise InsufficientStorage(
            f"No space left on the disk while {doing}; {kept}. Free some space and try again."
        ) from exc


def field_problems(exc: ValidationError) -> list[FieldError]:
    """Each problem of a pydantic validation error with the field it is about, named by
    its dotted path in the request (``deployment.schedule``, ``include.0``), told as a
    sentence for people. Problems with the request as a whole (not JSON, not an object)
    name no field and are left out (:func:`invalid_request` says them)."""
    from .api.models import FieldError

    return [
        FieldError(field=name, message=_sentence(_problem(error)))
        for error in exc.errors(include_url=False)
        if (name := _dotted(error["loc"]))
    ]


def invalid_request(
    exc: ValidationError,
    what: str = "Field",
    *,
    code: str = "invalid_body",
    whole: str = "The request body",
) -> InvalidInput:
    """The 400 for a request that does not fit its model: ``message`` says every problem
    ("Field 'deployment.schedule': ..."; ``what`` names the kind of field, ``whole`` the
    request part when a problem names no field) and ``fields`` lists them by field."""
    parts = []
    for error in exc.errors(include_url=False):
        name = _dotted(error["loc"])
        if not name:
            parts.append(f"{whole}: {_sentence(_problem(error))}")
        elif error["type"] == "missing":
            parts.append(f"{what} '{name}' is required.")
        elif error["type"] == "extra_forbidden":
            parts.append(f"{what} '{name}' is not known.")
        else:
            parts.append(f"{what} '{name}': {_sentence(_problem(error))}")
    return InvalidInput(" ".join(parts), code=code, fields=field_problems(exc))


def _dotted(loc: tuple[int | str, ...]) -> str:
    """A field's location as a dotted name; pydantic's ``[key]`` marker of a mapping's
    key (the key itself is the previous part) is left out."""
    return ".".join(str(part) for part in loc if part != "[key]")


def _problem(error: ErrorDetails) -> str:
    """What is wrong, without pydantic's "Value error, " kind of prefix."""
    kind = error["type"]
    if kind == "missing":
        return "Required."
    if kind == "extra_forbidden":
        return "Not a known field."
    if kind in ("value_error", "assertion_error") and "error" in error.get("ctx", {}):
        return str(error["ctx"]["error"])
    return str(error["msg"])


def _sentence(text: str) -> str:
    """``text`` as a sentence: capital first letter, closing full stop."""
    text = text.strip()
    if not text:
        return "Not valid."
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def option_errors(exc: ValidationError, names: Mapping[str, str] | None = None) -> str:
    """A pydantic error on command-line values, told in terms of the options: one
    ``--option: problem`` per mistake; ``names`` maps a field to its option's name."""
    parts = []
    for error in exc.errors():
        field = "_".join(str(p) for p in error["loc"] if isinstance(p, str))
        option = "--" + (names or {}).get(field, field).replace("_", "-")
        parts.append(f"{option}: {_problem(error)}")
    return "; ".join(parts)


def reason(exc: BaseException, limit: int = 300) -> str:
    """Why ``exc`` happened, on one line, for a message: an ``OSError`` says only its
    reason ("File name too long"), never the file names it carries (server paths); any
    other exception its message's first line."""
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    else:
        text = str(getattr(exc, "message", None) or exc).strip()
        text = text.splitlines()[0] if text else ""
    return shorten(text, limit) or type(exc).__name__


def shorten(text: object, limit: int = 300) -> str:
    """``text`` on one line (white space folded) and at most ``limit`` characters."""
    folded = " ".join(str(text).split())
    return folded if len(folded) <= limit else folded[: limit - 3] + "..."


def without_root(text: str, root: Path) -> str:
    """``text`` with the server root's absolute path made relative: paths below it as
    the client names them (``data/x.csv``), the root itself as ``.``. The server's
    answers never show where the project lives on the server's disk."""
    for form in sorted({str(root), str(root.resolve())}, key=len, reverse=True):
        if form == "/":
            continue
        text = re.sub(re.escape(form) + r"(?:/|(?![\w-]|\.\w))", _root_part, text)
    return text


def _root_part(match: re.Match[str]) -> str:
    return "" if match.group(0).endswith("/") else "."
