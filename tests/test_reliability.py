"""Reliability options on every target (#15): ``--retries``, ``--retry-delay``,
``--retry-backoff``, ``--timeout`` and the notification options, in each engine's own terms,
checked the way each target's tests check its manifests (kubernetes-validate, Argo's schema
through hera's models, the KFP SDK loading the compiled pipeline, the DAG files imported by
a real Airflow), with no URL in any file. In a real Airflow, the Docker DAG's task retries
a failure a retry can fix and fails at once on the job's exit codes 2 and 3. Bad values are
refused with one line."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import nbformat
import pytest
import yaml
from hera.workflows import models
from kubernetes_validate.utils import latest_version
from nbformat.v4 import new_code_cell, new_notebook
from test_containers import BASE_IMAGE, engine  # noqa: F401 (a fixture used here)

from jupyter_mlops.cli import main as cli
from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.export.deploy import deployment, duration_seconds

AIRFLOW_VENV = Path(__file__).resolve().parent.parent / ".venv-airflow"
AIRFLOW_PYTHON = AIRFLOW_VENV / "bin" / "python"
URL = "json://hooks.example.com/secret-token"
OPTIONS = [
    "--retries", "3", "--retry-delay", "30s", "--retry-backoff", "3", "--timeout", "2h",
    "--notify-from-env", "ALERTS_URL", "--notify-secret", "alerts", "--notify-on", "always",
]  # fmt: skip
NOTIFY_ENV = {
    "JUPYTER_MLOPS_NOTIFY_ENV": "ALERTS_URL",
    "JUPYTER_MLOPS_NOTIFY_FILE": "/etc/secrets/alerts/url",
    "JUPYTER_MLOPS_NOTIFY_ON": "always",
}


def write_notebook(folder: Path, source: str = "code = 0\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "nightly.ipynb"
    nbformat.write(
        new_notebook(
            cells=[new_code_cell(source, metadata={"tags": ["parameters"]}), new_code_cell("1")],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        ),
        path,
    )
    return path


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> Path:
    notebook = write_notebook(tmp_path_factory.mktemp("project"))
    targets = ["--target", "kubernetes", "--target", "argo", "--target", "kfp"]
    args = ["export", str(notebook), *targets, "--target", "airflow", "--schedule", "@daily"]
    assert cli([*args, "--image", "registry.example.com/nightly:1", *OPTIONS]) == 0
    return notebook.parent / "pipelines" / "nightly"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_no_url_or_secret_value_in_any_file(job: Path) -> None:
    for path in job.rglob("*"):
        if path.is_file() and path.suffix in (".yaml", ".py", ".json", ".md"):
            assert "://hooks" not in path.read_text(), path


def test_kubernetes_job_backoff_deadline_failure_policy_and_notify_env(job: Path) -> None:
    for name in ("job.yaml", "cronjob.yaml"):
        document = load(job / "kubernetes" / name)
        kubernetes_validate.validate(document, latest_version(), strict=True)
        spec = document["spec"]
        if document["kind"] == "CronJob":
            spec = spec["jobTemplate"]["spec"]
        assert spec["backoffLimit"] == 3
        assert spec["activeDeadlineSeconds"] == 7200
        fail_job = spec["podFailurePolicy"]["rules"][0]
        assert fail_job["action"] == "FailJob"
        assert fail_job["onExitCodes"]["values"] == [2, 3]
        pod = spec["template"]["spec"]
        (container,) = pod["containers"]
        env = {e["name"]: e["value"] for e in container["env"]}
        assert {k: env[k] for k in NOTIFY_ENV} == NOTIFY_ENV
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert "/etc/secrets/alerts" in mounts
        volumes = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"]}
        assert volumes[mounts["/etc/secrets/alerts"]] == "alerts"
    warnings = json.loads((job / "job.json").read_text())["warnings"]
    assert any("--retry-delay 30s" in str(w) for w in warnings), warnings


def test_argo_retry_strategy_backoff_and_deadline(job: Path) -> None:
    for name in ("workflow.yaml", "cronworkflow.yaml"):
        document = load(job / "argo" / name)
        model = models.CronWorkflow if document["kind"] == "CronWorkflow" else models.Workflow
        read = model.model_validate(document).model_dump(by_alias=True, exclude_none=True)
        assert read == document
        spec = document["spec"].get("workflowSpec") or document["spec"]
        assert spec["activeDeadlineSeconds"] == 7200
        (template,) = spec["templates"]
        assert template["retryStrategy"] == {
            "limit": 3,
            "retryPolicy": "OnFailure",
            "expression": 'not (lastRetry.exitCode in ["2", "3"])',
            "backoff": {"duration": "30s", "factor": 3},
        }
        env = {e["name"]: e["value"] for e in template["container"]["env"]}
        assert {k: env[k] for k in NOTIFY_ENV} == NOTIFY_ENV


def test_kfp_task_retry_with_backoff_and_timeout(job: Path) -> None:
    from kfp import components

    pipeline, platform = yaml.safe_load_all((job / "kfp" / "pipeline.yaml").read_text())
    components.load_component_from_file(str(job / "kfp" / "pipeline.yaml"))
    (task,) = pipeline["root"]["dag"]["tasks"].values()
    assert task["retryPolicy"] == {
        "maxRetryCount": 3,
        "backoffDuration": "30s",
        "backoffFactor": 3.0,
        "backoffMaxDuration": "3600s",
    }
    (executor,) = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"].values()
    assert int(executor["activeDeadlineSeconds"]) == 7200
    (container,) = (e["container"] for e in pipeline["deploymentSpec"]["executors"].values())
    env = {e["name"]: e["value"] for e in container["env"]}
    assert {k: env[k] for k in NOTIFY_ENV} == NOTIFY_ENV


def test_settings_are_the_defaults_of_the_options(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path)
    targets = ["--target", "kubernetes", "--target", "argo", "--target", "airflow"]
    assert cli(["export", str(notebook), *targets, "--image", "nightly:1"]) == 0
    job = tmp_path / "pipelines" / "nightly"
    spec = load(job / "kubernetes" / "job.yaml")["spec"]
    assert spec["backoffLimit"] == 1
    assert "activeDeadlineSeconds" not in spec
    (template,) = load(job / "argo" / "workflow.yaml")["spec"]["templates"]
    assert template["retryStrategy"]["limit"] == 1
    assert "backoff" not in template["retryStrategy"]
    dag = (job / "airflow" / "nightly_docker_dag.py").read_text()
    assert "RETRIES = 2\n" in dag
    assert "RETRY_DELAY = datetime.timedelta(minutes=5)\n" in dag
    assert "TIMEOUT = None\n" in dag
    # --retries 0: no retries anywhere.
    assert cli(["export", str(notebook), *targets, "--image", "nightly:1", "--retries", "0"]) == 0
    assert load(job / "kubernetes" / "job.yaml")["spec"]["backoffLimit"] == 0
    (template,) = load(job / "argo" / "workflow.yaml")["spec"]["templates"]
    assert "retryStrategy" not in template
    assert "RETRIES = 0\n" in (job / "airflow" / "nightly_docker_dag.py").read_text()


# -- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--retries", "-1"], "--retries: '-1' is not a number of retries (0 to 100)"),
        (["--retries", "101"], "--retries: '101' is not a number of retries (0 to 100)"),
        (["--timeout", "5x"], "--timeout: '5x' is not a duration (e.g. 90s, 30m, 2h, 1h30m, 1d)"),
        (["--timeout", "0s"], "--timeout: '0s' is not a duration between 1s and 365d"),
        (["--retry-delay", "soon"], "--retry-delay: 'soon' is not a duration"),
        (["--retry-delay", "1m", "--retry-backoff", "0.5"], "--retry-backoff: '0.5' is not a"),
        (["--retry-backoff", "2"], "--retry-backoff: needs --retry-delay (the first wait)"),
        (["--notify-from-env", URL], "--notify-from-env: the value given looks like a URL"),
        (["--notify-from-env", "1ALERTS"], "--notify-from-env: '1ALERTS' is not an environment"),
        (["--notify-secret", URL], "--notify-secret: the value given looks like a URL itself"),
        (["--notify-secret", "xoxb-1234"], "--notify-secret: the value given looks like a secret"),
        (["--notify-on", "always"], "--notify-on: needs where the URL comes from"),
    ],
)
def test_bad_values_are_refused_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    notebook = write_notebook(tmp_path)
    assert cli(["export", str(notebook), "--target", "kubernetes", *args]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert message in err[0]
    assert "secret-token" not in err[0]
    assert not (tmp_path / "pipelines").exists()


def test_durations() -> None:
    assert duration_seconds("90s") == 90
    assert duration_seconds("30m") == 1800
    assert duration_seconds("2h") == 7200
    assert duration_seconds("1h30m") == 5400
    assert duration_seconds("1d") == 86400
    assert duration_seconds("45") == 45
    for bad in ("", "h", "2 h", "1.5h", "-5s", "30m2h", "366d"):
        with pytest.raises(ValueError, match="duration"):
            duration_seconds(bad)
    assert deployment(retries=0).retries == 0
    with pytest.raises(InvalidInput, match="--retries"):
        deployment(retries=True)


# -- in a real Airflow ------------------------------------------------------------------------
IMPORT = r"""
import json, sys, warnings
warnings.simplefilter("ignore")
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1], safe_mode=True)
report = {"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
for dag_id, dag in bag.dags.items():
    task = dag.get_task("run")
    report["dags"][dag_id] = {
        "retries": task.retries, "retry_delay": task.retry_delay.total_seconds(),
        "backoff": task.retry_exponential_backoff,
        "timeout": task.execution_timeout.total_seconds() if task.execution_timeout else None,
        "env": task.environment if hasattr(task, "environment")
        else task.env_vars if isinstance(task.env_vars, dict)
        else {e.name: e.value for e in task.env_vars},
    }
print("REPORT " + json.dumps(report))
"""


def airflow(script: str, *args: str, home: Path, **env: str) -> dict[str, Any]:
    if not AIRFLOW_PYTHON.exists():
        if os.environ.get("CI"):
            pytest.fail(f"no Airflow venv at {AIRFLOW_VENV}")
        pytest.skip(f"no Airflow venv at {AIRFLOW_VENV} (scripts/setup.sh --with-tests)")
    done = subprocess.run(
        [str(AIRFLOW_PYTHON), "-c", script, *args],
        capture_output=True, text=True, timeout=600,
        env={
            "PATH": f"{AIRFLOW_VENV / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(home), "AIRFLOW_HOME": str(home / "airflow"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "PYTHONDONTWRITEBYTECODE": "1", **env,
        },
    )  # fmt: skip
    lines = [x for x in done.stdout.splitlines() if x.startswith("REPORT ")]
    said = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert done.returncode == 0, said
    assert lines, said
    return dict(json.loads(lines[-1][len("REPORT ") :]))


@pytest.mark.slow
def test_airflow_dags_carry_the_options(job: Path, tmp_path: Path) -> None:
    report = airflow(IMPORT, str(job / "airflow"), home=tmp_path)
    assert report["errors"] == {}
    assert sorted(report["dags"]) == ["nightly", "nightly-docker"]
    for dag_id, dag in report["dags"].items():
        assert dag["retries"] == 3, dag_id
        assert dag["retry_delay"] == 30
        assert dag["backoff"] == 3.0
        assert dag["timeout"] == 7200
        assert {k: dag["env"][k] for k in NOTIFY_ENV} == NOTIFY_ENV


# The image's entrypoint exits with the code the run's parameters ask for: the DAG passes
# `--params-json '{"code": N}'`, which is sys.argv[2] of `python -c`.
EXITS = 'import json, sys; print("exiting", sys.argv[2]); sys.exit(json.loads(sys.argv[2])["code"])'
MIGRATE = r"""
from airflow.utils.db import initdb
initdb()
print("REPORT {}")
"""
RUN = r"""
import json, sys, warnings
warnings.simplefilter("ignore")
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.state import DagRunState
dag = DagBag(dag_folder=sys.argv[1], safe_mode=True).get_dag(sys.argv[2])
report = {}
for code in json.loads(sys.argv[3]):
    run = dag.test(run_conf={"code": code})
    ti = run.get_task_instance("run")
    report[str(code)] = {"run": str(run.state), "task": str(ti.state), "tries": ti.try_number}
print("REPORT " + json.dumps(report))
"""


@pytest.mark.slow
def test_airflow_retries_what_a_retry_can_fix_and_nothing_else(
    tmp_path: Path,
    engine: Any,  # noqa: F811 (the fixture of test_containers)
) -> None:
    """The Docker DAG in a real Airflow running containers through the Docker API: exit 5
    is retried (3 tries), exit 2 and 3 fail at once (1 try), exit 0 succeeds."""
    folder = tmp_path / "image"
    folder.mkdir()
    entrypoint = json.dumps(["python", "-c", EXITS])
    (folder / "Dockerfile").write_text(f"FROM {BASE_IMAGE}\nENTRYPOINT {entrypoint}\n")
    engine.images.build(path=str(folder), tag="localhost/exits:1", rm=True)
    notebook = write_notebook(tmp_path / "project")
    options = ["--retries", "2", "--retry-delay", "1s", "--retry-backoff", "1"]
    args = ["export", str(notebook), "--target", "airflow", "--image", "localhost/exits:1"]
    assert cli([*args, *options]) == 0
    dags = tmp_path / "dags"
    dags.mkdir()
    source = (tmp_path / "project/pipelines/nightly/airflow/nightly_docker_dag.py").read_text()
    docker_url = os.environ["DOCKER_HOST"]
    source = source.replace(
        "        auto_remove='success',\n",
        f"        auto_remove='success',\n        docker_url={docker_url!r},\n",
    )
    (dags / "nightly_docker_dag.py").write_text(source)
    home = tmp_path / "home"
    env = {"AIRFLOW__CORE__DAGS_FOLDER": str(dags), "DOCKER_HOST": docker_url}
    airflow(MIGRATE, home=home, **env)
    report = airflow(RUN, str(dags), "nightly-docker", "[5, 3, 2, 0]", home=home, **env)
    assert report["5"] == {"run": "failed", "task": "failed", "tries": 3}, report
    assert report["3"] == {"run": "failed", "task": "failed", "tries": 1}, report
    assert report["2"] == {"run": "failed", "task": "failed", "tries": 1}, report
    assert report["0"] == {"run": "success", "task": "success", "tries": 1}, report
