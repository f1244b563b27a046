"""Jobs built into images and run in containers, for real: Podman's Docker API (started here
from ``scripts/containers.sh``, or any engine ``DOCKER_HOST`` names), the base image made
from Debian by that script, pip reaching the index through the machine's CA certificates
(the product's CA setting), and a real MLflow server on loopback recording the job's run.

Without an engine these tests are skipped, except in CI, where they must run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import free_port, start_process, stop_process_group, subprocess_env
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from jupyter_mlops.cli import main as cli
from jupyter_mlops.export.build import BUILD_LOG, read_build

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parent.parent
CONTAINERS = ROOT / "scripts" / "containers.sh"
BASE_IMAGE = "docker.io/library/python:{}.{}-slim".format(*sys.version_info[:2])
MACHINE_CA_CERTS = Path("/usr/local/share/ca-certificates")


def _engine_answers() -> bool:
    import docker

    try:
        client = docker.from_env(timeout=5)
        client.ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="module")
def engine() -> Iterator[Any]:
    """A container engine on the Docker API with the base image; Podman's service is
    started (and stopped afterwards) when DOCKER_HOST names none."""
    import docker

    started = False
    if not (os.environ.get("DOCKER_HOST") and _engine_answers()):
        if not CONTAINERS.exists() or shutil.which("podman") is None:
            if os.environ.get("CI"):
                pytest.fail("no container engine: scripts/setup.sh --with-tests sets Podman up")
            pytest.skip("no container engine (run scripts/containers.sh setup)")
        done = subprocess.run(
            [str(CONTAINERS), "start"], capture_output=True, text=True, check=True, timeout=60
        )
        for line in done.stdout.splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            os.environ[name] = value
        started = True
    client = docker.from_env(timeout=600)
    if not client.images.list(name=BASE_IMAGE):
        subprocess.run([str(CONTAINERS), "setup"], check=True, timeout=600)
    try:
        yield client
    finally:
        client.close()
        if started:
            subprocess.run([str(CONTAINERS), "stop"], check=False, timeout=60)


@pytest.fixture(scope="module")
def proxied_mlflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An MLflow server on loopback that proxies artifacts (as a shared server does), so a
    job in a container can upload its output notebook."""
    folder = tmp_path_factory.mktemp("mlflow-proxied")
    port = free_port()
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination", str(folder / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    proc = start_process(
        command,
        cwd=folder,
        env=subprocess_env({"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}),
        log=folder / "server.log",
        ready_url=f"http://127.0.0.1:{port}/health",
        timeout=90,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process_group(proc)


def notebook(path: Path, cells: list[Any]) -> Path:
    made = []
    for cell in cells:
        if isinstance(cell, tuple):
            cell = new_code_cell(cell[0], metadata={"tags": [cell[1]]})
        elif isinstance(cell, str):
            cell = new_code_cell(cell)
        made.append(cell)
    document = new_notebook(
        cells=made,
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    nbformat.write(document, path)
    return path


TRAIN_PARAMETERS = """\
n_estimators = 10  # trees in the forest
max_depth: int | None = None  # deepest split, None for unlimited
features = ["sepal", "petal"]  # columns to train on
label = 'iris "setosa"'  # a string with quotes
"""

TRAIN = """\
import json
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from features import make_frame

frame = make_frame(features)
model = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=0)
model.fit(frame[features], frame["target"])
accuracy = float(model.score(frame[features], frame["target"]))
print("RESULT " + json.dumps({"n_estimators": n_estimators, "max_depth": max_depth,
                              "features": features, "label": label, "rows": len(frame)}))
"""

FEATURES_MODULE = """\
import pandas as pd

def make_frame(columns):
    rows = [{c: (i * 7 + j) % 5 for j, c in enumerate(columns)} for i in range(60)]
    frame = pd.DataFrame(rows)
    frame["target"] = [i % 2 for i in range(60)]
    return frame
"""


@pytest.fixture(scope="module")
def training_job(tmp_path_factory: pytest.TempPathFactory, engine: Any) -> Path:
    """The realistic job: pandas + scikit-learn training with typed parameters, a local
    helper module and an exploration cell tagged skip-export; exported and built."""
    folder = tmp_path_factory.mktemp("training")
    (folder / "features.py").write_text(FEATURES_MODULE)
    notebook(
        folder / "train.ipynb",
        [
            new_markdown_cell("# Train a forest"),
            (TRAIN_PARAMETERS, "parameters"),
            ("import matplotlib; raise SystemExit('exploration only')", "skip-export"),
            TRAIN,
        ],
    )
    certs = MACHINE_CA_CERTS if any(MACHINE_CA_CERTS.glob("*.crt")) else None
    env = {"JUPYTER_MLOPS_CA_CERTS": str(certs)} if certs else {}
    os.environ.update(env)
    try:
        assert cli(["export", str(folder / "train.ipynb")]) == 0
        job = folder / "pipelines" / "train"
        assert cli(["build", str(job)]) == 0
    finally:
        for name in env:
            os.environ.pop(name, None)
    return job


def result_of(output: Path) -> dict[str, Any]:
    executed = nbformat.read(output, as_version=4)
    for cell in executed.cells:
        for out in cell.get("outputs", []):
            if out.get("name") == "stdout" and "RESULT " in out.get("text", ""):
                return dict(json.loads(out["text"].split("RESULT ", 1)[1]))
    raise AssertionError("no RESULT printed")


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jupyter_mlops", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=subprocess_env(env),
    )


def test_training_job_runs_in_its_image_and_is_tracked(
    training_job: Path, proxied_mlflow: str, tmp_path: Path
) -> None:
    record = read_build(training_job)
    assert record is not None
    assert record["image"] == "train:latest"
    assert record["image_id"].startswith("sha256:")
    requirements = (training_job / "requirements.txt").read_text()
    assert "scikit-learn==" in requirements
    assert "pandas==" in requirements
    assert "matplotlib" not in requirements, "the skip-export cell's import was kept"

    output = tmp_path / "out" / "trained.ipynb"
    done = run_cli(
        "run", str(training_job), "--in-container",
        "-p", "n_estimators", "5", "-p", "max_depth", "3",
        "-p", "features", '["petal"]', "-p", "label", 'it\'s "quoted"',
        "--output", str(output),
        env={"MLFLOW_TRACKING_URI": proxied_mlflow},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert result_of(output) == {
        "n_estimators": 5,
        "max_depth": 3,
        "features": ["petal"],
        "label": 'it\'s "quoted"',
        "rows": 60,
    }

    from mlflow import MlflowClient

    client = MlflowClient(proxied_mlflow)
    experiment = client.get_experiment_by_name("train")
    assert experiment is not None
    (found,) = client.search_runs([experiment.experiment_id])
    assert found.info.status == "FINISHED"
    assert found.data.tags["jupyter_mlops.source"] == "job"
    assert found.data.tags["jupyter_mlops.image.digest"] == record["image_id"]
    assert found.data.params["n_estimators"] == "5"
    assert found.data.params["features"] == '["petal"]'
    names = [a.path for a in client.list_artifacts(found.info.run_id, "output")]
    assert len(names) == 1
    assert names[0].startswith("output/")


def test_invalid_parameters_are_refused_before_any_container(training_job: Path) -> None:
    done = run_cli("run", str(training_job), "--in-container", "-p", "n_estimators", "many")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    expected = "parameter 'n_estimators' expects an integer, got 'many'"
    assert lines == [f"jupyter mlops run: error: {expected}"]


def test_a_failing_notebook_exits_3_naming_the_cell(training_job: Path, tmp_path: Path) -> None:
    output = tmp_path / "failed.ipynb"
    done = run_cli(
        "run", str(training_job), "--in-container", "-p", "n_estimators", "0",
        "--output", str(output),
    )  # fmt: skip
    assert done.returncode == 3, done.stdout + done.stderr
    said = done.stdout + done.stderr
    assert "the notebook failed in cell" in said, said
    assert "`import json`" in said, said
    assert "n_estimators" in said
    assert output.exists(), "the failed output notebook was not copied out"


# -- a small job: rebuilds, the embedded store, failures --------------------------------------
@pytest.fixture(scope="module")
def small_project(tmp_path_factory: pytest.TempPathFactory, engine: Any) -> Path:
    folder = tmp_path_factory.mktemp("small")
    notebook(
        folder / "small.ipynb",
        [("rounds = 2  # how many", "parameters"), "print('RESULT ' + str(rounds * 21))"],
    )
    return folder


def build(job: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("build", str(job), *args, env=_ca_env())


def _ca_env() -> dict[str, str]:
    if any(MACHINE_CA_CERTS.glob("*.crt")):
        return {"JUPYTER_MLOPS_CA_CERTS": str(MACHINE_CA_CERTS)}
    return {}


def export_small(project: Path) -> Path:
    done = run_cli("export", str(project / "small.ipynb"), env=_ca_env())
    assert done.returncode == 0, done.stderr
    return project / "pipelines" / "small"


def test_a_notebook_edit_rebuilds_from_the_layer_cache(small_project: Path) -> None:
    job = export_small(small_project)
    first = build(job)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "small:latest"
    assert re.search(r"\[ *1/\d+\] FROM python:", first.stderr), "no progress shown"

    path = small_project / "small.ipynb"
    edited = nbformat.read(path, as_version=4)
    edited.cells[1].source = "print('RESULT ' + str(rounds * 42))"
    nbformat.write(edited, path)
    job = export_small(small_project)
    second = build(job, "--verbose")
    assert second.returncode == 0, second.stderr
    log = (job / BUILD_LOG).read_text()
    before_notebook = log.split("small.ipynb", 1)[0]
    assert "pip install" in before_notebook
    # Every step up to the notebook came from the cache: no pip ran again.
    assert "Collecting papermill" not in log, log
    assert "Successfully installed" not in log, log
    # jupyter-mlops' runtime too: its files are the same at every export (export/runtime.py).
    runtime_step = re.split(r"(?i)\bstep \d+/", log.split("COPY runtime/", 1)[1])[0]
    assert "Using cache" in runtime_step, log


def test_the_embedded_store_receives_the_run_of_a_container(small_project: Path) -> None:
    job = export_small(small_project)
    assert build(job).returncode == 0
    store = f"sqlite:///{small_project / '.mlops' / 'mlflow.db'}"
    done = run_cli(
        "run", str(job), "--in-container", "-p", "rounds", "3",
        env={"MLFLOW_TRACKING_URI": store},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "not delivered" not in done.stdout + done.stderr
    # The output notebook is named where it is: on the host, not in the container.
    (output,) = (job / "output").glob("small-*.ipynb")
    assert f"done; output notebook: {output}" in done.stdout, done.stdout
    assert "/job/output" not in done.stdout + done.stderr

    from mlflow import MlflowClient

    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("small")
    assert experiment is not None
    (found,) = client.search_runs([experiment.experiment_id])
    assert found.info.status == "FINISHED"
    assert found.data.params == {"rounds": "3"}
    assert found.data.tags["jupyter_mlops.job.output"] == str(output)

    # The audit trail: the build with its image digest, then the run's start and end,
    # written from inside the container through the mounted state folder; one chain.
    from jupyter_mlops.audit import service as audit_service

    trail = small_project / ".mlops" / "audit.jsonl"
    entries = list(audit_service.entries(trail))  # newest first
    built = next(e for e in entries if e.kind == "build")
    assert built.what["image_digest"] == read_build(job)["image_id"]
    start = next(e for e in entries if e.kind == "job-run-start")
    end = next(e for e in entries if e.kind == "job-run-end")
    assert start.what["parameters"] == {"rounds": 3}
    assert start.what["image_digest"] == built.what["image_digest"]
    assert (end.what["state"], end.what["start_seq"]) == ("succeeded", start.seq)
    assert audit_service.verify(trail).intact


def test_a_failed_build_names_its_step_and_keeps_the_log(
    small_project: Path, tmp_path: Path
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("papermill\nipykernel\nno-such-distribution-jupyter-mlops==0.0.1\n")
    done = run_cli(
        "export", str(small_project / "small.ipynb"), "--name", "broken",
        "--requirements", str(requirements),
        env=_ca_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    job = small_project / "pipelines" / "broken"
    failed = build(job)
    assert failed.returncode == 2
    (line,) = failed.stderr.strip().splitlines()[-1:]
    assert line.startswith("jupyter mlops: error: the build failed at step ")
    assert "RUN python -m pip install" in line
    assert str(job / BUILD_LOG) in line
    assert "no-such-distribution-jupyter-mlops" in (job / BUILD_LOG).read_text()
    assert read_build(job) is None


def test_without_an_engine_export_works_and_build_says_how_to_get_one(small_project: Path) -> None:
    job = export_small(small_project)
    done = run_cli("build", str(job), env={"DOCKER_HOST": f"unix://{small_project}/none.sock"})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "no container engine answers at unix://" in lines[0]
    assert "podman system service" in lines[0]
    assert "DOCKER_HOST" in lines[0]


def test_a_push_to_an_unreachable_registry_is_one_line(small_project: Path) -> None:
    job = export_small(small_project)
    done = build(job, "--tag", f"127.0.0.1:{free_port()}/team/small:1", "--push")
    assert done.returncode == 2
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("jupyter mlops: error: the push of 127.0.0.1:"), line


# -- the dvc target's links and the image build -----------------------------------------------
READS_DATA = "print('RESULT ' + open('data.csv').read().strip().replace(chr(10), '|'))"


@pytest.fixture
def linked_job(git_dvc_repo: Path, engine: Any) -> Path:
    """A job exported with the docker and dvc targets from a notebook reading DVC-tracked
    data: the job folder links the data to the project's copy."""
    project = git_dvc_repo
    (project / "data.csv").write_text("a,b\n1,2\n")
    subprocess.run(
        [sys.executable, "-m", "dvc", "add", "--quiet", "data.csv"],
        cwd=project, env=subprocess_env(), check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    notebook(project / "reads.ipynb", [("rows = 1", "parameters"), READS_DATA])
    done = run_cli(
        "export", str(project / "reads.ipynb"), "--target", "docker", "--target", "dvc",
        env=_ca_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    job = project / "pipelines" / "reads"
    assert (job / "data.csv").is_symlink()
    return job


def test_data_the_dvc_target_links_goes_into_the_image(linked_job: Path, tmp_path: Path) -> None:
    built = build(linked_job)
    assert built.returncode == 0, built.stderr
    output = tmp_path / "reads.ipynb"
    ran = run_cli("run", str(linked_job), "--in-container", "--output", str(output))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    said = [o.get("text", "") for c in nbformat.read(output, as_version=4).cells for o in c.outputs]
    assert "RESULT a,b|1,2\n" in said, said


def test_links_the_image_cannot_take_are_one_line(linked_job: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text("x\n")
    (linked_job / "extra.csv").symlink_to(outside)
    failed = build(linked_job)
    assert failed.returncode == 2, failed.stderr
    assert failed.stderr.strip().splitlines() == [
        "jupyter mlops: error: extra.csv in the job folder is a link to a path outside the "
        "project, which the image cannot take; copy what it points to into the job folder"
    ]
    (linked_job / "extra.csv").unlink()
    (linked_job / "data.csv").resolve().unlink()  # the data not checked out
    failed = build(linked_job)
    assert failed.returncode == 2, failed.stderr
    assert failed.stderr.strip().splitlines() == [
        "jupyter mlops: error: data.csv in the job folder links to data.csv, which does not "
        "exist (`dvc pull` or `dvc checkout` it first)"
    ]


@pytest.fixture
def jp_root_dir(git_dvc_repo: Path) -> Path:
    """The server's root for the route test below: the project of ``linked_job``."""
    return git_dvc_repo


async def test_the_build_route_says_why_a_link_cannot_go(
    jp_fetch: Any, linked_job: Path, tmp_path: Path
) -> None:
    (linked_job / "extra.csv").symlink_to(tmp_path)
    response = await jp_fetch(
        "jupyter-mlops", "jobs", "build", method="POST",
        body=json.dumps({"job": "pipelines/reads"}), request_timeout=300,
    )  # fmt: skip
    last = json.loads(response.body.decode().strip().splitlines()[-1])
    assert last == {
        "event": "error",
        "code": "build_failed",
        "text": "extra.csv in the job folder is a link to a path outside the project, which "
        "the image cannot take; copy what it points to into the job folder",
    }


async def test_a_build_is_a_task_followed_from_any_page(
    jp_fetch: Any, linked_job: Path, tmp_path: Path
) -> None:
    """``jobs/builds`` answers the build's task at once; ``tasks/{task_id}`` follows it to
    its end (here the refusal of a link), and the streamed build is a task too."""
    import asyncio
    import time

    (linked_job / "extra.csv").symlink_to(tmp_path)
    body = json.dumps({"job": "pipelines/reads"})
    response = await jp_fetch("jupyter-mlops", "jobs", "builds", method="POST", body=body)
    assert response.code == 202
    task = json.loads(response.body)
    assert (task["kind"], task["request"]["job"]) == ("build", "pipelines/reads")
    deadline = time.monotonic() + 300
    while task["state"] == "running":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
        task = json.loads((await jp_fetch("jupyter-mlops", "tasks", task["task_id"])).body)
    assert task["state"] == "failed"
    assert task["error"]["code"] == "build_failed"
    assert "extra.csv in the job folder is a link" in task["error"]["message"]
    # The streamed build of the same job is listed as a task as well.
    await jp_fetch("jupyter-mlops", "jobs", "build", method="POST", body=body, request_timeout=300)
    listed = json.loads((await jp_fetch("jupyter-mlops", "tasks", params={"kind": "build"})).body)[
        "tasks"
    ]
    assert len(listed) == 2
    assert listed[1]["task_id"] == task["task_id"]
    assert listed[0]["state"] == "failed"


class TestABuildTaskFromTheServer:
    """A build started through ``jobs/builds`` on a real engine: followed through
    ``tasks/{task_id}`` to its end, its steps as progress, the engine's lines as its log,
    the job's recorded build as its result."""

    @pytest.fixture
    def jp_root_dir(self, tmp_path: Path, engine: Any) -> Path:
        root = tmp_path / "project"
        root.mkdir()
        notebook(root / "small.ipynb", [("rounds = 2", "parameters"), "print(rounds)"])
        export_small(root)
        return root

    async def test_it_is_followed_to_its_build(self, jp_fetch: Any, jp_root_dir: Path) -> None:
        import asyncio
        import time

        body = json.dumps({"job": "pipelines/small", "tag": "small-task:latest"})
        response = await jp_fetch("jupyter-mlops", "jobs", "builds", method="POST", body=body)
        task = json.loads(response.body)
        steps_seen = set()
        deadline = time.monotonic() + 600
        while task["state"] == "running":
            assert time.monotonic() < deadline
            if task["phase"] == "building":
                steps_seen.add((task["done"], task["total"]))
            await asyncio.sleep(0.3)
            task = json.loads((await jp_fetch("jupyter-mlops", "tasks", task["task_id"])).body)
        assert task["state"] == "done", task
        assert task["result"]["image"] == "small-task:latest"
        assert task["result"]["steps"] >= 2
        assert task["finished"] >= task["started"]
        assert any(line.startswith("Step ") for line in task["log"]), task["log"]
        assert steps_seen, "no step was seen while it built"
        assert all(0 < done <= total for done, total in steps_seen)
        # The job list shows the same build.
        jobs = json.loads((await jp_fetch("jupyter-mlops", "jobs")).body)["jobs"]
        [job] = [j for j in jobs if j["path"] == "pipelines/small"]
        assert job["build"]["image"] == "small-task:latest"
        # The streamed route builds through the same lifecycle: its last line is the build,
        # and the build is listed as a task.
        response = await jp_fetch(
            "jupyter-mlops", "jobs", "build", method="POST", body=body, request_timeout=600
        )
        lines = [json.loads(line) for line in response.body.decode().splitlines()]
        assert lines[-1]["event"] == "done", lines[-1]
        assert lines[-1]["build"]["image"] == "small-task:latest"
        assert any(line["event"] == "step" for line in lines)
        listed = json.loads(
            (await jp_fetch("jupyter-mlops", "tasks", params={"kind": "build"})).body
        )["tasks"]
        assert [t["state"] for t in listed] == ["done", "done"]
