"""Where a drift result goes besides the caller: the tracked run running now, and the job.

Inside a ``%%track`` cell (or a ``track()`` block) the check logs into that run: metrics
``drift_share``, ``drift_columns_drifted`` and ``drift.<column>`` (each column's score),
parameters ``drift.reference`` and ``drift.threshold``, a tag ``jupyter_mlops.drift`` with
the verdict, and artifacts ``drift/report.html`` (Evidently's report) and
``drift/columns.json`` (:meth:`DriftResult.to_dict`). In a job, the entrypoint names a
file in :data:`ENV_DRIFT_FILE`; each check appends its result there as one JSON line, for
the drift gate (:mod:`jupyter_mlops.export.driftgate`).
"""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .check import DriftResult

#: Set by the job entrypoint: where the kernel's drift checks leave their results.
ENV_DRIFT_FILE = "JUPYTER_MLOPS_DRIFT_FILE"
_UNSAFE = re.compile(r"[^\w.\- /]")


def record(result: DriftResult) -> None:
    _into_run(result)
    _into_job(result)


def metric_name(column: str) -> str:
    """``drift.<column>`` as a metric name MLflow accepts."""
    return "drift." + _UNSAFE.sub("_", column)[:200]


def _into_run(result: DriftResult) -> None:
    from ..tracking.session import default_session

    active = default_session().active
    if active is None:
        return
    metrics: dict[str, float] = {
        "drift_share": result.share,
        "drift_columns_drifted": len(result.drifted_columns),
    }
    metrics.update({metric_name(name): column.score for name, column in result.columns.items()})
    active.log(None, **metrics)
    active.log_params(**{"drift.reference": result.reference[:500],
                         "drift.threshold": result.threshold})  # fmt: skip
    active.set_tags(**{"jupyter_mlops.drift": "drifted" if result.drifted else "ok"})
    session = active.session
    files: dict[str, Any] = {
        "drift/columns.json": result.to_json(),
        "drift/report.html": result.report_html,
    }
    for path, content in files.items():  # on the journal thread, after the run's start
        session.executor.submit(session.spool.add_artifact, active.key, path, content)


def _into_job(result: DriftResult) -> None:
    path = os.environ.get(ENV_DRIFT_FILE)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(result.to_dict()) + "\n")
