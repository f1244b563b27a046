"""The deployment options every orchestrator target shares (``jupyter_mlops.export.deploy``):
a mistake is refused before anything is written, with one line naming the offending value,
and a secret's value is refused without being echoed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from orchestrator_jobs import NAME, typed_notebook

from jupyter_mlops.cli import main as cli
from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.export.deploy import Deployment, cron_problem, deployment, secret_name_problem

AWS_KEY = "AKIAIOSFODNN7EXAMPLE=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "dGhpcyBpcyBhIHZlcnkgbG9uZyBzZWNyZXQgdG9rZW4gdmFsdWU"  # base64, no '='
GITHUB = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"

#: (options, text the one line must hold)
MISTAKES = [
    (["--schedule", "61 * * * *"], "'61 * * * *' is not a valid cron expression"),
    (["--schedule", "* * *"], "'* * *' is not a valid cron expression: 3 fields"),
    (["--schedule", "*/0 * * * *"], "step '0' must be a positive number"),
    (["--schedule", "0 0 * 13 *"], "'13' is outside 1-12"),
    (["--schedule", "@fortnightly"], "'@fortnightly' is not a valid cron expression"),
    (["--name", "My_Job"], "invalid job name 'My_Job'"),
    (["--namespace", "My_Namespace"], "'My_Namespace' is not a valid namespace"),
    (["--service-account", "Runner_SA"], "'Runner_SA' is not a valid service account name"),
    (["--secret", "My_Secret"], "'My_Secret' is not a Secret name"),
    (["--cpu", "2GB"], "--cpu: '2GB' is not a positive Kubernetes quantity"),
    (["--memory", "-1"], "--memory: '-1' is not a positive Kubernetes quantity"),
    (["--cpu", "abc"], "--cpu: 'abc' is not a positive Kubernetes quantity"),
    (["--memory", "0"], "--memory: '0' is not a positive Kubernetes quantity"),
    (["--gpu", "-1"], "--gpu: '-1' is not a number of GPUs"),
    (["--gpu", "100"], "--gpu: '100' is not a number of GPUs"),
    (["--image", "Registry/Team/Job:1"], "'Registry/Team/Job:1' is not an image reference"),
    (["--target", "nope"], "unknown export target 'nope'"),
]
#: Secrets given by value: refused, and the value never echoed.
VALUES = [
    (["--secret", AWS_KEY], AWS_KEY),
    (["--env-from-secret", TOKEN], TOKEN),
    (["--env-from-secret", GITHUB], GITHUB),
    (["--secret", "sk-proj-abcdefghijklmnop"], "sk-proj-abcdefghijklmnop"),
    (["--env-from-secret", "MLFLOW_TRACKING_TOKEN=abc"], "abc"),
]


@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    return typed_notebook(tmp_path / "project")


def refused(notebook: Path, options: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Export with ``options`` for every orchestrator target: exit code 2, one line on
    stderr (returned), nothing on stdout, and no job folder."""
    targets = ["--target", "kubernetes", "--target", "argo", "--target", "kfp"]
    code = cli(["export", str(notebook), *targets, *options])
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (options, err)
    assert len(lines) == 1, lines
    assert out == ""
    assert not (notebook.parent / "pipelines").exists()
    return lines[0]


@pytest.mark.parametrize(("options", "expected"), MISTAKES, ids=lambda v: " ".join(v))
def test_a_mistake_is_one_line_naming_the_value_and_nothing_is_written(
    notebook: Path, options: list[str], expected: str, capsys
) -> None:
    line = refused(notebook, options, capsys)
    assert line.startswith("jupyter mlops: error: ")
    assert expected in line


@pytest.mark.parametrize(("options", "value"), VALUES, ids=lambda v: str(v)[:20])
def test_a_secret_given_by_value_is_refused_without_echoing_it(
    notebook: Path, options: list[str], value: str, capsys
) -> None:
    line = refused(notebook, options, capsys)
    assert options[0] in line
    assert "looks like a secret itself, not a Secret's name" in line
    assert "kubectl create secret generic NAME" in line
    assert value not in line


def test_several_mistakes_are_told_at_once(notebook: Path, capsys) -> None:
    line = refused(notebook, ["--cpu", "2GB", "--schedule", "* *"], capsys)
    assert "--cpu: '2GB'" in line
    assert "--schedule: '* *'" in line


def test_valid_options_are_taken(notebook: Path, capsys) -> None:
    digest = "sha256:" + "0" * 64
    options = [
        "--schedule",
        "  0   3 * * mon-fri ",
        "--cpu",
        "1.5",
        "--memory",
        "512Mi",
        "--gpu",
        "0",
        "--secret",
        "db-credentials",
        "--secret",
        "db-credentials",
        "--env-from-secret",
        "mlflow.tracking",
        "--namespace",
        "team-ml",
        "--service-account",
        "pipelines.runner",
        "--image",
        f"registry.example.com:5000/team/job:1.0@{digest}",
    ]
    code = cli(["export", str(notebook), "--target", "kubernetes", *options])
    assert code == 0, capsys.readouterr().err
    assert (notebook.parent / "pipelines" / NAME / "kubernetes" / "cronjob.yaml").is_file()


def test_deployment_normalises_and_renders() -> None:
    found = deployment(
        schedule=" 0  3 * * 1 ",
        secrets=["a", "b", "a"],
        cpu="2",
        memory="4Gi",
        gpu=1,
        output="",
        image="job@sha256:" + "f" * 64,
    )
    assert found.schedule == "0 3 * * 1"
    assert found.secrets == ("a", "b")
    assert found.output is None
    assert found.resources() == {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"}
    assert found.digest == "sha256:" + "f" * 64
    assert deployment(schedule="@DAILY").schedule == "@daily"
    assert deployment(gpu=0).resources() == {}
    assert Deployment(image="job:1").digest is None
    with pytest.raises(InvalidInput, match="--gpu"):
        deployment(gpu=65)


def test_cron_and_secret_name_checks() -> None:
    assert cron_problem("*/15 0-6,22 1 jan-mar sun") is None
    assert cron_problem("0 0 ? * 7") is None
    assert "outside 0-59" in (cron_problem("60 * * * *") or "")
    assert "runs backwards" in (cron_problem("0 5-1 * * *") or "")
    assert "6 fields" in (cron_problem("0 0 0 * * *") or "")
    assert secret_name_problem("mlflow") is None
    assert secret_name_problem("db.credentials-2") is None
    assert "looks like a secret" in (secret_name_problem("eyJhbGciOiJIUzI1NiJ9") or "")
    assert "not a Secret name" in (secret_name_problem("-bad") or "")


def test_image_for_prefers_the_option_then_the_build_record(tmp_path: Path) -> None:
    record = tmp_path / "build.json"
    assert Deployment().image_for(record, "job") == ("job:latest", True)
    record.write_text(json.dumps({"image": "job:built", "pushed": "reg.example.com/job:1"}))
    assert Deployment().image_for(record, "job") == ("reg.example.com/job:1", False)
    assert Deployment(image="other:2").image_for(record, "job") == ("other:2", False)
    record.write_text("not json")
    assert Deployment().image_for(record, "job") == ("job:latest", True)
