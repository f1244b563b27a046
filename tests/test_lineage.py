"""The lineage graph against a real MLflow tracking server and model registry: a notebook in
a git + DVC project, exported as a job and run by ``jupyter mlops run`` (the job entrypoint,
papermill, a real kernel); its tracked cell reads DVC data and its run is registered as a
model version. The graph of the model version, of the cell's run and of the job's output
notebook joins them all: data version -> commit -> run -> model version, notebook -> job ->
job run -> output; through the service and through the server's route."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mlops import settings as settings_mod
from jupyter_mlops.deployments.models import DeploymentInfo
from jupyter_mlops.errors import NotFound
from jupyter_mlops.experiments.service import TrackingService
from jupyter_mlops.export.build import BuildResult
from jupyter_mlops.export.deploy import BUILD_RECORD
from jupyter_mlops.lineage.models import LineageGraph, LineageQuery
from jupyter_mlops.lineage.service import LineageService
from jupyter_mlops.statefiles import write_json

pytestmark = pytest.mark.slow

TRAIN = """\
%%track --name fit --data data.csv
from sklearn.linear_model import LogisticRegression
rows = len(open("data.csv").read().splitlines())
model = LogisticRegression().fit([[0], [1], [2], [3]], [0, 0, 1, 1])
score = lr * rows
info = jupyter_mlops.log_model(model, name=NAME)"""
SCORE = """\
%%track --name score
loaded = jupyter_mlops.load_model(NAME + "@champion")
predicted = int(loaded.predict([[3]])[0])"""


@pytest.fixture
def jp_root_dir(git_dvc_repo: Path) -> Path:
    return git_dvc_repo


@pytest.fixture
def mlops_config(mlflow_server: Any) -> dict[str, Any]:
    return {"tracking_uri": mlflow_server.uri}


def _git(project: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=project, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


def export_and_run(
    project: Path,
    name: str,
    cells: list[str],
    uri: str,
    clean_env: Any,
    before_run: Callable[[Path], dict[str, str]] = lambda job: {},
) -> Any:
    """Export notebook ``name`` (its cells after a parameters cell) and run the job (with
    the environment ``before_run(job folder)`` gives): the job's run and its tracked
    cell's run once both have ended, and its output."""
    nbformat.write(
        new_notebook(
            cells=[
                new_code_cell("lr = 0.1", metadata={"tags": ["parameters"]}),
                *(new_code_cell(cell) for cell in cells),
            ],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        ),
        project / f"{name}.ipynb",
    )
    _git(project, "add", "-A")
    _git(project, "commit", "--quiet", "-m", f"the notebook {name}")
    python = [sys.executable, "-m", "jupyter_mlops"]
    done = subprocess.run(
        [*python, "export", str(project / f"{name}.ipynb"), "--target=docker"],
        env=clean_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    job = project / "pipelines" / name
    done = subprocess.run(
        [*python, "run", str(job), "-p", "lr", "0.5"],
        env=clean_env({"JUPYTER_MLOPS_TRACKING_URI": uri, **before_run(job)}),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr

    from mlflow import MlflowClient

    client = MlflowClient(uri)
    deadline = time.monotonic() + 90
    while True:
        experiment = client.get_experiment_by_name(name)
        runs = list(client.search_runs([experiment.experiment_id])) if experiment else []
        if len([r for r in runs if r.info.status != "RUNNING"]) >= 2:
            break
        assert time.monotonic() < deadline, [r.info for r in runs]
        time.sleep(0.5)
    by_source = {r.data.tags["jupyter_mlops.source"]: r for r in runs}
    assert by_source["cell"].info.status == "FINISHED", by_source["cell"].data.tags
    (output,) = (job / "output").glob(f"{name}-*.ipynb")
    return by_source["job"], by_source["cell"], output.relative_to(project).as_posix()


def job_ran(project: Path, uri: str, clean_env: Any) -> dict[str, Any]:
    """A job trains a model on DVC data and registers it (``jupyter_mlops.log_model``);
    the version becomes ``champion``; a second job loads ``NAME@champion``: the facts."""
    name = f"lineage-{uuid.uuid4().hex[:8]}"
    (project / "data.csv").write_text("a,b\n1,2\n3,4\n")
    subprocess.run(
        [sys.executable, "-m", "dvc", "add", "--quiet", "data.csv"],
        cwd=project, env=clean_env(), check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    load = f"%load_ext jupyter_mlops\nNAME = {name!r}"
    job_run, cell_run, output = export_and_run(project, name, [load, TRAIN], uri, clean_env)
    commit = job_run.data.tags["mlflow.source.git.commit"]

    from mlflow import MlflowClient

    client = MlflowClient(uri)
    (version,) = client.search_model_versions(f"name = '{name}'")
    assert version.run_id == cell_run.info.run_id
    client.set_registered_model_alias(name, "champion", version.version)
    scorer = f"{name}-score"
    image_id = "sha256:" + "ab" * 32

    def built_and_deployed(job: Path) -> dict[str, str]:
        """What ``jupyter mlops build`` and a deployment record (the deployments slice's
        model) say of the scoring job, and the environment its DAG gives the job."""
        built = BuildResult(
            image=f"{scorer}:latest", image_id=image_id, size=1, seconds=1.0, steps=3
        )
        (job / BUILD_RECORD).write_text(json.dumps(asdict(built)))
        record = DeploymentInfo(
            name=f"{scorer}-daily",
            job=job.relative_to(project).as_posix(),
            engine="airflow",
            url="http://127.0.0.1:8080",
            dag_id=f"{scorer}-daily",
            image=f"{scorer}:latest",
            image_digest=image_id,
            deployed_by="tests",
            deployed_at="2026-12-06T06:00:00+00:00",
        )
        write_json(project / ".mlops" / "deployments" / f"{scorer}-daily.json", record.model_dump())
        return {
            "JUPYTER_MLOPS_DEPLOYMENT": f"{scorer}-daily",
            "JUPYTER_MLOPS_IMAGE_DIGEST": image_id,
            "JUPYTER_MLOPS_ENGINE_RUN_ID": "manual__2026-12-06",
        }

    score_job_run, score_run, score_output = export_and_run(
        project, scorer, [load, SCORE], uri, clean_env, built_and_deployed
    )
    assert score_run.data.tags[f"jupyter_mlops.model_used.{name}"] == str(version.version)
    md5 = str(yaml.safe_load((project / "data.csv.dvc").read_text())["outs"][0]["md5"])
    return {
        "name": name,
        "commit": commit,
        "job_run": job_run.info.run_id,
        "cell_run": cell_run.info.run_id,
        "version": str(version.version),
        "output": output,
        "md5": md5,
        "score_job_run": score_job_run.info.run_id,
        "score_run": score_run.info.run_id,
        "score_output": score_output,
        "image": f"image:{image_id}",
        "deployment": f"deployment:{scorer}-daily",
    }


def edges(graph: LineageGraph | dict[str, Any]) -> set[tuple[str, str, str]]:
    data = graph.model_dump() if isinstance(graph, LineageGraph) else graph
    return {(e["source"], e["relation"], e["target"]) for e in data["edges"]}


def check_joined(graph: LineageGraph | dict[str, Any], facts: dict[str, Any]) -> None:
    """Everything the job left behind is in one graph, linked as recorded."""
    name, cell, job_run = facts["name"], f"run:{facts['cell_run']}", f"run:{facts['job_run']}"
    data = f"data:data.csv@{facts['md5']}"
    version = f"model_version:{name}/{facts['version']}"
    job = f"job:pipelines/{name}"
    output = f"output:{facts['output']}"
    found = edges(graph)
    expected = {
        (data, "read by", cell),
        (f"commit:{facts['commit']}", "code of", cell),
        (f"commit:{facts['commit']}", "exported from", job),
        (job_run, "ran cell", cell),
        (cell, "registered as", version),
        (f"notebook:{name}.ipynb", "exported as", job),
        (data, "pinned by", job),
        (job, "ran", job_run),
        (job_run, "wrote", output),
        # The second job loaded the version: its runs and output hang from it.
        (version, "loaded by", f"run:{facts['score_run']}"),
        (f"run:{facts['score_job_run']}", "ran cell", f"run:{facts['score_run']}"),
        (f"job:pipelines/{name}-score", "built as", facts["image"]),
        (facts["image"], "deployed as", facts["deployment"]),
        (facts["deployment"], "ran", f"run:{facts['score_job_run']}"),
        (f"run:{facts['score_job_run']}", "wrote", f"output:{facts['score_output']}"),
    }
    assert expected <= found, expected - found
    nodes = {
        n["id"]: n
        for n in (graph.model_dump() if isinstance(graph, LineageGraph) else graph)["nodes"]
    }
    assert nodes[version]["attrs"]["aliases"] == "champion"
    assert nodes[version]["link"] == {
        "view": "model_version",
        "target": f"{name}/{facts['version']}",
        "version": None,
    }
    assert nodes[job_run]["kind"] == "job_run"
    assert nodes[cell]["kind"] == "run"
    assert nodes[cell]["link"]["target"] == facts["cell_run"]
    assert nodes[output]["link"] == {"view": "notebook", "target": facts["output"], "version": None}
    assert nodes[data]["link"] == {"view": "data", "target": "data.csv", "version": facts["md5"]}
    # Every edge joins two nodes of the graph.
    assert {e[0] for e in found} | {e[2] for e in found} <= set(nodes)


async def test_the_graph_joins_data_run_model_job_and_output(
    git_dvc_repo: Path, mlflow_server: Any, clean_env: Any, fetch_json: Any
) -> None:
    project = git_dvc_repo
    facts = job_ran(project, mlflow_server.uri, clean_env)
    settings = settings_mod.resolve(project, tracking_uri=mlflow_server.uri)
    service = LineageService(settings, TrackingService(settings))

    by_version = service.graph(LineageQuery(model=facts["name"], version=facts["version"]))
    assert by_version.root == f"model_version:{facts['name']}/{facts['version']}"
    check_joined(by_version, facts)
    by_run = service.graph(LineageQuery(run=facts["cell_run"]))
    assert by_run.root == f"run:{facts['cell_run']}"
    check_joined(by_run, facts)
    by_output = service.graph(LineageQuery(output=facts["output"]))
    assert by_output.root == f"output:{facts['output']}"
    check_joined(by_output, facts)

    # The route serves the same graph.
    code, body = await fetch_json(
        "lineage", params={"model": facts["name"], "version": facts["version"]}
    )
    assert code == 200, body
    assert body["root"] == by_version.root
    check_joined(body, facts)
    code, body = await fetch_json("lineage", params={"output": facts["output"]})
    assert code == 200, body
    check_joined(body, facts)

    # Unknown roots: one clear line each, through the service and the route.
    with pytest.raises(NotFound, match="No version 99 of model"):
        service.graph(LineageQuery(model=facts["name"], version="99"))
    code, body = await fetch_json("lineage", params={"model": "no-such-model", "version": "1"})
    assert code == 404
    assert body["message"] == "No version 1 of model 'no-such-model' in the registry."
    code, body = await fetch_json("lineage", params={"run": "0" * 32})
    assert code == 404
    assert body["message"] == f"No run '{'0' * 32}' in the tracking store."
    code, body = await fetch_json("lineage", params={"output": "README.md"})
    assert code == 404
    assert body["message"].startswith("No job run in the tracking store wrote"), body


async def test_bad_queries_are_refused(fetch_json: Any) -> None:
    for params in (
        {},
        {"run": "abc", "output": "x.ipynb"},
        {"model": "m"},
        {"version": "1"},
        {"model": "m", "version": "zero"},
        {"run": "../etc"},
    ):
        code, body = await fetch_json("lineage", params=params)
        assert code == 400, (params, body)
        assert body["message"], params
        assert "\n" not in body["message"]
    code, body = await fetch_json("lineage", params={"output": "../outside.ipynb"})
    assert code == 404, body
