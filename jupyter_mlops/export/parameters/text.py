"""Values given as text: ``-p NAME VALUE`` (the CLI, the job runner, and the container
arguments every engine passes) and parameters files (JSON or YAML).

Text is parsed as the parameter's type asks (a string parameter takes the text exactly as
given; numbers and booleans are parsed strictly; lists and dicts are JSON or Python
literals), then checked with :func:`.values.convert`, so a value typed at a shell arrives in
the notebook with the same type as one given in JSON.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from ...errors import InvalidInput, reason
from .problems import InvalidParameters, ParameterProblem
from .schema import ParameterSchema
from .types import ParamType
from .values import LITERAL_ERRORS, Mismatch, convert, mismatch_message

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_NULL_TEXTS = {"null", "none"}


def parse_cli_value(schema: ParameterSchema, name: str, text: str) -> Any:
    """The typed value of ``-p NAME TEXT``. A string parameter takes the text exactly as
    given (quotes, backslashes and all); numbers and booleans are parsed strictly (``5.0`` is
    no integer; booleans are true/false, yes/no, on/off, 1/0); lists and dicts are JSON or
    Python literals; ``null``/``None`` gives None where the type allows it."""
    parameter = schema.get(name)
    try:
        return convert(parameter.type, _from_text(parameter.type, text))
    except Mismatch as exc:
        message = mismatch_message(name, parameter.type, text, exc)
        raise InvalidParameters([ParameterProblem(name, message)]) from None


def parse_cli_values(schema: ParameterSchema, pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """All ``-p NAME TEXT`` pairs typed (a later one wins), every mistake in one error."""
    values: dict[str, Any] = {}
    problems: list[ParameterProblem] = []
    for name, text in pairs:
        try:
            values[name] = parse_cli_value(schema, name, text)
        except InvalidParameters as exc:
            problems += exc.details
    if problems:
        raise InvalidParameters(problems)
    return values


def _from_text(kind: ParamType, text: str) -> Any:
    """Text to a Python value of the kind; the caller checks it with :func:`convert`."""
    if kind.kind == "string":
        return text
    stripped = text.strip()
    if kind.nullable and stripped.lower() in _NULL_TEXTS:
        return None
    if kind.kind == "integer":
        return _int_text(stripped)
    if kind.kind == "number":
        return _float_text(stripped)
    if kind.kind == "boolean":
        return _bool_text(stripped)
    value = _structured_text(stripped)
    if value is _NOT_PARSED:
        if kind.kind == "any":
            return text  # a bare word for an untyped parameter is a string
        raise Mismatch()
    return value


def _int_text(text: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text):
        raise Mismatch()
    return int(text)


def _float_text(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise Mismatch() from None


def _bool_text(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise Mismatch()


_NOT_PARSED = object()


def _structured_text(text: str) -> Any:
    """JSON first (what engines and shells pass), then a Python literal (what a notebook
    author writes: single quotes, True, None, tuples)."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except LITERAL_ERRORS:
        return _NOT_PARSED


class _ParamsLoader(yaml.SafeLoader):
    """YAML as JSON users expect it: only ``true``/``false`` are booleans (``no`` and ``NO``
    stay strings; a schema-typed boolean parameter is the place for yes/no) and dates stay
    strings, since no parameter type is a date."""


_ParamsLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if not tag.endswith((":bool", ":timestamp"))]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ParamsLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def parse_params_file(path: str | Path) -> dict[str, Any]:
    """The values in a parameters file: JSON for ``.json``, else YAML (which reads JSON too).
    The top level must map names to values; :func:`validate` checks them against a schema."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"parameters file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read the parameters file {path}: {reason(exc)}") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            data = yaml.load(text, Loader=_ParamsLoader)  # noqa: S506 (a safe loader)
    except (ValueError, yaml.YAMLError) as exc:
        detail = " ".join(str(exc).split())
        raise InvalidInput(f"parameters file {path} is not valid JSON or YAML: {detail}") from None
    return _params_mapping(path, data)


def _params_mapping(path: Path, data: Any) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidInput(
            f"parameters file {path} must map parameter names to values, "
            f"not hold {type(data).__name__}"
        )
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise InvalidInput(f"parameters file {path} has names that are not strings: {bad!r}")
    return dict(data)
