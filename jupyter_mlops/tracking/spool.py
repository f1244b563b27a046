"""The local journal of tracked runs: nothing is lost when the store is slow or down.

A tracked run is written here first, as plain files under ``<state>/spool/<key>/``:

- ``record.json``  what the run is (written by its owner: at start, then once at the end;
  by the server's reaper only after the owner process died),
- ``delivery.json`` how far delivery got (written only by the deliverer holding the lock),
- ``artifacts/``   files to upload (cell source, history, figures, diffs),
- ``lock``         an advisory ``flock`` so that one process at a time delivers a run.

Writing a record costs well under a millisecond; MLflow is never called here. Delivery
(``delivery.py``) moves records into the store and removes them when done.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import state
from ..redact import without_credentials

TERMINAL = ("FINISHED", "FAILED", "KILLED")
RECORD_VERSION = 1


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class RunRecord:
    """Everything a tracked run will send to MLflow."""

    key: str
    tracking_uri: str
    experiment: str
    run_name: str
    artifact_location: str | None = None
    status: str = "RUNNING"
    start_time: int = field(default_factory=now_ms)
    end_time: int | None = None
    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=lambda: owner_host())
    params: dict[str, str] = field(default_factory=dict)
    #: [key, value, timestamp_ms, step]
    metrics: list[list[Any]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    #: the MLflow run id when the owner created the run itself (fluent MLflow calls)
    run_id: str | None = None
    #: a local fallback store holding the run when the target was down at its start
    outbox_uri: str | None = None
    #: True once the owner has written everything (outcome and files): deliver it all
    complete: bool = False
    #: What the deliverer captures as the run's lineage, out of the owner's process (git
    #: state, packages, data versions): {"cwd", "data", "root", "state_dir", "executable"}
    lineage: dict[str, Any] | None = None
    version: int = RECORD_VERSION

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def deliverable(self) -> bool:
        return self.terminal and self.complete

    @classmethod
    def new(cls, **kwargs: Any) -> RunRecord:
        return cls(key=uuid.uuid4().hex, **kwargs)


@dataclass
class Delivery:
    """Progress of one run's delivery, so a retry resumes instead of repeating."""

    run_id: str | None = None
    experiment_id: str | None = None
    #: the name the run was created with (unique in its experiment, see ``naming``)
    run_name: str | None = None
    batches_sent: int = 0
    artifacts_sent: bool = False
    #: a job's cell: its final metrics are logged on the job's run (``jobrun``)
    parent_metrics_sent: bool = False
    outbox_copied: bool = False
    attempts: int = 0
    last_error: str | None = None
    next_attempt: float = 0.0


class Spool:
    """The journal folder of one project."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.root = Path(state_dir) / "spool"
        self.receipts = Path(state_dir) / "delivered"

    def folder(self, key: str) -> Path:
        return self.root / key

    def artifacts_dir(self, key: str) -> Path:
        return self.folder(key) / "artifacts"

    # -- records ------------------------------------------------------------------------
    def write(self, record: RunRecord) -> None:
        self.write_serialised(record.key, serialise(record))

    def write_serialised(self, key: str, text: str) -> None:
        folder = state.ensure(self.state_dir, self.root.name, key)
        state.write_file(folder / "record.json", text)

    def read(self, key: str) -> RunRecord | None:
        try:
            data = json.loads((self.folder(key) / "record.json").read_text())
        except (OSError, ValueError):
            return None
        known = RunRecord.__dataclass_fields__
        return RunRecord(**{k: v for k, v in data.items() if k in known})

    def add_artifact(self, key: str, path: str, content: bytes | str) -> None:
        """Keep a file for the run; ``path`` is where it goes in the run's artifacts."""
        folders = Path(path).parent.parts
        folder = state.ensure(self.state_dir, self.root.name, key, "artifacts", *folders)
        state.write_file(folder / Path(path).name, content)

    def keys_of(self, pid: int) -> list[str]:
        """Keys of the records a process owns (read from each record)."""
        return [r.key for r in self.pending() if r.pid == pid and r.host == owner_host()]

    def record_keys(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and (p / "record.json").exists()
        )

    def pending(self) -> list[RunRecord]:
        found = (self.read(key) for key in self.record_keys())
        return sorted((r for r in found if r is not None), key=lambda r: r.start_time)

    def remove(self, key: str, outcome: dict[str, Any] | None = None) -> None:
        """Forget a delivered run, leaving a small receipt for whoever waits on it."""
        if outcome is not None:
            state.ensure(self.state_dir, self.receipts.name)
            state.write_file(self.receipts / f"{key}.json", json.dumps(outcome))
        shutil.rmtree(self.folder(key), ignore_errors=True)

    def receipt(self, key: str) -> dict[str, Any] | None:
        try:
            return dict(json.loads((self.receipts / f"{key}.json").read_text()))
        except (OSError, ValueError):
            return None

    def prune_receipts(self, max_age: float = 24 * 3600) -> None:
        if not self.receipts.is_dir():
            return
        limit = time.time() - max_age
        for path in self.receipts.iterdir():
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < limit:
                    path.unlink()

    # -- lineage, captured once by the deliverer --------------------------------------------
    def read_lineage(self, key: str) -> dict[str, Any] | None:
        try:
            data = json.loads((self.folder(key) / "lineage.json").read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write_lineage(self, key: str, lineage: dict[str, Any]) -> None:
        state.write_file(self.folder(key) / "lineage.json", json.dumps(lineage))

    # -- delivery progress --------------------------------------------------------------
    def read_delivery(self, key: str) -> Delivery:
        try:
            data = json.loads((self.folder(key) / "delivery.json").read_text())
        except (OSError, ValueError):
            return Delivery()
        known = Delivery.__dataclass_fields__
        return Delivery(**{k: v for k, v in data.items() if k in known})

    def write_delivery(self, key: str, delivery: Delivery) -> None:
        state.write_file(self.folder(key) / "delivery.json", json.dumps(vars(delivery)))

    @contextlib.contextmanager
    def locked(self, key: str) -> Iterator[bool]:
        """Hold the run's delivery lock if no other process holds it; yields whether held."""
        path = self.folder(key) / "lock"
        try:
            fd = state.open_fd(path, os.O_RDWR)
        except OSError:
            yield False
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                yield False
                return
            yield True
        finally:
            os.close(fd)


def serialise(record: RunRecord) -> str:
    """The record as JSON: a snapshot, taken on the thread that owns the record. Its
    stores are named without credentials (``redact.without_credentials``): the journal
    is on disk, and whoever delivers it takes the credentials from its own environment."""
    data = dict(vars(record))
    for name in ("tracking_uri", "artifact_location", "outbox_uri"):
        if data[name]:
            data[name] = without_credentials(data[name])
    return json.dumps(data, default=str)


#: Names the host (or container) a record's process runs on, when the hostname does not
#: (a container sharing the host's network and name, but not its processes).
ENV_HOST = "JUPYTER_MLOPS_HOST"


def owner_host() -> str:
    return os.environ.get(ENV_HOST) or socket.gethostname()


def process_alive(pid: int, host: str) -> bool:
    """Whether the process that owns a record still runs (only knowable on its own host)."""
    if host != owner_host():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"
