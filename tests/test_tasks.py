"""The one task lifecycle: the registry (progress, result, error, cancel, records kept on
disk, a task whose server died ends interrupted) and its routes (``tasks``,
``tasks/{task_id}``: list, follow, cancel; 400, 404 and no access without a token)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import subprocess_env
from pydantic import BaseModel
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from jupyter_mlops.errors import NotFound
from jupyter_mlops.statefiles import write_json
from jupyter_mlops.tasks import registry as registry_mod
from jupyter_mlops.tasks.models import TaskList, TaskRecord
from jupyter_mlops.tasks.progress import Progress
from jupyter_mlops.tasks.registry import TASKS_DIR, TaskRegistry


class Answer(BaseModel):
    value: int


def wait(task: Any, timeout: float = 10) -> TaskRecord:
    assert task.done_event.wait(timeout), "the task did not end"
    return task.model()


# -- the registry ---------------------------------------------------------------------------
def test_a_task_reports_progress_then_its_result_and_is_recorded(tmp_path: Path) -> None:
    registry = TaskRegistry(tmp_path)
    go = threading.Event()

    def work(progress: Progress) -> Answer:
        progress.begin("counting", total=3, unit="files")
        progress.advance(2)
        go.wait(10)
        return Answer(value=42)

    task = registry.start("snapshot", work, request={"paths": ["data"]})
    deadline = time.monotonic() + 10
    while task.model().done < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    running = task.model()
    assert (running.state, running.phase, running.done, running.total, running.unit) == (
        "running",
        "counting",
        2,
        3,
        "files",
    )
    assert running.request == {"paths": ["data"]}
    assert running.finished is None
    record = json.loads((tmp_path / TASKS_DIR / f"{task.task_id}.json").read_text())
    assert record["task"]["state"] == "running"
    assert record["owner"]["pid"] == os.getpid()
    go.set()
    done = wait(task)
    assert done.state == "done"
    assert done.result == {"value": 42}
    assert done.finished is not None
    assert done.finished >= done.started
    assert not done.cancellable
    # A new registry (a restarted server) reads it back as it ended.
    again = TaskRegistry(tmp_path).get(task.task_id)
    assert again is not None
    assert again.model().model_dump(exclude={"log"}) == done.model_dump(exclude={"log"})
    assert [t.task_id for t in TaskRegistry(tmp_path).all()] == [task.task_id]


def test_errors_cancel_and_kinds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A bug's traceback goes to the log (here a logger the no-server-errors guard ignores).
    monkeypatch.setattr(registry_mod, "_log", logging.getLogger("test_tasks.bug"))
    registry = TaskRegistry(tmp_path)

    def refused(progress: Progress) -> None:
        raise NotFound("No such thing.", code="no_such_thing")

    def bug(progress: Progress) -> None:
        raise RuntimeError("a bug, with /secret/path in it")

    def cancellable(progress: Progress) -> None:
        progress.begin("waiting")
        while True:
            progress.check()
            time.sleep(0.01)

    failed = wait(registry.start("push", refused))
    assert failed.state == "failed"
    assert failed.error is not None
    assert (failed.error.code, failed.error.message) == ("no_such_thing", "No such thing.")
    internal = wait(registry.start("build", bug))
    assert internal.state == "failed"
    assert internal.error is not None
    assert internal.error.code == "internal_error"
    assert "secret" not in internal.error.message
    assert "a bug, with /secret/path in it" in caplog.text  # the details are in the log
    running = registry.start("pull", cancellable)
    running.progress.cancel()
    cancelled = wait(running)
    assert cancelled.state == "cancelled"
    assert cancelled.error is not None
    assert cancelled.error.code == "cancelled"
    assert [t.kind for t in registry.all()] == ["pull", "build", "push"]
    assert [t.kind for t in registry.all(("push", "pull"))] == ["pull", "push"]
    assert registry.get("0" * 32) is None


def test_a_task_keeps_its_latest_log_lines(tmp_path: Path) -> None:
    registry = TaskRegistry(tmp_path)

    def work(progress: Progress) -> None:
        for i in range(300):
            progress.log(f"line {i}")

    model = wait(registry.start("build", work))
    assert len(model.log) == 200
    assert model.log[-1] == "line 299"
    again = TaskRegistry(tmp_path).get(model.task_id)
    assert again is not None
    assert again.model().log == model.log


SERVER_THAT_DIES = """
import os, signal, sys
from jupyter_mlops.tasks.registry import TaskRegistry
registry = TaskRegistry(__import__("pathlib").Path(sys.argv[1]))

def work(progress):
    progress.begin("building", total=10, unit="steps")
    progress.advance(4)
    registry.save(task)  # the record as it was when the server died
    os.kill(os.getpid(), signal.SIGKILL)

from jupyter_mlops.tasks.registry import Task
task = registry.add(Task("build"))
print(task.task_id, flush=True)
task.run(work)
"""


def test_a_task_whose_server_died_is_interrupted_not_forgotten(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SERVER_THAT_DIES, str(tmp_path)],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=60,
        check=False,
    )
    assert done.returncode == -9, done.stderr
    task_id = done.stdout.strip()
    task = TaskRegistry(tmp_path).get(task_id)
    assert task is not None
    model = task.model()
    assert model.state == "interrupted"
    assert model.kind == "build"
    assert model.error is not None
    assert model.error.code == "interrupted"
    assert "no image was tagged" in model.error.message
    assert model.finished is not None
    # Recorded so: the next server reads it interrupted too, with the same end time.
    later = TaskRegistry(tmp_path).get(task_id)
    assert later is not None
    assert later.model().finished == model.finished


# -- the routes ----------------------------------------------------------------------------
@pytest.fixture
def jp_root_dir(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "data").mkdir(parents=True)
    (root / "data" / "a.csv").write_text("x\n1\n")
    return root


async def ended(fetch_json: Any, task_id: str, timeout: float = 120) -> TaskRecord:
    """Poll ``tasks/{task_id}`` until the task ends."""
    deadline = time.monotonic() + timeout
    while True:
        code, body = await fetch_json("tasks", task_id)
        assert code == 200, body
        task = TaskRecord.model_validate(body)
        if task.state != "running":
            return task
        assert time.monotonic() < deadline, task
        await asyncio.sleep(0.05)


async def test_tasks_routes_list_follow_and_cancel(fetch_json, mlops_app, jp_root_dir):
    go = threading.Event()

    def slow(progress: Progress) -> Answer:
        progress.begin("waiting", total=1, unit="steps")
        while not go.wait(0.02):
            progress.check()
        return Answer(value=1)

    first = mlops_app.tasks.start("build", slow, request={"job": "jobs/train"})
    second = mlops_app.tasks.start("build", slow)
    code, body = await fetch_json("tasks")
    assert code == 200, body
    listed = TaskList.model_validate(body)
    assert [t.task_id for t in listed.tasks[:2]] == [second.task_id, first.task_id]
    assert listed.tasks[1].request == {"job": "jobs/train"}
    code, body = await fetch_json("tasks", params={"kind": "build", "state": "running"})
    assert code == 200
    assert {t["task_id"] for t in body["tasks"]} == {first.task_id, second.task_id}
    assert (await fetch_json("tasks", params={"kind": "push"}))[1] == {"tasks": []}
    assert (await fetch_json("tasks", params={"state": "sleeping"}))[0] == 400
    assert (await fetch_json("tasks", params={"nope": "1"}))[0] == 400
    # Cancel one: it stops; the other goes on, then ends with its result.
    code, body = await fetch_json("tasks", second.task_id, method="DELETE")
    assert code == 200
    assert TaskRecord.model_validate(body).task_id == second.task_id
    two = await ended(fetch_json, second.task_id)
    assert two.state == "cancelled"
    assert two.error is not None
    assert two.error.code == "cancelled"
    assert TaskRecord.model_validate((await fetch_json("tasks", first.task_id))[1]).cancellable
    go.set()
    one = await ended(fetch_json, first.task_id)
    assert (one.state, one.result) == ("done", {"value": 1})
    # A finished task is answered as it is.
    code, body = await fetch_json("tasks", first.task_id, method="DELETE")
    assert (code, body["state"]) == (200, "done")


async def test_data_tasks_are_tasks(fetch_json, jp_root_dir):
    code, started = await fetch_json(
        "data", "snapshots", method="POST", body=json.dumps({"paths": ["data"]})
    )
    assert code == 200, started
    task = await ended(fetch_json, started["task_id"])
    assert (task.kind, task.state) == ("snapshot", "done")
    assert task.request["paths"] == ["data"]
    assert task.result is not None
    assert task.result["paths"][0]["path"] == "data"
    # The data route answers the same task in its own shape.
    code, data = await fetch_json("data", "tasks", task.task_id)
    assert code == 200
    assert data["snapshot"] == task.result


async def test_unknown_and_malformed_tasks(fetch_json, jp_root_dir):
    assert (await fetch_json("tasks", "0" * 32))[0] == 404
    assert (await fetch_json("tasks", "0" * 32, method="DELETE"))[0] == 404
    code, body = await fetch_json("tasks", "not-an-id")
    assert code == 400
    assert {"message", "code"} <= set(body)


async def test_a_build_task_is_not_a_data_task(fetch_json, mlops_app, jp_root_dir):
    task = mlops_app.tasks.start("build", lambda progress: None)
    assert task.done_event.wait(10)
    assert (await fetch_json("data", "tasks", task.task_id))[0] == 404
    _code, body = await fetch_json("data", "tasks")
    assert task.task_id not in {t["task_id"] for t in body["tasks"]}


async def test_tasks_refuse_requests_without_a_token(
    fetch_json, jp_base_url, jp_http_port, jp_auth_header, jp_root_dir
):
    assert (await fetch_json("tasks"))[0] == 200  # the server is up
    client = AsyncHTTPClient()
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}jupyter-mlops/tasks"
    assert (await client.fetch(url, headers=jp_auth_header)).code == 200
    for path in (url, f"{url}/{'0' * 32}"):
        with pytest.raises(HTTPClientError) as raised:
            await client.fetch(path)
        assert raised.value.code in (401, 403)


# -- a restarted server ---------------------------------------------------------------------
class TestARestartedServer:
    """The server starts on a project whose earlier server died while a build ran and
    after a snapshot ended: both are listed, the build interrupted."""

    RUNNING = "1" * 32
    ENDED = "2" * 32

    @pytest.fixture
    def jp_root_dir(self, tmp_path: Path) -> Path:
        root = tmp_path / "root"
        folder = root / ".mlops" / TASKS_DIR
        dead = {"pid": 2**22 + 12345, "host": socket.gethostname(), "started": None}
        common = {"done": 0, "total": 0, "unit": "steps", "request": {"job": "pipelines/t"}}
        write_json(
            folder / f"{self.RUNNING}.json",
            {
                "task": {
                    **common,
                    "task_id": self.RUNNING,
                    "kind": "build",
                    "state": "running",
                    "phase": "building",
                    "started": 1000,
                    "finished": None,
                },
                "owner": dead,
            },
        )
        write_json(
            folder / f"{self.ENDED}.json",
            {
                "task": {
                    **common,
                    "task_id": self.ENDED,
                    "kind": "snapshot",
                    "state": "done",
                    "phase": "done",
                    "started": 500,
                    "finished": 900,
                    "result": {"paths": []},
                },
                "owner": dead,
            },
        )
        return root

    async def test_it_lists_the_tasks_of_before(self, fetch_json, jp_root_dir):
        code, body = await fetch_json("tasks")
        assert code == 200, body
        tasks = TaskList.model_validate(body).tasks
        assert [t.task_id for t in tasks] == [self.RUNNING, self.ENDED]
        build, snapshot = tasks
        assert (build.state, build.kind) == ("interrupted", "build")
        assert build.error is not None
        assert build.error.code == "interrupted"
        assert build.finished is not None
        assert (snapshot.state, snapshot.result) == ("done", {"paths": []})
        code, body = await fetch_json("tasks", self.RUNNING)
        assert (code, body["state"]) == (200, "interrupted")
