"""The ``kfp`` export target: a KFP v2 pipeline compiled with the kfp SDK, loaded back, whose
typed inputs reach the entrypoint as the notebook's parameters; the recurring-run script."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from kfp import components
from orchestrator_jobs import DIGEST, IMAGE, NAME, export_job, typed_notebook

from jupyter_mlops.cli import main as cli
from jupyter_mlops.export import kubeflow
from jupyter_mlops.export.job import load_job, parser, values_for
from jupyter_mlops.export.parameters import read_schema

OPTIONS = (
    "--target",
    "kfp",
    "--schedule",
    "0 3 * * 7",
    "--cpu",
    "500m",
    "--memory",
    "2Gi",
    "--gpu",
    "1",
    "--secret",
    "creds",
    "--env-from-secret",
    "mlflow",
    "--output",
    "s3://bucket/runs/",
    "--namespace",
    "ml",
    "--service-account",
    "runner",
    "--image",
    IMAGE,
)
#: The KFP type of each parameter of the typed notebook (see orchestrator_jobs).
TYPES = {
    "epochs": "NUMBER_INTEGER",
    "lr": "NUMBER_DOUBLE",
    "use_gpu": "BOOLEAN",
    "title": "STRING",
    "layers": "LIST",
    "config": "STRING",  # a dict holding None: JSON text
    "run_name": "STRING",
    "threshold": "NUMBER_DOUBLE",
    "optimizer": "STRING",
    "anything": "STRING",  # Any: JSON text
}
_INPUT = re.compile(r"\{\{\$\.inputs\.parameters\['([A-Za-z0-9_]+)'\]\}\}")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("kfp") / "project"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        job = export_job(typed_notebook(folder), *OPTIONS)
    return job, err.getvalue()


@pytest.fixture(scope="module")
def job(exported: tuple[Path, str]) -> Path:
    return exported[0]


def documents(job: Path) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((job / "kfp" / "pipeline.yaml").read_text()))


def container_of(job: Path) -> dict[str, Any]:
    (executor,) = documents(job)[0]["deploymentSpec"]["executors"].values()
    return dict(executor["container"])


def kfp_text(value: Any) -> str:
    """A parameter value as KFP's launcher writes it into a container's args: numbers are
    doubles printed without a trailing .0, lists and dicts JSON (protojson), strings as
    they are."""

    def number(v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, int | float):
            if isinstance(v, list):
                return [number(x) for x in v]
            if isinstance(v, dict):
                return {k: number(x) for k, x in v.items()}
            return v
        return int(v) if float(v).is_integer() else float(v)

    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(number(value), separators=(",", ":"))


def test_the_pipeline_compiles_and_loads_back(job: Path) -> None:
    pipeline, platform = documents(job)
    assert pipeline["pipelineInfo"]["name"] == NAME
    assert pipeline["schemaVersion"] == "2.1.0"
    assert pipeline["sdkVersion"].startswith("kfp-")
    assert set(platform["platforms"]) == {"kubernetes"}
    loaded = components.load_component_from_file(str(job / "kfp" / "pipeline.yaml"))
    assert loaded.name == NAME
    inputs = loaded.component_spec.inputs
    assert set(inputs) == set(TYPES)
    assert inputs["epochs"].type == "Integer"
    assert inputs["epochs"].default == 3
    assert inputs["layers"].type == "List"
    assert inputs["run_name"].optional is True
    assert inputs["run_name"].default is None


def test_inputs_have_the_schemas_type_default_and_help(job: Path) -> None:
    schema = read_schema(job)
    found = documents(job)[0]["root"]["inputDefinitions"]["parameters"]
    assert set(found) == set(schema.names)
    for parameter in schema:
        spec = found[parameter.name]
        assert spec["parameterType"] == TYPES[parameter.name], parameter.name
        assert spec.get("description", "") == parameter.help
        default = spec.get("defaultValue")
        if TYPES[parameter.name] == "STRING" and parameter.type.kind != "string":
            default = json.loads(default) if default is not None else None  # JSON text
        if parameter.type.kind == "integer":
            assert default == int(default)
            default = int(default)
        assert default == parameter.default, parameter.name
        assert spec.get("isOptional") is True
    assert found["lr"]["description"] == 'learning "rate"'
    assert found["title"]["defaultValue"] == schema.get("title").default
    assert "defaultValue" not in found["run_name"]
    assert "defaultValue" not in found["anything"]
    # the component's inputs are the pipeline's
    (component,) = documents(job)[0]["components"].values()
    assert component["inputDefinitions"]["parameters"] == found


def test_the_container_gets_each_input_typed(job: Path) -> None:
    """The launcher's rendering of the inputs into the args, then the entrypoint's parsing:
    the defaults give the schema's defaults; given values arrive typed; an optional input
    not given is not passed (the notebook's None)."""
    container = container_of(job)
    defaults = {
        name: spec.get("defaultValue")
        for name, spec in documents(job)[0]["root"]["inputDefinitions"]["parameters"].items()
    }
    loaded = load_job(job)

    def run_with(given: dict[str, Any]) -> tuple[dict[str, Any], str]:
        values = {k: v for k, v in (defaults | given).items() if v is not None}
        args: list[str] = []
        for arg in container["args"]:
            if arg.startswith('{"IfPresent"'):
                present = json.loads(arg)["IfPresent"]
                if present["InputName"] in values:
                    args += present["Then"]
            else:
                args.append(arg)
        args = [_INPUT.sub(lambda m: kfp_text(values[m.group(1)]), a) for a in args]
        assert args[0] == "/job"
        parsed = parser().parse_args([str(job), *args[1:]])
        return values_for(loaded, [tuple(p) for p in parsed.parameter]), parsed.output

    values, output = run_with({})
    assert values == loaded.schema.defaults()
    assert output == "{{$.outputs.artifacts['output_notebook'].path}}"
    title = 'it\'s "quoted" {x}'
    values, _ = run_with(
        {
            "epochs": 7.0,  # KFP numbers are doubles
            "lr": 1.0,
            "layers": [128.0, 64.0],
            "title": title,
            "run_name": "nightly",
            "anything": '{"k": [1, null]}',
            "config": '{"a": 2}',
            "use_gpu": True,
        }
    )
    assert values["epochs"] == 7
    assert isinstance(values["epochs"], int)
    assert values["lr"] == 1.0
    assert isinstance(values["lr"], float)
    assert values["layers"] == [128, 64]
    assert values["title"] == title
    assert values["run_name"] == "nightly"
    assert values["anything"] == {"k": [1, None]}
    assert values["config"] == {"a": 2}
    assert values["use_gpu"] is True


def test_output_artifact_resources_secrets_and_no_caching(job: Path) -> None:
    pipeline, platform = documents(job)
    assert pipeline["defaultPipelineRoot"] == "s3://bucket/runs"
    (component,) = pipeline["components"].values()
    artifact = component["outputDefinitions"]["artifacts"]["output_notebook"]
    assert artifact["artifactType"]["schemaTitle"] == "system.Artifact"
    container = container_of(job)
    assert container["image"] == IMAGE
    assert container["env"] == [{"name": "JUPYTER_MLOPS_IMAGE_DIGEST", "value": DIGEST}]
    resources = container["resources"]
    assert resources["resourceCpuRequest"] == resources["resourceCpuLimit"] == "500m"
    assert resources["resourceMemoryRequest"] == resources["resourceMemoryLimit"] == "2Gi"
    assert resources["accelerator"]["resourceType"] == "nvidia.com/gpu"
    assert resources["accelerator"]["resourceCount"] == "1"
    # --env-from-secret: mounted, and exported by the launcher before the entrypoint runs
    command = container["command"]
    assert command[:3] == ["python", "-c", kubeflow.ENV_LAUNCHER]
    assert command[3:] == [
        "/var/run/jupyter-mlops/env/mlflow",
        "--",
        "python",
        "-m",
        "jupyter_mlops.job",
    ]
    (executor,) = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"].values()
    mounts = {v["secretName"]: v["mountPath"] for v in executor["secretAsVolume"]}
    assert mounts == {"creds": "/etc/secrets/creds", "mlflow": "/var/run/jupyter-mlops/env/mlflow"}
    (task,) = pipeline["root"]["dag"]["tasks"].values()
    assert task["cachingOptions"].get("enableCache", False) is False
    assert "MLFLOW_TRACKING_URI" not in (job / "kfp" / "pipeline.yaml").read_text()


def test_the_env_launcher_exports_a_secrets_keys(tmp_path: Path) -> None:
    """What Kubernetes mounts for a Secret: one file per key, plus its ``..data`` links."""
    secret = tmp_path / "mlflow"
    (secret / "..2024_01_01").mkdir(parents=True)
    (secret / "..data").symlink_to(secret / "..2024_01_01")
    (secret / "..2024_01_01" / "MLFLOW_TRACKING_URI").write_text("https://mlflow.example.com")
    (secret / "..2024_01_01" / "TOKEN").write_text("line one\nline two")
    (secret / "MLFLOW_TRACKING_URI").symlink_to(secret / "..data" / "MLFLOW_TRACKING_URI")
    (secret / "TOKEN").symlink_to(secret / "..data" / "TOKEN")
    show = "import json, os; print(json.dumps({k: os.environ.get(k) for k in sys.argv[1:]}))"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            kubeflow.ENV_LAUNCHER,
            str(secret),
            "--",
            sys.executable,
            "-c",
            "import sys; " + show,
            "MLFLOW_TRACKING_URI",
            "TOKEN",
            "..data",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout) == {
        "MLFLOW_TRACKING_URI": "https://mlflow.example.com",
        "TOKEN": "line one\nline two",
        "..data": None,
    }


class FakeClient:
    """What ``schedule.py`` asks of a ``kfp.Client``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def create_experiment(self, **kwargs: Any) -> Any:
        self.calls.append(("create_experiment", kwargs))
        return type("Experiment", (), {"experiment_id": "exp-1"})()

    def create_recurring_run(self, **kwargs: Any) -> Any:
        self.calls.append(("create_recurring_run", kwargs))
        return type("Run", (), {"recurring_run_id": "rr-1"})()


def test_the_schedule_script_creates_a_recurring_run(job: Path) -> None:
    path = job / "kfp" / "schedule.py"
    spec = importlib.util.spec_from_file_location("kfp_schedule", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    client = FakeClient()
    assert module.create_recurring_run(client, "nightly", {"epochs": 5}).recurring_run_id == "rr-1"
    (_, experiment), (_, run) = client.calls
    assert experiment == {"name": "nightly", "namespace": "ml"}
    assert run["experiment_id"] == "exp-1"
    assert run["job_name"] == NAME
    assert run["cron_expression"] == "0 0 3 * * 0"  # seconds first; Sunday as 0
    assert run["params"] == {"epochs": 5}
    assert Path(run["pipeline_package_path"]) == job / "kfp" / "pipeline.yaml"
    assert run["enable_caching"] is False
    assert run["max_concurrency"] == 1
    assert run["no_catchup"] is True
    assert run["service_account"] == "runner"
    done = subprocess.run(
        [sys.executable, str(path), "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "--params-file" in done.stdout


def test_kfp_cron() -> None:
    assert kubeflow.kfp_cron("0 3 * * 7") == "0 0 3 * * 0"
    assert kubeflow.kfp_cron("*/15 * * * 1-5") == "0 */15 * * * 1-5"
    assert kubeflow.kfp_cron("@daily") == "0 0 0 * * *"
    assert kubeflow.kfp_cron("@hourly") == "0 0 * * * *"


def test_readme_says_how_to_upload_run_and_schedule(job: Path) -> None:
    readme = (job / "README.md").read_text()
    assert "## Run it on Kubeflow Pipelines" in readme
    # The job folder relative to the project (here the notebook's folder): no absolute path.
    assert f"kfp pipeline create -p {NAME} pipelines/{NAME}/kfp/pipeline.yaml" in readme
    assert "create_run_from_pipeline_package(" in readme
    assert "arguments={'epochs': 3}" in readme
    assert f"python pipelines/{NAME}/kfp/schedule.py --host" in readme
    assert "`0 0 3 * * 0`" in readme


def test_warnings(exported: tuple[Path, str]) -> None:
    _, err = exported
    assert "parameter 'config': its default holds None" in err


def test_without_schedule_no_script_and_a_path_output_is_not_the_root(
    tmp_path: Path, capsys
) -> None:
    job = export_job(
        typed_notebook(tmp_path / "p"), "--target", "kfp", "--output", "/data/out", "--image", "j:1"
    )
    assert sorted(p.name for p in (job / "kfp").iterdir()) == ["pipeline.yaml"]
    pipeline, *rest = documents(job)
    assert rest == []  # no secrets: no platform spec
    assert "defaultPipelineRoot" not in pipeline
    assert "Kubeflow Pipelines keeps the output notebook as an artifact" in capsys.readouterr().err
    container = container_of(job)
    assert container["command"] == ["python", "-m", "jupyter_mlops.job"]
    assert "env" not in container
    assert "resources" not in container


def test_a_memory_kfp_cannot_take_is_refused_and_nothing_written(tmp_path: Path, capsys) -> None:
    notebook = typed_notebook(tmp_path / "p")
    assert cli(["export", str(notebook), "--target", "kfp", "--memory", "1.5Gi"]) == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert line.startswith("jupyter mlops: error: --memory 1.5Gi: Kubeflow Pipelines")
    assert not (tmp_path / "p" / "pipelines" / NAME).exists()


def test_names_kfp_keeps_for_itself(tmp_path: Path, capsys) -> None:
    for name in ("_private", "Output"):
        notebook = typed_notebook(tmp_path / name, parameters=f"{name} = 1\n")
        assert cli(["export", str(notebook), "--target", "kfp"]) == 2
        (line,) = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
        assert f"parameter '{name}' cannot be a Kubeflow Pipelines input name" in line
        assert not (notebook.parent / "pipelines" / NAME).exists()
    # a parameter called like the output artifact leaves it the name
    notebook = typed_notebook(tmp_path / "p", parameters='output_notebook = "x"\n')
    job = export_job(notebook, "--target", "kfp")
    (component,) = documents(job)[0]["components"].values()
    assert list(component["outputDefinitions"]["artifacts"]) == ["output_notebook_"]
    assert container_of(job)["args"][-1] == "{{$.outputs.artifacts['output_notebook_'].path}}"
