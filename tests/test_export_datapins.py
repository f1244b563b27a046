"""A job reads the data versions it was exported with: export pins the DVC-tracked data the
notebook reads, and the job entrypoint pulls that exact version from the DVC remote where
the job folder lacks it or holds another one. Real DVC, a local-folder remote, real kernels."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from test_export_dvc import dvc, env, write_notebook

from jupyter_mlops.export.exporter import export_notebook

V1 = "x,y\n1,2\n"
V2 = "x,y\n1,2\n3,4\n"
READS = 'rows = open("data/train.csv").read().splitlines()\nprint("ROWS", len(rows) - 1)\n'


def run_job(job: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jupyter_mlops.job", str(job), *args],
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def printed_rows(output: Path) -> str:
    notebook = nbformat.read(output, as_version=4)
    return "".join(o.get("text", "") for c in notebook.cells for o in c.get("outputs", []))


@pytest.fixture
def project(git_dvc_repo: Path, tmp_path: Path) -> Path:
    """A git + DVC project whose default remote is a local folder; data/train.csv at V1,
    added and pushed; a notebook that reads it."""
    remote = tmp_path / "remote"
    remote.mkdir()
    dvc(git_dvc_repo, "remote", "add", "-d", "storage", str(remote))
    (git_dvc_repo / "data").mkdir()
    (git_dvc_repo / "data" / "train.csv").write_text(V1)
    dvc(git_dvc_repo, "add", "-q", "data/train.csv")
    dvc(git_dvc_repo, "push", "-q")
    write_notebook(git_dvc_repo / "train.ipynb", [("epochs = 1", ["parameters"]), READS])
    return git_dvc_repo


@pytest.mark.slow
def test_the_job_pulls_the_pinned_version_it_lacks(project: Path, tmp_path: Path) -> None:
    md5 = dvc_md5(project / "data" / "train.csv.dvc")
    job = export_notebook(project / "train.ipynb", targets=["docker"])
    pins = json.loads((job / "job.json").read_text())["data"]
    assert pins == [
        {
            "path": "data/train.csv",
            "entry": {"md5": md5, "size": len(V1), "hash": "md5"},
            "remote": "storage",
            "url": str(tmp_path / "remote"),
        }
    ]
    assert f"`data/train.csv`: `{md5}`" in (job / "README.md").read_text()

    # The project moves on to V2; the job is started elsewhere without its data, then with
    # the new version in its place: both times it reads V1, pulled from the remote.
    (project / "data" / "train.csv").unlink()
    (project / "data" / "train.csv").write_text(V2)
    dvc(project, "add", "-q", "data/train.csv")
    moved = shutil.copytree(job, tmp_path / "elsewhere" / "train")
    (moved / "data" / "train.csv").unlink()
    done = run_job(moved, "--output", str(tmp_path / "out1.ipynb"))
    assert done.returncode == 0, done.stderr
    assert f"pulling data/train.csv ({md5})" in done.stdout
    assert (moved / "data" / "train.csv").read_text() == V1
    assert "ROWS 1" in printed_rows(tmp_path / "out1.ipynb")

    (moved / "data" / "train.csv").write_text(V2)
    done = run_job(moved, "--output", str(tmp_path / "out2.ipynb"))
    assert done.returncode == 0, done.stderr
    assert "ROWS 1" in printed_rows(tmp_path / "out2.ipynb")
    # Present and right: nothing pulled, no scratch DVC project left behind.
    done = run_job(moved, "--output", str(tmp_path / "out3.ipynb"))
    assert done.returncode == 0, done.stderr
    assert "pulling" not in done.stdout
    assert [p.name for p in (moved / "data").iterdir()] == ["train.csv"]


@pytest.mark.slow
def test_a_version_the_remote_lacks_stops_the_job_before_the_notebook(
    project: Path, tmp_path: Path
) -> None:
    (project / "data" / "train.csv").unlink()
    (project / "data" / "train.csv").write_text(V2)
    dvc(project, "add", "-q", "data/train.csv")  # not pushed
    job = export_notebook(project / "train.ipynb", targets=["docker"])
    (job / "data" / "train.csv").unlink()
    done = run_job(job, "--output", str(tmp_path / "out.ipynb"))
    assert done.returncode == 4, done.stderr
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith("jupyter-mlops job: error: cannot pull data/train.csv (")
    assert str(tmp_path / "remote") in message
    assert not (tmp_path / "out.ipynb").exists()  # the notebook never ran
    assert not list((job / "data").glob(".mlops-pull-*"))


def test_without_a_remote_export_warns_and_the_job_says_why(
    git_dvc_repo: Path, tmp_path: Path
) -> None:
    (git_dvc_repo / "data").mkdir()
    (git_dvc_repo / "data" / "train.csv").write_text(V1)
    dvc(git_dvc_repo, "add", "-q", "data/train.csv")
    notebook = write_notebook(git_dvc_repo / "train.ipynb", [READS])
    warnings: list[str] = []
    job = export_notebook(notebook, targets=["docker"], on_warning=warnings.append)
    assert any("no default DVC remote" in w for w in warnings), warnings
    (job / "data" / "train.csv").unlink()
    done = run_job(job)
    assert done.returncode == 4
    assert "no default DVC remote to pull it from" in done.stderr


def test_data_with_changes_no_version_holds_travels_unpinned(project: Path) -> None:
    """The notebook read the edited file; the job carries that copy, not a pin that would
    put the snapshotted version back, and export says so."""
    (project / "data" / "train.csv").unlink()  # dvc add linked it to the cache
    (project / "data" / "train.csv").write_text(V2)
    warnings: list[str] = []
    job = export_notebook(project / "train.ipynb", targets=["docker"], on_warning=warnings.append)
    assert json.loads((job / "job.json").read_text())["data"] == []
    assert (job / "data" / "train.csv").read_text() == V2
    said = "data/train.csv has changes that no DVC version holds"
    assert any(w.startswith(said) for w in warnings), warnings


def test_data_the_dvc_target_links_is_not_pinned(project: Path) -> None:
    job = export_notebook(project / "train.ipynb", targets=["dvc"])
    assert (job / "data" / "train.csv").is_symlink()
    assert json.loads((job / "job.json").read_text())["data"] == []


def test_a_remote_url_s_credentials_stay_out_of_the_job(project: Path) -> None:
    url = "https://ci:hunter2@dvc.example.com/store?token=s3cr3t&region=eu"
    dvc(project, "remote", "add", "-f", "-d", "storage", url)
    job = export_notebook(project / "train.ipynb", targets=["docker"])
    pins = json.loads((job / "job.json").read_text())["data"]
    assert [p["url"] for p in pins] == ["https://dvc.example.com/store?region=eu"]
    for written in job.rglob("*"):
        if written.is_file():
            text = written.read_bytes()
            assert b"hunter2" not in text, written
            assert b"s3cr3t" not in text, written


def test_untracked_data_and_projects_without_dvc_have_no_pins(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text(V1)
    job = export_notebook(write_notebook(tmp_path / "train.ipynb", [READS]), targets=["docker"])
    assert json.loads((job / "job.json").read_text())["data"] == []


def dvc_md5(dvcfile: Path) -> str:
    import yaml

    return str(yaml.safe_load(dvcfile.read_text())["outs"][0]["md5"])
