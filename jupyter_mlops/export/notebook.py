"""A notebook made into a job's notebook, and what its code needs to run elsewhere.

Export reads the notebook (refusing a malformed one with one line that names the file),
cleans it (cells tagged ``skip-export`` dropped, outputs and execution counts stripped,
``%pip install`` lines taken out because the image installs those packages), and reads the
code with :mod:`ast`, never running it: export runs in the server, not in the kernel.

The code is read as IPython runs it (its own transformers turn magics and ``!`` lines into
calls), so ``import`` statements anywhere, ``%time``/``%%capture``/``%%track`` bodies and
``%run script.py`` count. Imports that resolve to a module or package next to the notebook
are local: they travel with the job (and their own imports are read in turn). String
literals that name existing files or folders relative to the notebook (``open("data.csv")``,
``pd.read_csv("data/train.csv")``, a glob such as ``"data/*.csv"``) travel too, since the
job runs with the job folder as its working directory, as the notebook ran in its own.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import re
import shlex
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput, NotFound, shorten
from ..errors import reason as why
from . import files
from .parameters import PARAMETERS_TAG

if TYPE_CHECKING:
    import nbformat

#: Cells tagged so are exploration: left out of the job.
SKIP_TAG = "skip-export"
#: The kernel the job's notebook names: the one every job image has.
JOB_KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

#: Magics whose argument (line magics) or body (cell magics) is Python run in the kernel.
_PYTHON_MAGICS = {"time", "timeit", "capture", "prun", "track", "debug"}
#: Cell metadata worth keeping in the job's notebook.
_KEPT_CELL_METADATA = ("tags", "jupyter", "name", "title")
_MAX_LITERAL = 1024
_MAX_GLOB_MATCHES = 1000

_PIP_LINE = re.compile(
    r"^(?P<indent>[ \t]*)"
    r"(?:%pip|!\s*(?:(?:\{[^}]*\}|\S*python[\d.]*)\s+-m\s+)?pip[\d.]*)"
    r"\s+install\b(?P<args>.*)$"
)
#: pip options that take a value (the next word, or after "=").
_PIP_VALUE_OPTIONS = frozenset(
    [
        "-r",
        "--requirement",
        "-c",
        "--constraint",
        "-e",
        "--editable",
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "-t",
        "--target",
        "--prefix",
        "--root",
        "--trusted-host",
        "--no-binary",
        "--only-binary",
        "--platform",
        "--python-version",
        "--implementation",
        "--abi",
        "--src",
        "--upgrade-strategy",
        "--progress-bar",
        "--log",
        "--cache-dir",
        "--timeout",
        "--retries",
        "--proxy",
        "--cert",
        "--client-cert",
    ]
)


# -- reading --------------------------------------------------------------------------------
def read_notebook(path: Path) -> nbformat.NotebookNode:
    """The notebook at ``path``, valid against the nbformat schema, or a one-line
    :class:`InvalidInput` (:class:`NotFound` for a missing file) that names the file."""
    import nbformat

    if not path.exists():
        raise NotFound(f"notebook {path} not found")
    if path.is_dir():
        raise InvalidInput(f"{path} is a folder, not a notebook")
    if path.suffix.lower() != ".ipynb":
        raise InvalidInput(f"{path} is not a notebook (expected an .ipynb file)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read the notebook {path}: {why(exc)}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or "cells" not in data:
        raise InvalidInput(f"{path} is not a notebook: it has no 'cells'")
    captured: dict[str, Any] = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nbformat's notes on missing cell ids
            notebook = nbformat.reads(text, as_version=4, capture_validation_error=captured)
    except Exception as exc:  # nbformat raises anything from KeyError to its own errors
        raise InvalidInput(f"{path} is not a notebook: {shorten(exc)}") from None
    error = captured.get("ValidationError")
    if error is not None:
        raise InvalidInput(f"{path} is not a valid notebook: {_validation_text(error)}")
    return notebook


def _validation_text(error: Any) -> str:
    """One line from a jsonschema error: where in the notebook, then what is wrong (without
    the repr of the whole offending value, which can be a whole cell)."""
    parts = list(getattr(error, "absolute_path", []))
    where = ""
    if len(parts) >= 2 and parts[0] == "cells" and isinstance(parts[1], int):
        where = f"cell {parts[1] + 1}"
        parts = parts[2:]
    where = " ".join([where, *(f"'{p}'" for p in parts)]).strip() or "top level"
    message = str(getattr(error, "message", error))
    shown = repr(getattr(error, "instance", None))
    if message.startswith(shown):
        message = "the value" + message[len(shown) :]
    return f"{where}: {shorten(message)}"


# -- cleaning -------------------------------------------------------------------------------
@dataclass
class CleanNotebook:
    """The job's notebook and what cleaning took out of it."""

    notebook: nbformat.NotebookNode
    #: Requirement specifiers from ``%pip install`` / ``!pip install`` lines, in order.
    pip_requirements: list[str] = field(default_factory=list)
    #: Python source of each code cell kept, with its cell number in the original notebook.
    code: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def clean(notebook: nbformat.NotebookNode, folder: Path) -> CleanNotebook:
    """The job's notebook: a copy without ``skip-export`` cells, outputs, execution counts,
    widget state or ``%pip install`` lines, naming the ``python3`` kernel. ``folder`` is the
    notebook's own, where ``%pip install -r FILE`` looks for FILE."""
    result = CleanNotebook(copy.deepcopy(notebook))
    kept = []
    for number, cell in enumerate(result.notebook.cells, start=1):
        tags = cell.get("metadata", {}).get("tags") or []
        if SKIP_TAG in tags:
            if PARAMETERS_TAG in tags:
                raise InvalidInput(
                    f"cell {number} is tagged both '{PARAMETERS_TAG}' and '{SKIP_TAG}'; "
                    "the job needs its parameters cell: remove one of the tags"
                )
            continue
        cell.metadata = {
            k: v for k, v in cell.get("metadata", {}).items() if k in _KEPT_CELL_METADATA
        }
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.source = _take_pip_lines(cell.source, number, folder, result)
            result.code.append((number, cell.source))
        kept.append(cell)
    result.notebook.cells = kept
    metadata = result.notebook.metadata
    for key in ("widgets", "papermill", "execution", "toc", "varInspector"):
        metadata.pop(key, None)
    metadata["kernelspec"] = dict(JOB_KERNELSPEC)
    return result


def _take_pip_lines(source: str, number: int, folder: Path, result: CleanNotebook) -> str:
    """``source`` with its pip install lines commented out (a lone one in an indented block
    becomes ``pass``), their requirements added to ``result``."""
    lines = source.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        logical, end = lines[index], index
        while logical.endswith("\\") and end + 1 < len(lines):
            end += 1
            logical = logical[:-1] + " " + lines[end].strip()
        match = _PIP_LINE.match(logical)
        if match is None:
            out += lines[index : end + 1]
        else:
            where = f"cell {number}: `{shorten(logical.strip(), 80)}`"
            result.pip_requirements += _pip_specs(match["args"], where, folder, result.warnings)
            indent = match["indent"]
            note = "  # installed in the job's image by jupyter-mlops"
            first = f"{indent}pass  # {lines[index].strip()}" if indent else "# " + lines[index]
            out.append(first + (note if end == index else ""))
            out += [f"{indent}# {line.strip()}" for line in lines[index + 1 : end + 1]]
        index = end + 1
    return "\n".join(out)


def _pip_specs(args: str, where: str, folder: Path, notes: list[str]) -> list[str]:
    if "$" in args or "{" in args:
        notes.append(f"{where} installs computed names; add them to a requirements file")
        return []
    try:
        tokens = shlex.split(args, comments=True)
    except ValueError:
        notes.append(f"{where} cannot be read; add its packages to a requirements file")
        return []
    specs: list[str] = []
    pending: str | None = None
    for token in tokens:
        if pending is not None:
            _pip_option(pending, token, where, folder, specs, notes)
            pending = None
        elif token.startswith("-"):
            option, _, value = token.partition("=")
            if option in _PIP_VALUE_OPTIONS:
                if value:
                    _pip_option(option, value, where, folder, specs, notes)
                else:
                    pending = option
        else:
            specs.append(token)
    return specs


def _pip_option(
    option: str, value: str, where: str, folder: Path, specs: list[str], notes: list[str]
) -> None:
    if option in ("-r", "--requirement"):
        path = folder / value
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            notes.append(f"{where}: requirements file {value} not found next to the notebook")
            return
        for line in lines:
            text = line.split(" #", 1)[0].strip()
            if text and not text.startswith(("#", "-")):
                specs.append(text)
    elif option in ("-e", "--editable"):
        notes.append(f"{where}: editable install of {value} is not carried into the job")
    elif option in ("-i", "--index-url", "--extra-index-url", "-f", "--find-links"):
        notes.append(
            f"{where}: {option} is not carried into the job; configure pip for the build "
            "(PIP_INDEX_URL, pip.conf) instead"
        )


# -- reading the code -----------------------------------------------------------------------
@dataclass
class CodeFacts:
    """What a piece of code needs: absolute imports (dotted), string literals, ``%run``
    targets."""

    imports: set[str] = field(default_factory=set)
    strings: set[str] = field(default_factory=set)
    runs: set[str] = field(default_factory=set)

    def update(self, other: CodeFacts) -> None:
        self.imports |= other.imports
        self.strings |= other.strings
        self.runs |= other.runs


def notebook_facts(code: Iterable[tuple[int, str]], path: Path) -> CodeFacts:
    """The facts of a notebook's code cells; a cell that is not valid Python (as IPython
    reads it) is refused, since the job would fail on it."""
    from IPython.core.inputtransformer2 import TransformerManager

    facts = CodeFacts()
    manager = TransformerManager()
    for number, source in code:
        try:
            python = manager.transform_cell(source)
            tree = ast.parse(python)
        except SyntaxError as exc:
            raise InvalidInput(
                f"cell {number} of {path} is not valid Python: line {exc.lineno}: {exc.msg}"
            ) from None
        facts.update(_facts(tree, manager))
    return facts


def module_facts(path: Path) -> CodeFacts | None:
    """The facts of a plain Python file; None when it cannot be read or parsed."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return None
    return _facts(tree, None)


def _facts(tree: ast.AST, manager: Any) -> CodeFacts:
    facts = CodeFacts()
    slices = {id(n.slice) for n in ast.walk(tree) if isinstance(n, ast.Subscript)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            facts.imports |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            facts.imports.add(node.module)
            facts.imports |= {f"{node.module}.{a.name}" for a in node.names if a.name != "*"}
        elif isinstance(node, ast.Call):
            _call_facts(node, facts, manager)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in slices
            and 0 < len(node.value) <= _MAX_LITERAL
        ):
            facts.strings.add(node.value)
    return facts


def _call_facts(node: ast.Call, facts: CodeFacts, manager: Any) -> None:
    """``__import__("x")``, ``import_module("x")``, and the magics IPython made into calls."""
    name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
    args = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
    if name in ("__import__", "import_module") and args and isinstance(args[0], str):
        facts.imports.add(args[0])
    elif name == "run_line_magic" and len(args) >= 2 and isinstance(args[1], str):
        magic, line = args[0], args[1]
        if magic == "run":
            target = next((t for t in _split(line) if not t.startswith("-")), None)
            if target:
                facts.runs.add(target)
        elif magic == "load_ext" and line.strip():
            facts.imports.add(line.split()[0])
        elif magic in _PYTHON_MAGICS and manager is not None:
            facts.update(_body_facts(line, manager))
    elif (
        name == "run_cell_magic"
        and len(args) >= 3
        and isinstance(args[2], str)
        and args[0] in _PYTHON_MAGICS
        and manager is not None
    ):
        facts.update(_body_facts(args[2], manager))


def _body_facts(source: str, manager: Any) -> CodeFacts:
    try:
        return _facts(ast.parse(manager.transform_cell(source)), manager)
    except SyntaxError:
        return CodeFacts()


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


# -- local modules and files ----------------------------------------------------------------
@dataclass
class Dependencies:
    """What a notebook needs beyond its own code."""

    #: Absolute imports that are not local, dotted (``sklearn.linear_model``).
    imports: set[str] = field(default_factory=set)
    #: Files and folders to copy, relative to the notebook's folder.
    local: set[PurePosixPath] = field(default_factory=set)
    #: Top-level names of the local modules and packages.
    local_modules: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)


def dependencies(facts: CodeFacts, folder: Path, skip: Iterable[Path] = ()) -> Dependencies:
    """Split the notebook's facts into local files (followed through the local modules'
    own imports and literals) and other imports. Paths inside ``skip`` (the job folder
    itself) and the notebook's folder as a whole never count."""
    root = folder.resolve()
    skipped = [p.resolve() for p in skip]
    found = Dependencies()
    seen_modules: set[str] = set()
    queue = [facts]
    while queue:
        current = queue.pop()
        for dotted in sorted(current.imports):
            top = dotted.split(".")[0]
            module = _local_module(root, top)
            if module is None:
                found.imports.add(dotted)
            elif top not in seen_modules:
                seen_modules.add(top)
                found.local_modules.add(top)
                found.local.add(module)
                queue += _facts_of_local(root, module)
        for text in sorted(current.strings | current.runs):
            for path in _named_paths(root, text, found.warnings, skipped):
                if path not in found.local:
                    found.local.add(path)
                    if path.suffix == ".py" and text in current.runs:
                        queue += _facts_of_local(root, path)
    return found


def _local_module(root: Path, top: str) -> PurePosixPath | None:
    """The module file or package folder next to the notebook that ``import top`` finds
    (the kernel runs in the notebook's folder, which comes first on ``sys.path``)."""
    if not top.isidentifier():
        return None
    if (root / f"{top}.py").is_file():
        return PurePosixPath(f"{top}.py")
    package = root / top
    if package.is_dir() and ((package / "__init__.py").is_file() or any(package.glob("*.py"))):
        return PurePosixPath(top)
    return None


def _facts_of_local(root: Path, module: PurePosixPath) -> list[CodeFacts]:
    found = []
    for relative, reason in files.walk(root, module):
        if reason is None and relative.suffix == ".py":
            facts = module_facts(root / relative)
            if facts is not None:
                found.append(facts)
    return found


def _named_paths(
    root: Path, text: str, notes: list[str], skipped: list[Path]
) -> list[PurePosixPath]:
    """The existing files or folders a string literal names relative to the notebook's
    folder (a glob pattern names its matches); a path outside the folder is reported."""
    if "\n" in text or "\0" in text or "://" in text or text.strip() != text:
        return []
    if PurePosixPath(text).is_absolute() or text.startswith("~"):
        return []
    try:
        if any(c in text for c in "*?["):
            if ".." in PurePosixPath(text).parts:
                return []
            matches = sorted(root.glob(text))[:_MAX_GLOB_MATCHES]
            named = [PurePosixPath(m.relative_to(root).as_posix()) for m in matches]
        elif (root / text).exists():
            named = [PurePosixPath(os.path.normpath(text))]
        else:
            return []
    except (OSError, ValueError, NotImplementedError):
        return []
    found = (_inside(root, relative, text, notes, skipped) for relative in named)
    return [relative for relative in found if relative is not None]


def _inside(
    root: Path, relative: PurePosixPath, text: str, notes: list[str], skipped: list[Path]
) -> PurePosixPath | None:
    """``relative`` if it may travel with the job: inside the notebook's folder (also once
    symbolic links are resolved), not the job folder or one holding it, not a secret."""
    resolved = (root / relative).resolve()
    if resolved == root or any(resolved.is_relative_to(s) for s in skipped):
        return None
    if any(s.is_relative_to(resolved) for s in skipped):
        return None  # a folder holding the job folder (such as pipelines/)
    if relative.parts[:1] == ("..",) or not resolved.is_relative_to(root):
        notes.append(
            f"the code names {text!r}, which is outside the notebook's folder: not copied "
            "into the job (move it next to the notebook, or mount it when the job runs)"
        )
        return None
    reason = files.excluded(relative)
    if reason == "secret":
        notes.append(
            f"the code names {text!r}, which looks like a secret: not copied into the job "
            "(give it to the job at run time, e.g. as a mounted secret)"
        )
        return None
    return None if reason else relative
