"""``job.json``: what export says of a job folder, as one typed model for every writer and
reader (the exporter writes it; the job runner, the server's job service, the tracker in a
job's kernel and the next export read it).

A dataclass with its own small reader, not a pydantic model: the job runner reads this file
inside the job's image, where pydantic is only there as a dependency of whatever
``mlflow-skinny`` the notebook's kernel pinned (and in the version the notebook's own
requirements choose, 1.x included), and the runner imports nothing it does not need
before the parameters are checked. This module uses the standard library only.

Reading is forgiving where it must be: a ``job.json`` written by an earlier version lacks
fields (they take their defaults: ``experiment`` is the job's name, no pins, no
warnings...), keys a later version adds are ignored, and a pin that cannot be read is left
out and said in :attr:`JobFile.unreadable_pins` (the job runner refuses such a job, the
Jobs view lists it without that pin). What cannot be a job file (not JSON, not an object,
no name or notebook, a field of the wrong type) is :class:`InvalidJobFile`, naming the file
and the field.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, reason
from .datapins import DataPin
from .parameters import SCHEMA_FILE

#: The job file's name in a job folder.
JOB_FILE = "job.json"
#: What :meth:`JobFile.to_json` writes as ``schema_version``.
JOB_SCHEMA_VERSION = 1


class InvalidJobFile(InvalidInput):
    """A ``job.json`` that is not one: its message names the file and what is wrong."""

    code = "invalid_job_file"


@dataclass(frozen=True)
class JobSource:
    """Where the job came from (its lineage): the notebook's path (relative to the git work
    tree, else the project), its SHA-256, and the git commit, dirty state and remote."""

    path: str | None = None
    sha256: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    git_repository: str | None = None


@dataclass(frozen=True)
class JobKernel:
    """The kernel the notebook was exported from: its name, and its Python's version."""

    name: str | None = None
    python: str | None = None


@dataclass(frozen=True)
class WarningDetail:
    """One export warning's code, field and values (beside its text in ``warnings``)."""

    code: str | None = None
    field: str | None = None
    values: dict[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> WarningDetail:
        """The detail ``raw`` gives (an :class:`ExportNotice`'s ``detail()``, an entry of
        ``warning_details``); a part of another type reads as absent, values as text."""
        code, where, values = raw.get("code"), raw.get("field"), raw.get("values")
        return cls(
            code=code if isinstance(code, str) else None,
            field=where if isinstance(where, str) else None,
            values={str(k): str(v) for k, v in values.items()}
            if isinstance(values, Mapping)
            else {},
        )


@dataclass(frozen=True)
class JobFile:
    """The content of ``job.json``."""

    name: str
    notebook: str
    #: The MLflow experiment the job records its runs in (read: the name when absent).
    experiment: str = ""
    #: The parameter schema's file name in the job folder.
    parameters: str = SCHEMA_FILE
    schema_version: int = JOB_SCHEMA_VERSION
    source: JobSource = dataclasses.field(default_factory=JobSource)
    kernel: JobKernel = dataclasses.field(default_factory=JobKernel)
    targets: tuple[str, ...] = ()
    #: Local files copied beside the notebook, relative to the job folder.
    files: tuple[str, ...] = ()
    #: The DVC-tracked data the notebook reads, pinned to its version.
    data: tuple[DataPin, ...] = ()
    #: The entries export wrote (the next export replaces them and keeps the rest).
    written: tuple[str, ...] = ()
    exported_at: str | None = None
    jupyter_mlops_version: str | None = None
    warnings: tuple[str, ...] = ()
    #: One per warning, in the same order (None: a warning with no code).
    warning_details: tuple[WarningDetail | None, ...] = ()
    #: The pins of the file that could not be read, each with what is wrong (never written).
    unreadable_pins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.experiment:
            object.__setattr__(self, "experiment", self.name)

    # -- reading ------------------------------------------------------------------------------
    @classmethod
    def read(cls, folder: str | Path) -> JobFile:
        """The job file of ``folder``. :class:`InvalidJobFile` when it is missing,
        unreadable or not a job file."""
        path = Path(folder) / JOB_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InvalidJobFile(f"{Path(folder)} is not a job folder (no {JOB_FILE})") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidJobFile(f"cannot read {path}: {reason(exc)}") from None
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise InvalidJobFile(f"{path} is not valid JSON: {exc}") from None
        try:
            return cls.from_dict(document)
        except ValueError as exc:
            raise InvalidJobFile(f"{path} is not a valid job file: {exc}") from None

    @classmethod
    def from_dict(cls, document: Any) -> JobFile:
        """The job file ``document`` holds; :class:`ValueError` naming the field that is
        wrong. Missing fields take their defaults, unknown ones are ignored."""
        if not isinstance(document, Mapping):
            raise ValueError(f"it must hold a JSON object, not {_kind(document)}")
        get = _Fields(document)
        pins, unreadable = [], []
        for raw in get.items("data"):
            try:
                pins.append(DataPin.from_dict(raw))
            except ValueError as exc:
                unreadable.append(str(exc))
        source = get.object("source")
        kernel = get.object("kernel")
        return cls(
            name=get.text("name", required=True) or "",
            notebook=get.text("notebook", required=True) or "",
            experiment=get.text("experiment") or "",
            parameters=get.text("parameters") or SCHEMA_FILE,
            schema_version=get.integer("schema_version", JOB_SCHEMA_VERSION),
            source=JobSource(
                path=source.text("path"),
                sha256=source.text("sha256"),
                git_commit=source.text("git_commit"),
                git_dirty=source.flag("git_dirty"),
                git_repository=source.text("git_repository"),
            ),
            kernel=JobKernel(name=kernel.text("name"), python=kernel.text("python")),
            targets=get.texts("targets"),
            files=get.texts("files"),
            data=tuple(pins),
            written=get.texts("written"),
            exported_at=get.text("exported_at"),
            jupyter_mlops_version=get.text("jupyter_mlops_version"),
            warnings=get.texts("warnings"),
            warning_details=tuple(_warning_detail(d) for d in get.items("warning_details")),
            unreadable_pins=tuple(unreadable),
        )

    # -- writing ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "name": self.name,
            "experiment": self.experiment,
            "notebook": self.notebook,
            "parameters": self.parameters,
            "source": {
                "path": self.source.path,
                "sha256": self.source.sha256,
                "git_commit": self.source.git_commit,
                "git_dirty": self.source.git_dirty,
                "git_repository": self.source.git_repository,
            },
            "kernel": {"name": self.kernel.name, "python": self.kernel.python},
            "targets": list(self.targets),
            "files": list(self.files),
            "data": [pin.to_dict() for pin in self.data],
            "written": list(self.written),
            "exported_at": self.exported_at,
            "jupyter_mlops_version": self.jupyter_mlops_version,
            "warnings": list(self.warnings),
            "warning_details": [
                None if d is None else {"code": d.code, "field": d.field, "values": d.values}
                for d in self.warning_details
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def details(self) -> list[WarningDetail]:
        """Each warning's detail, in the order of :attr:`warnings` (none for a warning
        without one, or from a job file older than details)."""
        given = self.warning_details
        return [
            (given[i] if i < len(given) else None) or WarningDetail()
            for i in range(len(self.warnings))
        ]


# -- reading helpers --------------------------------------------------------------------------
class _Fields:
    """Typed access to an object's fields: a field absent or null is its default; one of
    another type is a :class:`ValueError` naming it."""

    def __init__(self, document: Mapping[str, Any], prefix: str = "") -> None:
        self.document = document
        self.prefix = prefix

    def _value(self, key: str, expected: str, required: bool = False) -> Any:
        value = self.document.get(key)
        if value is None and required:
            raise ValueError(f"'{self.prefix}{key}' is missing (it must be {expected})")
        return value

    def _wrong(self, key: str, expected: str, value: Any) -> ValueError:
        return ValueError(f"'{self.prefix}{key}' must be {expected}, not {_kind(value)}")

    def text(self, key: str, required: bool = False) -> str | None:
        value = self._value(key, "a string", required)
        if value is not None and not isinstance(value, str):
            raise self._wrong(key, "a string", value)
        return value

    def integer(self, key: str, default: int) -> int:
        value = self._value(key, "an integer")
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._wrong(key, "an integer", value)
        return value

    def flag(self, key: str) -> bool | None:
        value = self._value(key, "true or false")
        if value is not None and not isinstance(value, bool):
            raise self._wrong(key, "true or false", value)
        return value

    def items(self, key: str) -> Sequence[Any]:
        value = self._value(key, "a list")
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._wrong(key, "a list", value)
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.items(key)
        for item in value:
            if not isinstance(item, str):
                raise ValueError(f"'{self.prefix}{key}' must hold strings, not {_kind(item)}")
        return tuple(value)

    def object(self, key: str) -> _Fields:
        value = self._value(key, "an object")
        if value is None:
            return _Fields({}, f"{self.prefix}{key}.")
        if not isinstance(value, Mapping):
            raise self._wrong(key, "an object", value)
        return _Fields(value, f"{self.prefix}{key}.")


def _warning_detail(raw: Any) -> WarningDetail | None:
    """A warning's detail; what is not one (hand-edited) reads as none, as the warning's
    text is what matters."""
    return WarningDetail.from_dict(raw) if isinstance(raw, Mapping) else None


def _kind(value: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "true or false",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)
