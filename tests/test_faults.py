"""Faults, with real components: a tracking server killed and restarted while runs are
delivered, the Jupyter server gone while a job runs and while a data task works, and a
full disk while exporting and while snapshotting.

Several kernels tracking into one embedded store at once is
``test_tracking.py::test_several_kernels_track_into_one_embedded_store`` (three kernels,
thirty runs, none lost or doubled).

"The server" of the restart tests is what the Jupyter server runs, in a process of its
own: the jobs service, or the data task registry. It is killed with SIGKILL (nothing runs
at its exit); a new service over the same project then answers as a restarted server
would. A full disk is a small tmpfs mounted for the test (as root), else ENOSPC injected
at the write.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import free_port, stop_process_group, subprocess_env
from nbformat.v4 import new_code_cell, new_notebook
from test_tracking import (
    all_runs,
    runs_with_key,
    start_mlflow_server,
    state_dir,
    stop_agents,
    wait_until,
)

from jupyter_mlops import settings as settings_mod
from jupyter_mlops.data.service import DataService
from jupyter_mlops.errors import InsufficientStorage
from jupyter_mlops.jobs.models import ExportRequest
from jupyter_mlops.jobs.service import INTERRUPTED_NOTE, JobsService
from jupyter_mlops.tasks.registry import TaskRegistry
from jupyter_mlops.tracking import delivery
from jupyter_mlops.tracking.spool import Spool

pytestmark = pytest.mark.slow


def python(code: str, cwd: Path, **env: str) -> subprocess.Popen[str]:
    """A Python process running ``code`` (its stdout a pipe), in a session of its own."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=subprocess_env(env),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


# -- the tracking server killed and restarted during delivery --------------------------------
RUNS, STEPS = 6, 2000

TRACKING_DRIVER = f"""
import sys, jupyter_mlops
for i in range({RUNS}):
    if i == {RUNS // 2}:
        print("half", flush=True)
        sys.stdin.readline()
    with jupyter_mlops.track(name=f"run-{{i}}", params={{"i": i}}) as run:
        for step in range({STEPS}):
            run.log(step=step, loss=step / {STEPS})
    print("tracked", run.key, flush=True)
print("done", flush=True)
sys.stdin.readline()
"""


def test_tracking_server_killed_and_restarted_during_delivery(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    server = start_mlflow_server(tmp_path / "server", port)
    root = tmp_path / "project"
    root.mkdir()
    driver = python(
        TRACKING_DRIVER, root, JUPYTER_MLOPS_TRACKING_URI=uri, JUPYTER_MLOPS_EXIT_FLUSH="1"
    )
    restarted = None
    try:
        assert driver.stdin is not None
        assert driver.stdout is not None
        keys = []

        def read_until(word: str) -> None:
            while True:
                line = driver.stdout.readline()
                assert line, f"the driver ended before '{word}' (exit {driver.wait()})"
                if line.startswith("tracked"):
                    keys.append(line.split()[1])
                if line.startswith(word):
                    return

        read_until("half")
        client = MlflowClient(tracking_uri=uri)
        # Killed once a first run reached it, while the others are still on their way.
        wait_until(lambda: all_runs(client), timeout=120, what="a first delivered run")
        stop_process_group(server, timeout=0)
        driver.stdin.write("go\n")
        driver.stdin.flush()
        read_until("done")  # the last runs tracked while the server is down
        assert len(keys) == RUNS
        restarted = start_mlflow_server(tmp_path / "server", port)
        spool = Spool(state_dir(root))
        deadline = time.monotonic() + 120
        while spool.record_keys() and time.monotonic() < deadline:
            delivery.sync(spool, force=True)
            time.sleep(0.5)
        assert spool.record_keys() == []
        runs = [r for key in keys for r in runs_with_key(client, key)]
        assert sorted(r.info.run_name for r in runs) == [f"run-{i}" for i in range(RUNS)]
        assert len(all_runs(client)) == RUNS  # none twice
        for run in runs:
            assert run.info.status == "FINISHED", run.info
            history = client.get_metric_history(run.info.run_id, "loss")
            assert sorted(m.step for m in history) == list(range(STEPS)), run.info.run_name
    finally:
        kill_group(driver.pid)
        driver.wait(timeout=30)
        stop_agents(state_dir(root))
        for proc in (server, restarted):
            if proc is not None:
                stop_process_group(proc)


# -- the server restarted while a job runs --------------------------------------------------
PARAMETERS = "seconds = 300\n"
WORK = "import pathlib, time\npathlib.Path('started').touch()\ntime.sleep(seconds)\n"

OLD_JOBS_SERVER = """
import sys, time
from jupyter_mlops import settings
from jupyter_mlops.jobs.models import JobRunRequest
from jupyter_mlops.jobs.service import JobsService
service = JobsService(settings.resolve(sys.argv[1] if len(sys.argv) > 1 else ".", environ={}))
started = service.start_run(JobRunRequest(job="pipelines/train", parameters=PARAMS))
print(started.execution_id, flush=True)
time.sleep(600)
"""


@pytest.fixture(scope="module")
def job_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with a job that sleeps ``seconds`` once it started (``started`` in its
    folder), exported once for the module."""
    root = tmp_path_factory.mktemp("jobs") / "root"
    root.mkdir()
    notebook = new_notebook(
        cells=[new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}), new_code_cell(WORK)],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    nbformat.write(notebook, root / "train.ipynb")
    service = JobsService(settings_mod.resolve(root, environ={}))
    service.export(ExportRequest(notebook="train.ipynb"))
    return root


def start_old_jobs_server(root: Path, params: dict[str, Any]) -> tuple[subprocess.Popen[str], str]:
    code = OLD_JOBS_SERVER.replace("PARAMS", repr(params))
    server = python(code, root)
    assert server.stdout is not None
    execution_id = server.stdout.readline().strip()
    assert len(execution_id) == 32, (execution_id, server.poll())
    return server, execution_id


def record_of(root: Path, execution_id: str) -> dict[str, Any]:
    path = state_dir(root) / "jobs" / "executions" / f"{execution_id}.json"
    return json.loads(path.read_text())


def test_server_and_job_gone_leave_the_execution_interrupted(job_root: Path) -> None:
    job = job_root / "pipelines" / "train"
    (job / "started").unlink(missing_ok=True)
    server, execution_id = start_old_jobs_server(job_root, {"seconds": 300})
    try:
        wait_until((job / "started").exists, timeout=120, what="the notebook to start")
        record = record_of(job_root, execution_id)
        assert record["status"] == "running"
        # The machine stops: the server and everything the job runs die at once.
        kill_group(server.pid)
        kill_group(record["owner"]["pid"])
        wait_until(lambda: server.poll() is not None, timeout=30)
        restarted = JobsService(settings_mod.resolve(job_root, environ={}))
        [execution] = [e for e in restarted.executions() if e.execution_id == execution_id]
        assert execution.status == "interrupted"
        assert execution.exit_code is None
        assert execution.ended_at is not None
        assert execution.log.endswith(INTERRUPTED_NOTE)
        assert record_of(job_root, execution_id)["status"] == "interrupted"
        params = state_dir(job_root) / "jobs" / "executions" / f"{execution_id}.params.json"
        assert not params.exists()
        # A client polling the id after the restart gets the same answer.
        assert restarted.execution(execution_id) == execution
        # And as a task of the restarted server's registry: interrupted, not forgotten.
        registry = TaskRegistry(state_dir(job_root))
        registry.attach(restarted)
        task = registry.record(execution_id)
        assert task is not None
        assert (task.kind, task.state) == ("job-run", "interrupted")
        assert task.error is not None
        assert task.error.code == "interrupted"
        assert execution_id in [t.task_id for t in registry.records(["job-run"])]
    finally:
        kill_group(server.pid)
        server.wait(timeout=30)


def test_a_job_that_outlives_its_server_keeps_its_real_outcome(job_root: Path) -> None:
    server, execution_id = start_old_jobs_server(job_root, {"seconds": 0})
    try:
        kill_group(server.pid)  # the server dies; the job, in its own session, goes on
        server.wait(timeout=30)
        restarted = JobsService(settings_mod.resolve(job_root, environ={}))

        def ended() -> Any:
            execution = restarted.execution(execution_id)
            return execution if execution.status != "running" else None

        execution = wait_until(ended, timeout=180, interval=0.5, what="the job to end")
        assert execution.status == "succeeded", execution.log
        assert execution.exit_code == 0
        assert (job_root / execution.output).is_file()
    finally:
        kill_group(server.pid)


# -- the server restarted during a data task ------------------------------------------------
OLD_DATA_SERVER = """
import os, signal, sys
from jupyter_mlops import settings
from jupyter_mlops.tasks.progress import Progress
from jupyter_mlops.data.service import DataService
from jupyter_mlops.tasks.registry import TaskRegistry
resolved = settings.resolve(".", environ={})
service, registry = DataService(resolved), TaskRegistry(resolved.state_dir)

def die_half_way(state):
    # SIGKILL from inside the work: half of the new version read and stored, none recorded.
    if state.phase in ("hashing", "caching") and state.total and 2 * state.done >= state.total:
        os.kill(os.getpid(), signal.SIGKILL)

task = registry.start(
    "snapshot", lambda p: service.snapshot(["data"], progress=Progress(on_change=die_half_way))
)
print(task.task_id, flush=True)
task.done_event.wait(120)
print("ended", task.state, task.error, flush=True)
"""


def write_files(folder: Path, count: int, version: str, size: int = 4096) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"part-{i:04d}.bin").write_bytes(f"{version}:{i}:".encode() + os.urandom(size))


def dvc_md5(root: Path, path: str) -> str:
    import yaml

    return str(yaml.safe_load((root / f"{path}.dvc").read_text())["outs"][0]["md5"])


def test_server_gone_during_a_snapshot_leaves_it_interrupted_and_the_version_intact(
    tmp_path: Path,
) -> None:
    root = tmp_path / "data-project"
    write_files(root / "data", 400, "v1")
    settings = settings_mod.resolve(root, environ={})
    first = DataService(settings).snapshot(["data"]).paths[0]
    write_files(root / "data", 400, "v2")
    server = python(OLD_DATA_SERVER, root)
    try:
        assert server.stdout is not None
        task_id = server.stdout.readline().strip()
        code = server.wait(timeout=120)
    finally:
        kill_group(server.pid)
    assert code == -signal.SIGKILL, server.stdout.read()  # it died half-way
    registry = TaskRegistry(settings.state_dir)
    task = registry.get(task_id)
    assert task is not None
    model = task.model()
    assert model.state == "interrupted"
    assert model.error is not None
    assert model.error.code == "interrupted"
    assert "previous version of the data is unchanged" in model.error.message
    assert model.finished is not None
    assert dvc_md5(root, "data") == first.md5  # the previous version, intact
    # Nothing left locked or half-recorded: the next snapshot makes the new version.
    again = DataService(settings).snapshot(["data"]).paths[0]
    assert again.changed
    assert again.previous_md5 == first.md5
    assert again.md5 != first.md5
    # And the interrupted task stays recorded so for the next server too.
    assert TaskRegistry(settings.state_dir).get(task_id).model().state == "interrupted"


# -- a full disk -------------------------------------------------------------------------------
@pytest.fixture
def small_disk(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path, int], str]]:
    """``small_disk(folder, megabytes)``: ``folder`` becomes a tmpfs of that size ("tmpfs"),
    or, where mounting is not allowed, writes of files over half that size fail with
    ENOSPC ("injected")."""
    mounted: list[Path] = []

    def make(folder: Path, megabytes: int) -> str:
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(folder)],
            capture_output=True,
            check=False,
        )
        if done.returncode == 0:
            mounted.append(folder)
            return "tmpfs"
        import shutil

        copy = shutil.copyfile
        limit = megabytes * 2**20 // 2

        def full(src: Any, dst: Any, *args: Any, **kwargs: Any) -> Any:
            if Path(dst).resolve().is_relative_to(folder.resolve()) and (
                os.path.getsize(src) > limit
            ):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
            return copy(src, dst, *args, **kwargs)

        monkeypatch.setattr(shutil, "copyfile", full)
        return "injected"

    yield make
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def jp_root_dir(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    notebook = new_notebook(
        cells=[new_code_cell("n = 1", metadata={"tags": ["parameters"]}), new_code_cell("n")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    nbformat.write(notebook, root / "train.ipynb")
    return root


async def test_disk_full_while_exporting_keeps_the_previous_job(
    fetch_json: Any, jp_root_dir: Path, small_disk: Callable[[Path, int], str]
) -> None:
    small_disk(jp_root_dir / "pipelines", 2)
    body = {"notebook": "train.ipynb", "targets": ["docker", "kubernetes"]}
    status, job = await fetch_json("jobs", "export", method="POST", body=json.dumps(body))
    assert status == 200, job
    folder = jp_root_dir / job["path"]
    (folder / "output").mkdir()
    (folder / "output" / "train-1.ipynb").write_text("{}")  # a run's output, kept
    before = tree(folder)
    (jp_root_dir / "big.bin").write_bytes(os.urandom(3 * 2**20))
    status, error = await fetch_json(
        "jobs", "export", method="POST", body=json.dumps({**body, "include": ["big.bin"]})
    )
    assert status == 507, error
    assert error["code"] == "insufficient_storage"
    assert "No space left" in error["message"]
    assert "previous job folder" in error["message"]
    assert str(jp_root_dir) not in error["message"]
    assert tree(folder) == before  # the previous job, whole
    assert sorted(p.name for p in (jp_root_dir / "pipelines").iterdir()) == ["train"]
    (jp_root_dir / "big.bin").unlink()
    status, job = await fetch_json("jobs", "export", method="POST", body=json.dumps(body))
    assert status == 200, job  # the space given back: nothing of the failed one remains
    assert (folder / "output" / "train-1.ipynb").read_text() == "{}"


def test_a_failed_swap_puts_the_kept_files_back(
    jp_root_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last step of an export (the new folder in place of the old) failing keeps the
    old folder whole, the files it kept from it (outputs) included."""
    from jupyter_mlops.export import exporter

    notebook = jp_root_dir / "train.ipynb"
    folder = exporter.export_notebook(notebook, requirements=None)
    (folder / "output").mkdir()
    (folder / "output" / "train-1.ipynb").write_text("{}")
    before = tree(folder)
    rename = Path.rename

    def fail_into_place(self: Path, target: Any) -> Any:
        if Path(target) == folder and self.name.startswith(".train.export-"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", fail_into_place)
    with pytest.raises(InsufficientStorage):
        exporter.export_notebook(notebook)
    assert tree(folder) == before


def test_disk_full_while_snapshotting_keeps_the_previous_version(
    tmp_path: Path, small_disk: Callable[[Path, int], str]
) -> None:
    root = tmp_path / "full"
    small_disk(root, 4)
    write_files(root / "data", 1, "v1", size=64 * 1024)
    settings = settings_mod.resolve(root, environ={})
    service = DataService(settings)
    first = service.snapshot(["data"]).paths[0]
    journal = (state_dir(root) / "data" / "journal.jsonl").read_bytes()
    write_files(root / "data", 1, "v2", size=3 * 2**20)  # fits once, not twice
    with pytest.raises(InsufficientStorage) as raised:
        service.snapshot(["data"])
    assert raised.value.status == 507
    assert "previous version is unchanged" in raised.value.message
    assert str(root) not in raised.value.message
    assert dvc_md5(root, "data") == first.md5
    assert (state_dir(root) / "data" / "journal.jsonl").read_bytes() == journal
    leftovers = [p for p in (root / ".dvc" / "cache").rglob("*.tmp")]
    assert leftovers == []
    # The same through a server's task: it fails with the same clear error.
    registry = TaskRegistry(settings.state_dir)
    task = registry.start("snapshot", lambda p: service.snapshot(["data"], progress=p))
    assert task.done_event.wait(60)
    model = task.model()
    assert model.state == "failed"
    assert model.error is not None
    assert model.error.code == "insufficient_storage"


# -- a container engine that fails an upload ------------------------------------------------
class _FlakyContainer:
    """A created container whose engine answers an archive upload with ``failures`` 500s
    first (what Podman's Docker API does now and then under load: "broken pipe")."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.uploads: list[tuple[str, bytes]] = []

    def put_archive(self, path: str, data: bytes) -> bool:
        import requests
        from docker.errors import APIError

        if self.failures:
            self.failures -= 1
            response = requests.Response()
            response.status_code = 500
            raise APIError(
                "500 Server Error",
                response=response,
                explanation="passing bulk input to subprocess: write |1: broken pipe",
            )
        self.uploads.append((path, data))
        return True


def test_a_failed_upload_of_the_parameters_is_tried_again():
    from jupyter_mlops.export.container import _put_archive

    container = _FlakyContainer(failures=2)
    _put_archive(container, "/tmp", b"tar")
    assert container.uploads == [("/tmp", b"tar")]


def test_an_engine_that_keeps_failing_is_one_clear_line():
    from jupyter_mlops.errors import ServiceUnavailable
    from jupyter_mlops.export.container import _put_archive

    container = _FlakyContainer(failures=5)
    with pytest.raises(ServiceUnavailable) as raised:
        _put_archive(container, "/tmp", b"tar")
    assert "broken pipe" in raised.value.message
    assert "\n" not in raised.value.message
    assert container.uploads == []
