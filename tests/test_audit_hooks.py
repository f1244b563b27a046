"""The actions that matter write the audit trail themselves: a real export, a job run (its
start and end, from the job entrypoint the server starts), a snapshot and a restore, each
as the server's user, in one intact chain."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_server.auth.identity import IdentityProvider, User
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config

from jupyter_mlops.audit import service
from jupyter_mlops.data.models import DataTask

pytestmark = pytest.mark.slow

OLD = 1_600_000_000


def _notebook(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(
        new_notebook(
            cells=[
                new_code_cell("epochs = 2  # passes\n", metadata={"tags": ["parameters"]}),
                new_code_cell("print('RESULT', epochs * 2)"),
            ],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        ),
        path,
    )


def _write(path: Path, text: str, when: int = OLD) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (when, when))


USER = "alice"


class Alice(IdentityProvider):
    """Token requests are Alice's (Jupyter names each an anonymous user of its own)."""

    def generate_anonymous_user(self, handler: Any) -> User:
        return User(USER, "Alice", "Alice", "A", None, None)


@pytest.fixture
def jp_server_config(jp_server_config: Config) -> Config:
    jp_server_config.ServerApp.identity_provider_class = Alice
    return jp_server_config


@pytest.fixture
def jp_root_dir(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    _notebook(root / "notebooks" / "train.ipynb")
    _write(root / "data" / "a.csv", "x\n1\n")
    return root


def _trail(root: Path) -> Path:
    return root / ".mlops" / "audit.jsonl"


def _entries(root: Path, kind: str) -> list[dict[str, Any]]:
    lines = _trail(root).read_text(encoding="utf-8").splitlines() if _trail(root).exists() else []
    return [e for e in map(json.loads, lines) if e["kind"] == kind]


async def _task(fetch_json: Any, route: tuple[str, ...], body: dict[str, Any]) -> DataTask:
    code, task = await fetch_json(*route, method="POST", body=json.dumps(body))
    assert code == 200, task
    seen = DataTask.model_validate(task)
    for _ in range(1200):
        if seen.state != "running":
            break
        await asyncio.sleep(0.1)
        code, answer = await fetch_json("data", "tasks", seen.task_id)
        seen = DataTask.model_validate(answer)
    assert seen.state == "done", seen.error
    return seen


async def test_export_and_a_job_run_through_the_server(
    fetch_json: Any, jp_fetch: Any, jp_root_dir: Path
) -> None:
    user = USER
    code, job = await fetch_json(
        "jobs",
        "export",
        method="POST",
        body=json.dumps({"notebook": "notebooks/train.ipynb", "targets": ["docker"]}),
        request_timeout=120,
    )
    assert code == 200, job
    [export] = _entries(jp_root_dir, "export")
    assert (export["subject"], export["who"]) == ("train", user)
    what = export["what"]
    source = (jp_root_dir / "notebooks" / "train.ipynb").read_bytes()
    assert what["notebook_sha256"] == hashlib.sha256(source).hexdigest()
    assert what["job"] == "notebooks/pipelines/train"
    assert what["targets"] == ["docker"]
    folder = jp_root_dir / "notebooks" / "pipelines" / "train"
    assert (
        what["manifests"]["Dockerfile"]
        == hashlib.sha256((folder / "Dockerfile").read_bytes()).hexdigest()
    )
    assert set(what["manifests"]) >= {"Dockerfile", "job.json", "requirements.txt", "train.ipynb"}

    body = {"job": job["path"], "parameters": {"epochs": 5}}
    code, started = await fetch_json("jobs", "runs", method="POST", body=json.dumps(body))
    assert code == 202, started
    for _ in range(1800):
        code, state = await fetch_json("jobs", "runs", started["execution_id"])
        if state["status"] != "running":
            break
        await asyncio.sleep(0.1)
    assert state["status"] == "succeeded", state["log"]
    [start] = _entries(jp_root_dir, "job-run-start")
    [end] = _entries(jp_root_dir, "job-run-end")
    assert start["who"] == end["who"] == user
    assert start["subject"] == end["subject"] == "train"
    assert start["what"]["parameters"] == {"epochs": 5}
    assert start["what"]["notebook_sha256"] == what["notebook_sha256"]
    assert end["what"]["state"] == "succeeded"
    assert end["what"]["exit_code"] == 0
    assert end["what"]["start_seq"] == start["seq"]
    assert end["what"]["output"]

    result = service.verify(_trail(jp_root_dir))
    assert result.intact, result.first_bad
    assert result.entries == 3


async def test_snapshot_and_restore_through_the_server(
    fetch_json: Any, jp_fetch: Any, jp_root_dir: Path
) -> None:
    user = USER
    first = await _task(fetch_json, ("data", "snapshots"), {"paths": ["data"], "message": "v1"})
    assert first.snapshot is not None
    v1 = first.snapshot.paths[0].md5
    _write(jp_root_dir / "data" / "a.csv", "x\n2\n", OLD + 5)
    second = await _task(fetch_json, ("data", "snapshots"), {"paths": ["data"]})
    assert second.snapshot is not None
    v2 = second.snapshot.paths[0].md5

    snapshots = _entries(jp_root_dir, "snapshot")
    assert [(e["subject"], e["who"]) for e in snapshots] == [("data", user), ("data", user)]
    assert [e["what"]["md5"] for e in snapshots] == [v1, v2]
    assert snapshots[0]["what"]["message"] == "v1"
    assert snapshots[1]["what"]["previous_md5"] == v1

    await _task(fetch_json, ("data", "restore"), {"path": "data", "version": v1})
    [restore] = _entries(jp_root_dir, "restore")
    assert (restore["subject"], restore["who"]) == ("data", user)
    assert (restore["what"]["md5"], restore["what"]["previous_md5"]) == (v1, v2)

    code, body = await fetch_json("audit", params={"kind": "snapshot,restore"})
    assert code == 200
    assert [e["kind"] for e in body["entries"]] == ["restore", "snapshot", "snapshot"]
    code, body = await fetch_json("audit/verify")
    assert (body["intact"], body["entries"]) == (True, 3)


def test_a_job_run_from_the_cli_records_its_start_and_end(tmp_path: Path, clean_env) -> None:
    project = tmp_path / "project"
    _notebook(project / "train.ipynb")
    (project / ".mlops").mkdir(parents=True)
    python = [sys.executable, "-m", "jupyter_mlops"]
    env = clean_env()
    done = subprocess.run(
        [*python, "export", str(project / "train.ipynb")],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    job = project / "pipelines" / "train"
    done = subprocess.run(
        [*python, "run", str(job), "-p", "epochs", "x"],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2  # refused before it starts: no run recorded
    done = subprocess.run(
        [*python, "run", str(job), "-p", "epochs", "3"],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    kinds = [json.loads(line)["kind"] for line in _trail(project).read_text().splitlines()]
    assert kinds == ["export", "job-run-start", "job-run-end"]
    done = subprocess.run(
        [*python, "audit", "verify"], cwd=project, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
