"""The parameter schema of a job, and its JSON Schema document.

A :class:`ParameterSchema` is the job's parameters in the order the cell assigns them, each
a :class:`Parameter` (name, type, default, help, line). It is written into the job folder as
JSON Schema (draft 2020-12, :data:`SCHEMA_FILE`) and read back from it, so every engine (CLI
flags, Kubernetes args, Argo/KFP inputs, Airflow Params) and the run form are generated from
one description; :func:`validate` checks the values of a run against it.
"""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from ...errors import InvalidInput, reason
from .problems import InvalidParameters, ParameterProblem
from .types import ANY, JSON_KINDS, Kind, ParamType, element_type, parse_type
from .values import Mismatch, convert, mismatch_message

#: Name of the schema file in a job folder.
SCHEMA_FILE = "parameters.schema.json"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: Key of our JSON Schema extension (Python type text, source line).
EXTENSION = "x-jupyter-mlops"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Parameter:
    """One parameter: what the job accepts under ``name``, and where it came from."""

    name: str
    type: ParamType
    default: Any
    help: str = ""
    #: Line of the assignment in the parameters cell (1-based), when known.
    line: int | None = None

    def to_json_schema(self) -> dict[str, Any]:
        prop = {**type_to_json(self.type), "default": copy.deepcopy(self.default)}
        if self.help:
            prop["description"] = self.help
        extension: dict[str, Any] = {"python_type": self.type.python_text()}
        if self.line is not None:
            extension["line"] = self.line
        prop[EXTENSION] = extension
        return prop


@dataclass(frozen=True)
class ParameterSchema:
    """The parameters of a notebook, in the order the cell assigns them."""

    parameters: tuple[Parameter, ...] = field(default_factory=tuple)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self.parameters)

    def __len__(self) -> int:
        return len(self.parameters)

    def __contains__(self, name: object) -> bool:
        return any(p.name == name for p in self.parameters)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    def get(self, name: str) -> Parameter:
        """The parameter called ``name``; :class:`InvalidParameters` naming the known ones."""
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        raise InvalidParameters([ParameterProblem(name, _unknown_message(name, self.names))])

    def defaults(self) -> dict[str, Any]:
        """Every parameter's default (copies: a caller may change them freely)."""
        return {p.name: copy.deepcopy(p.default) for p in self.parameters}

    def to_json_schema(self) -> dict[str, Any]:
        """The schema as JSON Schema (draft 2020-12); no name is required because every
        parameter has a default, and no other name is allowed."""
        return {
            "$schema": JSON_SCHEMA_DIALECT,
            "type": "object",
            "properties": {p.name: p.to_json_schema() for p in self.parameters},
            "additionalProperties": False,
            EXTENSION: {"schema_version": SCHEMA_VERSION},
        }

    @classmethod
    def from_json_schema(cls, document: Mapping[str, Any]) -> ParameterSchema:
        """Read back what :meth:`to_json_schema` wrote, or a hand-written schema of the same
        shape; :class:`InvalidInput` for anything this module could not have written."""
        if not isinstance(document, Mapping) or document.get("type") != "object":
            raise InvalidInput("a parameter schema must be a JSON Schema of type 'object'")
        properties = document.get("properties", {})
        if not isinstance(properties, Mapping):
            raise InvalidInput("the parameter schema's 'properties' must be an object")
        return cls(tuple(_parameter_from_json(n, p) for n, p in properties.items()))


def validate(schema: ParameterSchema, values: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter's value, typed: those given, converted as :func:`.values.convert`
    says, and the defaults for the rest. Unknown names and values of the wrong type are
    refused, all of them in one :class:`InvalidParameters`, before any kernel starts."""
    problems = [
        ParameterProblem(str(n), _unknown_message(str(n), schema.names))
        for n in values
        if n not in schema
    ]
    result: dict[str, Any] = {}
    for parameter in schema:
        if parameter.name not in values:
            result[parameter.name] = copy.deepcopy(parameter.default)
            continue
        value = values[parameter.name]
        try:
            result[parameter.name] = convert(parameter.type, value)
        except Mismatch as exc:
            message = mismatch_message(parameter.name, parameter.type, value, exc)
            problems.append(ParameterProblem(parameter.name, message))
    if problems:
        raise InvalidParameters(problems)
    return result


def _unknown_message(name: str, known: list[str]) -> str:
    if not known:
        return f"unknown parameter '{name}'; the notebook has no parameters"
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown parameter '{name}'{hint}; known: {', '.join(known)}"


# -- JSON Schema keywords of a type, both ways ----------------------------------------------
def type_to_json(kind: ParamType) -> dict[str, Any]:
    """The JSON Schema keywords for a type (``{}`` accepts any JSON value)."""
    if kind.kind == "any":
        return {}
    out: dict[str, Any] = {"type": [kind.kind, "null"] if kind.nullable else kind.kind}
    if kind.items is not None:
        out["items" if kind.kind == "array" else "additionalProperties"] = type_to_json(kind.items)
    if kind.choices is not None:
        out["enum"] = [*kind.choices, None] if kind.nullable else list(kind.choices)
    return out


def type_from_json(prop: Mapping[str, Any], where: str) -> ParamType:
    """The type described by the JSON Schema keywords ``type``, ``items``,
    ``additionalProperties`` and ``enum``; ``where`` names it in the error."""
    declared = prop.get("type")
    if declared is None:
        return ANY
    names = [declared] if isinstance(declared, str) else list(declared)
    nullable = "null" in names
    names = [n for n in names if n != "null"]
    if len(names) != 1 or names[0] not in JSON_KINDS:
        raise InvalidInput(f"{where} has type {declared!r}; expected one of {JSON_KINDS}")
    kind = cast(Kind, names[0])
    items = None
    inner = prop.get("items" if kind == "array" else "additionalProperties")
    if kind in ("array", "object") and isinstance(inner, Mapping):
        items = element_type(type_from_json(inner, where))
    choices = None
    if isinstance(prop.get("enum"), list):
        choices = tuple(v for v in prop["enum"] if v is not None)
    return ParamType(kind, items, nullable, choices)


def _parameter_from_json(name: str, prop: Any) -> Parameter:
    where = f"parameter '{name}' in the schema"
    if not isinstance(prop, Mapping):
        raise InvalidInput(f"{where} must be an object")
    if "default" not in prop:
        raise InvalidInput(f"{where} has no default; every parameter needs one")
    kind = type_from_json(prop, where)
    extension = prop.get(EXTENSION)
    if not isinstance(extension, Mapping):
        extension = {}
    python_type = extension.get("python_type")
    if python_type is not None and parse_type(str(python_type)) != kind:
        raise InvalidInput(
            f"{where} says type {kind.python_text()} but {EXTENSION} says {python_type}"
        )
    try:
        default = convert(kind, prop["default"])
    except Mismatch as exc:
        message = mismatch_message(name, kind, prop["default"], exc)
        raise InvalidInput(f"{where}: default does not fit its type: {message}") from None
    line = extension.get("line")
    help_text = prop.get("description", "")
    return Parameter(name, kind, default, str(help_text), line if isinstance(line, int) else None)


# -- the schema file ------------------------------------------------------------------------
def write_schema(schema: ParameterSchema, folder: str | Path) -> Path:
    """Write ``parameters.schema.json`` into a job folder; the path written."""
    path = Path(folder) / SCHEMA_FILE
    path.write_text(json.dumps(schema.to_json_schema(), indent=2) + "\n", encoding="utf-8")
    return path


def read_schema(path: str | Path) -> ParameterSchema:
    """Read a schema file, or the one in a job folder."""
    path = Path(path)
    if path.is_dir():
        path = path / SCHEMA_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"no parameter schema at {path}") from None
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read the parameter schema {path}: {reason(exc)}") from None
    return ParameterSchema.from_json_schema(document)
