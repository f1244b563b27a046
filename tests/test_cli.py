"""``python -m jupyter_mlops`` as a user runs it: a subprocess, JSON on stdout, one-line
errors on stderr with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_mlops import __version__
from jupyter_mlops.experiments.models import ExperimentsResponse
from jupyter_mlops.status.models import StatusResponse


@pytest.fixture
def cli(clean_env, tmp_path):
    """``cli("status", "--json", ...)`` -> CompletedProcess, run from an empty folder with
    DOCKER_HOST on a missing socket."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    env = clean_env({"DOCKER_HOST": f"unix://{tmp_path / 'missing' / 'docker.sock'}"})

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "jupyter_mlops", *args],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    run.workdir = workdir  # type: ignore[attr-defined]
    return run


def test_status_and_experiments_json_on_a_git_dvc_project(cli, git_dvc_repo: Path, embedded_uri):
    done = cli("status", "--json", "--root", str(git_dvc_repo))
    assert done.returncode == 0, done.stderr
    status = StatusResponse.model_validate(json.loads(done.stdout))
    root = git_dvc_repo.resolve()
    assert status.version == __version__
    assert status.project.root == str(root)
    assert (status.project.git, status.project.dvc, status.project.git_branch) == (
        True,
        True,
        "main",
    )
    assert status.tracking.kind == "embedded"
    assert status.tracking.reachable, status.tracking.error
    assert status.tracking.uri == embedded_uri(root)
    assert status.container_engine.reachable is False
    assert (root / ".mlops" / "mlflow.db").is_file()

    done = cli("experiments", "--json", "--root", str(git_dvc_repo))
    assert done.returncode == 0, done.stderr
    answer = ExperimentsResponse.model_validate(json.loads(done.stdout))
    default = {e.name: e for e in answer.experiments}["Default"]
    assert default.run_count == 0
    assert default.artifact_location.startswith((root / ".mlops" / "artifacts").as_uri())
    # Nothing was written where the command ran.
    assert list(cli.workdir.iterdir()) == []


def test_experiments_against_a_tracking_server(cli, mlflow_server):
    done = cli("experiments", "--tracking-uri", mlflow_server.uri, "--search", "default")
    assert done.returncode == 0, done.stderr
    assert "Default" in done.stdout
    assert " runs  " in done.stdout


def test_experiments_with_the_server_down_is_a_one_line_error(cli, down_server_url):
    done = cli("experiments", "--tracking-uri", down_server_url)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("jupyter mlops: error: ")
    assert down_server_url in lines[0]


def test_status_with_the_server_down_still_reports(cli, down_server_url, tmp_path):
    done = cli("status", "--tracking-uri", down_server_url, "--root", str(tmp_path))
    assert done.returncode == 0, done.stderr
    tracking = next(line for line in done.stdout.splitlines() if line.startswith("tracking"))
    assert down_server_url in tracking
    assert "UNREACHABLE" in tracking


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("experiments", "--max-results", "0"), "--max-results"),
        (("experiments", "--search", "x" * 300), "--search"),
        (("status", "--root", "does-not-exist"), "does-not-exist"),
        (("experiments", "--root", "does-not-exist"), "does-not-exist"),
    ],
)
def test_bad_options_are_one_line_errors(cli, args, named):
    done = cli(*args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("jupyter mlops: error: ")
    assert named in lines[0]
    # A mistyped --root must not be created.
    assert not (cli.workdir / "does-not-exist").exists()


def test_version(cli):
    done = cli("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"jupyter-mlops {__version__}"
