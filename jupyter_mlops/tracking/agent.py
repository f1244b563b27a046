"""The delivery agent: a small process that moves a kernel's journaled runs into the store.

Each process that tracks runs starts one agent (``python -m jupyter_mlops.tracking.agent``)
on its first run. Delivering in another process keeps MLflow's import (seconds, hundreds of
MB) and every store call off the kernel entirely, so they cannot slow the user's cells
through the GIL. The agent watches the journal, delivers each run as it is written,
retries with growing delays while the store is down, marks the owner's unfinished runs
KILLED when the owner dies, and exits once the owner is gone and its runs are delivered
(or after ``--linger`` seconds of a store that stays down: then ``jupyter mlops sync`` or
the server extension finish the job).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import time
from pathlib import Path

from ..redact import scrub_text
from .delivery import deliver, finish_orphan
from .spool import Spool, owner_host, process_alive

log = logging.getLogger("jupyter_mlops.agent")


#: What identifies one version of a record file: inode, modification time, size. Every
#: write replaces the file (a new inode); the mtime alone can repeat for two writes within
#: the file system's clock tick, and the second write would then go unnoticed.
Signature = tuple[int, int, int]


def _signature(path: Path) -> Signature | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def serve(state_dir: Path, owner: int, *, poll: float = 0.2, linger: float = 3600.0) -> None:
    spool = Spool(state_dir)
    host = owner_host()
    handled: dict[str, Signature] = {}  # key -> the record.json already handled
    retry_at: dict[str, float] = {}
    started: dict[str, int] = {}  # key -> the run's start time (it never changes)

    def in_start_order(keys: list[str]) -> list[str]:
        """Runs in the order they started: a rerun is created after the first run, so
        its name follows it ("sgd baseline #2", never the other way round)."""
        for key in keys:
            if key not in started:
                record = spool.read(key)
                if record is not None:
                    started[key] = record.start_time
        return sorted(keys, key=lambda k: started.get(k, 0))

    owner_gone_at: float | None = None
    spool.prune_receipts()
    while True:
        owner_alive = process_alive(owner, host)
        if not owner_alive and owner_gone_at is None:
            owner_gone_at = time.time()
            # Look at every run again, unchanged or not: the owner's unfinished runs are
            # now orphans to mark KILLED (nobody will write their records any more).
            handled.clear()
        mine = 0
        for key in in_start_order(spool.record_keys()):
            seen = _signature(spool.folder(key) / "record.json")
            if seen is None:
                continue
            if key in retry_at:
                if time.time() < retry_at[key]:
                    mine += 1
                    continue
            elif handled.get(key) == seen:
                mine += 1
                continue
            record = spool.read(key)
            if record is None:
                continue
            is_mine = record.pid == owner and record.host == host
            if not is_mine and process_alive(record.pid, record.host):
                continue  # another live process owns it
            mine += 1
            if not record.deliverable and not (is_mine and owner_alive):
                finish_orphan(spool, record)
            outcome = deliver(spool, key)
            log.info("run %s: %s %s", key, outcome.state, outcome.error or "")
            if outcome.state == "retry":
                retry_at[key] = spool.read_delivery(key).next_attempt
            else:
                # The file seen before reading: a write since then is handled next round.
                retry_at.pop(key, None)
                handled[key] = seen
        if owner_gone_at is not None and (mine == 0 or time.time() - owner_gone_at > linger):
            return
        time.sleep(poll)


def _scrubbed(record: logging.LogRecord) -> bool:
    record.msg, record.args = scrub_text(record.getMessage()), None
    return True


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m jupyter_mlops.tracking.agent")
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--owner", required=True, type=int, help="PID of the tracking process.")
    parser.add_argument("--poll", type=float, default=0.2)
    parser.add_argument("--linger", type=float, default=3600.0)
    args = parser.parse_args()
    # Delivery is background work: the user's kernel comes first on a busy machine.
    with contextlib.suppress(OSError):
        os.nice(10)
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s agent[{os.getpid()}] %(message)s")
    # The log is a file in the state folder: no library's message may put a URI's
    # credentials there (warnings go through logging too).
    logging.captureWarnings(True)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_scrubbed)
    serve(args.state_dir, args.owner, poll=args.poll, linger=args.linger)


if __name__ == "__main__":
    main()
