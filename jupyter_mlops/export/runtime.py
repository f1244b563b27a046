"""What of jupyter-mlops a job needs, and copying it into the job folder (``runtime/``).

A job runs ``python -m jupyter_mlops.job``, and its notebook's kernel loads
``%load_ext jupyter_mlops`` (``%%track``, ``%snapshot``, ``jupyter_mlops.log``...). It
needs those modules and what they import, not the server (routes, handlers, the app, the
OpenAPI document, the export targets, the services of the slices). The set is computed,
not listed: :func:`runtime_modules` follows the imports (read with ``ast``, at module level
and inside functions, but not under ``if TYPE_CHECKING:``) from :data:`ENTRY_MODULES`, and
the modules they start by name (``[sys.executable, "-m", "jupyter_mlops.tracking.agent"]``,
``importlib.import_module("...")``: the kernel's delivery agent is one).

Only the functions by which Jupyter finds the server and lab extensions
(:data:`JUPYTER_HOOKS`, in the package's ``__init__``) are not followed: a job never calls
them. So an import of server code from what a job runs shows up as server modules in the
set (tests/test_export_runtime.py fails), and is to be fixed where it is.

The copy is byte-for-byte the installed modules, with a fixed mode and modification time
on files and folders: two exports with the same jupyter-mlops version give the same
``runtime/`` to the image builder, whose ``COPY`` layer then stays cached however often the
notebook changes.
"""

from __future__ import annotations

import ast
import itertools
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

PACKAGE = "jupyter_mlops"
#: Where a job starts: the runner's entrypoint and the kernel's extension (the package's
#: ``__init__``: ``load_ipython_extension``, ``track``, ``log``, ``snapshot``).
ENTRY_MODULES = (PACKAGE, f"{PACKAGE}.job", f"{PACKAGE}.magics")
#: Jupyter's discovery hooks: the server and JupyterLab call them, a job never does.
JUPYTER_HOOKS = frozenset(
    {
        "_jupyter_server_extension_points",
        "_jupyter_server_extension_paths",
        "_jupyter_labextension_paths",
        "_load_jupyter_server_extension",
    }
)
#: Modification time of every copied file and folder (2000-01-01 UTC): stable across exports.
FIXED_MTIME = 946684800
FILE_MODE = 0o644
DIR_MODE = 0o755


def package_root() -> Path:
    return Path(__file__).resolve().parent.parent


def _modules(root: Path) -> dict[str, Path]:
    found = {}
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if "__pycache__" in relative.parts or relative.parts[0] == "labextension":
            continue
        parts = [PACKAGE, *relative.with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST) -> Iterable[ast.Import | ast.ImportFrom]:
    """Every import that can run: anywhere in the module, except under ``if
    TYPE_CHECKING:`` and inside Jupyter's discovery hooks."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            yield from _imports(ast.Module(body=child.orelse, type_ignores=[]))
        elif (
            isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            and child.name in JUPYTER_HOOKS
        ):
            continue
        else:
            yield from _imports(child)


def _started(tree: ast.AST) -> Iterable[str]:
    """Modules started by name: the item after a literal ``"-m"`` in a list, tuple or call's
    arguments, and the literal argument of an ``import_module(...)`` call."""
    for node in ast.walk(tree):
        items: list[ast.expr] = []
        if isinstance(node, ast.List | ast.Tuple):
            items = node.elts
        elif isinstance(node, ast.Call):
            items = node.args
            name = node.func.attr if isinstance(node.func, ast.Attribute) else None
            if isinstance(node.func, ast.Name):
                name = node.func.id
            if name == "import_module" and items and isinstance(items[0], ast.Constant):
                yield str(items[0].value)
        for flag, value in itertools.pairwise(items):
            if (
                isinstance(flag, ast.Constant)
                and flag.value == "-m"
                and isinstance(value, ast.Constant)
                and isinstance(value.value, str)
            ):
                yield value.value


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_targets(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` may import or start, with the packages holding
    them (importing ``a.b`` runs ``a``'s ``__init__``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    wanted: set[str] = set()
    for node in _imports(tree):
        if isinstance(node, ast.Import):
            wanted.update(alias.name for alias in node.names)
            continue
        target = _resolve(name, path.name == "__init__.py", node)
        wanted.add(target)
        wanted.update(f"{target}.{alias.name}" for alias in node.names)
    wanted.update(_started(tree))
    found: set[str] = set()
    for target in wanted:
        parts = target.split(".")
        found.update(
            prefix for i in range(1, len(parts) + 1) if (prefix := ".".join(parts[:i])) in modules
        )
    return found


def runtime_modules(root: Path | None = None) -> dict[str, Path]:
    """The modules a job needs (name -> source file): those reachable from
    :data:`ENTRY_MODULES`."""
    modules = _modules(root or package_root())
    needed: set[str] = set()
    todo = [name for name in ENTRY_MODULES if name in modules]
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        todo += sorted(import_targets(name, modules[name], modules) - needed)
    return {name: modules[name] for name in sorted(needed)}


def copy_runtime(target: Path) -> list[Path]:
    """Copy the modules a job needs into ``target`` (the ``jupyter_mlops`` folder of the
    job's ``runtime/``), with stable metadata; the files written, relative to it."""
    root = package_root()
    written: list[Path] = []
    for path in runtime_modules(root).values():
        relative = path.relative_to(root)
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
        written.append(relative)
    _fix_metadata(target)
    return written


def _fix_metadata(target: Path) -> None:
    """Mode and modification time the same at every export, the folder itself included
    (after its files: writing into a folder changes its time)."""
    for folder, _dirs, names in os.walk(target, topdown=False):
        for entry in names:
            path = os.path.join(folder, entry)
            os.chmod(path, FILE_MODE)
            os.utime(path, (FIXED_MTIME, FIXED_MTIME))
        os.chmod(folder, DIR_MODE)
        os.utime(folder, (FIXED_MTIME, FIXED_MTIME))
    parent = target.parent
    if parent.is_dir():
        os.chmod(parent, DIR_MODE)
        os.utime(parent, (FIXED_MTIME, FIXED_MTIME))
