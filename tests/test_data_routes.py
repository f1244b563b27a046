"""The Data view's routes, served by a real Jupyter server (``jp_fetch``): listing,
snapshot tasks polled to the end, history with runs, diff, restore with its confirmation,
push and pull with a folder remote, and bad input answered 4xx at once."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import subprocess_env

from jupyter_mlops.data.models import DataHistory, DataPaths, DataTask, RunData

OLD = 1_600_000_000


def write(path: Path, text: str, when: int = OLD) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (when, when))


@pytest.fixture
def jp_root_dir(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    write(root / "data" / "a.csv", "x\n1\n")
    write(root / "data" / "b.csv", "y\n2\n")
    write(root / "model.bin", "weights\n")
    return root


@pytest.fixture
def mlops_config(mlflow_server: Any) -> dict[str, Any]:
    return {"tracking_uri": mlflow_server.uri, "data_lock_timeout": 5.0}


async def post(fetch_json: Any, route: str, body: dict[str, Any]) -> tuple[int, Any]:
    return await fetch_json(*route.split("/"), method="POST", body=json.dumps(body))


async def finish(fetch_json: Any, task: dict[str, Any], timeout: float = 120) -> DataTask:
    """Poll a task until it ends, checking every answer against the model."""
    deadline = time.monotonic() + timeout
    seen = DataTask.model_validate(task)
    while seen.state == "running":
        assert time.monotonic() < deadline, f"task still running: {seen}"
        await asyncio.sleep(0.1)
        code, body = await fetch_json("data", "tasks", seen.task_id)
        assert code == 200, body
        seen = DataTask.model_validate(body)
    return seen


async def snapshot(fetch_json: Any, **body: Any) -> DataTask:
    code, task = await post(fetch_json, "data/snapshots", body)
    assert code == 200, task
    done = await finish(fetch_json, task)
    assert done.state == "done", done.error
    return done


async def test_a_project_without_dvc_lists_nothing(fetch_json, jp_root_dir):
    code, body = await fetch_json("data", "paths")
    assert code == 200
    listing = DataPaths.model_validate(body)
    assert (listing.dvc, listing.paths, listing.root) == (False, [], str(jp_root_dir))


async def test_snapshot_history_diff_and_restore(fetch_json, jp_root_dir):
    first = await snapshot(fetch_json, paths=["data", "model.bin"], message="first")
    assert first.kind == "snapshot"
    assert first.snapshot is not None
    assert "dvc init --no-scm" in (first.snapshot.initialised or "")
    v1 = first.snapshot.paths[0].md5
    assert first.phase == "done"

    _, body = await fetch_json("data", "paths")
    listing = DataPaths.model_validate(body)
    assert listing.dvc
    assert [(p.path, p.kind, p.in_cache) for p in listing.paths] == [
        ("data", "folder", True),
        ("model.bin", "file", True),
    ]

    write(jp_root_dir / "data" / "c.csv", "z\n3\n", OLD + 5)
    second = await snapshot(fetch_json, paths=["data"], message="second")
    assert second.snapshot is not None
    v2 = second.snapshot.paths[0].md5

    code, body = await fetch_json("data", "history", params={"path": "data"})
    assert code == 200
    history = DataHistory.model_validate(body)
    assert [(v.md5, v.message, v.nfiles) for v in history.versions] == [
        (v2, "second", 3),
        (v1, "first", 2),
    ]

    code, body = await fetch_json("data", "diff", params={"path": "data", "a": v1, "b": v2})
    assert code == 200
    assert [(e["path"], e["change"]) for e in body["entries"]] == [("c.csv", "added")]

    # Unsaved changes: the restore is refused until the client confirms with force.
    write(jp_root_dir / "data" / "a.csv", "x\nunsaved\n", OLD + 9)
    code, body = await post(fetch_json, "data/restore", {"path": "data", "version": v1})
    assert code == 409
    assert body["code"] == "local_changes"
    assert "a.csv" in body["message"]
    assert (jp_root_dir / "data" / "a.csv").read_text() == "x\nunsaved\n"
    code, task = await post(
        fetch_json, "data/restore", {"path": "data", "version": v1, "force": True}
    )
    assert code == 200, task
    done = await finish(fetch_json, task)
    assert done.state == "done", done.error
    assert done.restore is not None
    assert done.restore.paths[0].restored
    assert (jp_root_dir / "data" / "a.csv").read_text() == "x\n1\n"
    assert not (jp_root_dir / "data" / "c.csv").exists()

    code, body = await fetch_json("data", "tasks")
    assert code == 200
    assert [t["kind"] for t in body["tasks"][:3]] == ["restore", "snapshot", "snapshot"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "invalid_body"),
        ({"paths": []}, 400, "invalid_body"),
        ({"paths": ["../outside.csv"]}, 403, "outside_project"),
        ({"paths": ["/etc/hostname"]}, 403, "outside_project"),
        ({"paths": ["nope.csv"]}, 404, "no_such_data"),
        ({"paths": ["data"], "link": "teleport"}, 400, "invalid_body"),
    ],
)
async def test_bad_snapshot_requests_are_answered_at_once(
    fetch_json, jp_root_dir, body, status, code
):
    answer, error = await post(fetch_json, "data/snapshots", body)
    assert (answer, error["code"]) == (status, code), error
    assert "Traceback" not in error["message"]
    assert "\n" not in error["message"]
    assert not (jp_root_dir / ".dvc").exists()


async def test_symlink_escape_is_refused(fetch_json, jp_root_dir, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("secret\n")
    (jp_root_dir / "link.txt").symlink_to(outside)
    code, error = await post(fetch_json, "data/snapshots", {"paths": ["link.txt"]})
    assert (code, error["code"]) == (403, "outside_project")


@pytest.mark.parametrize(
    ("route", "body", "status"),
    [
        ("data/restore", {}, 400),
        ("data/restore", {"path": "data"}, 400),
        ("data/restore", {"run_id": "0" * 32, "path": "data"}, 400),
        ("data/restore", {"path": "data", "version": "not-an-md5"}, 400),
        ("data/restore", {"path": "data", "version": "0" * 32 + ".dir"}, 404),
        ("data/push", {}, 404),
        ("data/pull", {"paths": ["data"]}, 404),
    ],
)
async def test_bad_restore_and_transfer_requests(fetch_json, jp_root_dir, route, body, status):
    code, error = await post(fetch_json, route, body)
    assert code == status, error
    assert {"message", "code"} <= set(error) <= {"message", "code", "fields"}


async def test_unknown_tasks_and_queries(fetch_json, jp_root_dir):
    assert (await fetch_json("data", "tasks", "0" * 32))[0] == 404
    assert (await fetch_json("data", "tasks", "0" * 32, method="DELETE"))[0] == 404
    assert (await fetch_json("data", "tasks", "x"))[0] == 400
    assert (await fetch_json("data", "history", params={"path": "data"}))[0] == 404
    assert (await fetch_json("data", "history"))[0] == 400
    assert (await fetch_json("data", "diff", params={"path": "data", "a": "zz"}))[0] == 400


async def test_a_long_snapshot_reports_progress_and_can_be_cancelled(fetch_json, jp_root_dir):
    with (jp_root_dir / "big.bin").open("wb") as handle:
        handle.truncate(4 << 30)  # sparse: reads as zeros, takes seconds to hash
    code, task = await post(fetch_json, "data/snapshots", {"paths": ["big.bin"]})
    assert code == 200
    seen = DataTask.model_validate(task)
    deadline = time.monotonic() + 60
    while not (seen.phase == "hashing" and seen.done > 0):
        assert seen.state == "running", seen
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
        seen = DataTask.model_validate((await fetch_json("data", "tasks", seen.task_id))[1])
    assert seen.unit == "bytes"
    assert seen.total == 4 << 30
    # The server keeps answering while the task works.
    assert (await fetch_json("data", "paths"))[0] == 200
    code, body = await fetch_json("data", "tasks", seen.task_id, method="DELETE")
    assert code == 200
    done = await finish(fetch_json, body)
    assert done.state == "cancelled"
    assert done.error is not None
    assert done.error.code == "cancelled"
    assert not (jp_root_dir / "big.bin.dvc").exists()


async def test_push_and_pull_through_a_folder_remote(fetch_json, jp_root_dir, tmp_path):
    await snapshot(fetch_json, paths=["model.bin"])
    remote = tmp_path / "remote"
    subprocess.run(
        [sys.executable, "-m", "dvc", "remote", "add", "-d", "store", str(remote)],
        cwd=jp_root_dir,
        env=subprocess_env(),
        check=True,
        capture_output=True,
    )
    code, task = await post(fetch_json, "data/push", {})
    assert code == 200, task
    done = await finish(fetch_json, task)
    assert done.state == "done", done.error
    assert done.transfer is not None
    assert (done.transfer.remote, done.transfer.paths) == ("store", ["model.bin"])
    assert any(remote.rglob("*"))
    _, body = await fetch_json("data", "paths")
    assert DataPaths.model_validate(body).paths[0].pushed is True

    (jp_root_dir / "model.bin").unlink()
    code, task = await post(fetch_json, "data/pull", {"paths": ["model.bin"]})
    assert code == 200, task
    done = await finish(fetch_json, task)
    assert done.state == "done", done.error
    assert (jp_root_dir / "model.bin").read_text() == "weights\n"


async def test_runs_link_to_versions_and_restore_by_run(fetch_json, jp_root_dir, mlflow_server):
    from mlflow import MlflowClient

    from jupyter_mlops.tracking.capture import capture_lineage

    # Data of its own: runs of other tests on the shared server read other versions.
    write(jp_root_dir / "data" / "id.txt", f"{time.time_ns()}\n")
    first = await snapshot(fetch_json, paths=["data"], message="v1")
    assert first.snapshot is not None
    v1 = first.snapshot.paths[0].md5
    client = MlflowClient(mlflow_server.uri)
    experiment = client.create_experiment(f"routes-{time.time_ns()}")
    lineage = capture_lineage(str(jp_root_dir), ["data"], str(jp_root_dir),
                              str(jp_root_dir / ".mlops"))  # fmt: skip
    run = client.create_run(experiment, run_name="reader", tags=lineage.tags)
    client.set_terminated(run.info.run_id)
    run_id = run.info.run_id

    write(jp_root_dir / "data" / "a.csv", "x\n2\n", OLD + 3)
    await snapshot(fetch_json, paths=["data"], message="v2")

    _, body = await fetch_json("data", "history", params={"path": "data"})
    history = DataHistory.model_validate(body)
    linked = {v.md5: [r.run_id for r in v.runs] for v in history.versions}
    assert linked[v1] == [run_id]

    code, body = await fetch_json("data", "runs", run_id)
    assert code == 200
    data = RunData.model_validate(body)
    assert [(p.path, p.md5, p.restorable, p.current) for p in data.paths] == [
        ("data", v1, True, False)
    ]
    code, task = await post(fetch_json, "data/restore", {"run_id": run_id})
    assert code == 200, task
    done = await finish(fetch_json, task)
    assert done.state == "done", done.error
    assert (jp_root_dir / "data" / "a.csv").read_text() == "x\n1\n"
    code, body = await fetch_json("data", "runs", "0" * 32)
    assert code == 404
