"""The one parameter schema of an exported job.

A notebook's parameters are the literal assignments in its code cell tagged ``parameters``
(papermill's tag). They are read with :mod:`ast`, never executed: export runs in the server,
not in the notebook's kernel, and must not run user code to learn a type. Each assignment
gives a :class:`Parameter` with a type (from the annotation, papermill's ``# type:`` comment,
or the literal), a default, help text (the comment beside or above it) and its line.

The :class:`ParameterSchema` is written into the job folder as JSON Schema (draft 2020-12,
``parameters.schema.json``), so every engine (CLI flags, Kubernetes args, Argo/KFP inputs,
Airflow Params) is generated from one description. Every entry point calls :func:`validate`
(and :func:`parse_cli_value` for text) before any kernel starts, so a wrong value is refused
with a message naming the parameter, and the values papermill injects keep their types: an
int stays an int, a list stays a list, a string with quotes in it arrives intact.

Types are deliberately few: what JSON, YAML, papermill and every target engine can carry.
"""

from __future__ import annotations

import ast
import copy
import difflib
import io
import json
import numbers
import re
import tokenize
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import yaml

from ..errors import InvalidInput, reason

if TYPE_CHECKING:
    # Only for annotations: importing nbformat costs seconds (jsonschema's format checks),
    # and a job validates its parameters with this module before anything else runs.
    import nbformat

#: Papermill's cell tag for the parameters cell.
PARAMETERS_TAG = "parameters"
#: Name of the schema file in a job folder.
SCHEMA_FILE = "parameters.schema.json"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: Key of our JSON Schema extension (Python type text, source line).
EXTENSION = "x-jupyter-mlops"
SCHEMA_VERSION = 1

Kind = Literal["integer", "number", "string", "boolean", "array", "object", "any"]

_SCALARS: dict[str, Kind] = {
    "int": "integer",
    "float": "number",
    "str": "string",
    "bool": "boolean",
}
_PYTHON_NAMES: dict[Kind, str] = {v: k for k, v in _SCALARS.items()}
_LIST_NAMES = {"list", "List", "tuple", "Tuple", "Sequence"}
_DICT_NAMES = {"dict", "Dict", "Mapping"}
_JSON_KINDS: tuple[Kind, ...] = ("integer", "number", "string", "boolean", "array", "object")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_NULL_TEXTS = {"null", "none"}
_SUPPORTED = "int, float, str, bool, list, dict, Literal, Any and Optional of these"
_MAX_SHOWN = 60


@dataclass(frozen=True)
class ParameterProblem:
    """One mistake and the parameter it is about (``None``: no single parameter, such as a
    line of the parameters cell that assigns several names at once)."""

    parameter: str | None
    message: str


class InvalidParameters(InvalidInput):
    """One or more parameter values (or a parameters cell) are wrong. :attr:`details` keeps
    each mistake with the parameter it names, so a caller can show it beside that parameter
    (the API's error body lists them); the message joins them with ``separator``, so the
    user sees every mistake at once instead of fixing them one run at a time."""

    code = "invalid_parameters"

    def __init__(
        self, problems: Iterable[str | ParameterProblem], *, separator: str = "\n"
    ) -> None:
        self.details = [
            p if isinstance(p, ParameterProblem) else ParameterProblem(None, p) for p in problems
        ]
        super().__init__(separator.join(p.message for p in self.details))

    @property
    def problems(self) -> list[str]:
        """One line per mistake (what the CLI prints)."""
        return [p.message for p in self.details]

    def to_json(self) -> dict[str, Any]:
        return {
            **super().to_json(),
            "parameters": [{"parameter": p.parameter, "message": p.message} for p in self.details],
        }


# -- types ----------------------------------------------------------------------------------
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

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema keywords for this type (``{}`` accepts any JSON value)."""
        if self.kind == "any":
            return {}
        out: dict[str, Any] = {"type": [self.kind, "null"] if self.nullable else self.kind}
        if self.items is not None:
            out["items" if self.kind == "array" else "additionalProperties"] = (
                self.items.json_schema()
            )
        if self.choices is not None:
            out["enum"] = [*self.choices, None] if self.nullable else list(self.choices)
        return out

    def describe(self, plural: bool = False) -> str:
        """The type in words, for messages: "an integer", "a list of integers or null"."""
        if self.kind == "any":
            return "JSON values" if plural else "a JSON value"
        if self.choices is not None:
            text = "one of " + ", ".join(_show(c) for c in self.choices)
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

ANY = ParamType("any", nullable=True)


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
        return _union([*_union_members(node.left), *_union_members(node.right)])
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
        return ParamType("object", items=_element(_annotation_type(args[1])))
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
    return ParamType("array", items=_element(types[0]))


def _element(inner: ParamType) -> ParamType | None:
    """Element types that constrain nothing are left out: ``list[Any]`` is ``list``."""
    return None if inner.kind == "any" else inner


def _union_members(node: ast.expr) -> list[ast.expr]:
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
    kinds = {_kind_of(v) for v in choices}
    if len(kinds) != 1 or not kinds <= {"integer", "number", "string", "boolean"}:
        raise _Unsupported("Literal values must all be ints, all floats, all str or all bool")
    return ParamType(kinds.pop(), nullable=len(choices) < len(values), choices=choices)


def _kind_of(value: Any) -> Kind:
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
    return ParamType(_kind_of(value))


# -- checking and converting values ---------------------------------------------------------
class _Mismatch(Exception):
    """A value does not fit a type. ``path`` locates the offending part of a nested value
    (``[1]['k']``) and ``part`` is that part."""

    def __init__(self, path: str = "", part: Any = None) -> None:
        super().__init__(path)
        self.path = path
        self.part = part


def convert(kind: ParamType, value: Any) -> Any:
    """``value`` as the type says, or :class:`_Mismatch`. Ints become floats where a number is
    expected; a bool is never an int nor an int a bool; tuples become lists; nothing else is
    changed (in particular no text is parsed: that is :func:`parse_cli_value`'s job)."""
    if value is None:
        if kind.nullable:
            return None
        raise _Mismatch()
    converted = _convert_kind(kind, value)
    if kind.choices is not None and converted not in kind.choices:
        raise _Mismatch()
    return converted


def _convert_kind(kind: ParamType, value: Any) -> Any:
    if kind.kind == "any":
        return _json_value(value)
    if kind.kind == "array":
        if not isinstance(value, list | tuple):
            raise _Mismatch()
        return [_nested(kind.items, item, f"[{i}]") for i, item in enumerate(value)]
    if kind.kind == "object":
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise _Mismatch()
        return {k: _nested(kind.items, v, f"[{k!r}]") for k, v in value.items()}
    return _convert_scalar(kind.kind, value)


def _nested(kind: ParamType | None, value: Any, where: str) -> Any:
    try:
        return convert(kind or ANY, value)
    except _Mismatch as exc:
        raise _Mismatch(where + exc.path, value if not exc.path else exc.part) from None


def _convert_scalar(kind: Kind, value: Any) -> Any:
    if isinstance(value, bool):
        if kind == "boolean":
            return value
        raise _Mismatch()
    if kind == "integer" and isinstance(value, numbers.Integral):
        return int(value)
    if kind == "number" and isinstance(value, numbers.Real):
        try:
            return float(value)
        except OverflowError:
            raise _Mismatch() from None
    if kind == "string" and isinstance(value, str):
        return value
    raise _Mismatch()


def _json_value(value: Any) -> Any:
    """Any value JSON (and so every engine) can carry, tuples as lists."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    kind = _kind_of(value)
    if kind == "any":
        raise _Mismatch()
    return _convert_kind(ParamType(kind), value)


def _show(value: Any) -> str:
    """A value as a message shows it: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _mismatch_message(name: str, kind: ParamType, value: Any, exc: _Mismatch) -> str:
    text = f"parameter '{name}' expects {kind.describe()}, got {_show(value)}"
    if exc.path:
        text += f" ({name}{exc.path} is {_show(exc.part)})"
    return text


# -- the schema -----------------------------------------------------------------------------
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
        prop = {**self.type.json_schema(), "default": copy.deepcopy(self.default)}
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


def _parameter_from_json(name: str, prop: Any) -> Parameter:
    where = f"parameter '{name}' in the schema"
    if not isinstance(prop, Mapping):
        raise InvalidInput(f"{where} must be an object")
    if "default" not in prop:
        raise InvalidInput(f"{where} has no default; every parameter needs one")
    kind = _type_from_json(prop, where)
    extension = prop.get(EXTENSION) or {}
    python_type = extension.get("python_type") if isinstance(extension, Mapping) else None
    if python_type is not None and parse_type(str(python_type)) != kind:
        raise InvalidInput(
            f"{where} says type {kind.python_text()} but {EXTENSION} says {python_type}"
        )
    try:
        default = convert(kind, prop["default"])
    except _Mismatch as exc:
        message = _mismatch_message(name, kind, prop["default"], exc)
        raise InvalidInput(f"{where}: default does not fit its type: {message}") from None
    line = extension.get("line") if isinstance(extension, Mapping) else None
    help_text = prop.get("description", "")
    return Parameter(name, kind, default, str(help_text), line if isinstance(line, int) else None)


def _type_from_json(prop: Mapping[str, Any], where: str) -> ParamType:
    """The type described by the JSON Schema keywords ``type``, ``items``,
    ``additionalProperties`` and ``enum``."""
    declared = prop.get("type")
    if declared is None:
        return ANY
    names = [declared] if isinstance(declared, str) else list(declared)
    nullable = "null" in names
    names = [n for n in names if n != "null"]
    if len(names) != 1 or names[0] not in _JSON_KINDS:
        raise InvalidInput(f"{where} has type {declared!r}; expected one of {_JSON_KINDS}")
    kind = cast(Kind, names[0])
    items = None
    inner = prop.get("items" if kind == "array" else "additionalProperties")
    if kind in ("array", "object") and isinstance(inner, Mapping):
        items = _element(_type_from_json(inner, where))
    choices = None
    if isinstance(prop.get("enum"), list):
        choices = tuple(v for v in prop["enum"] if v is not None)
    return ParamType(kind, items, nullable, choices)


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


# -- inference from the notebook ------------------------------------------------------------
def infer_schema(notebook: nbformat.NotebookNode) -> ParameterSchema:
    """The parameters of a notebook: those of its code cell tagged ``parameters``, or none.
    Two such cells are refused: papermill would inject after the first and silently let the
    second overwrite the injected values."""
    tagged = [
        (number, cell)
        for number, cell in enumerate(notebook.get("cells", []), start=1)
        if cell.get("cell_type") == "code"
        and PARAMETERS_TAG in (cell.get("metadata", {}).get("tags") or [])
    ]
    if not tagged:
        return ParameterSchema()
    if len(tagged) > 1:
        cells = " and ".join(_cell_label(number, cell) for number, cell in tagged)
        raise InvalidInput(
            f"{len(tagged)} cells are tagged '{PARAMETERS_TAG}': {cells}; keep the tag on one cell"
        )
    return schema_from_source(_cell_source(tagged[0][1]))


def _cell_source(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _cell_label(number: int, cell: Mapping[str, Any]) -> str:
    first = next((line.strip() for line in _cell_source(cell).splitlines() if line.strip()), "")
    first = first if len(first) <= 30 else first[:27] + "..."
    return f"cell {number} ({first!r})" if first else f"cell {number} (empty)"


def schema_from_source(source: str) -> ParameterSchema:
    """The parameters assigned in the source of a parameters cell. Every mistake in the cell
    is reported at once, one line each."""
    if not _writable(source):
        raise InvalidInput(
            "the parameters cell holds a lone surrogate (half of a UTF-16 pair), which is not "
            "text Python or a UTF-8 file can hold"
        )
    cell = _Cell(source)
    try:
        tree = ast.parse(cell.python)
    except SyntaxError as exc:
        line = cell.original_line(exc.lineno or 1)
        raise InvalidInput(
            f"the parameters cell is not valid Python: line {line}: {exc.msg}"
        ) from None
    found: dict[str, Parameter] = {}
    problems: list[ParameterProblem] = []
    for statement in tree.body:
        try:
            for parameter in _parameters_of(statement, cell):
                found.pop(parameter.name, None)  # a later assignment wins, as when run
                found[parameter.name] = parameter
        except InvalidParameters as exc:
            problems += exc.details
        except InvalidInput as exc:
            problems.append(ParameterProblem(None, exc.message))
    if problems:
        raise InvalidParameters(problems)
    return ParameterSchema(tuple(found.values()))


class _Cell:
    """A parameters cell as plain Python, with its comments and the way back to its lines.

    IPython's own transformers turn ``%magic``, ``!cmd``, ``x = !cmd`` and ``obj?`` into calls
    (so a magic line is passed over and ``x = !ls`` is a non-literal default); they know about
    strings that span lines, which a line-by-line filter would not. They join a
    backslash-continued magic into one line, so lines are mapped back to the cell's own."""

    _TYPE_COMMENT = re.compile(r"type:\s*(?P<type>[^\s#]+)\s*(?P<help>.*)$")

    def __init__(self, source: str) -> None:
        self.python = _without_magics(source)
        self._lines = _python_lines(self.python)
        self._line_map = _line_map(_python_lines(source), self._lines)
        #: line -> (comment text without '#', whether the line holds only the comment)
        self._comments: dict[int, tuple[str, bool]] = {}
        readline = io.StringIO(self.python).readline
        try:
            for token in tokenize.generate_tokens(readline):
                if token.type == tokenize.COMMENT:
                    row, col = token.start
                    alone = not self._lines[row - 1][:col].strip()
                    self._comments[row] = (token.string.lstrip("#").strip(), alone)
        except (tokenize.TokenError, SyntaxError):
            pass  # ast reports the syntax error; comments up to it are all there are

    def original_line(self, line: int) -> int:
        """The cell's line (1-based) for a line of :attr:`python`."""
        return self._line_map.get(line, line)

    def segment(self, node: ast.expr) -> str:
        return ast.get_source_segment(self.python, node) or ast.unparse(node)

    def help_for(self, statement: ast.stmt) -> tuple[str, str]:
        """``(help, type comment)``: the comment after the statement on its first or last
        line, else the comment lines directly above it. A trailing ``# type: int`` comment
        gives the type, as papermill reads it; the rest of that comment is the help."""
        last = statement.end_lineno or statement.lineno
        for line in (statement.lineno, last):
            comment = self._comments.get(line)
            if comment and not comment[1]:
                return self._split_type(comment[0])
        above: list[str] = []
        line = statement.lineno - 1
        while line in self._comments and self._comments[line][1]:
            above.insert(0, self._comments[line][0])
            line -= 1
        return " ".join(t for t in above if t), ""

    def _split_type(self, comment: str) -> tuple[str, str]:
        match = self._TYPE_COMMENT.match(comment)
        if match is None or match["type"] == "ignore":
            return comment, ""
        return match["help"].strip(), match["type"]


def _python_lines(text: str) -> list[str]:
    """Lines as Python counts them (``\\n``, ``\\r\\n``, ``\\r``); ``str.splitlines`` also
    breaks at ``\\x0c``, ``\\x85``, ``\\u2028``... which a comment or a string may hold."""
    lines = re.split(r"\r\n|\r|\n", text)
    return lines[:-1] if lines and not lines[-1] else lines


def _without_magics(source: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        ast.parse(source)
    except (SyntaxError, ValueError):
        pass
    else:
        # Plain Python: nothing for IPython to transform, and its line splitting would cut
        # a comment (the help text) or a string at a form feed or a U+2028.
        return source
    lines = source.splitlines()
    first = next((line.strip() for line in lines if line.strip()), "")
    if first.startswith("%%"):
        raise InvalidInput(
            f"the parameters cell starts with the cell magic {first.split()[0]}; export cannot "
            "read parameters from it: move the magic to another cell"
        )
    leading = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    # IPython drops leading blank lines; keep them out of its way so line numbers hold.
    return "\n" * leading + TransformerManager().transform_cell("\n".join(lines[leading:]))


def _line_map(original: list[str], python: list[str]) -> dict[int, int]:
    """Line of ``python`` -> line of ``original`` (1-based) for the lines left unchanged,
    which are all the lines that can assign a parameter."""
    if len(original) == len(python):
        return {}
    matcher = difflib.SequenceMatcher(None, original, python, autojunk=False)
    return {
        b + i + 1: a + i + 1 for a, b, size in matcher.get_matching_blocks() for i in range(size)
    }


def _parameters_of(statement: ast.stmt, cell: _Cell) -> list[Parameter]:
    """The parameters one top-level statement assigns: ``name = literal`` (also ``a = b =
    literal``) and ``name: annotation = literal``. Other statements (imports, calls, magics,
    assignments to attributes) define no parameter and are passed over."""
    if isinstance(statement, ast.Assign):
        names = [t.id for t in statement.targets if isinstance(t, ast.Name)]
        if any(isinstance(t, ast.Tuple | ast.List) for t in statement.targets):
            raise InvalidInput(
                f"line {cell.original_line(statement.lineno)} of the parameters cell unpacks "
                "several names at once; export needs one parameter per assignment (name = value)"
            )
        return [_parameter(n, None, statement, cell) for n in names]
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return [_parameter(statement.target.id, statement.annotation, statement, cell)]
    return []


def _parameter(
    name: str,
    annotation: ast.expr | None,
    statement: ast.Assign | ast.AnnAssign,
    cell: _Cell,
) -> Parameter:
    """The parameter ``name``; a mistake in its assignment is raised as
    :class:`InvalidParameters` naming it."""
    line = cell.original_line(statement.lineno)
    where = f"parameter '{name}' (line {line} of the parameters cell)"
    try:
        default = _literal_default(where, statement.value, cell)
        help_text, type_comment = cell.help_for(statement)
        kind = _declared_type(where, annotation, type_comment) or type_of_value(default)
        try:
            default = convert(kind, default)
        except _Mismatch:
            raise InvalidInput(
                f"{where}: default {_show(default)} is not {kind.describe()}, "
                f"as its type {kind.python_text()} says"
            ) from None
    except InvalidParameters:
        raise
    except InvalidInput as exc:
        raise InvalidParameters([ParameterProblem(name, exc.message)]) from None
    return Parameter(name, kind, default, help_text, line)


def _literal_default(where: str, node: ast.expr | None, cell: _Cell) -> Any:
    """The default as a value, read with ``ast.literal_eval``: export types and validates
    parameters before any kernel starts, so it cannot run code to learn a default."""
    if node is None:
        raise InvalidInput(f"{where} has no default; export needs one (name: type = value)")
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise InvalidInput(
            f"{where} has the default `{cell.segment(node)}`, which is not a literal; export "
            "needs literal defaults (numbers, strings, booleans, None, lists, dicts) to type and "
            "validate parameters before the notebook runs: compute it in a later cell"
        ) from None
    try:
        converted = _json_value(value)
    except _Mismatch:
        raise InvalidInput(
            f"{where} has the default `{cell.segment(node)}`, which JSON cannot carry; use "
            "numbers, strings, booleans, None, lists, and dicts with string keys"
        ) from None
    if not _writable(json.dumps(converted, ensure_ascii=False)):
        raise InvalidInput(
            f"{where} has the default `{cell.segment(node)}`, which holds a lone surrogate "
            "(half of a UTF-16 pair, such as '\\ud800') that no UTF-8 file can hold"
        )
    return converted


def _writable(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (it holds no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _declared_type(where: str, annotation: ast.expr | None, type_comment: str) -> ParamType | None:
    """The type the author wrote: an annotation, or else papermill's ``# type: X`` comment."""
    if annotation is None and not type_comment:
        return None
    text = ast.unparse(annotation) if annotation is not None else type_comment
    try:
        return parse_type(text)
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc.message}") from None


# -- validating values ----------------------------------------------------------------------
def validate(schema: ParameterSchema, values: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter's value, typed: those given, converted as :func:`convert` says, and
    the defaults for the rest. Unknown names and values of the wrong type are refused, all of
    them in one :class:`InvalidParameters`, before any kernel starts."""
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
        except _Mismatch as exc:
            message = _mismatch_message(parameter.name, parameter.type, value, exc)
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


# -- values given as text -------------------------------------------------------------------
def parse_cli_value(schema: ParameterSchema, name: str, text: str) -> Any:
    """The typed value of ``-p NAME TEXT``. A string parameter takes the text exactly as
    given (quotes, backslashes and all); numbers and booleans are parsed strictly (``5.0`` is
    no integer; booleans are true/false, yes/no, on/off, 1/0); lists and dicts are JSON or
    Python literals; ``null``/``None`` gives None where the type allows it."""
    parameter = schema.get(name)
    try:
        return convert(parameter.type, _from_text(parameter.type, text))
    except _Mismatch as exc:
        message = _mismatch_message(name, parameter.type, text, exc)
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
        raise _Mismatch()
    return value


def _int_text(text: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text):
        raise _Mismatch()
    return int(text)


def _float_text(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise _Mismatch() from None


def _bool_text(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise _Mismatch()


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
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
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
