"""The ``argo`` export target: a Workflow (and CronWorkflow) built with hera, checked
against Argo's schema through hera's models, whose arguments are the notebook's parameters
and reach the entrypoint typed."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hera.workflows import CronWorkflow, Workflow, models
from orchestrator_jobs import DIGEST, IMAGE, NAME, export_job, reads_back, typed_notebook

from jupyter_mlops.cli import main as cli
from jupyter_mlops.export.job import load_job, parser, values_for
from jupyter_mlops.export.parameters import read_schema

OPTIONS = (
    "--target",
    "argo",
    "--schedule",
    "30 2 * * 1-5",
    "--cpu",
    "2",
    "--memory",
    "4Gi",
    "--gpu",
    "2",
    "--secret",
    "creds",
    "--env-from-secret",
    "mlflow",
    "--output",
    "gs://bucket/runs",
    "--namespace",
    "ml",
    "--service-account",
    "argo-runner",
    "--image",
    IMAGE,
)
_TAG = re.compile(r"\{\{workflow\.parameters\.([A-Za-z0-9_-]+)\}\}")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A job exported with every deployment option, and the warnings export printed."""
    import contextlib
    import io

    folder = tmp_path_factory.mktemp("argo") / "project"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        job = export_job(typed_notebook(folder), *OPTIONS)
    return job, err.getvalue()


@pytest.fixture(scope="module")
def job(exported: tuple[Path, str]) -> Path:
    return exported[0]


def document(job: Path, name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((job / "argo" / name).read_text()))


def spec_of(doc: dict[str, Any]) -> dict[str, Any]:
    return dict(doc["spec"]["workflowSpec"] if doc["kind"] == "CronWorkflow" else doc["spec"])


def round_trip(model: type[Any], doc: dict[str, Any]) -> dict[str, Any]:
    """The document as Argo's schema (hera's generated models) reads it: unknown fields
    dropped, wrong types refused."""
    return dict(model.model_validate(doc).model_dump(by_alias=True, exclude_none=True))


def test_workflows_are_valid_for_argos_schema(job: Path) -> None:
    workflow = document(job, "workflow.yaml")
    cron = document(job, "cronworkflow.yaml")
    assert round_trip(models.Workflow, workflow) == workflow
    assert round_trip(models.CronWorkflow, cron) == cron
    # hera reads them back into the objects that wrote them
    assert Workflow.from_dict(copy.deepcopy(workflow)).to_dict() == workflow
    assert CronWorkflow.from_dict(copy.deepcopy(cron)).to_dict() == cron
    # and the check can fail: a misspelt field is dropped, a wrong type refused
    broken = copy.deepcopy(workflow)
    broken["spec"]["templates"][0]["container"]["comand"] = ["x"]
    assert round_trip(models.Workflow, broken) != broken
    broken = copy.deepcopy(workflow)
    broken["spec"]["templates"][0]["container"]["args"] = {"not": "a list"}
    with pytest.raises(ValueError, match="args"):
        round_trip(models.Workflow, broken)


def test_arguments_are_the_parameters_with_defaults_help_and_choices(job: Path) -> None:
    """Each parameter's type (the text reads back by it), default and help text are the
    schema's; the one that Argo's text cannot carry (str | None = None) is left out."""
    schema = read_schema(job)
    arguments = {
        p["name"]: p for p in document(job, "workflow.yaml")["spec"]["arguments"]["parameters"]
    }
    assert list(arguments) == [p.name for p in schema if p.name != "run_name"]
    for parameter in schema:
        if parameter.name == "run_name":
            continue
        argument = arguments[parameter.name]
        assert isinstance(argument["value"], str)
        assert reads_back(parameter, argument["value"]) == parameter.default
        assert argument.get("description", "") == parameter.help
    assert arguments["title"]["value"] == read_schema(job).get("title").default
    assert arguments["layers"]["value"] == "[64, 32]"
    assert arguments["config"]["value"] == '{"a": 1, "b": [true, null]}'
    assert arguments["use_gpu"]["value"] == "false"
    assert arguments["anything"]["value"] == "null"
    assert arguments["optimizer"]["enum"] == ["adam", "sgd"]
    assert arguments["epochs"]["description"] == "number of epochs: more is slower"
    assert arguments["lr"]["description"] == 'learning "rate"'


def test_warnings_name_what_argo_cannot_carry(exported: tuple[Path, str]) -> None:
    _, err = exported
    assert "parameter 'run_name' (str | None, default None) is not an Argo workflow" in err
    assert "parameter 'title': its default holds '{{'" in err


def test_the_step_passes_each_argument_to_the_entrypoint(job: Path) -> None:
    """Argo's substitution of the arguments into the container's args, then the entrypoint's
    parsing: the notebook gets the schema's defaults, typed; values given with ``argo submit
    -p`` arrive typed, a string with quotes intact."""
    spec = spec_of(document(job, "workflow.yaml"))
    (template,) = spec["templates"]
    container = template["container"]
    assert container["command"] == ["python", "-m", "jupyter_mlops.job"]
    args = container["args"]
    assert args[0] == "/job"
    assert args[-2:] == ["--output", "gs://bucket/runs/{{workflow.name}}.ipynb"]
    pairs = args[1:-2]
    names = [p["name"] for p in spec["arguments"]["parameters"]]
    assert pairs == [x for n in names for x in ("-p", n, f"{{{{workflow.parameters.{n}}}}}")]

    loaded = load_job(job)

    def run_with(given: dict[str, str]) -> dict[str, Any]:
        values = {p["name"]: p["value"] for p in spec["arguments"]["parameters"]} | given
        substituted = [_TAG.sub(lambda m: values[m.group(1)], a) for a in pairs]
        parsed = parser().parse_args([str(job), *substituted])
        return values_for(loaded, [tuple(p) for p in parsed.parameter])

    assert run_with({}) == loaded.schema.defaults()
    title = "a \"quoted\" 'title' with {braces}"
    values = run_with(
        {
            "title": title,
            "layers": "[128, 64]",
            "config": '{"k": null}',
            "threshold": "null",
            "epochs": "7",
            "use_gpu": "yes",
            "anything": '["x", 1]',
        }
    )
    assert values["title"] == title
    assert values["layers"] == [128, 64]
    assert values["config"] == {"k": None}
    assert values["threshold"] is None
    assert values["epochs"] == 7
    assert values["use_gpu"] is True
    assert values["anything"] == ["x", 1]


def test_the_pod_runs_as_non_root_with_resources_secrets_and_retries(job: Path) -> None:
    workflow = document(job, "workflow.yaml")
    assert workflow["metadata"]["generateName"] == f"{NAME}-"
    assert workflow["metadata"]["namespace"] == "ml"
    assert workflow["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "jupyter-mlops"
    spec = spec_of(workflow)
    assert spec["entrypoint"] == "job"
    assert spec["serviceAccountName"] == "argo-runner"
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 1000
    assert spec["podMetadata"]["labels"]["io.jupyter-mlops/job"] == NAME
    assert spec["ttlStrategy"] == {"secondsAfterCompletion": 7 * 24 * 3600}
    (template,) = spec["templates"]
    container = template["container"]
    assert container["image"] == IMAGE
    quantities = {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "2"}
    assert container["resources"] == {"requests": quantities, "limits": quantities}
    assert container["env"] == [{"name": "JUPYTER_MLOPS_IMAGE_DIGEST", "value": DIGEST}]
    assert container["envFrom"] == [{"secretRef": {"name": "mlflow"}}]
    (mount,) = container["volumeMounts"]
    assert mount["mountPath"] == "/etc/secrets/creds"
    assert mount["readOnly"] is True
    (volume,) = template["volumes"]
    assert volume == {
        "name": mount["name"],
        "secret": {"secretName": "creds", "defaultMode": 0o440},
    }
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert template["retryStrategy"] == {
        "limit": 1,
        "retryPolicy": "OnFailure",
        "expression": 'not (lastRetry.exitCode in ["2", "3"])',
    }


def test_the_cron_workflow_runs_the_same_workflow_on_the_schedule(job: Path) -> None:
    cron = document(job, "cronworkflow.yaml")
    assert cron["metadata"]["name"] == NAME
    assert cron["spec"]["schedules"] == ["30 2 * * 1-5"]
    assert cron["spec"]["timezone"] == "Etc/UTC"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    workflow_spec = spec_of(document(job, "workflow.yaml"))
    assert {k: v for k, v in spec_of(cron).items() if k != "workflowMetadata"} == workflow_spec


def test_readme_says_how_to_submit(job: Path) -> None:
    readme = (job / "README.md").read_text()
    assert "## Run it with Argo Workflows" in readme
    # The job folder relative to the project (here the notebook's folder): no absolute path.
    assert "argo submit -n ml --watch pipelines/typed-job/argo/workflow.yaml -p epochs=3" in readme
    assert "argo cron create -n ml pipelines/typed-job/argo/cronworkflow.yaml" in readme


def test_no_schedule_no_cron_workflow_and_secrets_never_by_value(tmp_path: Path) -> None:
    job = export_job(typed_notebook(tmp_path / "p"), "--target", "argo", "--image", "job:1")
    assert sorted(p.name for p in (job / "argo").iterdir()) == ["workflow.yaml"]
    workflow = document(job, "workflow.yaml")
    assert round_trip(models.Workflow, workflow) == workflow
    container = spec_of(workflow)["templates"][0]["container"]
    assert not {"env", "envFrom", "resources", "volumeMounts"} & set(container)
    assert container["args"][-1] == "{{workflow.parameters.anything}}"  # no --output


def test_a_parameter_name_argo_cannot_carry_is_refused(tmp_path: Path, capsys) -> None:
    notebook = typed_notebook(tmp_path / "p", parameters="taux_\u00e9 = 1\n")
    assert cli(["export", str(notebook), "--target", "argo"]) == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert "parameter 'taux_\u00e9' cannot be a Argo parameter name" in line
    assert not (tmp_path / "p" / "pipelines" / NAME).exists()
