"""The project's data journal and lock, in ``<state>/data/`` (``.mlops/data/``).

``journal.jsonl`` gets one JSON line per event (:class:`JournalEntry`): a snapshot that
made a new version (path, md5, size, file count, time, message, the version before), the
git commit that recorded it, a push (to which remote, whether it worked), a restore.
Each line is written with a single ``write`` on a file opened for appending, so
concurrent writers never interleave and an interrupted write leaves at most one
unreadable last line, which readers skip; a line of an earlier or later version reads
with the fields it has. With git, history also comes from the commits of the ``.dvc``
files (see ``versions.py``); the journal is what makes history work without git and what
remembers pushes.

``lock`` serialises snapshots, restores and transfers of one project across threads and
processes (``flock``); its holder writes who it is so that a waiting user is told.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
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


#: The fields each event writes beside ``event`` and ``time`` (None included, as JSON null).
_FIELDS: dict[str, tuple[str, ...]] = {
    "snapshot": ("path", "md5", "size", "nfiles", "message", "previous"),
    "commit": ("path", "md5", "commit"),
    "push": ("path", "md5", "remote", "ok"),
    "restore": ("path", "md5", "previous", "run_id"),
}


@dataclass(frozen=True)
class JournalEntry:
    """One line of the journal. Which fields an event has: a ``snapshot`` made version
    ``md5`` of ``path`` (``size``, ``nfiles``, ``message``, the ``previous`` version); a
    ``commit`` recorded it in git (``commit``); a ``push`` sent it to ``remote`` (``ok``, and
    the ``error`` when it failed); a ``restore`` brought it back (``previous``, the
    ``run_id`` it was restored for). ``time`` is in milliseconds since the epoch."""

    event: str
    path: str | None = None
    md5: str | None = None
    time: int | None = None
    size: int | None = None
    nfiles: int | None = None
    message: str | None = None
    previous: str | None = None
    commit: str | None = None
    remote: str | None = None
    ok: bool | None = None
    error: str | None = None
    run_id: str | None = None

    # -- the events ---------------------------------------------------------------------------
    @classmethod
    def snapshot(
        cls,
        path: str,
        md5: str,
        size: int | None = None,
        nfiles: int | None = None,
        message: str | None = None,
        previous: str | None = None,
    ) -> JournalEntry:
        return cls("snapshot", path, md5, size=size, nfiles=nfiles, message=message,
                   previous=previous)  # fmt: skip

    @classmethod
    def committed(cls, path: str, md5: str, commit: str) -> JournalEntry:
        return cls("commit", path, md5, commit=commit)

    @classmethod
    def push(
        cls, path: str, md5: str, remote: str | None, ok: bool, error: str | None = None
    ) -> JournalEntry:
        return cls("push", path, md5, remote=remote, ok=ok, error=error)

    @classmethod
    def restore(cls, path: str, md5: str, previous: str | None, run_id: str | None) -> JournalEntry:
        return cls("restore", path, md5, previous=previous, run_id=run_id)

    # -- the line -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        names = _FIELDS.get(self.event)
        found = {"event": self.event, "time": self.time}
        if names is None:  # an event this version does not know: what it has
            names = tuple(f.name for f in dataclasses.fields(self) if f.name not in found)
            found.update({n: getattr(self, n) for n in names if getattr(self, n) is not None})
            return found
        found.update({n: getattr(self, n) for n in names})
        if self.error is not None:
            found["error"] = self.error
        return found

    @classmethod
    def from_dict(cls, raw: Any) -> JournalEntry | None:
        """The entry a line holds; None when it is not an object. A field of another type
        (a line edited by hand, a later version's) reads as absent."""
        if not isinstance(raw, Mapping):
            return None

        def text(key: str) -> str | None:
            value = raw.get(key)
            return value if isinstance(value, str) else None

        def number(key: str) -> int | None:
            value = raw.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        ok = raw.get("ok")
        return cls(
            event=text("event") or "",
            path=text("path"),
            md5=text("md5"),
            time=number("time"),
            size=number("size"),
            nfiles=number("nfiles"),
            message=text("message"),
            previous=text("previous"),
            commit=text("commit"),
            remote=text("remote"),
            ok=ok if isinstance(ok, bool) else None,
            error=text("error"),
            run_id=text("run_id"),
        )


class Journal:
    def __init__(self, state_dir: Path) -> None:
        self.file = data_dir(state_dir) / JOURNAL

    def append(self, entry: JournalEntry) -> JournalEntry:
        """Write ``entry`` as one line, timed now; the entry as written."""
        entry = dataclasses.replace(entry, time=now_ms())
        line = (json.dumps(entry.to_dict(), sort_keys=True) + "\n").encode("utf-8")
        fd = state.open_fd(self.file, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        return entry

    def entries(self, path: str | None = None) -> list[JournalEntry]:
        """The entries in the order written (of ``path`` only, when given); lines that
        cannot be read (an interrupted last write) are skipped."""
        try:
            raw = self.file.read_bytes()
        except FileNotFoundError:
            return []
        found = []
        for line in raw.splitlines():
            try:
                entry = JournalEntry.from_dict(json.loads(line))
            except ValueError:
                continue  # an interrupted last write
            if entry is not None and (path is None or entry.path == path):
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
