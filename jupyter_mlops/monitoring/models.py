"""Request and response models of the monitoring routes: a job's or a deployment's runs
over time (outcome, duration, chosen metrics, drift share), read from the tracking store."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ..api.models import ApiModel

#: The metric a drift check logs into the run it ran in (the share of drifted columns).
DRIFT_METRIC = "drift_share"
#: Job names are DNS-1123 labels; deployment names are engine ids (Airflow's dag_id).
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,249}$"
#: At most this many metrics are charted at once.
MAX_METRICS = 20

Kind = Literal["job", "deployment"]


class HistoryPath(ApiModel):
    name: str = Field(pattern=NAME_PATTERN, description="The job's or the deployment's name.")


class HistoryQuery(ApiModel):
    """Query parameters of ``GET monitoring/jobs/{name}`` and ``monitoring/deployments/{name}``."""

    metrics: str = Field(
        default="",
        max_length=4096,
        description="Comma-separated metric names to chart; empty: every metric the runs have "
        f"(up to {MAX_METRICS}). '{DRIFT_METRIC}' is always included when the runs have it.",
    )
    limit: int = Field(default=200, ge=1, le=1000, description="The newest runs to read.")

    @field_validator("metrics")
    @classmethod
    def _names(cls, value: str) -> str:
        names = [name.strip() for name in value.split(",") if name.strip()]
        if len(names) > MAX_METRICS:
            raise ValueError(f"at most {MAX_METRICS} metrics at once, not {len(names)}")
        return ",".join(dict.fromkeys(names))

    @property
    def metric_names(self) -> list[str]:
        return [name for name in self.metrics.split(",") if name]


class MonitoredRun(ApiModel):
    """One run of the job (its own run, not its cells' runs)."""

    run_id: str
    experiment_id: str
    status: Literal["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"]
    success: bool | None = Field(description="FINISHED: true; FAILED or KILLED: false; else null.")
    start_time: int | None = Field(description="Milliseconds since the epoch.")
    end_time: int | None = Field(description="Milliseconds since the epoch; null while running.")
    duration: float | None = Field(description="Seconds; null while running.")
    metrics: dict[str, float] = Field(description="The chosen metrics' final values it has.")
    deployment: str | None = Field(description="The deployment that ran it, if one did.")
    engine_run_id: str | None = Field(description="The engine's run id (Airflow's DAG run).")
    error: str | None = Field(description="Why it failed, one line, when it did.")


class MonitoringHistory(ApiModel):
    """A job's or a deployment's runs over time, oldest first."""

    kind: Kind
    name: str
    runs: list[MonitoredRun] = Field(description="Oldest first: the newest `limit` runs.")
    metrics: list[str] = Field(description="The metrics charted (each run's `metrics` keys).")
    available_metrics: list[str] = Field(description="Every metric these runs have, by name.")
    truncated: bool = Field(description="Older runs exist beyond `limit`.")
    successes: int
    failures: int
