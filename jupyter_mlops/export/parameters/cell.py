"""Reading the parameters cell: the notebook's parameters, without running it.

A notebook's parameters are the literal assignments in its code cell tagged ``parameters``
(papermill's tag). They are read with :mod:`ast`, never executed: export runs in the server,
not in the notebook's kernel, and must not run user code to learn a type. Each assignment
gives a :class:`~.schema.Parameter` with a type (from the annotation, papermill's ``# type:``
comment, or the literal), a default, help text (the comment beside or above it) and its line.
Every mistake in the cell is reported at once, each naming its parameter and line.
"""

from __future__ import annotations

import ast
import difflib
import io
import json
import re
import tokenize
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...errors import InvalidInput
from .problems import InvalidParameters, ParameterProblem, show
from .schema import Parameter, ParameterSchema
from .types import ParamType, parse_type, type_of_value
from .values import LITERAL_ERRORS, Mismatch, convert, json_value

if TYPE_CHECKING:
    # Only for annotations: importing nbformat costs seconds (jsonschema's format checks),
    # and a job validates its parameters with this package before anything else runs.
    import nbformat

#: Papermill's cell tag for the parameters cell.
PARAMETERS_TAG = "parameters"


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
        except Mismatch:
            raise InvalidInput(
                f"{where}: default {show(default)} is not {kind.describe()}, "
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
    except LITERAL_ERRORS:
        raise InvalidInput(
            f"{where} has the default `{cell.segment(node)}`, which is not a literal; export "
            "needs literal defaults (numbers, strings, booleans, None, lists, dicts) to type and "
            "validate parameters before the notebook runs: compute it in a later cell"
        ) from None
    try:
        converted = json_value(value)
    except Mismatch:
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
