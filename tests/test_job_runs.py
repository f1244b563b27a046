"""A job read back: ``jupyter mlops run`` (the job entrypoint, papermill, a real kernel) on a
notebook with ``%%track`` cells in a git + DVC project. The runs of the tracked cells are
children of the job's run, in its experiment, with the job's parameters and the DVC
version of the data; the output notebook shows their run cards as HTML, not widget text."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mlops import settings as settings_mod
from jupyter_mlops.experiments.service import TrackingService
from jupyter_mlops.export.metrics import recorded
from jupyter_mlops.runs.models import RunsQuery
from jupyter_mlops.runs.service import RunsService

pytestmark = pytest.mark.slow

PARAMETERS = "lr = 0.1  # learning rate\nepochs = 3  # not read by the tracked cell\n"
TRAIN = """\
%%track --name fit --data data.csv
rows = len(open("data.csv").read().splitlines())
score = lr * rows
print("score", score)"""


def dvc_md5(dvc_file: Path) -> str:
    import yaml

    return str(yaml.safe_load(dvc_file.read_text())["outs"][0]["md5"])


def runs_when_settled(uri: str, experiment: str, count: int, timeout: float = 90) -> list[Any]:
    """The experiment's runs once ``count`` of them have ended (the cells' runs are
    delivered by their kernel's agent, which may outlive the job by a moment)."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    deadline = time.monotonic() + timeout
    while True:
        found = client.get_experiment_by_name(experiment)
        runs = list(client.search_runs([found.experiment_id])) if found else []
        ended = [r for r in runs if r.info.status != "RUNNING"]
        if len(ended) >= count or time.monotonic() > deadline:
            return runs
        time.sleep(0.5)


@pytest.mark.parametrize(
    "targets",
    [
        ["docker"],  # the job carries a copy of the data, pinned to its DVC version
        ["docker", "dvc"],  # the job folder links the data to the project's
    ],
)
def test_tracked_cells_in_a_job_are_children_of_its_run(
    git_dvc_repo: Path, clean_env, embedded_uri, targets: list[str]
) -> None:
    project = git_dvc_repo
    env = clean_env()
    (project / "data.csv").write_text("a,b\n1,2\n3,4\n")
    subprocess.run(
        [sys.executable, "-m", "dvc", "add", "--quiet", "data.csv"],
        cwd=project, env=env, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    nbformat.write(
        new_notebook(
            cells=[
                new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
                new_code_cell("%load_ext jupyter_mlops"),
                new_code_cell(TRAIN),
            ],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        ),
        project / "train.ipynb",
    )
    python = [sys.executable, "-m", "jupyter_mlops"]
    done = subprocess.run(
        [*python, "export", str(project / "train.ipynb"), *(f"--target={t}" for t in targets)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    job = project / "pipelines" / "train"
    assert (job / "data.csv").is_symlink() == ("dvc" in targets)
    uri = embedded_uri(job)
    done = subprocess.run(
        [*python, "run", str(job), "-p", "lr", "0.5"],
        env=clean_env({"JUPYTER_MLOPS_TRACKING_URI": uri}),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr

    runs = runs_when_settled(uri, "train", 2)
    by_source = {r.data.tags["jupyter_mlops.source"]: r for r in runs}
    assert len(runs) == 2, [r.data.tags for r in runs]
    assert set(by_source) == {"job", "cell"}
    parent, child = by_source["job"], by_source["cell"]
    assert child.info.status == "FINISHED"
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert child.data.tags["jupyter_mlops.job"] == "train"
    # The job's parameters, the one the cell did not read too.
    assert child.data.params["lr"] == "0.5"
    assert child.data.params["epochs"] == "3"
    assert child.data.metrics["score"] == pytest.approx(1.5)
    # The job's run shows its cells' final metrics, under their own names.
    assert parent.data.metrics["score"] == pytest.approx(1.5)
    assert parent.data.metrics["rows"] == child.data.metrics["rows"] == 3
    assert set(parent.data.metrics) == set(child.data.metrics)  # its own duration
    assert parent.data.metrics["jupyter_mlops.duration_s"] != pytest.approx(
        child.data.metrics["jupyter_mlops.duration_s"]
    )
    # The data: the version DVC tracks (the job pinned it), not a content hash.
    md5 = dvc_md5(project / "data.csv.dvc")
    assert child.data.params["data.data.csv"] == f"dvc:{md5[:12]}"
    assert json.loads(child.data.tags["jupyter_mlops.data"])["data.csv"]["kind"] == "dvc"
    assert child.data.tags["jupyter_mlops.data.data.csv"] == md5

    # The output notebook shows the card as HTML: no widget, no widget's text.
    (output,) = (job / "output").glob("train-*.ipynb")

    # What the runs view reads: the cell's run under the job's, the job's output notebook.
    service = RunsService(TrackingService(settings_mod.resolve(project, tracking_uri=uri)))
    page = service.search(RunsQuery(experiment_id=parent.info.experiment_id))
    parents = {run.run_name: run.parent_run_id for run in page.runs}
    assert parents == {parent.info.run_name: None, child.info.run_name: parent.info.run_id}
    # The filter the job run's details list its cells' runs with.
    cells = service.search(
        RunsQuery(
            experiment_id=parent.info.experiment_id,
            filter=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'",
        )
    )
    assert [run.run_id for run in cells.runs] == [child.info.run_id]
    details = service.details(parent.info.run_id)
    assert details.job_output == str(output)
    assert details.job_output_path == output.relative_to(project).as_posix()
    assert service.details(child.info.run_id).job_output is None
    cell = nbformat.read(output, as_version=4).cells[-1]
    html = [o.get("data", {}).get("text/html", "") for o in cell.outputs]
    cards = [o for o, text in zip(cell.outputs, html, strict=True) if "jp-mlops-RunCard" in text]
    assert len(cards) == 1, cell.outputs
    assert "application/vnd.jupyter.widget-view+json" not in cards[0]["data"]
    assert "HTML(value=" not in output.read_text()
    assert cards[0]["data"]["text/plain"] == "run 'fit': FINISHED (experiment train)"
    # The tracked cell's final metrics are the job's metrics (its --metrics file, its
    # Pushgateway push, its notifications), without our own bookkeeping ones.
    assert recorded(json.loads(output.read_text())) == {"rows": 3, "score": 1.5}


def test_a_job_run_from_a_shell_is_recorded_in_its_projects_store(
    git_dvc_repo: Path, tmp_path: Path, clean_env, embedded_uri
) -> None:
    """No tracking URI in the environment (a plain terminal, not JupyterLab's): `run` finds
    the project of the job folder by its state folder and records there, wherever it is
    started from; `--tracking-uri` names another store."""
    project = git_dvc_repo
    env = clean_env()
    nbformat.write(
        new_notebook(
            cells=[
                new_code_cell("lr = 0.1", metadata={"tags": ["parameters"]}),
                new_code_cell("print('lr', lr)"),
            ],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        ),
        project / "shell.ipynb",
    )
    python = [sys.executable, "-m", "jupyter_mlops"]
    for args in (["export", str(project / "shell.ipynb")], ["experiments", "--root", "."]):
        done = subprocess.run(
            [*python, *args], cwd=project, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
    assert (project / ".mlops").is_dir()  # the project's store, as JupyterLab leaves it

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    job = project / "pipelines" / "shell"
    done = subprocess.run(
        [*python, "run", str(job), "-p", "lr", "0.5"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    # The job's kernel is reached over Unix sockets, not plain TCP (ipykernel's warning).
    assert "without encryption" not in done.stdout + done.stderr
    (run,) = runs_when_settled(embedded_uri(project), "shell", 1)
    assert run.data.params["lr"] == "0.5"
    assert not (elsewhere / ".mlops").exists()
    assert not (job / ".mlops").exists()

    other = embedded_uri(tmp_path / "other")
    (tmp_path / "other").mkdir()
    done = subprocess.run(
        [*python, "run", str(job), "--tracking-uri", other],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert [r.data.params["lr"] for r in runs_when_settled(other, "shell", 1)] == ["0.1"]
