"""Shared fixtures: a Jupyter server with the extension, a real MLflow tracking server, a
git + DVC project folder, a real kernel, and environment isolation between tests.

pytest-jupyter runs ``async def`` tests on its own event loop (no pytest-asyncio needed or
wanted: with ``asyncio_mode = "auto"`` every ``jp_fetch`` failed with HTTP 599)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from traitlets.config import Config

import jupyter_mlops
from jupyter_mlops import errors as errors_mod
from jupyter_mlops import settings as settings_mod

pytest_plugins = ["pytest_jupyter.jupyter_server"]

#: Folder that holds the ``jupyter_mlops`` package the tests import; subprocesses (CLI,
#: ``jupyter server``, kernels) get it on PYTHONPATH so they run the same code.
PACKAGE_PARENT = Path(jupyter_mlops.__file__).resolve().parent.parent

#: Variables the tests must not leak into each other: the user's tracking URI and whatever
#: the server extension exports for its kernels.
ISOLATED_ENV = (
    "MLFLOW_TRACKING_URI",
    settings_mod.ENV_ROOT,
    settings_mod.ENV_TRACKING_URI,
    settings_mod.ENV_ARTIFACT_LOCATION,
)
ENV_PREFIX = "JUPYTER_MLOPS_"

MLFLOW_START_TIMEOUT = 60.0


# -- helpers usable by any test -------------------------------------------------------------
def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on (right now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def subprocess_env(extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """The current environment with this package importable, minus the isolated variables;
    ``extra`` adds variables (a value of None removes one)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ISOLATED_ENV and not k.startswith(ENV_PREFIX)
    }
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PACKAGE_PARENT), env.get("PYTHONPATH", "")) if p
    )
    env["DVC_NO_ANALYTICS"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def exported_job(folder: Path, name: str, cells: Sequence[tuple[str, list[str]]]) -> Path:
    """A notebook of ``cells`` (source, tags) written to ``folder/NAME.ipynb`` and exported
    with the CLI; its job folder."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nbformat.write(
        new_notebook(
            cells=[new_code_cell(src, metadata={"tags": tags}) for src, tags in cells],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        ),
        folder / f"{name}.ipynb",
    )
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops", "export", str(folder / f"{name}.ipynb")],
        env=subprocess_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return folder / "pipelines" / name


def run_entrypoint(job: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The job's entrypoint (``python -m jupyter_mlops.job``), started in the job folder
    (runs without a configured store go to MLflow's default there, not into the checkout)."""
    return subprocess.run(
        [sys.executable, "-m", "jupyter_mlops.job", str(job), *args],
        env=subprocess_env(env), cwd=job, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def stop_process_group(proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """Stop a process started with ``start_new_session=True`` and everything it spawned:
    SIGTERM to its process group, then SIGKILL if it does not exit in time."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=wait)
    # Children (uvicorn's worker, for one) may outlive their parent: end the whole group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def wait_for_http(
    url: str,
    *,
    timeout: float,
    proc: subprocess.Popen[Any] | None = None,
    log: Path | None = None,
    ok: Callable[[int], bool] = lambda status: status == 200,
) -> None:
    """Poll ``url`` until it answers with a status ``ok`` accepts; fail with the log's tail
    when the process exits or the time is up."""
    deadline = time.monotonic() + timeout
    last: str = "no answer yet"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if ok(answer.status):
                    return
                last = f"HTTP {answer.status}"
        except urllib.error.HTTPError as exc:
            if ok(exc.code):
                return
            last = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.25)
    tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    exited = ""
    if proc is not None and proc.poll() is not None:
        exited = f" (exited with {proc.returncode})"
    pytest.fail(f"{url} did not come up within {timeout:.0f} s{exited}: {last}\n{tail}")


def start_process(
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log: Path,
    ready_url: str,
    timeout: float = 60.0,
) -> subprocess.Popen[bytes]:
    """Start a service in its own process group, output to ``log``, and wait until
    ``ready_url`` answers 200; stop it again if it does not come up."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        wait_for_http(ready_url, timeout=timeout, proc=proc, log=log)
    except BaseException:
        stop_process_group(proc)
        raise
    return proc


def embedded_uri_for(root: Path, state: str = ".mlops") -> str:
    """The embedded store's URI for a project root, checked to name the SQLite database
    ``<root>/<state>/mlflow.db`` (whatever query options the implementation adds)."""
    state_dir = Path(root).resolve() / state
    uri = settings_mod.embedded_tracking_uri(state_dir)
    assert uri.startswith("sqlite:///"), uri
    assert Path(uri[len("sqlite:///") :].split("?", 1)[0]) == state_dir / "mlflow.db", uri
    return uri


# -- small fixtures wrapping the helpers ----------------------------------------------------
@pytest.fixture
def embedded_uri() -> Callable[..., str]:
    """``embedded_uri(root)``: the embedded store URI for ``root`` (see
    :func:`embedded_uri_for`)."""
    return embedded_uri_for


@pytest.fixture
def free_tcp_port() -> int:
    return free_port()


@pytest.fixture
def clean_env() -> Callable[..., dict[str, str]]:
    """``clean_env({...})``: an environment for subprocesses (see :func:`subprocess_env`)."""
    return subprocess_env


@pytest.fixture
def start_service() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """``start_service(command, cwd=, env=, log=, ready_url=)``: a process that is up when
    the call returns and is stopped (with its children) after the test."""
    started: list[subprocess.Popen[bytes]] = []

    def start(command: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        proc = start_process(command, **kwargs)
        started.append(proc)
        return proc

    yield start
    for proc in reversed(started):
        stop_process_group(proc)


# -- environment isolation ------------------------------------------------------------------
@pytest.fixture(scope="session", autouse=True)
def _environment_restored_after_the_session() -> Iterator[None]:
    """Guard for :func:`_isolate_environment`: the run leaves the isolated variables as it
    found them (the server extension writes JUPYTER_MLOPS_* into ``os.environ``)."""

    def snapshot() -> dict[str, str]:
        return {
            k: v for k, v in os.environ.items() if k in ISOLATED_ENV or k.startswith(ENV_PREFIX)
        }

    before = snapshot()
    yield
    assert snapshot() == before, "a test leaked MLFLOW_TRACKING_URI / JUPYTER_MLOPS_* changes"


@pytest.fixture(autouse=True)
def _isolate_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Start every test without MLFLOW_TRACKING_URI / JUPYTER_MLOPS_* and restore them after.

    ``setenv`` before ``delenv`` makes monkeypatch record the original state even when the
    variable is absent, so values the server extension writes into ``os.environ`` during a
    test are undone too."""
    names = set(ISOLATED_ENV) | {k for k in os.environ if k.startswith(ENV_PREFIX)}
    for name in names:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    yield
    # Anything else under our prefix that appeared during the test (monkeypatch did not
    # record it, so it would survive the undo).
    for name in [k for k in os.environ if k.startswith(ENV_PREFIX) and k not in names]:
        os.environ.pop(name, None)


# -- no 500 and no traceback from the server under test -------------------------------------
#: Loggers the server under test writes to. The apps' own loggers do not propagate (the
#: extension's) or may not (the server's), so they are watched as well as the root.
_SERVER_LOGGERS = ("", "ServerApp", "MlopsApp")
#: Where a traceback of a request may come from: tornado, Jupyter's apps, our code.
_REQUEST_LOGGER = re.compile(r"^(tornado\.|ServerApp\b|MlopsApp\b|jupyter_mlops\b)")
#: jupyter_server's access log line: "500 GET /jupyter-mlops/runs?... (user@ip) 1.2ms".
_ACCESS_LINE = re.compile(r"^(5\d\d) (GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\S+)")


def _deliberate_5xx() -> frozenset[int]:
    """The 5xx statuses of our errors (503: a tracking server down, 507: a full disk):
    a test may cause them on purpose. 500 never is."""
    found, todo = set(), [errors_mod.MlopsError]
    while todo:
        cls = todo.pop()
        found.add(cls.status)
        todo += cls.__subclasses__()
    return frozenset(status for status in found if status >= 500) - {500}


class _ServerTrouble(logging.Handler):
    """Collects what the server under test must never log: a traceback from a request's
    handling, an answer of 500 (or any 5xx that is not one of our errors)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.found: list[str] = []
        self._seen: set[int] = set()
        self._allowed = _deliberate_5xx()

    def emit(self, record: logging.LogRecord) -> None:
        if id(record) in self._seen:
            return
        self._seen.add(id(record))
        message = record.getMessage()
        access = _ACCESS_LINE.match(message)
        if access and int(access[1]) not in self._allowed:
            self.found.append(f"the server answered {access[1]} to {access[2]} {access[3]}")
        elif record.exc_info and record.exc_info[0] and _REQUEST_LOGGER.match(record.name):
            trace = "".join(traceback.format_exception(*record.exc_info))
            self.found.append(f"{record.name} logged a traceback: {message}\n{trace}")


@pytest.fixture(autouse=True)
def _no_server_errors() -> Iterator[None]:
    """Fail a test during which the server under test answered a 500 or logged a
    traceback (issue 13: no traceback of a request in the server log, whatever the input).
    Deliberate 503s (a tracking server that is down) are fine."""
    watcher = _ServerTrouble()
    loggers = [logging.getLogger(name) for name in _SERVER_LOGGERS]
    for logger in loggers:
        logger.addHandler(watcher)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(watcher)
    if watcher.found:
        pytest.fail("The server under test failed:\n" + "\n".join(watcher.found), pytrace=False)


# -- Jupyter server with the extension ------------------------------------------------------
@pytest.fixture
def mlops_config() -> dict[str, Any]:
    """``MlopsApp`` traits for the server under test; override in a module or class."""
    return {}


@pytest.fixture
def jp_server_config(mlops_config: dict[str, Any]) -> Config:
    config = Config({"ServerApp": {"jpserver_extensions": {"jupyter_mlops": True}}})
    if mlops_config:
        config.MlopsApp = Config(mlops_config)
    return config


@pytest.fixture
def mlops_app(jp_serverapp: Any) -> Any:
    """The running :class:`jupyter_mlops.app.MlopsApp` of the server under test."""
    return jp_serverapp.extension_manager.extension_points["jupyter_mlops"].app


@pytest.fixture
def fetch_json(jp_fetch: Any) -> Callable[..., Any]:
    """``await fetch_json("status")``: GET (or another method) a route of the extension and
    return ``(status code, parsed JSON body)`` for any status, never raising on 4xx/5xx."""
    from tornado.httpclient import HTTPClientError

    async def fetch(
        *path: str,
        params: Any = None,
        method: str = "GET",
        body: str | None = None,
        request_timeout: float = 60,
    ) -> tuple[int, Any]:
        try:
            response = await jp_fetch(
                "jupyter-mlops",
                *path,
                params=params,
                method=method,
                body=body,
                request_timeout=request_timeout,
            )
        except HTTPClientError as exc:
            response = exc.response
            if response is None:  # e.g. 599: no HTTP answer at all
                raise
        content_type = response.headers.get("Content-Type", "")
        assert content_type.startswith("application/json"), (response.code, content_type)
        return response.code, json.loads(response.body or b"null")

    return fetch


# -- a real MLflow tracking server ----------------------------------------------------------
@dataclass(frozen=True)
class MlflowServer:
    uri: str
    backend_store_uri: str
    artifact_root: Path
    log: Path


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """A real ``mlflow server`` on a free loopback port, shared by the whole session."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    store = f"sqlite:///{(folder / 'mlflow.db').as_posix()}"
    artifacts = folder / "artifacts"
    log = folder / "server.log"
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        store,
        "--default-artifact-root",
        artifacts.as_uri(),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    # Job execution spawns a job runner and several huey consumers: not needed here, and
    # costly on two cores.
    env = subprocess_env({"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    uri = f"http://127.0.0.1:{port}"
    proc = start_process(
        command,
        cwd=folder,
        env=env,
        log=log,
        ready_url=f"{uri}/health",
        timeout=MLFLOW_START_TIMEOUT,
    )
    try:
        yield MlflowServer(uri=uri, backend_store_uri=store, artifact_root=artifacts, log=log)
    finally:
        stop_process_group(proc)


@pytest.fixture
def down_server_url() -> str:
    """Base URL of an HTTP server that is down: a free loopback port nothing listens on."""
    return f"http://127.0.0.1:{free_port()}"


# -- a git + DVC project --------------------------------------------------------------------
def _run(args: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None) -> str:
    done = subprocess.run(
        list(args),
        cwd=cwd,
        env=dict(env or os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr}"
    return done.stdout


@pytest.fixture
def git_dvc_repo(tmp_path: Path) -> Path:
    """A project folder with ``git init`` (branch ``main``), a first commit, and
    ``dvc init`` committed on top."""
    repo = tmp_path / "project"
    repo.mkdir()
    env = subprocess_env({"GIT_CONFIG_NOSYSTEM": "1"})
    git = ["git", "-c", "init.defaultBranch=main"]
    _run([*git, "init", "--quiet"], repo, env)
    _run(["git", "config", "user.name", "jupyter-mlops tests"], repo, env)
    _run(["git", "config", "user.email", "tests@jupyter-mlops.invalid"], repo, env)
    _run(["git", "config", "commit.gpgsign", "false"], repo, env)
    (repo / "README.md").write_text("# test project\n")
    _run(["git", "add", "README.md"], repo, env)
    _run(["git", "commit", "--quiet", "-m", "first commit"], repo, env)
    _run([sys.executable, "-m", "dvc", "init", "--quiet"], repo, env)
    _run(["git", "add", "-A"], repo, env)
    _run(["git", "commit", "--quiet", "-m", "dvc init"], repo, env)
    return repo


# -- a real kernel --------------------------------------------------------------------------
CellSpec = str | tuple[str, Sequence[str]]


@pytest.fixture(scope="session")
def kernel_spec_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kernelspec that starts ipykernel with the test run's own Python (this venv)."""
    kernels = tmp_path_factory.mktemp("kernels")
    spec = kernels / "mlops-test-python"
    spec.mkdir()
    spec.joinpath("kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python (jupyter-mlops tests)",
                "language": "python",
            }
        )
    )
    return kernels


@pytest.fixture
def run_notebook(kernel_spec_dir: Path, tmp_path: Path) -> Callable[..., Any]:
    """``run_notebook(cells, cwd=..., env={...})`` builds a notebook from cell sources (or
    ``(source, tags)`` pairs), executes it in a real ipykernel and returns it executed.

    The kernel gets the test environment minus MLFLOW_TRACKING_URI / JUPYTER_MLOPS_*, plus
    ``env`` (a value of None removes a variable)."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync
    from nbclient import NotebookClient

    def run(
        cells: Sequence[CellSpec],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str | None] | None = None,
        timeout: float = 120,
        allow_errors: bool = False,
    ) -> nbformat.NotebookNode:
        nb = nbformat.v4.new_notebook()
        for cell in cells:
            source, tags = (cell, ()) if isinstance(cell, str) else cell
            new = nbformat.v4.new_code_cell(source)
            if tags:
                new.metadata["tags"] = list(tags)
            nb.cells.append(new)
        nb.metadata["kernelspec"] = {
            "name": "mlops-test-python",
            "display_name": "Python (jupyter-mlops tests)",
            "language": "python",
        }
        nbformat.validate(nb)
        km = AsyncKernelManager(
            kernel_name="mlops-test-python",
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_spec_dir)]),
        )
        client = NotebookClient(
            nb,
            km=km,
            timeout=timeout,
            startup_timeout=60,
            allow_errors=allow_errors,
            kernel_name="mlops-test-python",
        )
        kernel_env = subprocess_env({"IPYTHONDIR": str(tmp_path / "ipython"), **(env or {})})
        try:
            client.execute(cwd=str(cwd or tmp_path), env=kernel_env)
        finally:
            # nbclient leaves a kernel manager it was given running: stop the kernel here.
            if run_sync(km.is_alive)():
                run_sync(km.shutdown_kernel)(now=True)
        return nb

    return run


def cell_text(cell: Any) -> str:
    """All stream output and ``text/plain`` results of an executed cell, joined."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.get("data", {}).get("text/plain", ""))
        elif output.output_type == "error":
            parts.append("\n".join(output.traceback))
    return "".join(parts)


@pytest.fixture
def output_of() -> Callable[[Any], str]:
    """``output_of(cell)``: the text a cell printed (see :func:`cell_text`)."""
    return cell_text
