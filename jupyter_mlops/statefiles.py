"""Records of long work kept in the project's state folder (``.mlops/``), and who owns them.

Job executions and data tasks are each one small JSON file, written whole or not at all
(a temporary file beside it, then ``os.replace``), readable by its owner only. A record
names the process that works on it (:class:`Owner`: its pid, host and start time, so a pid
reused after a restart is not mistaken for it); a server that starts and finds a record
still "running" whose owner is gone marks it interrupted.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import state


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` to ``path`` as JSON, atomically, readable by the owner only."""
    path.parent.mkdir(mode=state.DIR_MODE, parents=True, exist_ok=True)
    state.write_file(path, json.dumps(data, sort_keys=True))


def read_json(path: Path) -> dict[str, Any] | None:
    """The record at ``path``, or None when it is missing or not a JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def records(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every readable record (``*.json``) of ``folder``; temporary files are skipped."""
    try:
        names = sorted(p for p in folder.iterdir() if p.suffix == ".json")
    except OSError:
        return []
    found = []
    for path in names:
        if path.name.startswith("."):
            continue
        data = read_json(path)
        if data is not None:
            found.append((path, data))
    return found


@dataclass(frozen=True)
class Owner:
    """A process, told apart from a later one that gets the same pid."""

    pid: int
    host: str
    #: When the process started (clock ticks since boot, from /proc), where known.
    started: int | None

    @classmethod
    def of(cls, pid: int) -> Owner:
        return cls(pid=pid, host=socket.gethostname(), started=_start_ticks(pid))

    @classmethod
    def current(cls) -> Owner:
        return cls.of(os.getpid())

    @classmethod
    def from_json(cls, data: Any) -> Owner | None:
        if not isinstance(data, dict) or not isinstance(data.get("pid"), int):
            return None
        started = data.get("started")
        return cls(
            pid=data["pid"],
            host=str(data.get("host") or ""),
            started=started if isinstance(started, int) else None,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def alive(self) -> bool:
        """Whether this very process still runs (a process of another host is taken to)."""
        if self.host != socket.gethostname():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        stat = _stat_fields(self.pid)
        if stat is None:
            return True  # no /proc: the pid answering is all we know
        if stat[0] == "Z":
            return False
        return self.started is None or _ticks(stat) == self.started


def _stat_fields(pid: int) -> list[str] | None:
    """``/proc/<pid>/stat`` from its third field (the state) on."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return text.rsplit(")", 1)[-1].split()


def _ticks(fields: list[str]) -> int | None:
    try:
        return int(fields[19])  # field 22 of stat(5): starttime
    except (IndexError, ValueError):
        return None


def _start_ticks(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return _ticks(fields) if fields else None
