"""What a job does once its notebook has run: the outcome, handed to the finishers.

The entrypoint (:mod:`jupyter_mlops.export.job`) builds one :class:`JobOutcome` however the
run ended (done, failed in a cell, invalid parameters, no data, interrupted) and gives it to
each finisher of :data:`FINISHERS` in order. A finisher may change the exit code (a gate,
for instance) and the ones after it see the change. A finisher that raises never fails the
job: its error becomes one warning line in the job's log, and the next finisher runs.

Finishers are plain functions ``finish(outcome) -> None`` named here, so that the job image's
runtime (:mod:`jupyter_mlops.export.runtime`, which follows imports) carries them.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: The state of a finished job, by its exit code (see the entrypoint's docstring).
STATES = {
    0: "succeeded",
    2: "invalid",
    3: "failed",
    4: "no-data",
    5: "drifted",
    130: "killed",
    143: "killed",
}


@dataclass
class JobOutcome:
    """How one job run ended, for notifications, metrics pushes and gates."""

    job: str
    folder: str
    exit_code: int
    message: str = ""
    #: Parameter values as given to papermill (typed), empty when they were refused.
    parameters: Mapping[str, Any] = field(default_factory=dict)
    #: ``[N] `first line``` of the cell that failed, when a cell failed.
    failed_cell: str | None = None
    #: The error the failing cell raised (``ValueError: ...``).
    error: str | None = None
    output: str | None = None
    started: float = field(default_factory=time.time)
    ended: float = field(default_factory=time.time)
    #: The job's MLflow run (its id once delivered; its journal key before).
    run_id: str | None = None
    run_key: str | None = None
    run_url: str | None = None
    #: The final value of each metric the notebook recorded (``export.metrics.record``).
    metrics: dict[str, float] = field(default_factory=dict)
    #: The share of drifted columns when the run checked its data for drift (0 to 1).
    drift_share: float | None = None
    #: Warnings finishers add (a Pushgateway down...): printed and kept with the outcome.
    warnings: list[str] = field(default_factory=list)

    @property
    def state(self) -> str:
        return STATES.get(self.exit_code, "failed")

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0

    @property
    def duration(self) -> float:
        return max(0.0, self.ended - self.started)

    @property
    def image_digest(self) -> str:
        return os.environ.get("JUPYTER_MLOPS_IMAGE_DIGEST", "")

    @property
    def deployment(self) -> str:
        """The deployment that started this run (set by the engine's manifest), or ''."""
        return os.environ.get("JUPYTER_MLOPS_DEPLOYMENT", "")

    @property
    def engine_run_id(self) -> str:
        """The engine's own id of this run (an Airflow DAG run id...), or ''."""
        return os.environ.get("JUPYTER_MLOPS_ENGINE_RUN_ID", "")


Finisher = Callable[[JobOutcome], None]


def finishers() -> list[tuple[str, Finisher]]:
    """The finishers, in the order they run. Imported here, lazily, one by one."""
    found: list[tuple[str, Finisher]] = []
    from .driftgate import gate_drift

    found.append(("drift gate", gate_drift))  # first: it may set the exit code and drift share
    from ..monitoring.push import push_outcome

    found.append(("pushgateway", push_outcome))
    from .notify import notify_outcome

    found.append(("notification", notify_outcome))  # last: it reports the final exit code
    from ..audit.jobs import finish as audit_outcome

    found.append(("audit", audit_outcome))  # records the final exit code too
    return found


def finish(outcome: JobOutcome, prog: str = "jupyter-mlops job") -> int:
    """Run every finisher on ``outcome``; the exit code the job ends with."""
    for name, finisher in finishers():
        try:
            finisher(outcome)
        except Exception as exc:  # a finisher never fails the job
            detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            outcome.warnings.append(f"{name}: {detail}")
            print(f"{prog}: warning: {name} failed: {detail}", file=sys.stderr)
    return outcome.exit_code
