"""The type model: the few types a parameter can have, and where a type comes from.

A :class:`ParamType` is a JSON kind with, for lists and dicts, the type of their elements,
whether None is allowed, and the allowed values of a ``Literal``. It comes from a Python
annotation (:func:`parse_type`) or, without one, from the default (:func:`type_of_value`),
and reads as Python text (:meth:`ParamType.python_text`) or in words for messages
(:meth:`ParamType.describe`). Types are deliberately few: what JSON, YAML, papermill and
every target engine can carry.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, replace
from typing import Any, Literal

from ...errors import InvalidInput
from .problems import show

Kind = Literal["integer", "number", "string", "boolean", "array", "object", "any"]

#: The kinds JSON Schema's ``type`` keyword can name (all but ``any``, which has no keyword).
JSON_KINDS: tuple[Kind, ...] = ("integer", "number", "string", "boolean", "array", "object")

_SCALARS: dict[str, Kind] = {
    "int": "integer",
    "float": "number",
    "str": "string",
    "bool": "boolean",
}
_PYTHON_NAMES: dict[Kind, str] = {v: k for k, v in _SCALARS.items()}
_LIST_NAMES = {"list", "List", "tuple", "Tuple", "Sequence"}
_DICT_NAMES = {"dict", "Dict", "Mapping"}
_SUPPORTED = "int, float, str, bool, list, dict, Literal, Any and Optional of these"


@dataclass(frozen=True)
class ParamType:
    """A parameter's type: a JSON kind, the element (array) or value (object) type, whether
    None is allowed, and the allowed values of a ``Literal``."""

    kind: Kind
    items: ParamType | None = None
    nullable: bool = False
    choices: tuple[Any, ...] | None = None

    def python_text(self) -> str:
        """The type as a Python annotation, for people and for generated Python code."""
        if self.kind == "any":
            return "Any"
        if self.choices is not None:
            text = f"Literal[{', '.join(repr(c) for c in self.choices)}]"
        elif self.kind in ("array", "object"):
            text = "list" if self.kind == "array" else "dict"
            if self.items is not None:
                inner = self.items.python_text()
                text += f"[{inner}]" if self.kind == "array" else f"[str, {inner}]"
        else:
            text = _PYTHON_NAMES[self.kind]
        return f"{text} | None" if self.nullable else text

    def describe(self, plural: bool = False) -> str:
        """The type in words, for messages: "an integer", "a list of integers or null"."""
        if self.kind == "any":
            return "JSON values" if plural else "a JSON value"
        if self.choices is not None:
            text = "one of " + ", ".join(show(c) for c in self.choices)
        else:
            text = _NOUNS[self.kind][1 if plural else 0]
            if self.items is not None:
                joiner = " of " if self.kind == "array" else " with values that are "
                text += joiner + self.items.describe(plural=True)
        return f"{text} or null" if self.nullable else text


_NOUNS: dict[str, tuple[str, str]] = {
    "integer": ("an integer", "integers"),
    "number": ("a number", "numbers"),
    "string": ("a string", "strings"),
    "boolean": ("a boolean (true or false)", "booleans"),
    "array": ("a list", "lists"),
    "object": ("a dict", "dicts"),
}

#: The type of a parameter that takes any JSON value (None included).
ANY = ParamType("any", nullable=True)


def element_type(inner: ParamType) -> ParamType | None:
    """The element type of a list or dict as kept: one that constrains nothing is left out,
    so ``list[Any]`` is ``list``."""
    return None if inner.kind == "any" else inner


def kind_of(value: Any) -> Kind:
    """The JSON kind of a Python value (``any`` for None and anything JSON cannot carry)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "any"


def type_of_value(value: Any) -> ParamType:
    """The type of a default without annotation: its Python type, nothing guessed beyond it
    (``[64, 32]`` is a ``list``, not a ``list[int]``; annotate to be stricter); ``None`` alone
    says nothing, so such a parameter takes any JSON value."""
    if value is None:
        return ANY
    return ParamType(kind_of(value))


# -- Python annotations ---------------------------------------------------------------------
class _Unsupported(Exception):
    """An annotation names a type export cannot pass; the message says what it is."""


def parse_type(text: str) -> ParamType:
    """The :class:`ParamType` of a Python annotation written as text (``"list[int] | None"``);
    :class:`InvalidInput` when it is not one of the types export can pass."""
    try:
        return _annotation_type(ast.parse(text.strip(), mode="eval").body)
    except SyntaxError:
        raise InvalidInput(f"'{text}' is not a Python type annotation") from None
    except _Unsupported as exc:
        raise InvalidInput(f"type '{text}' is not supported ({exc}); use {_SUPPORTED}") from None


def _annotation_type(node: ast.expr) -> ParamType:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return parse_type(node.value)  # a quoted annotation: "int"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _union(_union_members(node))
    if isinstance(node, ast.Subscript):
        return _generic_type(_type_name(node.value), node.slice)
    name = _type_name(node)
    if name in _SCALARS:
        return ParamType(_SCALARS[name])
    if name in _LIST_NAMES:
        return ParamType("array")
    if name in _DICT_NAMES:
        return ParamType("object")
    if name == "Any":
        return ANY
    raise _Unsupported(f"'{ast.unparse(node)}' is not a type export can pass")


def _type_name(node: ast.expr) -> str:
    """``int``, ``typing.List`` and ``t.Optional`` all by their last name."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Constant) and node.value is None:
        return "None"
    raise _Unsupported(f"'{ast.unparse(node)}' is not a type export can pass")


def _generic_type(name: str, argument: ast.expr) -> ParamType:
    args = list(argument.elts) if isinstance(argument, ast.Tuple) else [argument]
    if name in _LIST_NAMES:
        return _list_type(name, args)
    if name in _DICT_NAMES:
        if len(args) != 2 or _type_name(args[0]) != "str":
            raise _Unsupported("dict keys must be str: JSON objects have string keys")
        return ParamType("object", items=element_type(_annotation_type(args[1])))
    if name == "Optional" and len(args) == 1:
        return replace(_annotation_type(args[0]), nullable=True)
    if name == "Union":
        return _union([m for arg in args for m in _union_members(arg)])
    if name == "Literal":
        return _literal_type(args)
    raise _Unsupported(f"'{name}[...]' is not a type export can pass")


def _list_type(name: str, args: list[ast.expr]) -> ParamType:
    """``list[int]``; tuples travel as lists (JSON has no tuples), so ``tuple[int, ...]`` and
    ``tuple[int, int]`` are lists of integers and a mixed tuple is a plain list."""
    last = args[-1] if args else None
    if name in ("tuple", "Tuple") and isinstance(last, ast.Constant) and last.value is Ellipsis:
        args = args[:-1]
    types = [_annotation_type(a) for a in args]
    if not types or any(t != types[0] for t in types):
        return ParamType("array")
    return ParamType("array", items=element_type(types[0]))


def _union_members(node: ast.expr) -> list[ast.expr]:
    """The members of ``A | B | C`` (``[node]`` for anything else)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return [*_union_members(node.left), *_union_members(node.right)]
    return [node]


def _union(members: list[ast.expr]) -> ParamType:
    """``X | None`` and ``Optional[X]`` are a nullable X; ``int | float`` is a number."""
    rest = [m for m in members if not (isinstance(m, ast.Constant) and m.value is None)]
    nullable = len(rest) < len(members)
    types = {_annotation_type(m) for m in rest}
    if types == {ParamType("integer"), ParamType("number")}:
        types = {ParamType("number")}
    if len(types) != 1:
        raise _Unsupported("a union other than X | None or int | float")
    only = types.pop()
    return replace(only, nullable=only.nullable or nullable)


def _literal_type(args: list[ast.expr]) -> ParamType:
    """``Literal["adam", "sgd"]``: a string with allowed values (an ``enum``)."""
    try:
        values = [ast.literal_eval(a) for a in args]
    except ValueError:
        raise _Unsupported("Literal values must be literals") from None
    choices = tuple(v for v in values if v is not None)
    kinds = {kind_of(v) for v in choices}
    if len(kinds) != 1 or not kinds <= {"integer", "number", "string", "boolean"}:
        raise _Unsupported("Literal values must all be ints, all floats, all str or all bool")
    return ParamType(kinds.pop(), nullable=len(choices) < len(values), choices=choices)
