"""``job.json`` as one typed model (``export/jobfile.py``): what export writes reads back the
same; a job file of an earlier version (fields missing, none of the later ones) still reads
and runs; one that is not a job file is refused naming the file and the field, as a one-line
error by the job runner and the CLI and as a 400 by the server, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mlops.cli import main as cli
from jupyter_mlops.export.datapins import DataPin, DvcEntry
from jupyter_mlops.export.job import load_job, main, values_for
from jupyter_mlops.export.jobfile import (
    JOB_FILE,
    InvalidJobFile,
    JobFile,
    JobKernel,
    JobSource,
    WarningDetail,
)

#: What the first versions of export wrote: no schema_version, kernel, data or warnings.
EARLIER = {
    "name": "train",
    "notebook": "train.ipynb",
    "parameters": "parameters.schema.json",
    "source": {"path": "train.ipynb", "sha256": "ab" * 32, "git_commit": None},
    "targets": ["docker"],
    "files": [],
    "written": ["Dockerfile", "job.json", "train.ipynb"],
    "exported_at": "2026-01-02T03:04:05+00:00",
}
SCHEMA = {
    "type": "object",
    "properties": {"epochs": {"type": "integer", "default": 2}},
    "additionalProperties": False,
}


def job_folder(folder: Path, document: Any) -> Path:
    """A job folder with ``document`` as its job.json (written as is when a string)."""
    folder.mkdir(parents=True, exist_ok=True)
    notebook = new_notebook(
        cells=[new_code_cell("epochs = 2", metadata={"tags": ["parameters"]})],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    nbformat.write(notebook, folder / "train.ipynb")
    (folder / "parameters.schema.json").write_text(json.dumps(SCHEMA))
    text = document if isinstance(document, str) else json.dumps(document)
    (folder / JOB_FILE).write_text(text)
    return folder


def test_what_export_writes_reads_back_the_same(tmp_path: Path) -> None:
    written = JobFile(
        name="train",
        notebook="train.ipynb",
        experiment="Train",
        source=JobSource("nb/train.ipynb", "cd" * 32, "f" * 40, True, "github.com:o/r.git"),
        kernel=JobKernel("python3", "3.11.9"),
        targets=("docker", "airflow"),
        files=("model.py",),
        data=(DataPin("data/x.csv", DvcEntry("0" * 32, size=4, hash="md5"), "s", "s3://b"),),
        written=("Dockerfile", JOB_FILE),
        exported_at="2026-12-06T00:00:00+00:00",
        jupyter_mlops_version="0.1.0",
        warnings=("a secret left out", "plain"),
        warning_details=(WarningDetail("secret", "parameters.token", {"name": "token"}), None),
    )
    (tmp_path / JOB_FILE).write_text(written.to_json())
    assert JobFile.read(tmp_path) == written
    document = json.loads((tmp_path / JOB_FILE).read_text())
    assert document["schema_version"] == 1
    assert document["data"] == [
        {
            "path": "data/x.csv",
            "entry": {"md5": "0" * 32, "size": 4, "hash": "md5"},
            "remote": "s",
            "url": "s3://b",
        }
    ]
    assert document["warning_details"][1] is None
    assert "unreadable_pins" not in document


def test_a_job_file_of_an_earlier_version_reads_and_runs(tmp_path: Path) -> None:
    folder = job_folder(tmp_path / "train", {**EARLIER, "added_by_a_later_version": {"x": 1}})
    read = JobFile.read(folder)
    assert (read.name, read.experiment, read.notebook) == ("train", "train", "train.ipynb")
    assert read.schema_version == 1
    assert read.kernel == JobKernel()
    assert read.source.git_dirty is None
    assert (read.data, read.warnings, read.warning_details) == ((), (), ())
    assert read.details() == []
    job = load_job(folder)
    assert job.file == read
    assert values_for(job, [("epochs", "5")]) == {"epochs": 5}

    # Warnings without details (a version before them): each reads with none.
    (folder / JOB_FILE).write_text(json.dumps({**EARLIER, "warnings": ["one", "two"]}))
    assert JobFile.read(folder).details() == [WarningDetail(), WarningDetail()]


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "must hold a JSON object, not a list"),
        ({"notebook": "train.ipynb"}, "'name' is missing"),
        ({**EARLIER, "notebook": 3}, "'notebook' must be a string, not a number"),
        ({**EARLIER, "targets": "docker"}, "'targets' must be a list, not a string"),
        ({**EARLIER, "files": [1]}, "'files' must hold strings"),
        ({**EARLIER, "source": "here"}, "'source' must be an object"),
        ({**EARLIER, "source": {"git_dirty": "yes"}}, "'source.git_dirty' must be true or false"),
        ({**EARLIER, "schema_version": "1"}, "'schema_version' must be an integer"),
        ({**EARLIER, "data": {"path": "x"}}, "'data' must be a list"),
    ],
)
def test_what_is_not_a_job_file_is_refused_naming_the_file_and_field(
    tmp_path: Path, document: Any, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = job_folder(tmp_path / "train", document)
    with pytest.raises(InvalidJobFile) as caught:
        JobFile.read(folder)
    assert str(folder / JOB_FILE) in caught.value.message
    assert says in caught.value.message
    assert caught.value.code == "invalid_job_file"

    # The job runner: exit 2, one line, nothing else.
    assert main([str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("jupyter-mlops job: error: ")
    assert says in err
    assert "Traceback" not in err


def test_a_pin_that_cannot_be_read_stops_the_job_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pins = [
        {"path": "data/x.csv", "entry": {"md5": "0" * 32}, "remote": None, "url": None},
        {"path": "broken", "entry": "not a DVC entry"},
        {"path": "../outside", "entry": {"md5": "1" * 32}},
    ]
    folder = job_folder(tmp_path / "train", {**EARLIER, "data": pins})
    read = JobFile.read(folder)
    assert [p.path for p in read.data] == ["data/x.csv"]
    assert read.unreadable_pins == (
        "pin 'broken': its entry has no md5",
        "pin '../outside' is not a path inside the job folder",
    )
    assert main([str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "job.json is not a valid job file: pin 'broken': its entry has no md5" in err


def test_the_cli_says_what_is_wrong_in_one_line(tmp_path: Path) -> None:
    folder = job_folder(tmp_path / "train", {**EARLIER, "targets": "docker"})
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops", "run", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"{folder / JOB_FILE} is not a valid job file" in done.stderr
    assert "Traceback" not in done.stderr
    assert cli(["build", str(folder)]) == 2


@pytest.mark.slow
async def test_the_server_refuses_an_invalid_job_file_with_a_400(
    fetch_json: Any, jp_root_dir: Path
) -> None:
    good = job_folder(jp_root_dir / "pipelines" / "good", {**EARLIER, "name": "good"})
    job_folder(jp_root_dir / "pipelines" / "bad", {**EARLIER, "targets": "docker"})
    status, listed = await fetch_json("jobs")
    assert status == 200, listed
    assert [j["path"] for j in listed["jobs"]] == ["pipelines/good"]  # the bad one left out
    assert listed["jobs"][0]["experiment"] == "good"
    assert listed["jobs"][0]["warning_details"] == []
    assert good.is_dir()

    for route in (("jobs", "runs"), ("jobs", "build")):
        body = json.dumps({"job": "pipelines/bad"})
        status, answer = await fetch_json(*route, method="POST", body=body)
        assert status == 400, answer
        assert answer["code"] == "invalid_job_file"
        assert answer["message"] == (
            "pipelines/bad/job.json is not a valid job file: 'targets' must be a list, not a string"
        )
