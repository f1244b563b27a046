"""What a drift check costs, against Evidently's own ``Report.run`` on the same frames.

Figures (issue: monitoring in production): a check of N rows x 20 columns (15 numeric, 5
categorical) against a reference of the same size costs at most 1.2 times Evidently's
``Report([DataDriftPreset()]).run`` on the same frames (its ``Dataset``s made from them
included); a second check against the same reference version costs at most 0.6 times the
first. In the same run: the baseline once (a 1,000,000-row Evidently run takes minutes on
two cores), ``drift(frame, frame)`` once, then ``BENCH_DRIFT_PAIRS`` times (default 3,
medians reported) ``drift("data/ref.csv@<md5>", batch)`` on a real git + DVC project with
every cache of ours emptied (DVC's csv read, the parquet copy written, Evidently's profile
of the reference made), then the same reference with a second batch (nothing read or
profiled again).

``BENCH_DRIFT_ROWS`` (default 1,000,000) sets N.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROWS = int(os.environ.get("BENCH_DRIFT_ROWS", "1000000"))
PAIRS = int(os.environ.get("BENCH_DRIFT_PAIRS", "3"))
NUMERIC, CATEGORICAL = 15, 5


def _frame(seed: int, shift: float = 0.0) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {
        f"n{i}": rng.normal(shift if i % 3 == 0 else 0.0, 1.0, ROWS) for i in range(NUMERIC)
    }
    for i in range(CATEGORICAL):
        data[f"c{i}"] = rng.choice(["north", "south", "east", "west"], ROWS)
    return pd.DataFrame(data)


def _evidently(reference: Any, current: Any) -> float:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    start = time.perf_counter()
    definition = DataDefinition(
        numerical_columns=[f"n{i}" for i in range(NUMERIC)],
        categorical_columns=[f"c{i}" for i in range(CATEGORICAL)],
    )
    ref = Dataset.from_pandas(reference, data_definition=definition)
    cur = Dataset.from_pandas(current, data_definition=definition)
    Report([DataDriftPreset()], include_tests=True).run(cur, ref)
    return time.perf_counter() - start


def _timed(fn: Any, *args: Any) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def _project(folder: Path, reference: Any) -> str:
    """A git + DVC project with the reference snapshotted; its md5."""
    from jupyter_mlops import settings as settings_mod
    from jupyter_mlops.data.service import DataService

    def run(*argv: str) -> None:
        subprocess.run(argv, cwd=folder, check=True, capture_output=True)

    run("git", "-c", "init.defaultBranch=main", "init", "-q")
    run("git", "config", "user.email", "bench@jupyter-mlops.invalid")
    run("git", "config", "user.name", "bench")
    run(sys.executable, "-m", "dvc", "init", "-q")
    (folder / "data").mkdir()
    reference.to_csv(folder / "data" / "ref.csv", index=False)
    service = DataService(settings_mod.resolve(folder))
    return service.snapshot(["data/ref.csv"], message="reference").paths[0].md5


def run() -> dict[str, float]:
    os.environ.setdefault("DO_NOT_TRACK", "1")
    from jupyter_mlops.drift import check, drift

    reference, current, second = _frame(1), _frame(2, shift=0.05), _frame(3, shift=0.1)
    _evidently(reference.head(1000), current.head(1000))  # imports and first-use costs
    baseline = _evidently(reference, current)
    ours = _timed(drift, reference, current)
    with tempfile.TemporaryDirectory(prefix="bench-drift-") as tmp:
        folder = Path(tmp)
        md5 = _project(folder, reference)
        before = Path.cwd()
        os.environ["JUPYTER_MLOPS_ROOT"] = str(folder)
        os.chdir(folder)
        given = f"data/ref.csv@{md5}"
        firsts, agains = [], []
        try:
            for _ in range(PAIRS):
                check.forget()
                shutil.rmtree(folder / ".mlops" / "cache" / "drift", ignore_errors=True)
                firsts.append(_timed(drift, given, current))
                agains.append(_timed(drift, given, second))
        finally:
            os.chdir(before)
            os.environ.pop("JUPYTER_MLOPS_ROOT", None)
    first, again = statistics.median(firsts), statistics.median(agains)
    return {
        f"rows (each side; {NUMERIC + CATEGORICAL} columns)": float(ROWS),
        "Evidently Report.run on the frames (s)": baseline,
        "drift(frame, frame) (s)": ours,
        "ratio to Evidently (target <= 1.2)": ours / baseline,
        f"first check against a DVC version, caches empty (s, median of {PAIRS})": first,
        f"second check against that version (s, median of {PAIRS})": again,
        "ratio second / first (target <= 0.6)": again / first,
    }
