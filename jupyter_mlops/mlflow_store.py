"""Opening MLflow tracking stores: one way, for the server, the kernel and the CLI.

(What the server reads from a store is :mod:`jupyter_mlops.experiments.service`; recording
runs from notebook cells is :mod:`jupyter_mlops.tracking`.)

- MLflow's import takes seconds and its lazy modules break when two threads import them at
  once, so every import and client creation goes through one lock.
- The embedded SQLite store is created by us, with its artifact root inside the project and
  in WAL mode with a busy timeout, so several kernels can write to it at once without
  "database is locked" errors.
- A tracking server is probed with a short ``GET /health`` first: MLflow's own client
  retries a dead server for minutes.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from . import state
from .errors import InvalidInput, NotFound, ServiceUnavailable, reason
from .redact import base_url, mask
from .settings import STATE_DIR_NAME, Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

_lock = threading.RLock()
_clients: dict[str, MlflowClient] = {}
#: Seconds SQLite waits for another writer before it reports the database locked.
SQLITE_BUSY_TIMEOUT = 60


def import_mlflow() -> None:
    """Import MLflow (slow) under the shared lock; call from a background thread."""
    with _lock:
        import mlflow  # noqa: F401


def is_server_uri(uri: str) -> bool:
    return uri.split(":", 1)[0].lower() in ("http", "https")


def sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:"):
        return None
    path = unquote(urlsplit(uri).path)
    return Path(path) if path and path != "/:memory:" else None


#: A server that answered its health check is not asked again for this many seconds.
HEALTH_TTL = 2.0
_healthy: dict[str, float] = {}


def check_server(uri: str, timeout: float) -> None:
    """Raise ServiceUnavailable unless the tracking server at ``uri`` answers its health check."""
    if time.monotonic() - _healthy.get(uri, -HEALTH_TTL) < HEALTH_TTL:
        return
    url = base_url(uri) + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 - http(s) only
            if answer.status == 200:
                _healthy[uri] = time.monotonic()
                return
            reason = f"HTTP {answer.status}"
    except (urllib.error.URLError, OSError) as exc:
        reason = str(getattr(exc, "reason", exc))
    raise ServiceUnavailable(
        f"The MLflow tracking server at {mask(uri)} does not answer ({reason}). "
        "Start it or check MLFLOW_TRACKING_URI, then retry."
    )


def mlflow_uri(uri: str) -> str:
    """``uri`` as MLflow's client can use it: a tracking server's URI without its query and
    fragment (MLflow appends its API paths to the URI, so ``http://host?token=x`` would
    send every request to ``/?token=x/api/...``). Its ``user:password@`` stays: MLflow's
    client sends it as basic auth."""
    if not is_server_uri(uri):
        return uri
    return uri.partition("#")[0].partition("?")[0]


def client(
    tracking_uri: str, artifact_root: str | None = None, *, timeout: float = 3.0
) -> MlflowClient:
    """A cached MLflow client for ``tracking_uri``; creates an embedded SQLite store on first
    use. For a tracking server, checks first that it answers."""
    if is_server_uri(tracking_uri):
        check_server(tracking_uri, timeout)
    with _lock:
        cached = _clients.get(tracking_uri)
        if cached is not None:
            return cached
        from mlflow import MlflowClient

        db = sqlite_path(tracking_uri)
        if db is None:
            made = MlflowClient(tracking_uri=mlflow_uri(tracking_uri))
        else:
            with _file_lock(db.with_name(db.name + ".lock")):
                _prepare_sqlite(tracking_uri, db, artifact_root)
                made = MlflowClient(tracking_uri=tracking_uri)
                made.search_experiments(max_results=1)  # opens the store while we hold the lock
        _clients[tracking_uri] = made
        return made


class Store:
    """The store that resolved settings name: ``client()`` opens it (creating the embedded
    store if needed) the first time. What the kernel's data API reads runs through; the
    server's :class:`~jupyter_mlops.experiments.service.TrackingService` extends it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def client(self) -> MlflowClient:
        """The MLflow client, created on first use (creating the embedded store if needed)."""
        if self.settings.embedded_store:
            state.ensure(self.settings.state_dir)
        return client(
            self.settings.tracking_uri,
            self.settings.artifact_location if self.settings.embedded_store else None,
            timeout=self.settings.probe_timeout,
        )


@contextlib.contextmanager
def mlflow_errors() -> Iterator[None]:
    """Turn the store's failures into ours, so routes answer 4xx/503 and never 500."""
    import_mlflow()
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except MlflowException as exc:
        code = getattr(exc, "error_code", "")
        if code == "RESOURCE_DOES_NOT_EXIST":
            raise NotFound(exc.message) from exc
        if code in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST"):
            raise InvalidInput(exc.message) from exc
        raise ServiceUnavailable(f"The tracking store failed: {reason(exc)}") from exc
    except (OSError, SQLAlchemyError) as exc:
        raise ServiceUnavailable(f"The tracking store failed: {reason(exc)}") from exc


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes: MLflow's schema migrations must never run in
    two processes at once (a half-migrated SQLite store is broken for good)."""
    if _in_state_dir(path):
        state.ensure(path.parent)
        handle = os.fdopen(state.open_fd(path, os.O_RDWR), "r+")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")  # noqa: SIM115 - closed by the with below
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _in_state_dir(path: Path) -> bool:
    """Whether ``path`` is in a project's state folder (then created owner-only)."""
    return path.parent.name == STATE_DIR_NAME or state.owns(path.parent)


def _prepare_sqlite(uri: str, db: Path, artifact_root: str | None) -> None:
    # MLflow and alembic announce migrations at INFO level: not for a notebook's output.
    for name in ("mlflow.store.db.utils", "alembic", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)
    fresh = not db.exists() or db.stat().st_size == 0
    if _in_state_dir(db):
        state.ensure(db.parent)
        state.create_file(db)
    else:
        db.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(db, timeout=SQLITE_BUSY_TIMEOUT) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
    if fresh:
        # Creating the store runs MLflow's migrations and makes the "Default" experiment
        # with our artifact root instead of ./mlruns of the current folder.
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        SqlAlchemyStore(uri, artifact_root or (db.parent / "artifacts").as_uri())
