"""The ``kubernetes`` export target: a Job (and CronJob) validated against the Kubernetes
API schemas, whose pod runs the job's entrypoint with the notebook's typed parameters."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version
from orchestrator_jobs import DIGEST, IMAGE, NAME, export_job, reads_back, typed_notebook

from jupyter_mlops.cli import main as cli
from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.export import cluster
from jupyter_mlops.export.job import load_job, parser, values_for
from jupyter_mlops.export.parameters import read_schema

#: The oldest version the manifests are for (podFailurePolicy is GA) and the newest known.
VERSIONS = ("1.31", latest_version())
OPTIONS = (
    "--target",
    "kubernetes",
    "--schedule",
    "0 3 * * 7",
    "--cpu",
    "500m",
    "--memory",
    "2Gi",
    "--gpu",
    "1",
    "--secret",
    "creds.v1",
    "--secret",
    "db",
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


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A job exported with every deployment option."""
    folder = tmp_path_factory.mktemp("k8s") / "project"
    return export_job(typed_notebook(folder), *OPTIONS)


def manifest(job: Path, name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((job / "kubernetes" / name).read_text()))


def pod_spec(document: dict[str, Any]) -> dict[str, Any]:
    spec = document["spec"]
    if document["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return dict(spec["template"]["spec"])


def test_manifests_validate_against_the_kubernetes_schemas(job: Path) -> None:
    for name in ("job.yaml", "cronjob.yaml"):
        document = manifest(job, name)
        for version in VERSIONS:
            kubernetes_validate.validate(document, version, strict=True)
        # The validator is strict: a misspelt field or a wrong type is refused.
        broken = copy.deepcopy(document)
        pod_spec(broken)["containers"][0]["imagePullPolicyy"] = "Always"
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)
        broken = copy.deepcopy(document)
        pod_spec(broken)["containers"][0]["args"] = "/job"
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)


def test_job_pod_runs_the_entrypoint_as_non_root_with_resources_and_secrets(job: Path) -> None:
    document = manifest(job, "job.yaml")
    assert (document["apiVersion"], document["kind"]) == ("batch/v1", "Job")
    meta = document["metadata"]
    assert (meta["name"], meta["namespace"]) == (NAME, "ml")
    assert meta["labels"]["app.kubernetes.io/name"] == NAME
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "jupyter-mlops"
    assert meta["labels"]["io.jupyter-mlops/job"] == NAME
    assert len(meta["annotations"]["io.jupyter-mlops/notebook.sha256"]) == 64

    spec = document["spec"]
    assert spec["backoffLimit"] == 1
    assert spec["ttlSecondsAfterFinished"] == 7 * 24 * 3600
    fail, ignore = spec["podFailurePolicy"]["rules"]
    assert fail["action"] == "FailJob"
    assert fail["onExitCodes"] == {"containerName": "job", "operator": "In", "values": [2, 3]}
    assert ignore["action"] == "Ignore"
    assert ignore["onPodConditions"] == [{"type": "DisruptionTarget", "status": "True"}]
    assert spec["template"]["metadata"]["labels"] == meta["labels"]

    pod = pod_spec(document)
    assert pod["restartPolicy"] == "Never"
    assert pod["serviceAccountName"] == "runner"
    assert "automountServiceAccountToken" not in pod  # an account was asked for
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "runAsGroup": 1000,
        "fsGroup": 1000,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    (container,) = pod["containers"]
    assert container["name"] == "job"
    assert container["image"] == IMAGE
    assert container["command"] == ["python", "-m", "jupyter_mlops.job"]
    assert container["args"] == ["/job", "--output", "s3://bucket/runs/$(POD_NAME).ipynb"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    quantities = {"cpu": "500m", "memory": "2Gi", "nvidia.com/gpu": "1"}
    assert container["resources"] == {"requests": quantities, "limits": quantities}
    assert container["env"] == [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "JUPYTER_MLOPS_IMAGE_DIGEST", "value": DIGEST},
    ]
    assert container["envFrom"] == [{"secretRef": {"name": "mlflow"}}]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert set(mounts) == {"/etc/secrets/creds.v1", "/etc/secrets/db"}
    assert all(m["readOnly"] for m in mounts.values())
    volumes = {v["name"]: v["secret"] for v in pod["volumes"]}
    assert {v["secretName"] for v in volumes.values()} == {"creds.v1", "db"}
    assert volumes[mounts["/etc/secrets/creds.v1"]["name"]]["secretName"] == "creds.v1"


def test_cronjob_runs_the_same_pod_on_the_schedule(job: Path) -> None:
    cron = manifest(job, "cronjob.yaml")
    assert (cron["apiVersion"], cron["kind"]) == ("batch/v1", "CronJob")
    spec = cron["spec"]
    assert spec["schedule"] == "0 3 * * 0"  # Sunday as 7 is not robfig/cron's
    assert spec["timeZone"] == "Etc/UTC"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["jobTemplate"]["spec"] == manifest(job, "job.yaml")["spec"]
    assert cron["metadata"]["namespace"] == "ml"


def test_secrets_are_referenced_by_name_only(job: Path) -> None:
    for name in ("job.yaml", "cronjob.yaml"):
        (container,) = pod_spec(manifest(job, name))["containers"]
        with_values = [e["name"] for e in container["env"] if "value" in e]
        assert with_values == ["JUPYTER_MLOPS_IMAGE_DIGEST"]
    text = (job / "kubernetes" / "job.yaml").read_text()
    assert "MLFLOW_TRACKING_URI" not in text


def test_the_pod_args_give_the_notebook_its_typed_defaults_and_overrides(job: Path) -> None:
    """What the container runs, parsed as the entrypoint parses it: the schema's defaults;
    ``-p`` pairs added as the README says arrive typed."""
    (container,) = pod_spec(manifest(job, "job.yaml"))["containers"]
    loaded = load_job(job)
    args = parser().parse_args([str(job), *container["args"][1:]])
    assert args.output == "s3://bucket/runs/$(POD_NAME).ipynb"
    assert values_for(loaded, [tuple(p) for p in args.parameter]) == loaded.schema.defaults()
    title = 'it\'s "quoted" {x}'
    added = ["-p", "layers", "[128, 64]", "-p", "title", title, "-p", "use_gpu", "true"]
    args = parser().parse_args([str(job), *container["args"][1:], *added])
    values = values_for(loaded, [tuple(p) for p in args.parameter])
    assert values["layers"] == [128, 64]
    assert values["title"] == title
    assert values["use_gpu"] is True


def test_the_header_lists_each_parameter_as_the_schema_says(job: Path) -> None:
    """Type, default and help of every parameter, as in parameters.schema.json."""
    header = [
        line.removeprefix("#   ")
        for line in (job / "kubernetes" / "job.yaml").read_text().splitlines()
        if line.startswith("#   ")
    ]
    schema = read_schema(job)
    assert len(header) == len(schema) == 10
    for line, parameter in zip(header, schema, strict=True):
        declared, _, help_text = line.partition("  # ")
        name_type, _, default = declared.partition(" = ")
        assert name_type == f"{parameter.name}: {parameter.type.python_text()}"
        assert json.loads(default) == parameter.default
        assert help_text == parameter.help
    assert "epochs: int = 3  # number of epochs: more is slower" in header


def test_readme_says_how_to_apply_and_override(job: Path) -> None:
    readme = (job / "README.md").read_text()
    assert "## Run it on Kubernetes" in readme
    assert "kubectl apply -f" in readme
    assert "kubernetes/job.yaml" in readme
    assert "kubectl create job -n ml --from=cronjob/typed-job" in readme
    assert 'args: ["/job", "-p", "epochs", "3"]' in readme
    assert "/etc/secrets/creds.v1" in readme


def test_without_options_a_minimal_job_with_a_guessed_image(tmp_path: Path, capsys) -> None:
    job = export_job(typed_notebook(tmp_path / "p"), "--target", "kubernetes")
    assert sorted(p.name for p in (job / "kubernetes").iterdir()) == ["job.yaml"]
    document = manifest(job, "job.yaml")
    for version in VERSIONS:
        kubernetes_validate.validate(document, version, strict=True)
    pod = pod_spec(document)
    assert pod["automountServiceAccountToken"] is False
    assert "volumes" not in pod
    assert "serviceAccountName" not in pod
    assert "namespace" not in document["metadata"]
    (container,) = pod["containers"]
    assert container["image"] == f"{NAME}:latest"
    assert container["args"] == ["/job"]
    assert not {"env", "envFrom", "resources", "volumeMounts"} & set(container)
    err = capsys.readouterr().err
    assert f"manifests use '{NAME}:latest'" in err


def test_output_as_a_file_or_a_path_is_passed_and_warned_about(tmp_path: Path, capsys) -> None:
    notebook = typed_notebook(tmp_path / "p")
    job = export_job(
        notebook, "--target", "kubernetes", "--schedule", "@daily", "--output", "s3://b/x.ipynb"
    )
    (container,) = pod_spec(manifest(job, "cronjob.yaml"))["containers"]
    assert container["args"] == ["/job", "--output", "s3://b/x.ipynb"]
    assert "env" not in container
    assert manifest(job, "cronjob.yaml")["spec"]["schedule"] == "@daily"
    assert "every scheduled run overwrites it" in capsys.readouterr().err
    job = export_job(notebook, "--target", "kubernetes", "--output", "/data/out")
    (container,) = pod_spec(manifest(job, "job.yaml"))["containers"]
    assert container["args"] == ["/job", "--output", "/data/out/$(POD_NAME).ipynb"]
    assert "mount a volume there" in capsys.readouterr().err


def test_a_cronjob_name_longer_than_52_is_refused_and_nothing_written(
    tmp_path: Path, capsys
) -> None:
    notebook = typed_notebook(tmp_path / "p")
    name = "n" * 53
    code = cli(["export", str(notebook), "--name", name, "--target", "kubernetes"])
    assert code == 0  # a Job may have it
    capsys.readouterr()
    args = ["export", str(notebook), "--name", name, "--target", "kubernetes"]
    assert cli([*args, "--out", str(tmp_path / "cron"), "--schedule", "@hourly"]) == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert f"job name '{name}' has 53 characters" in line
    assert "CronJob" in line
    assert not (tmp_path / "cron").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["p"]  # no staging folder left


def test_cron_expressions_as_robfig_cron_reads_them() -> None:
    assert cluster.robfig_cron("0 3 * * 7") == "0 3 * * 0"
    assert cluster.robfig_cron("0 3 * * 5-7") == "0 3 * * 5-6,0"
    assert cluster.robfig_cron("0 3 * * 6-7") == "0 3 * * 6,0"
    assert cluster.robfig_cron("0 3 * * 7,1") == "0 3 * * 0,1"
    assert cluster.robfig_cron("*/5 * * * 1-5") == "*/5 * * * 1-5"
    assert cluster.robfig_cron("0 0 1 jan sun") == "0 0 1 jan sun"
    assert cluster.robfig_cron("@weekly") == "@weekly"
    assert cluster.robfig_cron("@weekly", macros=False) == "0 0 * * 0"
    with pytest.raises(InvalidInput, match="0-6"):
        cluster.robfig_cron("0 0 * * 1-7/2")


def test_cli_text_reads_back_as_the_value(job: Path) -> None:
    """The ``-p`` text written for each default is read back by the entrypoint as it."""
    for parameter in read_schema(job):
        text = cluster.cli_text(parameter, parameter.default)
        if parameter.name == "run_name":
            assert text is None  # a str | None's text is never None
            continue
        assert text is not None
        assert reads_back(parameter, text) == parameter.default
    title = read_schema(job).get("title")
    assert cluster.cli_text(title, title.default) == title.default  # as it is, quotes and all


def test_a_notebook_without_parameters_on_every_orchestrator(tmp_path: Path) -> None:
    from hera.workflows import models
    from kfp import components

    notebook = typed_notebook(tmp_path / "p", parameters="# nothing to set\n")
    job = export_job(
        notebook, "--target", "kubernetes", "--target", "argo", "--target", "kfp", "--image", "j:1"
    )
    text = (job / "kubernetes" / "job.yaml").read_text()
    assert "# The notebook has no parameters.\n" in text
    assert "to override one" not in text
    kubernetes_validate.validate(manifest(job, "job.yaml"), VERSIONS[-1], strict=True)
    workflow = yaml.safe_load((job / "argo" / "workflow.yaml").read_text())
    model = models.Workflow.model_validate(workflow)
    assert model.model_dump(by_alias=True, exclude_none=True) == workflow
    assert workflow["spec"]["templates"][0]["container"]["args"] == ["/job"]
    loaded = components.load_component_from_file(str(job / "kfp" / "pipeline.yaml"))
    assert not loaded.component_spec.inputs
