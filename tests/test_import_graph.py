"""The package's shape: no import cycle between its modules, no re-export shim, and every
module (and every entry point) importable.

The graph is that of module-level imports, read with ``ast`` from the source: imports
inside functions (deferred on purpose, for start-up time or an optional dependency) and
under ``if TYPE_CHECKING:`` (for annotations only) are not part of it.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
from importlib.metadata import distribution
from pathlib import Path

import pytest

import jupyter_mlops

PACKAGE = "jupyter_mlops"
ROOT = Path(jupyter_mlops.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for path in sorted(ROOT.rglob("*.py"))
        if "labextension" not in path.parts and "__pycache__" not in path.parts
    }


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    """The import statements that run when the module is imported: at the top level and
    in top-level ``if``/``try``/``with`` blocks, not in functions or classes, not under
    ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                found += _module_level(node.body)
            found += _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            found += _module_level(node.body)
            for handler in node.handlers:
                found += _module_level(handler.body)
            found += _module_level(node.orelse) + _module_level(node.finalbody)
        elif isinstance(node, ast.With):
            found += _module_level(node.body)
    return found


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph() -> dict[str, set[str]]:
    """module -> the package's modules it imports at module level. ``from a import b``
    counts as importing ``a.b`` when that is a module, else ``a``; importing ``a.b`` also
    runs ``a`` (the package's ``__init__``), which counts too, except where ``a`` holds
    the importing module (it is being imported already: a module of a package importing
    a sibling does not run the package's ``__init__`` again)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}

    def add(source: str, target: str) -> None:
        parts = target.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix in modules and prefix != source and not source.startswith(prefix + "."):
                graph[source].add(prefix)

    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in _module_level(tree.body):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(name, alias.name)
            else:
                target = _resolve(name, path, node)
                add(name, target)
                for alias in node.names:
                    if f"{target}.{alias.name}" in modules:
                        add(name, f"{target}.{alias.name}")
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as the list of its modules (the first repeated last)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_reads_relative_imports_and_skips_deferred_ones() -> None:
    graph = import_graph()
    assert "jupyter_mlops.api.handler" in graph["jupyter_mlops.routes"]
    assert "jupyter_mlops.api" in graph["jupyter_mlops.routes"]
    # app.py imports MlopsApp's users only under TYPE_CHECKING or in functions.
    assert "jupyter_mlops.app" not in graph["jupyter_mlops.api.handler"]
    assert "jupyter_mlops.app" not in graph["jupyter_mlops"]


def test_no_import_cycle_between_the_package_modules() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_services_know_nothing_of_tornado_or_the_api_base() -> None:
    """A slice's services and models import neither tornado nor the base handler."""
    modules = _modules()
    graph = import_graph()
    for name, path in modules.items():
        if not re.fullmatch(
            r"jupyter_mlops\.(runs|jobs|data|status|experiments)\.(?!handlers$)\w+", name
        ):
            continue
        assert "jupyter_mlops.api.handler" not in graph[name], name
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in _module_level(tree.body):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            assert not any(n.split(".")[0] in ("tornado", "jupyter_server") for n in names), name


def _reexports(path: Path) -> list[str]:
    """Module-level ``from ... import`` lines kept only to forward names (``noqa: F401``)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    tree = ast.parse("\n".join(lines))
    found = []
    for node in _module_level(tree.body):
        text = "\n".join(lines[node.lineno - 1 : node.end_lineno])
        if "F401" in text:
            found.append(f"{path.name}:{node.lineno}")
    return found


def test_no_reexport_shims() -> None:
    """No module forwards names it imports: each name has one home to import it from."""
    found = [hit for path in _modules().values() for hit in _reexports(path)]
    assert found == []


@pytest.mark.parametrize("name", sorted(_modules()))
def test_every_module_imports(name: str) -> None:
    if name.endswith("__main__"):
        pytest.skip("runs the CLI when imported")
    importlib.import_module(name)


def test_every_entry_point_loads() -> None:
    """The scripts, export-target plugins and server extension the package declares point
    at objects that exist (a moved module would break them)."""
    dist = distribution("jupyter-mlops")
    ours = [ep for ep in dist.entry_points]
    assert ours
    for ep in ours:
        assert ep.load() is not None, ep
    points = jupyter_mlops._jupyter_server_extension_points()
    assert points[0]["app"].__module__ == "jupyter_mlops.app"
    assert "jupyter_mlops" in sys.modules


def test_the_benchmarks_import_what_exists() -> None:
    """bench/ imports the package inside its functions (so a plain import of it does not
    catch a moved module): every ``from jupyter_mlops... import name`` it holds must
    resolve, or a benchmark breaks unnoticed until someone runs it."""
    import importlib.util

    bench = Path(__file__).resolve().parent.parent / "bench"
    missing = []
    for path in sorted(bench.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE)):
                continue
            module = importlib.import_module(str(node.module))
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                if not hasattr(module, alias.name) and importlib.util.find_spec(name) is None:
                    missing.append(f"{path.name}: {name}")
    assert not missing, missing
