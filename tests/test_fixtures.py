"""Short smoke tests of the fixtures the other tests rely on."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def test_mlflow_server_answers(mlflow_server):
    with urllib.request.urlopen(f"{mlflow_server.uri}/health", timeout=5) as answer:
        assert answer.status == 200
    with urllib.request.urlopen(
        f"{mlflow_server.uri}/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default",
        timeout=10,
    ) as answer:
        experiment = json.load(answer)["experiment"]
    assert experiment["name"] == "Default"
    assert experiment["artifact_location"].startswith(mlflow_server.artifact_root.as_uri())


def test_down_server_url_refuses_connections(down_server_url):
    with pytest.raises(urllib.error.URLError, match="refused"):
        urllib.request.urlopen(f"{down_server_url}/health", timeout=2)


def test_git_dvc_repo_is_clean_with_two_commits(git_dvc_repo: Path):
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=git_dvc_repo, capture_output=True, text=True, check=True
        ).stdout.strip()

    assert (git_dvc_repo / ".dvc" / "config").is_file()
    assert git("rev-list", "--count", "HEAD") == "2"
    assert git("status", "--porcelain") == ""
    assert git("symbolic-ref", "--short", "HEAD") == "main"
    assert ".dvc/config" in git("ls-files")


def test_run_notebook_uses_this_python(run_notebook, output_of, tmp_path):
    import sys

    nb = run_notebook(
        ["import os, sys; print(sys.executable); print(os.getcwd())", ("x = 1", ["parameters"])],
        cwd=tmp_path,
    )
    executable, cwd = output_of(nb.cells[0]).split()
    assert Path(executable).resolve() == Path(sys.executable).resolve()
    assert Path(cwd).resolve() == tmp_path.resolve()
    assert nb.cells[1].metadata.tags == ["parameters"]
