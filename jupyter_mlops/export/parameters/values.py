"""Checking and converting values: a Python value as a :class:`~.types.ParamType` says.

:func:`convert` is the one place that decides whether a value fits a type. It parses no text
(that is :mod:`.text`'s job) and knows no parameter names; a value that does not fit raises
:class:`Mismatch`, which :func:`mismatch_message` words for the parameter it was meant for.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

from .problems import show
from .types import ANY, Kind, ParamType, kind_of

#: What ``ast.literal_eval`` raises for text or a node that is not a literal (or too deep).
LITERAL_ERRORS = (ValueError, TypeError, SyntaxError, MemoryError, RecursionError)


class Mismatch(Exception):
    """A value does not fit a type. ``path`` locates the offending part of a nested value
    (``[1]['k']``) and ``part`` is that part."""

    def __init__(self, path: str = "", part: Any = None) -> None:
        super().__init__(path)
        self.path = path
        self.part = part


def convert(kind: ParamType, value: Any) -> Any:
    """``value`` as the type says, or :class:`Mismatch`. Ints become floats where a number is
    expected; a bool is never an int nor an int a bool; tuples become lists; nothing else is
    changed (in particular no text is parsed: that is :func:`.text.parse_cli_value`'s job)."""
    if value is None:
        if kind.nullable:
            return None
        raise Mismatch()
    converted = _convert_kind(kind, value)
    if kind.choices is not None and converted not in kind.choices:
        raise Mismatch()
    return converted


def _convert_kind(kind: ParamType, value: Any) -> Any:
    if kind.kind == "any":
        return json_value(value)
    if kind.kind == "array":
        if not isinstance(value, list | tuple):
            raise Mismatch()
        return [_nested(kind.items, item, f"[{i}]") for i, item in enumerate(value)]
    if kind.kind == "object":
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise Mismatch()
        return {k: _nested(kind.items, v, f"[{k!r}]") for k, v in value.items()}
    return _convert_scalar(kind.kind, value)


def _nested(kind: ParamType | None, value: Any, where: str) -> Any:
    try:
        return convert(kind or ANY, value)
    except Mismatch as exc:
        raise Mismatch(where + exc.path, value if not exc.path else exc.part) from None


def _convert_scalar(kind: Kind, value: Any) -> Any:
    if isinstance(value, bool):
        if kind == "boolean":
            return value
        raise Mismatch()
    if kind == "integer" and isinstance(value, numbers.Integral):
        return int(value)
    if kind == "number" and isinstance(value, numbers.Real):
        try:
            return float(value)
        except OverflowError:
            raise Mismatch() from None
    if kind == "string" and isinstance(value, str):
        return value
    raise Mismatch()


def json_value(value: Any) -> Any:
    """Any value JSON (and so every engine) can carry, tuples as lists; :class:`Mismatch`
    for anything else."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    kind = kind_of(value)
    if kind == "any":
        raise Mismatch()
    return _convert_kind(ParamType(kind), value)


def mismatch_message(name: str, kind: ParamType, value: Any, exc: Mismatch) -> str:
    """What to tell the user when ``value``, given for parameter ``name``, did not fit."""
    text = f"parameter '{name}' expects {kind.describe()}, got {show(value)}"
    if exc.path:
        text += f" ({name}{exc.path} is {show(exc.part)})"
    return text
