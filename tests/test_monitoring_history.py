"""The monitoring view's route (``monitoring/jobs/{name}``, ``monitoring/deployments/{name}``)
served by a real Jupyter server over a real MLflow tracking server: a job exported and run
with ``jupyter mlops run`` (the entrypoint, papermill, a real kernel) succeeds, fails, and
runs as a deployment's run; the route gives its runs over time with their outcome,
duration, metrics and drift share. Bad input answers 400 naming the problem."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mlops.monitoring.models import MonitoringHistory

T0 = 1_700_000_000_000

PARAMETERS = "quality = 0.9  # what the model scores\nfail = False  # make the run fail\n"
SCORE = """\
%%track --name score
accuracy = quality * 1.0
drift_share = quality / 4
print("accuracy", accuracy)"""
CHECK = """\
if fail:
    raise ValueError("the batch is empty")"""


@pytest.fixture(autouse=True)
def _store(mlflow_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Before the Jupyter server starts: the environment's URI wins.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.uri)


@pytest.fixture
def client(mlflow_server: Any) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=mlflow_server.uri)


def _history(status: int, body: Any) -> MonitoringHistory:
    assert status == 200, body
    return MonitoringHistory.model_validate(body)


def _runs_ended(client: Any, job: str, count: int, timeout: float = 90) -> None:
    """Wait until ``count`` runs of the job's experiment (the job's and its cells') have
    ended: a cell's run is delivered by its kernel's agent, which may outlive the job by a
    moment, and brings its final metrics to the job's run."""
    experiment = client.get_experiment_by_name(job)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = client.search_runs([experiment.experiment_id])
        if sum(r.info.status != "RUNNING" for r in runs) >= count:
            return
        time.sleep(0.5)
    pytest.fail(f"the job's {count} runs did not reach the store")


@pytest.mark.slow
async def test_a_jobs_runs_over_time_from_real_job_runs(
    fetch_json, client, git_dvc_repo: Path, clean_env, mlflow_server: Any
) -> None:
    project = git_dvc_repo
    job = f"monitor-{uuid.uuid4().hex[:8]}"
    nbformat.write(
        new_notebook(
            cells=[
                new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
                new_code_cell("%load_ext jupyter_mlops"),
                new_code_cell(SCORE),
                new_code_cell(CHECK),
            ],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        ),
        project / f"{job}.ipynb",
    )
    python = [sys.executable, "-m", "jupyter_mlops"]
    done = subprocess.run(
        [*python, "export", str(project / f"{job}.ipynb")],
        env=clean_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    folder = project / "pipelines" / job
    tracked = {"JUPYTER_MLOPS_TRACKING_URI": mlflow_server.uri}
    runs = [
        ({"quality": "0.5"}, {}, 0),
        ({"quality": "0.75", "fail": "true"}, {}, 3),
        (
            {"quality": "0.8"},
            {
                "JUPYTER_MLOPS_DEPLOYMENT": f"{job}-daily",
                "JUPYTER_MLOPS_ENGINE_RUN_ID": "manual__1",
            },
            0,
        ),
    ]
    for values, env, code in runs:
        params = [arg for name, value in values.items() for arg in ("-p", name, value)]
        done = subprocess.run(
            [*python, "run", str(folder), *params],
            env=clean_env({**tracked, **env}), capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == code, done.stdout + done.stderr
    _runs_ended(client, job, 6)  # three runs of the job, one of its tracked cell each

    history = _history(*await fetch_json("monitoring", "jobs", job))
    assert history.kind == "job"
    assert history.name == job
    # The job's own runs, oldest first; its cells' runs are not listed.
    assert [r.success for r in history.runs] == [True, False, True]
    assert [r.status for r in history.runs] == ["FINISHED", "FAILED", "FINISHED"]
    assert (history.successes, history.failures) == (2, 1)
    assert not history.truncated
    starts = [r.start_time for r in history.runs]
    assert starts == sorted(starts)
    for run in history.runs:
        assert run.duration is not None
        assert 0 < run.duration < 300
        assert run.end_time is not None
    # The metrics the notebook's tracked cell recorded, the drift share among them.
    assert {"accuracy", "drift_share"} <= set(history.metrics)
    assert not [m for m in history.metrics if m.startswith("jupyter_mlops.")]
    assert [r.metrics["accuracy"] for r in history.runs] == pytest.approx([0.5, 0.75, 0.8])
    assert [r.metrics["drift_share"] for r in history.runs] == pytest.approx([0.125, 0.1875, 0.2])
    failed = history.runs[1]
    assert failed.error
    assert "the batch is empty" in failed.error
    assert history.runs[0].error is None
    assert [r.deployment for r in history.runs] == [None, None, f"{job}-daily"]
    assert history.runs[2].engine_run_id == "manual__1"

    # Chosen metrics only (the drift share still comes along), and the newest runs only.
    chosen = _history(
        *await fetch_json("monitoring", "jobs", job, params={"metrics": "accuracy", "limit": "2"})
    )
    assert chosen.metrics == ["accuracy", "drift_share"]
    assert chosen.truncated
    assert [r.success for r in chosen.runs] == [False, True]
    assert set(chosen.runs[0].metrics) == {"accuracy", "drift_share"}

    # A deployment's runs: only the one its engine started.
    deployed = _history(*await fetch_json("monitoring", "deployments", f"{job}-daily"))
    assert deployed.kind == "deployment"
    assert [r.run_id for r in deployed.runs] == [history.runs[2].run_id]


async def test_limit_and_metrics_on_many_runs(fetch_json, client) -> None:
    from mlflow.entities import Metric

    job = f"many-{uuid.uuid4().hex[:8]}"
    experiment = client.create_experiment(job)
    other = client.create_experiment(f"{job}-other")
    statuses = ["FINISHED", "FAILED", "FINISHED", "KILLED", "FINISHED", "RUNNING"]
    made = []
    for i, status in enumerate(statuses):
        # Runs of one job may sit in two experiments (the notebook's experiment changed).
        run = client.create_run(
            other if i == 0 else experiment,
            start_time=T0 + i * 60_000,
            tags={"jupyter_mlops.source": "job", "jupyter_mlops.job": job},
        )
        client.log_batch(
            run.info.run_id,
            metrics=[
                Metric("rmse", 1.0 + i, T0, 0),
                Metric("jupyter_mlops.duration_s", 2.0, T0, 0),
            ],
        )
        if status != "RUNNING":
            client.set_terminated(run.info.run_id, status, end_time=T0 + i * 60_000 + 1500)
        made.append(run.info.run_id)
    # A cell's run of the job, and another job's run: neither is listed.
    client.create_run(experiment, tags={"jupyter_mlops.source": "cell", "jupyter_mlops.job": job})
    client.create_run(
        experiment, tags={"jupyter_mlops.source": "job", "jupyter_mlops.job": f"{job}-x"}
    )

    history = _history(*await fetch_json("monitoring", "jobs", job))
    assert [r.run_id for r in history.runs] == made
    assert [r.success for r in history.runs] == [True, False, True, False, True, None]
    assert [r.duration for r in history.runs] == [1.5] * 5 + [None]
    assert history.runs[-1].end_time is None
    assert history.metrics == ["rmse"]  # own bookkeeping metrics only when asked
    assert history.available_metrics == ["jupyter_mlops.duration_s", "rmse"]
    assert history.runs[0].metrics == {"rmse": 1.0}

    asked = _history(
        *await fetch_json(
            "monitoring", "jobs", job, params={"metrics": "jupyter_mlops.duration_s,nope"}
        )
    )
    assert asked.metrics == ["jupyter_mlops.duration_s", "nope"]
    assert asked.runs[0].metrics == {"jupyter_mlops.duration_s": 2.0}

    newest = _history(*await fetch_json("monitoring", "jobs", job, params={"limit": "3"}))
    assert [r.run_id for r in newest.runs] == made[-3:]
    assert newest.truncated

    none = _history(*await fetch_json("monitoring", "jobs", f"{job}-never-ran"))
    assert none.runs == []
    assert none.metrics == []
    assert not none.truncated


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        (("jobs", "bad'name"), None, "name"),
        (("deployments", "-starts-with-dash"), None, "name"),
        (("jobs", "fine"), {"limit": "0"}, "limit"),
        (("jobs", "fine"), {"limit": "many"}, "limit"),
        (("jobs", "fine"), {"metrics": ",".join(f"m{i}" for i in range(21))}, "metrics"),
        (("jobs", "fine"), {"metric": "typo"}, "metric"),
    ],
)
async def test_bad_input_is_a_400_naming_it(fetch_json, path, params, field) -> None:
    status, body = await fetch_json("monitoring", *path, params=params)
    assert status == 400, body
    assert field in body["message"]
    assert [f["field"] for f in body["fields"]] == [field]


async def test_an_unknown_kind_is_a_404(fetch_json) -> None:
    status, body = await fetch_json("monitoring", "models", "x")
    assert status == 404
    assert body["code"] == "no_route"
