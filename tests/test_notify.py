"""Notifications a job sends itself, for real: a webhook receiver on loopback (a tiny
``http.server`` thread), Apprise's ``json://`` to it, and jobs run by the entrypoint
(papermill, a real kernel) and by ``jupyter mlops run``. A failing run notifies with its
cell, error and parameters; a successful one does not unless asked; a receiver that is down
or a variable that is not set leaves the job's exit code as it was, with one warning line."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import exported_job, free_port, run_entrypoint, subprocess_env

from jupyter_mlops.export import notify
from jupyter_mlops.export.finish import JobOutcome, finish

pytestmark = pytest.mark.slow


class Receiver:
    """A webhook on 127.0.0.1 that keeps every JSON body posted to it."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    try:
        yield found
    finally:
        found.close()


NOTEBOOK = [
    ("fail = False\nrate = 0.5\nlabel = 'nightly'\n", ["parameters"]),
    ("total = rate * 2", []),
    ("if fail:\n    raise ValueError(f'told to fail at {rate}')", []),
]


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An exported job that fails in its third cell when told to."""
    return exported_job(tmp_path_factory.mktemp("project"), "nightly", NOTEBOOK)


def test_a_failing_job_notifies_with_its_cell_error_and_parameters(
    job: Path, receiver: Receiver
) -> None:
    # The URL comes from the variable the deployment named (--notify-from-env ALERTS_URL).
    done = run_entrypoint(
        job, "-p", "fail", "true", "-p", "rate", "0.25",
        JUPYTER_MLOPS_NOTIFY_ENV="ALERTS_URL", ALERTS_URL=receiver.url,
        JUPYTER_MLOPS_DEPLOYMENT="nightly-prod", JUPYTER_MLOPS_ENGINE_RUN_ID="manual__2026",
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert "warning" not in done.stderr, done.stderr
    assert len(receiver.received) == 1, receiver.received
    sent = receiver.received[0]
    assert sent["type"] == "failure"
    assert sent["title"] == "jupyter-mlops job nightly failed (exit code 3)"
    text = sent["message"]
    assert "Failing cell: [4] (`if fail:`)" in text
    assert "Error: ValueError: told to fail at 0.25" in text
    assert "  rate = 0.25" in text
    assert "  fail = true" in text
    assert '  label = "nightly"' in text
    assert "Deployment: nightly-prod" in text
    assert "Engine run: manual__2026" in text
    assert "Output notebook: " in text


def test_a_successful_job_notifies_only_when_asked(job: Path, receiver: Receiver) -> None:
    done = run_entrypoint(job, JUPYTER_MLOPS_NOTIFY_URL=receiver.url)
    assert done.returncode == 0, done.stderr
    assert receiver.received == []

    done = run_entrypoint(
        job, JUPYTER_MLOPS_NOTIFY_URL=receiver.url, JUPYTER_MLOPS_NOTIFY_ON="always"
    )
    assert done.returncode == 0, done.stderr
    assert [m["type"] for m in receiver.received] == ["success"]
    assert receiver.received[0]["title"] == "jupyter-mlops job nightly succeeded"


def test_invalid_parameters_notify_too(job: Path, receiver: Receiver, tmp_path: Path) -> None:
    # The URL from a mounted Secret's file (--notify-secret NAME).
    secret = tmp_path / "alerts" / "url"
    secret.parent.mkdir()
    secret.write_text(receiver.url + "\n")
    done = run_entrypoint(job, "-p", "rate", "fast", JUPYTER_MLOPS_NOTIFY_FILE=str(secret))
    assert done.returncode == 2, done.stderr
    (sent,) = receiver.received
    assert sent["title"] == "jupyter-mlops job nightly invalid (exit code 2)"
    assert "rate" in sent["message"]
    assert "Failing cell" not in sent["message"]


def test_a_receiver_that_is_down_does_not_fail_the_job(job: Path) -> None:
    down = f"json://127.0.0.1:{free_port()}/hook"
    done = run_entrypoint(job, JUPYTER_MLOPS_NOTIFY_URL=down, JUPYTER_MLOPS_NOTIFY_ON="always")
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert warnings == [
        "jupyter-mlops job: warning: notification failed: NotificationFailed: the "
        "notification (json://) could not be delivered"
    ], done.stderr
    # A failed run keeps its own exit code.
    done = run_entrypoint(job, "-p", "fail", "true", JUPYTER_MLOPS_NOTIFY_URL=down)
    assert done.returncode == 3, done.stderr
    assert "notification failed" in done.stderr


def test_jupyter_mlops_run_honours_the_same_variables(job: Path, receiver: Receiver) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops", "run", str(job), "-p", "fail", "true"],
        env=subprocess_env({"JUPYTER_MLOPS_NOTIFY_URL": receiver.url}),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    (sent,) = receiver.received
    assert "Failing cell: [4]" in sent["message"]


# -- the finisher without a kernel -------------------------------------------------------------
def outcome(**fields: Any) -> JobOutcome:
    return JobOutcome(job="train", folder="/job", **{"exit_code": 3, **fields})


@pytest.mark.parametrize(
    ("environ", "warning"),
    [
        (
            {"JUPYTER_MLOPS_NOTIFY_ENV": "ALERTS_URL"},
            "the environment variable ALERTS_URL (JUPYTER_MLOPS_NOTIFY_ENV) is not set",
        ),
        ({"JUPYTER_MLOPS_NOTIFY_FILE": "/nonexistent/url"}, "cannot be read from"),
        ({"JUPYTER_MLOPS_NOTIFY_URL": "nosuch://token@x"}, "(nosuch://) is not one Apprise"),
        (
            {"JUPYTER_MLOPS_NOTIFY_URL": "json://x", "JUPYTER_MLOPS_NOTIFY_ON": "sometimes"},
            "neither 'failure' nor 'always'",
        ),
    ],
)
def test_configuration_mistakes_are_one_warning_and_never_show_the_url(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    environ: dict[str, str],
    warning: str,
) -> None:
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    found = outcome()
    assert finish(found) == 3
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("jupyter-mlops job: warning: notification failed: ")
    assert warning in line
    assert "token" not in line
    assert len(found.warnings) == 1


def test_the_run_link_names_the_server_page_without_credentials() -> None:
    environ = {"MLFLOW_TRACKING_URI": "https://bob:s3cret@mlflow.example.com:8443/ml/"}
    found = outcome(run_id="abc123", parameters={"n": 1})
    assert notify.run_link(found, environ) == "https://mlflow.example.com:8443/ml/#/runs/abc123"
    _, text = notify.message(found, environ)
    assert "s3cret" not in text
    assert "MLflow run: https://mlflow.example.com" in text
    assert notify.run_link(found, {"MLFLOW_TRACKING_URI": "sqlite:///x.db"}) == "run abc123"
    assert notify.run_link(outcome(), environ) is None


def test_nothing_configured_sends_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert finish(outcome()) == 3
    assert capsys.readouterr().err == ""


def test_passed_environment_carries_the_named_variable() -> None:
    environ = {"JUPYTER_MLOPS_NOTIFY_ENV": "ALERTS", "ALERTS": "json://h/", "OTHER": "x"}
    assert notify.passed_environment(environ) == {
        "JUPYTER_MLOPS_NOTIFY_ENV": "ALERTS",
        "ALERTS": "json://h/",
    }
