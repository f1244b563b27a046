"""What a tracked run records without being asked.

Two kinds of capture:

- on the kernel's main thread, cheap and at the cell's end: the names a cell assigned and
  their simple values, final metric values, the cell source and the execution history
  (the figures it showed: ``figures.py``);
- in a background thread, the lineage: git commit, branch, dirty state and diff, package
  versions, and the version of each data path (DVC's hash, or a content hash).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import numbers
import os
import platform
import posixpath
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import gitfacts
from ..redact import without_credentials
from .jobrun import pinned_version

#: Simple values longer than this are not parameters (MLflow's limit is 6000).
MAX_PARAM_CHARS = 500
#: Longer lists, tuples and dicts (literal or not) are data, not parameters.
MAX_COLLECTION_ITEMS = 5
MAX_DIFF_BYTES = 1_000_000
#: MLflow's limit on a parameter's name.
MAX_PARAM_NAME = 250
#: The run tag holding the data versions a run read (JSON: path -> {kind, hash}).
DATA_TAG = "jupyter_mlops.data"


# -- parameters and metrics ---------------------------------------------------------------
# The capture rule (docs/tracking.md, "What a run records without being asked"):
# - a parameter is a name the cell assigns a literal (a number, also as arithmetic on
#   numbers, a string, a bool, or a list or tuple of at most MAX_COLLECTION_ITEMS of these),
#   or a name of the notebook's ``parameters`` cell that the cell reads;
# - a metric is a name the cell assigns something computed whose final value is a number;
# - anything else (long sequences, arrays, frames, models...) is neither, and so is what a
#   loop body assigns (it changes every round).
@dataclass(frozen=True)
class CellNames:
    """What a cell's source says about the names it binds and reads."""

    #: names bound at the top level (not in loops, functions, classes), in order
    assigned: tuple[str, ...] = ()
    #: those of them the cell only ever assigns literals
    literal: frozenset[str] = frozenset()
    #: every name the cell reads, anywhere in it
    read: frozenset[str] = frozenset()


def assigned_names(source: str) -> list[str]:
    """Names a cell binds at its top level by assignment, in order (inside ``if``,
    ``with`` and ``try`` too); loop variables and whatever a loop body assigns (it changes
    every round), comprehensions, functions and classes are left out."""
    return list(cell_names(source).assigned)


def automatic_names(
    source: str, notebook_parameters: Iterable[str] = ()
) -> tuple[list[str], list[str]]:
    """The capture rule's names for a cell: its parameters (literals it assigns, then the
    notebook parameters it reads) and the names that are metrics when their final value is
    a number (what it computes)."""
    names = cell_names(source)
    params = [n for n in names.assigned if n in names.literal]
    params += [n for n in notebook_parameters if n in names.read and n not in params]
    metrics = [n for n in names.assigned if n not in names.literal and n not in params]
    return params, metrics


@functools.lru_cache(maxsize=256)
def cell_names(source: str) -> CellNames:
    """Cached: a cell run again (the steady state of notebook work) is not parsed again."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        try:  # IPython syntax (a `%matplotlib inline` line): parse what IPython runs
            from IPython.core.inputtransformer2 import TransformerManager

            tree = ast.parse(TransformerManager().transform_cell(source))
        except Exception:
            return CellNames()
    literal: dict[str, bool] = {}  # name -> every assignment so far was a literal
    skip = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.comprehension)

    def bind(target: ast.AST, value: ast.AST | None) -> None:
        """``value``: the expression assigned to ``target``, None when it is not known."""
        if isinstance(target, ast.Name):
            literal[target.id] = literal.get(target.id, True) and _literal(value)
        elif isinstance(target, ast.Starred):
            bind(target.value, None)
        elif isinstance(target, ast.Tuple | ast.List):
            items: list[ast.expr | None] = [None] * len(target.elts)
            if (
                isinstance(value, ast.Tuple | ast.List)
                and len(value.elts) == len(target.elts)
                and not any(isinstance(e, ast.Starred) for e in (*value.elts, *target.elts))
            ):
                items = list(value.elts)
            for sub, item in zip(target.elts, items, strict=True):
                bind(sub, item)

    def visit(node: ast.AST) -> None:
        if isinstance(node, skip):
            return
        if isinstance(node, ast.Assign):
            for target in node.targets:
                bind(target, node.value)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            bind(node.target, node.value)
        elif isinstance(node, ast.AugAssign):
            bind(node.target, None)
        if isinstance(node, ast.For | ast.AsyncFor | ast.While):
            for statement in node.orelse:  # runs once, after the loop
                visit(statement)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    for statement in tree.body:
        visit(statement)
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    read |= {
        n.target.id
        for n in ast.walk(tree)
        if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name)
    }
    public = tuple(n for n in literal if not n.startswith("_"))
    return CellNames(
        assigned=public,
        literal=frozenset(n for n in public if literal[n]),
        read=frozenset(read),
    )


_NUMBER_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)


def _literal(node: ast.AST | None, *, in_list: bool = False) -> bool:
    """A number (or arithmetic on numbers: ``1 / 1000``, ``-2``), a string, a bool, or a
    list or tuple of at most MAX_COLLECTION_ITEMS of these."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int | float | str)  # bool is an int
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        return _number(node.operand)
    if isinstance(node, ast.BinOp):
        return _number(node)
    if isinstance(node, ast.List | ast.Tuple) and not in_list:
        return len(node.elts) <= MAX_COLLECTION_ITEMS and all(
            _literal(e, in_list=True) for e in node.elts
        )
    return False


def _number(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int | float) and not isinstance(node.value, bool)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        return _number(node.operand)
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, _NUMBER_OPS) and _number(node.left) and _number(node.right)
    return False


def computed_number(value: Any) -> float | None:
    """A computed value's number, when it is one (numpy scalars included; not a bool, an
    array or anything else): what makes a name a metric."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return None


def _scalar(value: Any) -> bool:
    if isinstance(value, bool | str):
        return not isinstance(value, str) or len(value) <= MAX_PARAM_CHARS
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def param_text(value: Any) -> str | None:
    """The text of a simple value (number, string, bool, or a short list or dict of them),
    or None for anything else."""
    if _scalar(value):
        return str(value.item() if hasattr(value, "item") else value)
    if isinstance(value, list | tuple | dict) and len(value) <= MAX_COLLECTION_ITEMS:
        if isinstance(value, dict):
            if not all(isinstance(k, str) and _scalar(v) for k, v in value.items()):
                return None
            plain: Any = {k: _plain(v) for k, v in value.items()}
        elif all(_scalar(v) for v in value):
            plain = [_plain(v) for v in value]
        else:
            return None
        text = json.dumps(plain)
        return text if len(text) <= MAX_PARAM_CHARS else None
    return None


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def metric_value(value: Any) -> float | None:
    """A finite or infinite real number (numpy scalars included), not a bool."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        if hasattr(value, "item") and getattr(value, "size", 1) == 1:
            try:
                return metric_value(value.item())
            except (TypeError, ValueError):
                return None
        return None
    return float(value)


def collect_params(names: Iterable[str], namespace: Mapping[str, Any]) -> dict[str, str]:
    found = {}
    for name in names:
        if name in namespace:
            text = param_text(namespace[name])
            if text is not None:
                found[name] = text
    return found


# -- notebook -----------------------------------------------------------------------------
def notebook_path(namespace: Mapping[str, Any]) -> str | None:
    """The notebook this kernel runs: set by jupyter-mlops' job runner, by Jupyter Server
    (``JPY_SESSION_NAME``), or by the kernel (``__session__``)."""
    for candidate in (
        os.environ.get("JUPYTER_MLOPS_NOTEBOOK"),
        os.environ.get("JPY_SESSION_NAME"),
        namespace.get("__session__"),
    ):
        if candidate and str(candidate).endswith(".ipynb"):
            return str(candidate)
    return None


_parameter_cache: dict[str, tuple[float, list[str]]] = {}


def notebook_parameter_names(path: str | None) -> list[str]:
    """Names assigned in the notebook's cell tagged ``parameters`` (papermill's tag), read
    from the saved file; cached while the file does not change."""
    if not path:
        return []
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return []
    cached = _parameter_cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    names: list[str] = []
    try:
        cells = json.loads(Path(path).read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        cells = []
    for cell in cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") == "code" and "parameters" in tags:
            source = cell.get("source", "")
            names += assigned_names("".join(source) if isinstance(source, list) else source)
    _parameter_cache[path] = (mtime, names)
    return names


def execution_history(namespace: Mapping[str, Any]) -> str:
    """The cells this kernel ran so far, in order, as one Python file."""
    inputs = namespace.get("_ih") or []
    parts = [f"# In[{i}]:\n{src.rstrip()}\n" for i, src in enumerate(inputs) if i and src.strip()]
    return "\n".join(parts)


# -- lineage (captured by the deliverer) -------------------------------------------------
@dataclass
class CapturedLineage:
    """What the deliverer adds to a run besides the tracker's own record: tags, parameters
    and artifacts saying where the run came from (git state, packages, data versions). Not
    an exported job's origin (:class:`jupyter_mlops.export.targets.JobLineage`) nor the
    API's view of a run's lineage (:class:`jupyter_mlops.runs.models.Lineage`)."""

    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    #: artifact path -> content
    artifacts: dict[str, bytes] = field(default_factory=dict)


def git_state(cwd: str) -> CapturedLineage:
    found = CapturedLineage()
    git = gitfacts.state(cwd)
    if git is None or git.commit is None:
        return found
    found.tags["mlflow.source.git.commit"] = git.commit
    if git.branch:
        found.tags["mlflow.source.git.branch"] = git.branch
    if git.remote:
        found.tags["mlflow.source.git.repoURL"] = without_credentials(git.remote)
    found.tags["jupyter_mlops.git.dirty"] = str(bool(git.dirty)).lower()
    if git.dirty:
        found.artifacts["lineage/git.diff"] = gitfacts.diff_head(cwd, MAX_DIFF_BYTES)
    return found


_packages: tuple[float, str] | None = None


def package_versions(max_age: float = 60.0) -> str:
    """``name==version`` of every distribution in this environment (a requirements file),
    cached for a minute: `%pip install` between cells shows up after that."""
    global _packages
    if _packages is not None and time.monotonic() - _packages[0] < max_age:
        return _packages[1]
    from importlib.metadata import distributions

    names = {}
    for dist in distributions():
        name = dist.metadata["Name"]
        if name:
            names[name.lower()] = f"{name}=={dist.version}"
    text = "\n".join(names[k] for k in sorted(names)) + "\n"
    _packages = (time.monotonic(), text)
    return text


def data_version(path: Path) -> dict[str, str]:
    """How to name this version of a data path: DVC's md5 when DVC tracks it, else a
    SHA-256 of its content (a folder: of its files' relative paths and contents)."""
    dvc_file = path.with_name(path.name + ".dvc")
    if dvc_file.is_file():
        md5 = _dvc_md5(dvc_file)
        if md5:
            return {"kind": "dvc", "hash": md5}
    if not path.exists():
        return {"kind": "missing", "hash": ""}
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with open(file, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return {"kind": "sha256", "hash": digest.hexdigest()}


def _dvc_data_version(path: Path, root: str | None, state_dir: str | None) -> dict[str, str] | None:
    """DVC's version of the data on disk (``jupyter_mlops.data.lineage``), or None when DVC
    does not track it or it cannot be computed (the ``.dvc`` file's md5 is used then)."""
    if not root or not state_dir:
        return None
    try:
        from ..data.dvcrepo import find_root
        from ..data.lineage import dvc_version

        if path.is_symlink():  # a job folder's link to the project's data (the dvc target)
            path = Path(os.path.realpath(path))
            root = str(find_root(path.parent) or root)
        return dvc_version(path, Path(root), Path(state_dir))
    except Exception:
        return None


def _dvc_md5(dvc_file: Path) -> str | None:
    for line in dvc_file.read_text(encoding="utf-8", errors="replace").splitlines():
        stripped = line.strip().lstrip("- ").strip()
        if stripped.startswith("md5:"):
            return stripped.split(":", 1)[1].strip()
    return None


def data_param_name(raw: str) -> str:
    """``data.<path>`` as a parameter name MLflow accepts: a normalised path (``data/``,
    ``./data`` and ``data`` are one name) with characters MLflow refuses replaced by ``_``.
    An unacceptable name would keep the whole run from ever being delivered."""
    text = re.sub(r"[^\w.\- /:]", "_", posixpath.normpath(raw.replace(os.sep, "/")))
    name = f"data.{text.strip('/')}"
    if posixpath.normpath(name) != name or len(name) > MAX_PARAM_NAME:
        name = f"data.{hashlib.sha256(raw.encode()).hexdigest()[:16]}"
    return name


def capture_lineage(
    cwd: str,
    data_paths: list[str],
    root: str | None = None,
    state_dir: str | None = None,
    packages: bool = True,
    job_dir: str | None = None,
) -> CapturedLineage:
    """Runs in the delivering process (the kernel's agent), once per run; ``packages`` only
    where that process runs the kernel's Python. With the project's ``root`` and
    ``state_dir``, a path DVC tracks gets the DVC md5 of the bytes on disk (see
    ``jupyter_mlops.data.lineage``) and a ``jupyter_mlops.data.<path>`` tag linking the run
    to that version; in a job (``job_dir``), data the job pinned gets the pinned version."""
    found = git_state(cwd)
    if packages:
        found.tags["jupyter_mlops.python"] = platform.python_version()
        found.artifacts["lineage/requirements.txt"] = package_versions().encode()
    data = {}
    for raw in data_paths:
        path = Path(cwd, raw) if not os.path.isabs(raw) else Path(raw)
        linked = _dvc_data_version(path, root, state_dir) or pinned_version(path, job_dir)
        version = linked or data_version(path)
        if linked is not None:
            tracked = linked.pop("path")
            from ..data.lineage import data_tag

            found.tags[data_tag(tracked)] = linked["hash"]
        data[raw] = version
        found.params[data_param_name(raw)] = f"{version['kind']}:{version['hash'][:12]}"
    if data:
        found.tags[DATA_TAG] = json.dumps(data, sort_keys=True)[:5000]
        found.artifacts["lineage/data.json"] = json.dumps(data, indent=2).encode()
    return found


def recorded_data_versions(text: str | None) -> dict[str, tuple[str, str]] | None:
    """What :func:`capture_lineage` recorded in the :data:`DATA_TAG` tag (or its
    ``lineage/data.json``): path -> (kind, hash); None when missing or not readable JSON."""
    if not text:
        return None
    try:
        raw = json.loads(text)
    except ValueError:
        return None
    if not isinstance(raw, dict):
        return None
    return {
        str(path): (str(version.get("kind", "")), str(version.get("hash", "")))
        for path, version in raw.items()
        if isinstance(version, dict)
    }
