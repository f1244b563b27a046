"""Deployments to Airflow, for real: Airflow 3 standalone (``tests/airflow_fixture.py``),
a small job exported and built into an image run through Podman's Docker API by the DAG's
DockerOperator, its runs recorded in the real MLflow server; the CLI and the routes.

Without Airflow's environment or a container engine these tests are skipped (CI fails)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow_fixture import USER, Airflow, airflow  # noqa: F401 (the session fixture)
from conftest import MlflowServer, free_port, subprocess_env
from test_containers import MACHINE_CA_CERTS, engine, notebook  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

PARAMETERS = """\
greeting = "hello"  # what to say
times: int = 2  # how often
fail = False  # fail on purpose
pause = 0.0  # seconds to sleep, for a run to cancel
"""
BODY = 'print("RESULT", greeting * times)'
FAILING = 'if fail:\n    raise ValueError("failed on purpose")'
SLEEPING = "import time\ntime.sleep(pause)"


def mlops(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 400
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jupyter_mlops", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=subprocess_env(env),
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, engine: Any) -> Path:  # noqa: F811
    """A project with a small job (three typed parameters, a cell that fails on demand),
    exported and built."""
    folder = tmp_path_factory.mktemp("deploy-project")
    (folder / ".mlops").mkdir()
    notebook(folder / "small.ipynb", [(PARAMETERS, "parameters"), BODY, FAILING, SLEEPING])
    certs = MACHINE_CA_CERTS if any(MACHINE_CA_CERTS.glob("*.crt")) else None
    env = {"JUPYTER_MLOPS_CA_CERTS": str(certs)} if certs else {}
    done = mlops("export", "small.ipynb", cwd=folder, env=env)
    assert done.returncode == 0, done.stderr
    done = mlops("build", "pipelines/small", cwd=folder, env=env, timeout=800)
    assert done.returncode == 0, done.stderr
    return folder


@pytest.fixture(scope="module")
def client_env(
    project: Path,
    mlflow_server: MlflowServer,
    airflow: Airflow,  # noqa: F811
) -> dict[str, str]:
    """Airflow's place and credentials; started after the job is built and MLflow is up
    (two cores: one heavy start at a time)."""
    return {**airflow.client_env(), "DOCKER_HOST": os.environ["DOCKER_HOST"]}


@pytest.fixture(scope="module")
def deployed(
    project: Path,
    client_env: dict[str, str],
    mlflow_server: MlflowServer,
    airflow: Airflow,  # noqa: F811
) -> Iterator[str]:
    """The job deployed as 'small' (manual runs) and as 'small-cron' (every minute, which
    Airflow starts at once: the latest interval of a schedule with no catch-up)."""
    common = ["--network-mode", "host", "--tracking-uri", mlflow_server.uri, "--retries", "0"]
    done = mlops("deploy", "pipelines/small", *common, cwd=project, env=client_env)
    assert done.returncode == 0, done.stderr
    assert "deployed small to airflow" in done.stdout
    done = mlops(
        "deploy", "pipelines/small", "--name", "small-cron", "--schedule", "* * * * *",
        *common, cwd=project, env=client_env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    yield "small"
    for name in ("small", "small-cron"):
        mlops("undeploy", name, cwd=project, env=client_env)
    for container in job_containers(client_env):  # a failed test's run, left running
        container.stop(timeout=5)


@pytest.fixture
def airflow_env(
    airflow: Airflow,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """This process finds Airflow and the container engine as a server would (the
    environment), for tests that call the deployments service or the routes."""
    for key, value in {**airflow.client_env(), "DOCKER_HOST": os.environ["DOCKER_HOST"]}.items():
        monkeypatch.setenv(key, value)


def job_containers(env: dict[str, str]) -> list[Any]:
    """The running containers of the job's image."""
    import docker

    client = docker.DockerClient(base_url=env["DOCKER_HOST"])
    return [
        c for c in client.containers.list()
        if str(c.attrs.get("Config", {}).get("Image", "")).split("/")[-1] == "small:latest"
    ]  # fmt: skip


def runs_of(project: Path, env: dict[str, str], name: str) -> list[dict[str, Any]]:
    done = mlops("runs", name, "--json", cwd=project, env=env)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_deployment_is_recorded_and_its_dag_parsed(
    project: Path,
    deployed: str,
    airflow: Airflow,  # noqa: F811
    client_env: dict[str, str],
) -> None:
    record = json.loads((project / ".mlops" / "deployments" / "small.json").read_text())
    assert record["job"] == "pipelines/small"
    assert record["engine"] == "airflow"
    assert record["url"] == airflow.url
    assert record["dag_id"] == "small"
    assert record["image"] == "small:latest"
    assert record["image_digest"].startswith("sha256:")
    assert record["parameters"] == {"greeting": "hello", "times": 2, "fail": False, "pause": 0.0}
    assert record["deployed_by"]
    assert record["deployed_at"]
    assert not any("password" in k.lower() or "token" in k.lower() for k in record["options"])
    source = (airflow.dags_folder / "jupyter_mlops_small.py").read_text()
    assert "JUPYTER_MLOPS_ENGINE_RUN_ID" in source
    assert "{{ run_id }}" in source
    assert "a-test-password" not in source
    listed = mlops("deployments", "--json", cwd=project, env=client_env)
    assert listed.returncode == 0, listed.stderr
    names = {d["name"] for d in json.loads(listed.stdout)["deployments"]}
    assert names == {"small", "small-cron"}
    audit = (project / ".mlops" / "audit.jsonl").read_text()
    assert '"deploy"' in audit
    assert "deployment/small" in audit


def test_trigger_with_parameters_succeeds_and_is_tracked(
    project: Path, deployed: str, client_env: dict[str, str], mlflow_server: MlflowServer
) -> None:
    done = mlops(
        "trigger", "small", "-p", "times", "3", "-p", "greeting", "hi", "--wait",
        "--timeout", "300", cwd=project, env=client_env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    assert "succeeded" in done.stdout
    run = next(r for r in runs_of(project, client_env, "small") if r["state"] == "success")
    assert run["parameters"] == {"times": 3, "greeting": "hi"}
    assert run["try_number"] == 1
    assert run["duration"] > 0
    assert run["mlflow_run_id"], run

    from mlflow import MlflowClient

    tracked = MlflowClient(mlflow_server.uri).get_run(run["mlflow_run_id"])
    assert tracked.data.params["times"] == "3"
    assert tracked.data.params["greeting"] == "hi"
    assert tracked.data.tags["jupyter_mlops.engine_run_id"] == run["run_id"]
    assert tracked.data.tags["jupyter_mlops.deployment"] == "small"
    logs = mlops("logs", "small", run["run_id"], cwd=project, env=client_env)
    assert logs.returncode == 0, logs.stderr
    assert "jupyter-mlops job: done" in logs.stdout, logs.stdout[-2000:]


def test_a_failed_run_names_its_failing_cell(
    project: Path, deployed: str, client_env: dict[str, str]
) -> None:
    done = mlops(
        "trigger", "small", "-p", "fail", "true", "--wait", "--timeout", "300",
        cwd=project, env=client_env,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert "failed in cell [4] (`if fail:`)" in lines[-1], lines
    assert "failed on purpose" in lines[-1]
    failed = [r for r in runs_of(project, client_env, "small") if r["state"] == "failed"]
    assert failed
    assert failed[0]["failed_cell"] == "[4] (`if fail:`)"


def test_a_schedule_runs_without_trigger_and_pause_stops_it(
    project: Path, deployed: str, client_env: dict[str, str]
) -> None:
    deadline = time.monotonic() + 150
    while not (runs := runs_of(project, client_env, "small-cron")):
        assert time.monotonic() < deadline, "no scheduled run"
        time.sleep(3)
    assert not runs[0]["run_id"].startswith("manual__"), runs[0]
    paused = mlops("pause", "small-cron", cwd=project, env=client_env)
    assert paused.returncode == 0, paused.stderr
    count = len(runs_of(project, client_env, "small-cron"))
    time.sleep(65)  # a whole minute of the schedule
    assert len(runs_of(project, client_env, "small-cron")) == count
    listed = json.loads(mlops("deployments", "--json", cwd=project, env=client_env).stdout)
    assert next(d for d in listed["deployments"] if d["name"] == "small-cron")["paused"]


def test_a_running_run_is_cancelled_and_its_container_stopped(
    project: Path, deployed: str, client_env: dict[str, str]
) -> None:
    """`cancel` ends a run whose notebook is still running: Airflow marks it failed and
    its DockerOperator stops the job's container."""
    started = mlops("trigger", "small", "-p", "pause", "600", cwd=project, env=client_env)
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    deadline = time.monotonic() + 240
    while not job_containers(client_env):  # the notebook is running in its container
        assert time.monotonic() < deadline, runs_of(project, client_env, "small")[:1]
        time.sleep(2)
    done = mlops("cancel", "small", run_id, cwd=project, env=client_env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{run_id} failed"
    deadline = time.monotonic() + 120
    while job_containers(client_env):
        assert time.monotonic() < deadline, "the job's container still runs after cancel"
        time.sleep(2)
    run = next(r for r in runs_of(project, client_env, "small") if r["run_id"] == run_id)
    assert run["state"] == "failed", run
    again = mlops("cancel", "small", run_id, cwd=project, env=client_env)
    assert again.returncode != 0
    assert "has ended" in again.stderr


def test_runs_of_every_deployment_come_whatever_the_page_size(
    project: Path, deployed: str, airflow_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The latest runs of all deployments come from one request when they fit in a page;
    with pages of two runs, 'small''s newer runs do not hide 'small-cron''s."""
    from jupyter_mlops.deployments import airflow as engine_module
    from jupyter_mlops.deployments.service import DeploymentsService
    from jupyter_mlops.settings import resolve

    service = DeploymentsService(resolve(project))

    def latest() -> dict[str, list[str]]:
        answer = service.list_deployments()
        assert answer.engine_errors == []
        return {d.name: [r.run_id for r in d.latest_runs] for d in answer.deployments}

    whole = latest()
    assert whole["small-cron"], whole
    assert len(whole["small"]) >= 3, whole
    monkeypatch.setattr(engine_module.AirflowEngine, "page_limit", 2)
    assert latest() == whole


def test_a_failed_run_notifies_through_the_secret_the_dag_mounts(
    project: Path,
    deployed: str,
    airflow: Airflow,  # noqa: F811
    airflow_env: None,
    mlflow_server: MlflowServer,
    tmp_path: Path,
) -> None:
    """``--notify-secret alerts``: the Docker DAG mounts the host's secrets folder (the
    server's ``c.AirflowTarget.docker_secrets_dir``), the job reads the URL there and posts
    the failure, its cell and error, to a webhook on loopback; the URL is in no file."""
    from test_notify import Receiver
    from traitlets.config import Config

    from jupyter_mlops.deployments.service import DeploymentsService
    from jupyter_mlops.settings import resolve

    receiver = Receiver()
    try:
        secrets = tmp_path / "secrets"
        (secrets / "alerts").mkdir(parents=True)
        (secrets / "alerts" / "url").write_text(receiver.url)
        config = Config()
        config.AirflowTarget.docker_secrets_dir = str(secrets)
        service = DeploymentsService(resolve(project), engine_config=config)
        options = {
            "notify_secret": "alerts",
            "retries": 0,
            "network_mode": "host",
            "tracking_uri": mlflow_server.uri,
        }
        prepared = service.prepare(project / "pipelines" / "small", name="alerted", options=options)
        service.deploy(prepared)
        try:
            run = service.trigger("alerted", {"fail": True})
            ended = service.wait("alerted", run.run_id, timeout=300, interval=0.5)
            assert ended.state == "failed", ended
            deadline = time.monotonic() + 30
            while not receiver.received:
                assert time.monotonic() < deadline, "no notification"
                time.sleep(0.5)
            (message,) = receiver.received
            assert message["type"] == "failure", message
            text = json.dumps(message)
            assert "small" in text
            assert "[4]" in text
            assert "failed on purpose" in text
            dag = (airflow.dags_folder / "jupyter_mlops_alerted.py").read_text()
            assert receiver.url not in dag
            assert str(secrets) in dag
        finally:
            service.undeploy("alerted")
    finally:
        receiver.close()


# -- bad input: one clear line, nothing half-deployed ----------------------------------------
def test_bad_input_is_one_line_and_leaves_nothing(
    project: Path,
    deployed: str,
    client_env: dict[str, str],
    airflow: Airflow,  # noqa: F811
    tmp_path: Path,
) -> None:
    def refused(*args: str, env: dict[str, str] | None = None) -> str:
        done = mlops(*args, cwd=project, env={**client_env, **(env or {})}, timeout=120)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert "Traceback" not in done.stderr
        return lines[0]

    before = sorted(p.name for p in airflow.dags_folder.iterdir())
    deploy = ("deploy", "pipelines/small", "--name", "other")
    assert "does not exist" in refused(*deploy, "--dags-folder", str(tmp_path / "missing"))
    unreachable = f"http://127.0.0.1:{free_port()}"
    assert "does not answer" in refused(*deploy, "--url", unreachable)
    assert "refused the credentials" in refused(
        *deploy, env={"JUPYTER_MLOPS_AIRFLOW_PASSWORD": "wrong"}
    )
    assert "no deployment 'nope'" in refused("trigger", "nope")
    assert "times" in refused("trigger", "small", "-p", "times", "many")
    assert "parameter" in refused("trigger", "small", "-p", "unknown", "1")
    assert not (project / ".mlops" / "deployments" / "other.json").exists()
    assert sorted(p.name for p in airflow.dags_folder.iterdir()) == before


def test_a_dag_with_import_errors_is_taken_back(
    project: Path,
    deployed: str,
    airflow: Airflow,  # noqa: F811
    airflow_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A DAG file Airflow cannot import (here: one importing a provider that is not
    installed) is reported with Airflow's error, and removed."""
    from jupyter_mlops.deployments import airflow as engine_module
    from jupyter_mlops.deployments.service import DeploymentsService
    from jupyter_mlops.errors import InvalidInput
    from jupyter_mlops.settings import resolve

    class Broken(engine_module.AirflowEngine):
        def render(self, spec: Any, dag_id: str) -> str:
            return "import airflow_provider_that_is_not_installed  # dag\n"

    monkeypatch.setattr(engine_module.AirflowEngine, "render", Broken.render)
    service = DeploymentsService(resolve(project))
    prepared = service.prepare(project / "pipelines" / "small", name="broken")
    with pytest.raises(InvalidInput, match=r"cannot import the DAG: .*airflow_provider_that"):
        service.deploy(prepared)
    assert not (airflow.dags_folder / "jupyter_mlops_broken.py").exists()
    assert not (project / ".mlops" / "deployments" / "broken.json").exists()


# -- the routes ---------------------------------------------------------------------------
@pytest.fixture
def jp_root_dir(project: Path) -> Path:
    return project


async def test_routes(
    fetch_json: Any,
    deployed: str,
    airflow_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status, body = await fetch_json("deployments")
    assert status == 200, body
    assert {d["name"] for d in body["deployments"]} == {"small", "small-cron"}
    assert body["engine_errors"] == []
    small = next(d for d in body["deployments"] if d["name"] == "small")
    assert small["latest_runs"], small
    assert len(small["latest_runs"]) <= 5

    status, body = await fetch_json("deployments", "small", "runs")
    assert status == 200, body
    assert body["runs"], body
    run = body["runs"][0]
    status, logs = await fetch_json("deployments", "small", "runs", run["run_id"], "logs")
    assert status == 200, logs
    assert logs["text"], logs

    status, body = await fetch_json(
        "deployments",
        "small",
        "runs",
        method="POST",
        body=json.dumps({"parameters": {"times": "x"}}),
    )
    assert status == 400, body
    assert body["code"] == "invalid_parameters"
    assert "times" in body["message"]
    status, body = await fetch_json("deployments", "nope")
    assert status == 404, body
    status, body = await fetch_json(
        "deployments", "small", "runs", run["run_id"], "cancel", method="POST", body="{}"
    )
    assert status == 409, body  # it has ended
    status, body = await fetch_json(
        "deployments",
        method="POST",
        body=json.dumps({"job": "pipelines/small", "engine": "airflow", "name": "x",
                         "options": {"schedule": "every day"}}),
    )  # fmt: skip
    assert status == 400, body
    assert "schedule" in body["message"], body
    status, body = await fetch_json(
        "deployments", method="POST", body=json.dumps({"job": "../elsewhere"})
    )
    assert status in (400, 403), body
    monkeypatch.setenv("JUPYTER_MLOPS_AIRFLOW_DAGS_FOLDER", "/nonexistent/dags")
    status, body = await fetch_json(
        "deployments", method="POST", body=json.dumps({"job": "pipelines/small", "name": "x"})
    )
    assert status == 400, body
    assert "does not exist" in body["message"], body
