"""The job image's runtime (``runtime/jupyter_mlops``): only what a job needs, found from the
import graph, copied with stable metadata, and enough on its own to run a job whose
notebook loads ``%load_ext jupyter_mlops`` and tracks a cell."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mlops.cli import main as cli
from jupyter_mlops.export.runtime import (
    DIR_MODE,
    FILE_MODE,
    FIXED_MTIME,
    copy_runtime,
    package_root,
    runtime_modules,
)

PACKAGE = "jupyter_mlops"
#: What the server alone runs: never in a job's image.
SERVER = re.compile(
    r"jupyter_mlops\.("
    r"app|routes|openapi|cli|__main__"
    r"|api\.(handler|openapi)"
    r"|.*\.handlers"
    r"|(jobs|runs|status|experiments)(\..*)?"
    r"|export\.(docker|kubernetes|argo|kubeflow|airflow|dvcstage|exporter|build|container"
    r"|deploy|cluster|targets|notebook|requirements|files|escape|yamltext|runtime)"
    r"|monitoring\.(target|rules|dashboard)"
    r")"
)
#: What a job runs: the launcher and runner, the kernel's extension and what %%track,
#: %snapshot and the data API load.
NEEDED = {
    PACKAGE,
    f"{PACKAGE}.job",
    f"{PACKAGE}.export.job",
    f"{PACKAGE}.export.jobfile",
    f"{PACKAGE}.export.datapins",
    f"{PACKAGE}.export.metrics",  # imported inside a function only
    f"{PACKAGE}.export.notify",  # a finisher, imported inside finishers()
    f"{PACKAGE}.monitoring.push",  # a finisher, imported inside finishers()
    f"{PACKAGE}.export.parameters.values",
    f"{PACKAGE}.magics",
    f"{PACKAGE}.tracking.tracker",
    f"{PACKAGE}.tracking.session",
    f"{PACKAGE}.tracking.card",
    f"{PACKAGE}.tracking.jobrun",
    f"{PACKAGE}.tracking.agent",  # started by name (python -m), never imported
    f"{PACKAGE}.data",
    f"{PACKAGE}.data.interactive",
    f"{PACKAGE}.data.service",
    f"{PACKAGE}.settings",
    f"{PACKAGE}.mlflow_store",
}


def test_the_runtime_holds_what_a_job_needs_and_not_the_server() -> None:
    modules = runtime_modules()
    assert set(modules) >= NEEDED, sorted(NEEDED - set(modules))
    server = sorted(name for name in modules if SERVER.fullmatch(name))
    assert server == [], f"server modules in the job's runtime: {server}"
    total = [p for p in package_root().rglob("*.py") if "labextension" not in p.parts]
    assert len(modules) < len(total) * 0.6, (len(modules), len(total))


def test_no_runtime_module_loads_the_web_server() -> None:
    """tornado and jupyter_server are the server's: no module a job runs names them."""
    for name, path in runtime_modules().items():
        text = path.read_text(encoding="utf-8")
        found = re.findall(r"^\s*(?:from|import)\s+(tornado|jupyter_server)\b", text, re.M)
        assert not found, name


def _package(root: Path, files: dict[str, str]) -> Path:
    package = root / PACKAGE
    for relative, text in files.items():
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return package


def test_the_walk_follows_deferred_imports_and_started_modules_not_hooks(
    tmp_path: Path,
) -> None:
    """A small package: what is imported in a function or started with -m is in; what only
    a Jupyter discovery hook or an annotation (TYPE_CHECKING) names is out, and a server
    import at the wrong place shows up."""
    package = _package(
        tmp_path,
        {
            "__init__.py": (
                "def _jupyter_server_extension_points():\n"
                "    from .app import App\n    return [App]\n"
                "def load_ipython_extension(ip):\n    from .magics import register\n"
            ),
            "app.py": "from .routes import ROUTES\n",
            "routes.py": "ROUTES = []\n",
            "job.py": "from .runner import main\n",
            "runner.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from .routes import ROUTES\n"
                "else:\n    from . import kept\n"
                "def main():\n    from .deferred import go\n"
                "    import subprocess, sys\n"
                "    subprocess.run([sys.executable, '-m', 'jupyter_mlops.agent'])\n"
            ),
            "kept.py": "",
            "deferred.py": "go = 1\n",
            "agent.py": "",
            "magics.py": "def register(ip):\n    import importlib\n"
            "    importlib.import_module('jupyter_mlops.plugins.extra')\n",
            "plugins/__init__.py": "",
            "plugins/extra.py": "",
            "unused.py": "",
        },
    )
    found = set(runtime_modules(package))
    assert found == {
        PACKAGE,
        f"{PACKAGE}.job",
        f"{PACKAGE}.runner",
        f"{PACKAGE}.kept",
        f"{PACKAGE}.deferred",
        f"{PACKAGE}.agent",
        f"{PACKAGE}.magics",
        f"{PACKAGE}.plugins",
        f"{PACKAGE}.plugins.extra",
    }
    # A kernel-side module importing the server: the server comes with it.
    (package / "magics.py").write_text("from .app import App\ndef register(ip): pass\n")
    assert {f"{PACKAGE}.app", f"{PACKAGE}.routes"} <= set(runtime_modules(package))


def _snapshot(folder: Path) -> list[tuple[str, bytes | None, int, int]]:
    """What an image builder's COPY sees: every path with its content, mode and mtime."""
    found = []
    for path in sorted([folder, *folder.rglob("*")]):
        stat = path.lstat()
        content = path.read_bytes() if path.is_file() else None
        found.append(
            (str(path.relative_to(folder)), content, stat.st_mode & 0o7777, int(stat.st_mtime))
        )
    return found


def test_the_copy_is_the_modules_with_fixed_metadata(tmp_path: Path) -> None:
    written = copy_runtime(tmp_path / "runtime" / PACKAGE)
    root = package_root()
    assert sorted(written) == sorted(p.relative_to(root) for p in runtime_modules().values())
    for relative in written:
        copied = tmp_path / "runtime" / PACKAGE / relative
        assert copied.read_bytes() == (root / relative).read_bytes()
    for name, _content, mode, mtime in _snapshot(tmp_path / "runtime"):
        is_dir = (tmp_path / "runtime" / name).is_dir()
        assert mode == (DIR_MODE if is_dir else FILE_MODE), name
        assert mtime == FIXED_MTIME, name
    assert not list((tmp_path / "runtime").rglob("__pycache__"))


def _notebook(path: Path) -> None:
    nbformat.write(
        new_notebook(
            cells=[
                new_code_cell("lr = 0.1  # learning rate", metadata={"tags": ["parameters"]}),
                new_code_cell("%load_ext jupyter_mlops"),
                new_code_cell(
                    "%%track --name fit\n"
                    "score = lr * 3\n"
                    "jupyter_mlops.log(score=score)\n"
                    "import jupyter_mlops.magics as m\n"
                    "print('FROM', m.__file__)"
                ),
            ],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        ),
        path,
    )


def test_two_exports_give_the_same_runtime(tmp_path: Path) -> None:
    """The runtime's layer stays cached: a notebook edit changes nothing in runtime/."""
    project = tmp_path / "project"
    project.mkdir()
    notebook = project / "train.ipynb"
    _notebook(notebook)
    assert cli(["export", str(notebook), "--target=docker"]) == 0
    job = project / "pipelines" / "train"
    before = _snapshot(job / "runtime")
    time.sleep(1.1)  # a later export would show in the times
    text = notebook.read_text().replace("lr = 0.1", "lr = 0.2")
    notebook.write_text(text)
    assert cli(["export", str(notebook), "--target=docker"]) == 0
    assert "lr = 0.2" in (job / "train.ipynb").read_text()
    assert _snapshot(job / "runtime") == before
    dockerfile = (job / "Dockerfile").read_text()
    # The runtime's COPY comes before the notebook's.
    assert dockerfile.index("COPY runtime/") < dockerfile.index('"train.ipynb"')


@pytest.mark.slow
def test_the_job_runs_from_the_runtime_alone(tmp_path: Path, clean_env) -> None:
    """The runner, the kernel's %load_ext and a %%track cell, all from runtime/ in a fresh
    process (PYTHONPATH the runtime only, the working folder outside the checkout): a
    module the graph missed fails the job."""
    project = tmp_path / "project"
    project.mkdir()
    notebook = project / "train.ipynb"
    _notebook(notebook)
    assert cli(["export", str(notebook), "--target=docker"]) == 0
    job = project / "pipelines" / "train"
    runtime = job / "runtime"
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    (tmp_path / "store").mkdir()
    env = clean_env({"PYTHONPATH": str(runtime), "JUPYTER_MLOPS_TRACKING_URI": uri})
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops.job", str(job), "-p", "lr", "0.5"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (output,) = (job / "output").glob("train-*.ipynb")
    cells = nbformat.read(output, as_version=4).cells
    printed = "".join(o.get("text", "") for o in cells[-1].outputs if o.output_type == "stream")
    where = Path(printed.split("FROM", 1)[1].strip())
    assert where == runtime / PACKAGE / "magics.py", printed

    from mlflow import MlflowClient

    client = MlflowClient(uri)
    deadline = time.monotonic() + 90
    while True:
        experiment = client.get_experiment_by_name("train")
        runs = list(client.search_runs([experiment.experiment_id])) if experiment else []
        ended = [r for r in runs if r.info.status != "RUNNING"]
        if len(ended) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    by_source = {r.data.tags["jupyter_mlops.source"]: r for r in runs}
    assert set(by_source) == {"job", "cell"}, [r.data.tags for r in runs]
    cell = by_source["cell"]
    assert cell.info.status == "FINISHED"
    assert cell.data.metrics["score"] == pytest.approx(1.5)
    assert cell.data.tags["mlflow.parentRunId"] == by_source["job"].info.run_id
    assert cell.data.params["lr"] == "0.5"
