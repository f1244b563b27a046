"""API fuzzing: Schemathesis against the OpenAPI document a live Jupyter server with the
extension serves, authenticated with the server's token.

Every operation gets generated requests, valid and not (stateless: the answer is no server
error, a status the document declares, a body its schema describes), then
Schemathesis chains operations through the links it infers from the document (stateful:
a run listed is read, renamed, deleted, restored).
The server's own log must hold no traceback and no 500 afterwards.

Bounded for CI (about 100 s on two cores): a few examples per operation, a deadline per
example. Runs with ``MLOPS_API_FUZZ=1`` (``scripts/test.sh --only fuzz``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(
    os.environ.get("MLOPS_API_FUZZ") != "1",
    reason="API fuzzing runs with MLOPS_API_FUZZ=1 (scripts/test.sh --only fuzz)",
)

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

from conftest import free_port, start_process, stop_process_group, subprocess_env  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from jupyter_mlops.api.openapi import build_openapi  # noqa: E402
from jupyter_mlops.routes import ROUTES  # noqa: E402

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
#: Examples per operation (31 operations) and per stateful run; each example's deadline.
MAX_EXAMPLES = 20
STATEFUL_EXAMPLES = 8
DEADLINE_MS = 15_000
SETTINGS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=DEADLINE_MS,
    derandomize=True,  # the same requests every run: a failure in CI reproduces locally
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)
PARAMETERS = "epochs = 2  # passes\nlabel = 'x'  # a name\n"


@dataclass(frozen=True)
class LiveServer:
    url: str
    token: str
    root: Path
    log: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}


def _project(root: Path) -> None:
    """A git + DVC project with a notebook, a data file and runs with artifacts in the
    embedded store, so generated requests meet real things, not only 404s."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from jupyter_mlops import mlflow_store
    from jupyter_mlops import settings as settings_mod

    env = subprocess_env({"GIT_CONFIG_NOSYSTEM": "1"})
    for command in (
        ["git", "-c", "init.defaultBranch=main", "init", "--quiet"],
        ["git", "config", "user.name", "fuzz"],
        ["git", "config", "user.email", "fuzz@jupyter-mlops.invalid"],
        [sys.executable, "-m", "dvc", "init", "--quiet"],
    ):
        subprocess.run(command, cwd=root, env=env, check=True, capture_output=True, timeout=120)
    (root / "notebooks").mkdir()
    nbformat.write(
        new_notebook(
            cells=[
                new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
                new_code_cell("print(epochs, label)"),
            ],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        ),
        root / "notebooks" / "train.ipynb",
    )
    (root / "data").mkdir()
    (root / "data" / "train.csv").write_text("x,y\n1,2\n")

    settings = settings_mod.resolve(root, environ={})
    client = mlflow_store.client(settings.tracking_uri, settings.artifact_location)
    experiment = client.create_experiment(
        "fuzz", artifact_location=(root / ".mlops" / "artifacts" / "fuzz").as_uri()
    )
    files = root / "run-files"
    (files / "figures").mkdir(parents=True)
    (files / "figures" / "notes.txt").write_text("a note\n")
    (files / "metrics.json").write_text('{"loss": 0.5}')
    for i in range(3):
        run = client.create_run(experiment, run_name=f"run-{i}", tags={"team": "fuzz"})
        client.log_param(run.info.run_id, "lr", str(0.1 * (i + 1)))
        client.log_metric(run.info.run_id, "loss", 1.0 / (i + 1), step=0)
        client.log_artifacts(run.info.run_id, str(files))
        client.set_terminated(run.info.run_id)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``jupyter server`` with the extension in a subprocess, on a free loopback port; its
    log is checked for tracebacks and 500s when the module is done."""
    folder = tmp_path_factory.mktemp("fuzz")
    root = folder / "project"
    root.mkdir()
    _project(root)
    port, token = free_port(), secrets.token_hex(16)
    log = folder / "server.log"
    env = subprocess_env(
        {
            "JUPYTER_CONFIG_DIR": str(folder / "config"),
            "JUPYTER_DATA_DIR": str(folder / "data"),
            "JUPYTER_RUNTIME_DIR": str(folder / "runtime"),
            # No container engine: builds answer 503 at once, nothing is built.
            "DOCKER_HOST": f"unix://{folder / 'no-engine.sock'}",
        }
    )
    command = [
        sys.executable,
        "-m",
        "jupyter_server",
        f"--ServerApp.port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
        "--ServerApp.open_browser=False",
        "--ServerApp.allow_root=True",
        "--ServerApp.jpserver_extensions=jupyter_mlops=True",
    ]
    url = f"http://127.0.0.1:{port}"
    proc = start_process(
        command,
        cwd=folder,
        env=env,
        log=log,
        ready_url=f"{url}/jupyter-mlops/openapi.json?token={token}",
        timeout=90,
    )
    try:
        yield LiveServer(url=url, token=token, root=root, log=log)
    finally:
        stop_process_group(proc)
    problems = _server_log_problems(log.read_text(errors="replace"))
    assert not problems, "the server logged:\n" + "\n".join(problems)


#: What the server's log must not hold: a traceback, or an answer of 500 (jupyter_server's
#: access line "[E ...] 500 GET /jupyter-mlops/...").
_ACCESS_500 = re.compile(r"\] 500 (GET|POST|PUT|PATCH|DELETE) \S+")


def _server_log_problems(text: str) -> list[str]:
    problems = [m.group(0) for m in _ACCESS_500.finditer(text)]
    if "Traceback (most recent call last)" in text:
        start = text.index("Traceback (most recent call last)")
        problems.append(text[max(0, start - 500) : start + 3000])
    return problems


@pytest.fixture(scope="module")
def api_schema(live_server: LiveServer) -> Any:
    """The document the live server serves, loaded by Schemathesis."""
    schema = schemathesis.openapi.from_url(
        f"{live_server.url}/jupyter-mlops/openapi.json", headers=live_server.headers
    )
    schema.config.update(headers=live_server.headers, base_url=live_server.url)
    return schema


# Operations are parametrized at collection, before any server runs, so from the document
# the server serves as generated here (test_the_served_document_is_the_one_fuzzed checks
# they are the same). Schemathesis' lazy ``from_fixture`` fails on pytest 9 (it sets
# ``Function._nodeid``, which pytest 9 no longer has).
schema = schemathesis.openapi.from_dict(build_openapi(ROUTES))


def test_the_served_document_is_the_one_fuzzed(api_schema: Any) -> None:
    assert api_schema.raw_schema == json.loads(json.dumps(build_openapi(ROUTES)))


@SETTINGS
@schema.parametrize()
def test_every_operation(case: Any, live_server: LiveServer) -> None:
    """Stateless: any request, valid or not, gets a documented answer, never a 500."""
    case.call_and_validate(
        base_url=live_server.url,
        headers=live_server.headers,
        checks=CHECKS,
        timeout=DEADLINE_MS / 1000,
    )


def test_linked_operations(api_schema: Any, live_server: LiveServer) -> None:
    """Stateful: operations chained through the links Schemathesis infers (a run id from
    a listing used to read, rename, delete and restore that run...)."""
    machine_base = api_schema.as_state_machine()

    class Machine(machine_base):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": live_server.headers, "timeout": DEADLINE_MS / 1000}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS)

    Machine.run(
        settings=hypothesis.settings(
            SETTINGS, max_examples=STATEFUL_EXAMPLES, stateful_step_count=6
        )
    )
