"""One check of an export request: every problem at once, each with the field it is about,
and nothing written.

``POST jobs/export/validate`` answers its problems (the export dialog asks as the user
types); ``POST jobs/export`` runs the same check first and refuses the request with them,
so both routes report the same problems the same way. The stages that can be checked
independently are all checked, rather than stopping at the first: the request body (every
field pydantic refuses, each deployment option among them), the notebook (found, readable,
its ``parameters`` cell), the job name and the job folder it leads to, the other paths
(requirements file, included files), and each target. A path leading outside the server's
root is not a problem to list but a refusal (403), answered at once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .. import paths
from ..api.models import FieldError
from ..errors import Forbidden, InvalidInput, MlopsError, invalid_request, without_root
from ..export.exporter import (
    PIPELINES_DIR,
    _included,
    _previous_export,
    derive_name,
)
from ..export.notebook import clean, read_notebook
from ..export.parameters import InvalidParameters, infer_schema
from ..export.targets import target_class
from .models import ExportRequest


@dataclass
class CheckedExport:
    """An export request checked in full: the request, its paths resolved inside the root,
    and every problem found (none: the export may go ahead)."""

    request: ExportRequest | None = None
    notebook: Path | None = None
    out: Path | None = None
    requirements: Path | None = None
    problems: list[FieldError] = field(default_factory=list)
    #: The errors the problems came from, in order (what the export route raises).
    errors: list[MlopsError] = field(default_factory=list)

    def refusal(self) -> MlopsError:
        """The error the export route answers with: the one error found, now listing its
        fields; several errors, one 400 saying them all."""
        if len(self.errors) == 1:
            error = self.errors[0]
            error.fields = list(self.problems)
            return error
        return InvalidInput(
            " ".join(e.message for e in self.errors), code="invalid_export", fields=self.problems
        )


def check_export(root: Path, body: bytes | str) -> CheckedExport:
    """Every problem of the export request ``body`` (JSON), each with its field. Raises
    only for a body that is not a JSON object (400) and for a path leading outside
    ``root`` (:class:`~jupyter_mlops.errors.Forbidden`, 403)."""
    root = root.resolve()
    found = CheckedExport()
    request, bad = _parse(body, found, root)
    if request is None:
        return found
    found.request = request
    collect = _Collector(found, root)

    notebook = None
    if "notebook" not in bad:
        with collect("notebook"):
            notebook = paths.inside_root(root, request.notebook, "notebook", field="notebook")
        if notebook is not None:
            found.notebook = notebook
            with collect("notebook"):
                cleaned = clean(read_notebook(notebook), notebook.parent)
                infer_schema(cleaned.notebook)

    if notebook is not None and "name" not in bad and "out" not in bad:
        name = request.name or derive_name(notebook.stem)
        default = notebook.parent / PIPELINES_DIR / name
        given = request.out or os.path.relpath(default, root)
        with collect("out"):
            found.out = paths.inside_root(root, given, "job folder", False, field="out")
        if found.out is not None:
            where = "out" if request.out else "name"
            with collect(where, _folder_taken(where, name)):
                _previous_export(found.out, notebook.resolve())

    if request.requirements and "requirements" not in bad:
        with collect("requirements"):
            found.requirements = paths.inside_root(
                root, request.requirements, "requirements file", field="requirements"
            )

    if notebook is not None and "include" not in bad:
        for i, include in enumerate(request.include):
            with collect(f"include.{i}"):
                beside = os.path.relpath(notebook.parent / include, root)
                paths.inside_root(root, beside, "included path", field=f"include.{i}")
                _included(notebook.parent, include)

    if "targets" not in bad:
        seen: set[str] = set()
        for i, target in enumerate(request.targets):
            if target in seen:
                continue
            seen.add(target)
            with collect(f"targets.{i}"):
                target_class(target)
    return found


def _parse(
    body: bytes | str, found: CheckedExport, root: Path
) -> tuple[ExportRequest | None, set[str]]:
    """The request, its refused fields left out (their defaults in their place), and the
    top-level fields refused; pydantic's problems go to ``found``."""
    try:
        return ExportRequest.model_validate_json(body or b"{}"), set()
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if any(not error["loc"] for error in errors):
            raise invalid_request(exc, "Field", code="invalid_body") from None
        refusal = invalid_request(exc, "Field", code="invalid_body")
        found.errors.append(refusal)
        found.problems.extend(_without_root(p, root) for p in refusal.fields or [])
        raw: dict[str, Any] = json.loads(body or b"{}")
        bad: set[str] = set()
        for error in errors:
            head = str(error["loc"][0])
            deployment = raw.get("deployment")
            if head == "deployment" and len(error["loc"]) > 1 and isinstance(deployment, dict):
                deployment.pop(str(error["loc"][1]), None)
            else:
                raw.pop(head, None)
                bad.add(head)
        if "notebook" in bad:
            raw["notebook"] = "."  # not looked at: the notebook's problem is said already
        try:
            return ExportRequest.model_validate(raw), bad
        except ValidationError:
            return None, bad


class _Collector:
    """``with collect(field):`` turns an error of the block into a problem of ``field``
    (the error's own ``Field 'x':`` prefix left out); a refusal (403) goes through."""

    def __init__(self, found: CheckedExport, root: Path) -> None:
        self.found = found
        self.root = root

    @contextmanager
    def __call__(
        self, name: str, reword: Callable[[MlopsError], str | None] | None = None
    ) -> Iterator[None]:
        try:
            yield
        except Forbidden:
            raise
        except InvalidParameters as exc:
            self.found.errors.append(exc)
            for detail in exc.details:
                self._add(name, detail.message)
        except MlopsError as exc:
            self.found.errors.append(exc)
            self._add(name, (reword(exc) if reword else None) or exc.message)

    def _add(self, name: str, message: str) -> None:
        self.found.problems.append(
            _without_root(FieldError(field=name, message=_sentence(name, message)), self.root)
        )


def _folder_taken(where: str, name: str) -> Callable[[MlopsError], str | None]:
    """A job folder export would not replace, told in terms of the field that leads there:
    the job name's own folder (``pipelines/NAME``), or the ``out`` given."""

    def reword(exc: MlopsError) -> str | None:
        if where != "name":
            return None
        if "would hold the notebook" in exc.message:
            return f"The job folder {PIPELINES_DIR}/{name} would hold the notebook itself."
        return (
            f"The folder {PIPELINES_DIR}/{name} beside the notebook exists and is not a job "
            "folder; export will not replace it: choose another job name."
        )

    return reword


def _sentence(name: str, message: str) -> str:
    """``message`` without the ``Field 'name': `` it may start with, as a sentence."""
    prefix = f"Field '{name}': "
    if message.startswith(prefix):
        message = message[len(prefix) :]
    message = message.strip()
    if not message:
        return "Not valid."
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


def _without_root(problem: FieldError, root: Path) -> FieldError:
    return FieldError(field=problem.field, message=without_root(problem.message, root))
