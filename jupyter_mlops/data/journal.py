"""The project's data journal and lock, in ``<state>/data/`` (``.mlops/data/``).

``journal.jsonl`` gets one JSON line per event: a snapshot that made a new version (path,
md5, size, file count, time, message, git commit when one was made), a push (to which
remote, whether it worked), a restore. Each line is written with a single ``write`` on a
file opened for appending, so concurrent writers never interleave and an interrupted
write leaves at most one unreadable last line, which readers skip. With git, history also
comes from the commits of the ``.dvc`` files (see ``service.py``); the journal is what
makes history work without git and what remembers pushes.

``lock`` serialises snapshots, restores and transfers of one project across threads and
processes (``flock``); its holder writes who it is so that a waiting user is told.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import state
from .errors import SnapshotBusy

JOURNAL = "journal.jsonl"
LOCK = "lock"


def data_dir(state_dir: Path) -> Path:
    return state.ensure(state_dir, "data")


def now_ms() -> int:
    return int(time.time() * 1000)


class Journal:
    def __init__(self, state_dir: Path) -> None:
        self.file = data_dir(state_dir) / JOURNAL

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        entry = {"event": event, "time": now_ms(), **fields}
        line = (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8")
        fd = state.open_fd(self.file, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        return entry

    def entries(self, path: str | None = None) -> list[dict[str, Any]]:
        try:
            raw = self.file.read_bytes()
        except FileNotFoundError:
            return []
        found = []
        for line in raw.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # an interrupted last write
            if isinstance(entry, dict) and (path is None or entry.get("path") == path):
                found.append(entry)
        return found


@contextlib.contextmanager
def project_lock(state_dir: Path, what: str, timeout: float) -> Iterator[None]:
    """Hold the project's data lock; wait up to ``timeout`` seconds for it, then fail
    with a message naming the holder."""
    path = data_dir(state_dir) / LOCK
    fd = state.open_fd(path, os.O_RDWR)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise SnapshotBusy(_busy_message(path)) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "what": what}
        os.pwrite(fd, json.dumps({**holder, "since": now_ms()}).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _busy_message(path: Path) -> str:
    try:
        holder = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        holder = {}
    who = ""
    if holder.get("pid"):
        since = holder.get("since")
        age = f", for {max(0, (now_ms() - since) // 1000)} s" if since else ""
        who = f" ({holder.get('what', 'work')} in process {holder['pid']}{age})"
    return (
        f"Another snapshot, restore or transfer is running in this project{who}; "
        "wait for it to finish and try again."
    )
