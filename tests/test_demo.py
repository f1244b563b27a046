"""The demo is the product: ``demo/getting-started.ipynb`` runs as a new user runs it, in a
project made by ``scripts/demo-project.sh`` (what ``scripts/demo.sh`` and Binder open), in a
real kernel with the environment JupyterLab gives its kernels. Its runs, its snapshot and its
figures are recorded; then it is exported with the CLI and its job run with a changed
parameter, as the notebook's last steps tell the user to."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml

from jupyter_mlops import mlflow_store
from jupyter_mlops import settings as settings_mod

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo"
NOTEBOOK = "getting-started.ipynb"
EXPERIMENT = "getting-started"
RUN_NAMES = {"SGD baseline", "SGD with larger steps"}

#: Names the notebook tells the user to click that are JupyterLab's own, not ours.
JUPYTERLAB_NAMES = {"Run ▸ Run All Cells", "File ▸ New ▸ Terminal"}


def demo_notebook() -> Any:
    return nbformat.read(DEMO / NOTEBOOK, as_version=4)


def test_the_demo_is_shipped_clean():
    """No outputs in git, papermill's parameters cell, the snapshot left out of the job, and
    a small data file."""
    nb = demo_notebook()
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    tagged = {tag: c for c in code for tag in c.metadata.get("tags", [])}
    assert "learning_rate" in tagged["parameters"].source
    assert tagged["skip-export"].source.startswith("%snapshot data/wine.csv")
    assert sum(c.source.startswith("%%track") for c in code) == 2
    data = DEMO / "data" / "wine.csv"
    assert data.stat().st_size < 200_000
    assert data.read_text().splitlines()[0].endswith(",cultivar")


def ui_strings() -> str:
    """Every text the frontend shows (translated strings of src/, the settings schema)."""
    texts = [p.read_text(encoding="utf-8") for p in (ROOT / "src").rglob("*.ts*")]
    texts += [p.read_text(encoding="utf-8") for p in (ROOT / "schema").glob("*.json")]
    return "\n".join(texts)


def test_what_the_demo_tells_the_user_to_click_exists():
    """Each name the markdown puts in bold is a label of our UI (a renamed button must not
    leave the demo describing the old one)."""
    ui = ui_strings()
    names = {
        name
        for cell in demo_notebook().cells
        if cell.cell_type == "markdown"
        for name in re.findall(r"\*\*(.+?)\*\*", cell.source)
    }
    assert {"Export to Pipeline", "All runs", "Compare (2)"} <= names
    for name in sorted(names - JUPYTERLAB_NAMES):
        label = re.sub(r"\(\d+\)", "(%1)", name)
        assert f"'{label}'" in ui or f'"{label}"' in ui, f"the demo names {name!r}: not in the UI"


def runs_when_settled(uri: str, count: int, timeout: float = 120) -> list[Any]:
    """The demo experiment's runs once ``count`` of them have ended (the kernel's agent
    delivers them in the background)."""
    # The store as the product opens it (created once, under its lock, while the kernel's
    # agent may be creating it too).
    client = mlflow_store.client(uri)
    deadline = time.monotonic() + timeout
    while True:
        found = client.get_experiment_by_name(EXPERIMENT)
        runs = list(client.search_runs([found.experiment_id])) if found else []
        if sum(r.info.status != "RUNNING" for r in runs) >= count:
            return runs
        if time.monotonic() > deadline:
            pytest.fail(f"{count} runs expected in {EXPERIMENT!r}, found {len(runs)}")
        time.sleep(0.5)


@pytest.mark.slow
def test_the_demo_walks_the_whole_loop(tmp_path: Path, kernel_spec_dir: Path, clean_env):
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync
    from nbclient import NotebookClient

    # The project demo.sh opens: a git repository of its own, the data not in git.
    project = tmp_path / "demo-project"
    env = clean_env({"GIT_CONFIG_NOSYSTEM": "1", "HOME": str(tmp_path)})
    done = subprocess.run(
        [str(ROOT / "scripts" / "demo-project.sh"), str(project)],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=project, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert NOTEBOOK in tracked
    assert "data/wine.csv" not in tracked

    # Run all cells, in a real kernel with what JupyterLab gives its kernels: the project's
    # store and the notebook's path.
    settings = settings_mod.resolve(project)
    kernel_env = {
        **settings.kernel_environment(),
        "JPY_SESSION_NAME": str(project / NOTEBOOK),
        "IPYTHONDIR": str(tmp_path / "ipython"),
        "HOME": str(tmp_path),
    }
    nb = nbformat.read(project / NOTEBOOK, as_version=4)
    kernelspec = dict(nb.metadata.kernelspec)
    km = AsyncKernelManager(
        kernel_name="mlops-test-python",
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_spec_dir)]),
    )
    client = NotebookClient(
        nb, km=km, timeout=300, startup_timeout=60, kernel_name="mlops-test-python"
    )
    try:
        client.execute(cwd=str(project), env=clean_env(kernel_env))
    finally:
        # Shut down as JupyterLab does (a shutdown request, not a kill): the kernel saves
        # what its last cell recorded on the way out.
        if run_sync(km.is_alive)():
            run_sync(km.shutdown_kernel)(now=False)
    # Saved, as the user does before exporting.
    nb.metadata.kernelspec = kernelspec
    nbformat.write(nb, project / NOTEBOOK)

    # The snapshot: DVC set up in the project, the version staged with git.
    dvc_file = project / "data" / "wine.csv.dvc"
    md5 = yaml.safe_load(dvc_file.read_text())["outs"][0]["md5"]
    staged = subprocess.run(
        ["git", "diff", "--cached", "--name-only"],
        cwd=project, env=env, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert {"data/wine.csv.dvc", ".dvc/config"} <= set(staged)

    # Two runs, with what the notebook says they record.
    uri = settings.tracking_uri
    runs = {r.info.run_name: r for r in runs_when_settled(uri, 2)}
    assert set(runs) == RUN_NAMES
    mlflow = mlflow_store.client(uri)
    for name, rate in (("SGD baseline", "0.001"), ("SGD with larger steps", "0.01")):
        run = runs[name]
        assert run.info.status == "FINISHED", name
        assert run.data.params["learning_rate"] == rate
        assert run.data.params["epochs"] == "20"
        assert 0 < run.data.metrics["val_accuracy"] <= 1
        history = mlflow.get_metric_history(run.info.run_id, "val_loss")
        assert [m.step for m in history] == list(range(20))
        assert history[-1].value < history[0].value  # it learns
        assert run.data.tags["jupyter_mlops.data.data/wine.csv"] == md5
        assert json.loads(run.data.tags["jupyter_mlops.data"])["data/wine.csv"]["kind"] == "dvc"
        figures = [a.path for a in mlflow.list_artifacts(run.info.run_id, "figures")]
        assert any(path.endswith(".png") for path in figures), figures
        assert run.data.tags["mlflow.source.git.commit"]

    # "Export to Pipeline", from the command line, then the job with a changed parameter,
    # from a JupyterLab terminal (it has the server's JUPYTER_MLOPS_* variables).
    python = [sys.executable, "-m", "jupyter_mlops"]
    done = subprocess.run(
        [*python, "export", NOTEBOOK],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    job = project / "pipelines" / EXPERIMENT
    schema = json.loads((job / "parameters.schema.json").read_text())
    assert set(schema["properties"]) == {"learning_rate", "epochs", "alpha", "seed"}
    exported = nbformat.read(job / NOTEBOOK, as_version=4)
    code = [c for c in exported.cells if c.cell_type == "code"]
    assert not any("%snapshot" in c.source for c in code)  # skip-export
    assert all(not c.outputs for c in code)

    done = subprocess.run(
        [*python, "run", str(job), "-p", "epochs", "5"],
        cwd=project, env=clean_env(settings.kernel_environment()),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (output,) = (job / "output").glob(f"{EXPERIMENT}-*.ipynb")
    assert str(output) in done.stdout
    ran = nbformat.read(output, as_version=4)
    injected = [c for c in ran.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected
    assert "epochs = 5" in injected[0].source

    # The job's run, and the runs of its tracked cells under it, with the job's parameter.
    runs_after = runs_when_settled(uri, 5)
    jobs = [r for r in runs_after if r.data.tags.get("jupyter_mlops.source") == "job"]
    assert len(jobs) == 1, [r.data.tags for r in runs_after]
    assert jobs[0].info.status == "FINISHED"
    assert jobs[0].data.params["epochs"] == "5"
    children = [
        r for r in runs_after if r.data.tags.get("mlflow.parentRunId") == jobs[0].info.run_id
    ]
    assert {r.info.run_name.split(" #")[0] for r in children} == RUN_NAMES
    assert all(r.data.params["epochs"] == "5" for r in children)
    assert all(r.data.tags["jupyter_mlops.data.data/wine.csv"] == md5 for r in children)
