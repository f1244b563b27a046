"""The ``airflow`` export target: DAG files checked as Python here, and imported, validated,
serialized and rendered by a real Airflow installation in its own venv (``.venv-airflow``,
made by ``scripts/setup.sh --with-tests``: Airflow cannot share a venv with jupyter-mlops)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.export.airflow import AirflowTarget, param_schema
from jupyter_mlops.export.deploy import deployment
from jupyter_mlops.export.exporter import export_notebook
from jupyter_mlops.export.job import load_job, values_for

ROOT = Path(__file__).resolve().parent.parent
#: Read at import: the tests' environment isolation drops JUPYTER_MLOPS_* variables.
AIRFLOW_VENV = Path(os.environ.get("JUPYTER_MLOPS_AIRFLOW_VENV") or ROOT / ".venv-airflow")
AIRFLOW_PYTHON = AIRFLOW_VENV / "bin" / "python"
DIGEST = "sha256:" + "ab" * 32

PARAMETERS = """\
from typing import Literal
epochs: int = 3  # passes over the data
lr: float = 1e-05  # learning rate
title = 'it\\'s "quoted" {{ not a template }}'  # run title: ''' \"\"\" and {{ braces }}
layers = [64, 32]  # hidden layers
run_name: str | None = None  # optional name
shuffle = True
optimizer: Literal["adam", "sgd"] = "adam"
weights: dict[str, float] = {"a": 0.5}
anything = None
"""
# A value of the wrong type for each parameter, which Airflow must refuse.
WRONG = {
    "epochs": "many",
    "lr": "fast",
    "title": 5,
    "layers": "64,32",
    "run_name": 3,
    "shuffle": "yes",
    "optimizer": "rmsprop",
    "weights": {"a": "heavy"},
}
# What a user triggers the DAG with: the job must get exactly these, typed.
TRIGGERED = {
    "epochs": 7,
    "lr": 0.5,
    "title": 'say "hi", it\'s {{ ds }} \\ done',
    "layers": [1, 2, 3],
    "run_name": None,
    "shuffle": False,
    "optimizer": "sgd",
    "weights": {"b": 2.0},
    "anything": {"nested": [1, None]},
}


def write_notebook(path: Path, source: str = PARAMETERS) -> Path:
    notebook = new_notebook(
        cells=[new_code_cell(source, metadata={"tags": ["parameters"]}), new_code_cell("1")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    nbformat.write(notebook, path)
    return path


def export_airflow(folder: Path, **options: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    notebook = write_notebook(folder / "it's train.ipynb")
    return export_notebook(
        notebook,
        name="train",
        targets=["airflow"],
        deployment=deployment(**options),
        on_warning=lambda message: None,  # they are in job.json too
    )


FULL = {
    "image": f"registry.example.com/team/train@{DIGEST}",
    "schedule": "0 3 * * 1-5",
    "cpu": "500m",
    "memory": "2Gi",
    "gpu": 1,
    "secrets": ["db-creds"],
    "env_from_secrets": ["mlflow-auth"],
    "output": "s3://bucket/runs",
    "namespace": "ml",
    "service_account": "runner",
}


def constants(source: str) -> dict[str, Any]:
    """The module-level constants of a DAG file that are plain literals."""
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return found


def params_of(source: str) -> dict[str, dict[str, Any]]:
    """``PARAMS`` of a DAG file: name -> the literal arguments of its ``Param(...)``."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "PARAMS":
            assert isinstance(node.value, ast.Dict)
            found = {}
            for key, call in zip(node.value.keys, node.value.values, strict=True):
                assert isinstance(key, ast.Constant)
                assert isinstance(call, ast.Call)
                assert getattr(call.func, "id", "") == "Param"
                (default,) = call.args
                found[key.value] = {
                    "default": ast.literal_eval(default),
                    **{k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg},
                }
            return found
    raise AssertionError("no PARAMS")


def params_from_schema(job: Path) -> dict[str, dict[str, Any]]:
    """What each Param must say, from ``parameters.schema.json``."""
    schema = json.loads((job / "parameters.schema.json").read_text())["properties"]
    wanted = {}
    for name, prop in schema.items():
        entry = {"default": prop["default"], **param_schema(prop)}
        if prop.get("description"):
            entry["description"] = prop["description"]
        if isinstance(prop.get("type"), list):
            assert entry["type"][0] == "null"
        wanted[name] = entry
    return wanted


# -- the files --------------------------------------------------------------------------------
def test_dag_files_embed_every_value_as_a_literal(tmp_path: Path) -> None:
    job = export_airflow(tmp_path / "project", **FULL)
    kubernetes = (job / "airflow" / "train_dag.py").read_text()
    docker = (job / "airflow" / "train_docker_dag.py").read_text()
    for source, params_json in (
        (kubernetes, "{{ params | tojson | replace('$', '$$') }}"),  # a pod's args: $$ is $
        (docker, "{{ params | tojson }}"),
    ):
        found = constants(source)
        assert found["JOB"] == "train"
        # Relative to the project (here the notebook's folder): no absolute path.
        assert found["NOTEBOOK"] == "it's train.ipynb"
        assert found["IMAGE"] == FULL["image"]
        assert found["SCHEDULE"] == "0 3 * * 1-5"
        assert found["RETRIES"] == 2
        assert found["ENVIRONMENT"] == {"JUPYTER_MLOPS_IMAGE_DIGEST": DIGEST}
        assert found["ARGUMENTS"] == [
            "--params-json",
            params_json,
            "--output",
            "s3://bucket/runs/train-{{ ts_nodash }}.ipynb",
        ]
        # Every Param is a literal made from the schema: type, default and help (whose
        # quotes and braces stay text).
        assert params_of(source) == params_from_schema(job)
        assert params_of(source)["title"]["description"] == (
            "run title: ''' \"\"\" and {{ braces }}"
        )
    assert constants(kubernetes)["DAG_ID"] == "train"
    assert constants(docker)["DAG_ID"] == "train-docker"
    assert constants(kubernetes)["SECRETS"] == [
        ("volume", "/etc/secrets/db-creds", "db-creds"),
        ("env", None, "mlflow-auth"),
    ]
    assert constants(kubernetes)["RESOURCES"] == {
        "cpu": "500m",
        "memory": "2Gi",
        "nvidia.com/gpu": "1",
    }
    assert constants(docker)["MOUNTS"] == [
        {
            "source": "/etc/jupyter-mlops/secrets/db-creds",
            "target": "/etc/secrets/db-creds",
            "type": "bind",
            "read_only": True,
        }
    ]
    assert "mem_limit=2147483648," in docker
    assert "cpus=0.5," in docker
    readme = (job / "README.md").read_text()
    assert "## Run it with Airflow" in readme
    document = json.loads((job / "job.json").read_text())
    assert any("--env-from-secret mlflow-auth" in w for w in document["warnings"])


def test_defaults_without_options(tmp_path: Path) -> None:
    job = export_airflow(tmp_path / "project")
    kubernetes = (job / "airflow" / "train_dag.py").read_text()
    found = constants(kubernetes)
    assert found["IMAGE"] == "train:latest"  # guessed, with a warning
    assert found["SCHEDULE"] is None
    assert found["ARGUMENTS"] == ["--params-json", "{{ params | tojson | replace('$', '$$') }}"]
    assert found["ENVIRONMENT"] == {}
    assert "namespace=" not in kubernetes
    assert "container_resources=" not in kubernetes
    assert "secrets=" not in kubernetes
    docker = constants((job / "airflow" / "train_docker_dag.py").read_text())
    assert docker["MOUNTS"] == [
        {"source": "train-output", "target": "/job/output", "type": "volume"}
    ]
    warnings = json.loads((job / "job.json").read_text())["warnings"]
    assert any("--image" in w for w in warnings)


def test_param_schema_follows_the_json_schema() -> None:
    assert param_schema({"type": ["integer", "null"], "default": None}) == {
        "type": ["null", "integer"]
    }
    assert param_schema(
        {
            "type": "array",
            "items": {"type": ["string", "null"], "enum": ["a", None]},
            "x-jupyter-mlops": {},
            "description": "x",
        }
    ) == {"type": "array", "items": {"type": ["null", "string"], "enum": ["a", None]}}
    assert param_schema({"default": 1, "minimum": 0, "maximum": 9}) == {
        "minimum": 0,
        "maximum": 9,
    }


def test_user_mistakes(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    (folder / "airflow").mkdir(parents=True)
    (folder / "airflow" / "conf.yaml").write_text("x: 1\n")
    notebook = write_notebook(folder / "nb.ipynb", PARAMETERS + "path = 'airflow/conf.yaml'\n")
    with pytest.raises(InvalidInput, match="is in 'airflow/', where the airflow target"):
        export_notebook(notebook, targets=["airflow"])
    assert not list(folder.glob("pipelines/*"))

    with pytest.raises(InvalidInput, match=r"start_date '2024/01/01' is not a date"):
        export_notebook(
            write_notebook(folder / "ok.ipynb"),
            targets=["airflow"],
            target_options={"config": Config({"AirflowTarget": {"start_date": "2024/01/01"}})},
        )


def test_airflow_target_is_registered() -> None:
    found = {ep.name: ep.value for ep in entry_points(group="jupyter_mlops.exporters")}
    assert found["airflow"] == "jupyter_mlops.export.airflow:AirflowTarget"
    assert AirflowTarget.name == "airflow"


# -- in a real Airflow ------------------------------------------------------------------------
CHECK = r"""
import copy, json, sys, warnings
warnings.simplefilter("ignore")
folder, request = sys.argv[1], json.loads(sys.argv[2])
try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # Airflow 2
    from airflow.models.dagbag import DagBag
try:
    from airflow.serialization.serialized_objects import DagSerialization as Serializer
except ImportError:  # Airflow 2, 3.0-3.2
    from airflow.serialization.serialized_objects import SerializedDAG as Serializer
from airflow.exceptions import ParamValidationError

bag = DagBag(dag_folder=folder, safe_mode=True)
report = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
for dag_id, dag in bag.dags.items():
    task = dag.get_task("run")
    params = {}
    for name in dag.params:
        param = dag.params.get_param(name)
        params[name] = {"value": param.value, "description": param.description,
                        "schema": param.schema}
    refused = {}
    for name, wrong in request["wrong"].items():
        trial = copy.deepcopy(dag.params)
        try:
            trial[name] = wrong
            refused[name] = False
        except ParamValidationError:
            refused[name] = True
    triggered = copy.deepcopy(dag.params)
    for name, value in request["triggered"].items():
        triggered[name] = value
    context = {"params": triggered.validate(), "ts_nodash": "20250102T030000"}
    arguments = task.arguments if hasattr(task, "arguments") else task.command
    # The DAG's JobOperator subclasses the provider's operator (no retry on exit 2 or 3).
    operator = next(c for c in type(task).__mro__ if c.__module__.startswith("airflow.providers"))
    info = {"operator": operator.__name__, "retries": task.retries,
            "schedule": str(getattr(dag, "schedule", None) or dag.timetable.summary),
            "catchup": dag.catchup, "params": params, "defaults": dag.params.validate(),
            "refused": refused, "rendered": task.render_template(arguments, context),
            "serialized": bool(Serializer.to_dict(dag))}
    if info["operator"] == "KubernetesPodOperator":
        info.update(namespace=task.namespace, service_account=task.service_account_name,
                    resources=task.container_resources.to_dict(),
                    secrets=[[s.deploy_type, s.deploy_target, s.secret] for s in task.secrets],
                    env=task.env_vars if isinstance(task.env_vars, dict)
                    else {e.name: e.value for e in task.env_vars})
    else:
        info.update(environment=task.environment, mem_limit=task.mem_limit, cpus=task.cpus,
                    mounts=[dict(m) for m in task.mounts],
                    gpus=[d.count for d in task.device_requests or []])
    report["dags"][dag_id] = info
print("REPORT " + json.dumps(report))
"""


def run_in_airflow(folder: Path, home: Path) -> dict[str, Any]:
    if not AIRFLOW_PYTHON.exists():
        message = (
            f"no Airflow venv at {AIRFLOW_VENV}: `scripts/setup.sh --with-tests` makes it "
            "(Airflow cannot share jupyter-mlops' venv)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    request = json.dumps({"wrong": WRONG, "triggered": TRIGGERED})
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    done = subprocess.run(
        [str(AIRFLOW_PYTHON), "-c", CHECK, str(folder), request],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    lines = [x for x in done.stdout.splitlines() if x.startswith("REPORT ")]
    assert done.returncode == 0, f"Airflow check failed:\n{done.stdout}\n{done.stderr}"
    assert lines, f"no report from Airflow:\n{done.stdout}\n{done.stderr}"
    return dict(json.loads(lines[-1][len("REPORT ") :]))


@pytest.mark.slow
def test_dags_import_validate_and_pass_typed_values_in_airflow(tmp_path: Path) -> None:
    job = export_airflow(tmp_path / "project", **FULL)
    report = run_in_airflow(job / "airflow", tmp_path)
    assert report["import_errors"] == {}
    dags = report["dags"]
    assert sorted(dags) == ["train", "train-docker"]
    schema = json.loads((job / "parameters.schema.json").read_text())["properties"]
    defaults = {name: prop["default"] for name, prop in schema.items()}
    expected_args = [
        "--params-json",
        None,
        "--output",
        "s3://bucket/runs/train-20250102T030000.ipynb",
    ]
    for dag_id, dag in dags.items():
        assert dag["schedule"] == "0 3 * * 1-5", dag_id
        assert dag["catchup"] is False
        assert dag["retries"] == 2
        assert dag["serialized"] is True
        # One schema: Airflow's params carry the job's types, defaults and help.
        assert list(dag["params"]) == list(schema)
        for name, prop in schema.items():
            param = dag["params"][name]
            assert param["value"] == prop["default"], name
            assert param["description"] == prop.get("description"), name
            declared = prop.get("type")
            if isinstance(declared, list):
                assert param["schema"]["type"] == ["null", *(t for t in declared if t != "null")]
            else:
                assert param["schema"].get("type") == declared, name
            assert param["schema"].get("enum") == prop.get("enum"), name
        assert dag["defaults"] == defaults
        assert dag["refused"] == dict.fromkeys(WRONG, True), dag["refused"]
        # What Airflow renders for a triggered run reaches the job typed and intact.
        rendered = dag["rendered"]
        assert [rendered[0], *rendered[2:]] == [expected_args[0], *expected_args[2:]]
        values = values_for(load_job(job), params_json=rendered[1])
        assert values == TRIGGERED
        assert isinstance(values["lr"], float)

    kubernetes = dags["train"]
    assert kubernetes["operator"] == "KubernetesPodOperator"
    assert kubernetes["namespace"] == "ml"
    assert kubernetes["service_account"] == "runner"
    wanted = {"cpu": "500m", "memory": "2Gi", "nvidia.com/gpu": "1"}
    assert kubernetes["resources"]["requests"] == wanted
    assert kubernetes["resources"]["limits"] == wanted
    assert kubernetes["secrets"] == [
        ["volume", "/etc/secrets/db-creds", "db-creds"],
        ["env", None, "mlflow-auth"],
    ]
    assert kubernetes["env"] == {"JUPYTER_MLOPS_IMAGE_DIGEST": DIGEST}

    docker = dags["train-docker"]
    assert docker["operator"] == "DockerOperator"
    assert docker["environment"] == {"JUPYTER_MLOPS_IMAGE_DIGEST": DIGEST}
    assert docker["mem_limit"] == 2 * 2**30
    assert docker["cpus"] == 0.5
    assert docker["gpus"] == [1]
    (mount,) = docker["mounts"]
    assert mount["Source"] == "/etc/jupyter-mlops/secrets/db-creds"
    assert mount["Target"] == "/etc/secrets/db-creds"
    assert mount["ReadOnly"] is True
