"""What the audit trail costs: an append, and verifying a long trail.

Figures (issue #17): appending an audit entry adds at most 2 ms (median) to the action it
records; ``audit verify`` of 100,000 entries takes at most 2 s. Measured in one run:

- ``audit.record`` of an export-sized entry (notebook sha256, commit, parameters, DVC
  versions, manifest hashes), median of ``APPENDS``, on an empty trail and on one of
  ``ENTRIES`` entries: the second must not cost more (the last entry is read from the end);
- the action it records: a snapshot of unchanged data (``DataService.snapshot``, the
  cheapest recorded action), with and without its audit entry (``audit.record`` replaced by
  a no-op), alternated, medians of ``SNAPSHOTS``: the difference is what the audit adds;
- ``service.verify`` of the ``ENTRIES``-entry trail, best and median of ``VERIFIES``, and
  its CPU time (what a loaded machine does not inflate).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

ENTRIES = int(os.environ.get("BENCH_AUDIT_ENTRIES", "100000"))
APPENDS = int(os.environ.get("BENCH_AUDIT_APPENDS", "2000"))
SNAPSHOTS = int(os.environ.get("BENCH_AUDIT_SNAPSHOTS", "150"))
VERIFIES = int(os.environ.get("BENCH_AUDIT_VERIFIES", "3"))

FACTS: dict[str, Any] = {
    "job": "notebooks/pipelines/train",
    "notebook": "notebooks/train.ipynb",
    "notebook_sha256": "9f" * 32,
    "git_commit": "3c" * 20,
    "git_dirty": False,
    "parameters": {"alpha": 0.5, "epochs": 10, "label": "churn"},
    "data": {"data/train.csv": "d41d8cd98f00b204e9800998ecf8427e"},
    "targets": ["docker", "kubernetes"],
    "manifests": {name: "ab" * 32 for name in ("Dockerfile", "job.json", "job.yaml")},
}


def _appends(root: Path, count: int) -> list[float]:
    from jupyter_mlops import audit

    times = []
    for i in range(count):
        start = time.perf_counter()
        audit.record(audit.EXPORT, f"train{i % 10}", root=root, **FACTS)
        times.append(time.perf_counter() - start)
    return times


def _fill(root: Path, count: int) -> None:
    """A trail of ``count`` entries, written the way record() writes them."""
    from jupyter_mlops import audit
    from jupyter_mlops.audit.trail import GENESIS, canonical, entry_hash, now

    audit.record(audit.EXPORT, "first", root=root, **FACTS)  # creates the state folder
    path = audit.trail_path(root)
    path.unlink()
    prev, lines = GENESIS, []
    for seq in range(1, count + 1):
        body = {
            "seq": seq,
            "time": now(),
            "kind": audit.KINDS[seq % len(audit.KINDS)],
            "subject": f"train{seq % 10}",
            "who": "bench",
            "what": FACTS,
            "prev": prev,
        }
        prev = entry_hash(body)
        lines.append(canonical({**body, "hash": prev}) + b"\n")
    path.write_bytes(b"".join(lines))


def _snapshot_times(root: Path) -> tuple[float, float]:
    """Medians (ms) of an unchanged snapshot with and without its audit entry."""
    from jupyter_mlops import audit, settings
    from jupyter_mlops.data.service import DataService

    data = root / "data.csv"
    data.write_text("a,b\n" + "1,2\n" * 1000)
    service = DataService(settings.resolve(root))
    service.snapshot(["data.csv"])  # the first one hashes and caches
    real = audit.record
    with_audit, without = [], []
    try:
        for i in range(SNAPSHOTS * 2):
            recording = i % 2 == 0
            audit.record = real if recording else (lambda *a, **k: None)  # type: ignore[assignment]
            start = time.perf_counter()
            service.snapshot(["data.csv"])
            (with_audit if recording else without).append(time.perf_counter() - start)
    finally:
        audit.record = real  # type: ignore[assignment]
    return statistics.median(with_audit) * 1000, statistics.median(without) * 1000


def run() -> dict[str, float]:
    from jupyter_mlops.audit import service, trail_path

    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        empty, full, snap = Path(tmp, "empty"), Path(tmp, "full"), Path(tmp, "snap")
        for folder in (empty, full, snap):
            folder.mkdir()
        small = _appends(empty, APPENDS)
        _fill(full, ENTRIES)
        size = trail_path(full).stat().st_size
        large = _appends(full, APPENDS)
        verifies, cpu = [], []
        for _ in range(VERIFIES):
            start, start_cpu = time.perf_counter(), time.process_time()
            result = service.verify(trail_path(full))
            verifies.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
            assert result.intact, result.first_bad
            assert result.entries == ENTRIES + APPENDS
        snapshot_with, snapshot_without = _snapshot_times(snap)
    return {
        "append median, empty trail (ms)": statistics.median(small) * 1000,
        f"append median, trail of {ENTRIES:,} entries (ms)": statistics.median(large) * 1000,
        "append p95, large trail (ms)": sorted(large)[int(len(large) * 0.95)] * 1000,
        "unchanged snapshot without audit, median (ms)": snapshot_without,
        "unchanged snapshot with audit, median (ms)": snapshot_with,
        "audit added to the snapshot (ms)": snapshot_with - snapshot_without,
        f"verify {ENTRIES + APPENDS:,} entries, best (s)": min(verifies),
        f"verify {ENTRIES + APPENDS:,} entries, median (s)": statistics.median(verifies),
        f"verify {ENTRIES + APPENDS:,} entries, CPU time, best (s)": min(cpu),
        "trail size (MB)": size / 1e6,
    }


if __name__ == "__main__":
    for label, value in run().items():
        print(f"  {label:<55} {value:10.3f}")
