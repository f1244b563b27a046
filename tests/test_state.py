"""The project's state folder (``.mlops/``): owner-only whatever the umask, ignored by git,
and never holding the tracking store's credentials, while runs still reach a tracking
server that wants them (a real ``mlflow server`` behind a proxy that checks them)."""

from __future__ import annotations

import base64
import http.server
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port, subprocess_env

from jupyter_mlops import mlflow_store, state
from jupyter_mlops import settings as settings_mod
from jupyter_mlops.data.hashing import cache_for
from jupyter_mlops.data.journal import Journal, JournalEntry, project_lock
from jupyter_mlops.tracking.spool import RunRecord, Spool


def modes(folder: Path) -> dict[str, int]:
    """``{relative path: permission bits}`` of ``folder`` and everything in it."""
    found = {".": stat.S_IMODE(folder.stat().st_mode)}
    for path in folder.rglob("*"):
        found[path.relative_to(folder).as_posix()] = stat.S_IMODE(path.lstat().st_mode)
    return found


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """A umask that lets everyone read and write what is created: the modes must not
    depend on it."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def fill_state(root: Path) -> Path:
    """Make every kind of state file the project keeps, through the real components."""
    settings = settings_mod.resolve(root, environ={})
    spool = Spool(settings.state_dir)
    record = RunRecord.new(tracking_uri=settings.tracking_uri, experiment="e", run_name="r")
    spool.write(record)
    spool.add_artifact(record.key, "figures/deep/fig.png", b"png")
    spool.write_delivery(record.key, spool.read_delivery(record.key))
    with spool.locked(record.key) as held:
        assert held
    done = RunRecord.new(tracking_uri=settings.tracking_uri, experiment="e", run_name="d")
    spool.write(done)
    spool.remove(done.key, outcome={"run_id": "x"})
    Journal(settings.state_dir).append(JournalEntry.snapshot("data", "0" * 32))
    with project_lock(settings.state_dir, "test", timeout=5):
        pass
    cache_for(settings.state_dir)
    return settings.state_dir


def test_state_folder_and_files_are_owner_only_whatever_the_umask(tmp_path, permissive_umask):
    state_dir = fill_state(tmp_path / "project")
    # The embedded store too (SQLite's -wal and -shm files take the database's mode).
    mlflow_store.client(settings_mod.embedded_tracking_uri(state_dir)).search_experiments()
    found = {
        path: mode
        for path, mode in modes(state_dir).items()
        if not path.startswith("artifacts")  # MLflow's own files, inside our 0700 folder
    }
    for name in (
        ".gitignore",
        "mlflow.db",
        "mlflow.db.lock",
        "delivered",
        "data/journal.jsonl",
        "data/lock",
        "data/hashes.db",
    ):
        assert name in found
    assert [p for p in found if p.startswith("spool/") and p.endswith("figures/deep/fig.png")]
    wrong = {
        path: oct(mode)
        for path, mode in found.items()
        if mode != (0o700 if (state_dir / path).is_dir() else 0o600)
    }
    assert wrong == {}


def test_an_older_state_folder_is_made_private_and_ignored(tmp_path):
    state_dir = tmp_path / "project" / settings_mod.STATE_DIR_NAME
    state_dir.mkdir(parents=True, mode=0o755)
    state_dir.chmod(0o755)
    Spool(state_dir).write(
        RunRecord.new(tracking_uri="sqlite:///x.db", experiment="e", run_name="r")
    )
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    assert (state_dir / ".gitignore").read_text().splitlines()[-1] == "*"
    assert state.owns(state_dir)
    assert not state.owns(tmp_path)


def git(repo: Path, *args: str) -> str:
    env = subprocess_env({"GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo.parent)})
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", *args],
        cwd=repo, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return done.stdout


def test_git_add_all_never_commits_the_state_folder(tmp_path):
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "--quiet")
    (repo / "train.py").write_text("print('hi')\n")
    fill_state(repo)
    assert git(repo, "status", "--porcelain", "--untracked-files=all").splitlines() == [
        "?? train.py"
    ]
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "everything")
    assert git(repo, "ls-files").splitlines() == ["train.py"]
    assert git(repo, "check-ignore", ".mlops/spool").strip() == ".mlops/spool"


# -- the journal never holds credentials, and the run still arrives ---------------------------
USER, PASSWORD, TOKEN = "alice", "pw-7f3a9c", "tok-5e1b2d"
SECRETS = (PASSWORD.encode(), TOKEN.encode())

SCRIPT = """\
import jupyter_mlops

with jupyter_mlops.track(name="behind-auth", params={"a": 1}) as run:
    run.log(step=0, loss=0.5)
print("done")
"""


class AuthProxy:
    """An HTTP proxy in front of the MLflow server that wants basic auth (as MLflow's own
    auth app or a gateway would), except for ``/health``; it records each request."""

    def __init__(self, port: int, upstream: str, user: str, password: str) -> None:
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.requests: list[tuple[str, str, bool]] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                authorised = self.headers.get("Authorization") == expected
                proxy.requests.append((self.command, self.path, authorised))
                if not authorised and self.path != "/health":
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="mlflow"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {"Content-Type": self.headers.get("Content-Type", "application/json")}
                request = urllib.request.Request(
                    upstream + self.path, data=body, headers=headers, method=self.command
                )
                try:
                    with urllib.request.urlopen(request, timeout=60) as answer:
                        status, content, kind = answer.status, answer.read(), answer.headers
                except urllib.error.HTTPError as error:
                    status, content, kind = error.code, error.read(), error.headers
                self.send_response(status)
                self.send_header("Content-Type", kind.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> AuthProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def files_holding_secrets(folder: Path) -> list[str]:
    return [
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and any(secret in path.read_bytes() for secret in SECRETS)
    ]


def agent_pids(state_dir: Path) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0") if proc.name.isdigit() else []
        except OSError:
            continue
        if b"jupyter_mlops.tracking.agent" in argv and str(state_dir).encode() in argv:
            pids.append(int(proc.name))
    return pids


def delivery_failed(state_dir: Path) -> bool:
    for path in (state_dir / "spool").glob("*/delivery.json"):
        progress = json.loads(path.read_text())
        if progress.get("attempts", 0) >= 1 and progress.get("last_error"):
            return True
    return False


@pytest.mark.slow
def test_the_journal_holds_no_credentials_and_the_agent_delivers_with_its_own(
    tmp_path, mlflow_server
):
    """A run tracked with ``MLFLOW_TRACKING_URI=http://user:password@host:port?token=...``
    while the server is down: nothing under ``.mlops`` holds the password or the token, the
    journal names the store without them, and once the server is up the delivery agent
    sends the password from its own environment and the run arrives."""
    from mlflow import MlflowClient

    root = tmp_path / "secret-project"
    root.mkdir()
    (root / "train_script.py").write_text(SCRIPT)
    state_dir = root.resolve() / settings_mod.STATE_DIR_NAME
    port = free_port()
    uri = f"http://{USER}:{PASSWORD}@127.0.0.1:{port}?token={TOKEN}"
    env = subprocess_env({"MLFLOW_TRACKING_URI": uri, "JUPYTER_MLOPS_EXIT_FLUSH": "2"})
    try:
        # The server is down: the script ends with its run journaled, not delivered.
        done = subprocess.run(
            [sys.executable, "train_script.py"],
            cwd=root, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout == "done\n"
        wait_for(lambda: delivery_failed(state_dir), 60, "a failed delivery attempt")
        [record_file] = (state_dir / "spool").glob("*/record.json")
        record = json.loads(record_file.read_text())
        assert record["tracking_uri"] == f"http://127.0.0.1:{port}"
        assert files_holding_secrets(state_dir) == []

        with AuthProxy(port, mlflow_server.uri, USER, PASSWORD) as proxy:
            wait_for(
                lambda: not list((state_dir / "spool").glob("*/record.json")),
                120,
                "the agent to deliver the run",
            )
            api_calls = [r for r in proxy.requests if r[1] != "/health"]
            assert api_calls
            assert all(authorised for _, _, authorised in api_calls)
            # MLflow appends its API paths to the URI: the query is left out.
            assert not [path for _, path, _ in proxy.requests if TOKEN in path]

        client = MlflowClient(mlflow_server.uri)
        ids = [e.experiment_id for e in client.search_experiments()]
        [run] = client.search_runs(
            ids, filter_string=f"tags.`jupyter_mlops.run_key` = '{record['key']}'"
        )
        assert run.info.status == "FINISHED"
        assert run.data.params["a"] == "1"
        assert run.data.metrics["loss"] == 0.5
        assert files_holding_secrets(state_dir) == []
    finally:
        for pid in agent_pids(state_dir):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_a_cells_own_mlflow_calls_reach_a_server_whose_uri_has_credentials(
    tmp_path, mlflow_server, monkeypatch
):
    """A tracked cell that calls MLflow itself, with the same URI: its calls carry the
    password and reach the server (no query glued in front of MLflow's API paths)."""
    import mlflow
    from mlflow import MlflowClient

    from jupyter_mlops.tracking.session import TrackingSession
    from jupyter_mlops.tracking.tracker import Tracker

    port = free_port()
    uri = f"http://{USER}:{PASSWORD}@127.0.0.1:{port}?token={TOKEN}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    root = tmp_path / "fluent-project"
    root.mkdir()
    settings = settings_mod.resolve(root)
    session = TrackingSession(settings)
    try:
        with AuthProxy(port, mlflow_server.uri, USER, PASSWORD) as proxy:
            source = "mlflow.log_param('b', 2)"
            with Tracker(
                session=session, name="fluent", source=source, namespace={"mlflow": mlflow}
            ) as tracker:
                mlflow.log_param("b", 2)
            assert session.flush(timeout=120)
            assert not [path for _, path, _ in proxy.requests if TOKEN in path]
        assert "jupyter_mlops.fluent_error" not in tracker.record.tags
        client = MlflowClient(mlflow_server.uri)
        ids = [e.experiment_id for e in client.search_experiments()]
        [run] = client.search_runs(
            ids, filter_string=f"tags.`jupyter_mlops.run_key` = '{tracker.key}'"
        )
        assert run.info.status == "FINISHED"
        assert run.data.params["b"] == "2"
        assert files_holding_secrets(settings.state_dir) == []
    finally:
        session.executor.shutdown(wait=True)
        for pid in agent_pids(settings.state_dir):
            os.kill(pid, signal.SIGKILL)
