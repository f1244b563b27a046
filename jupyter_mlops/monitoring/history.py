"""A job's or a deployment's history read from the tracking store: each of its runs'
outcome, duration and final metrics, for the monitoring charts.

Every job run records itself (``export/job.py``): tagged ``jupyter_mlops.source=job``,
``jupyter_mlops.job=<name>`` and, when an engine ran it, ``jupyter_mlops.deployment``. One
search over the store's active experiments (newest first, cut at the limit) answers a
request; no Prometheus is needed. Services know nothing of tornado: this raises
:class:`~jupyter_mlops.errors.MlopsError` and returns models."""

from __future__ import annotations

from typing import Any

from ..experiments.service import PAGE_SIZE, TrackingService
from ..export.job import SOURCE_TAG
from ..mlflow_store import mlflow_errors
from ..tracking.jobrun import JOB_TAG
from .models import DRIFT_METRIC, MAX_METRICS, HistoryQuery, Kind, MonitoredRun, MonitoringHistory

DEPLOYMENT_TAG = "jupyter_mlops.deployment"
ENGINE_RUN_TAG = "jupyter_mlops.engine_run_id"
ERROR_TAG = "jupyter_mlops.error"
#: Our own bookkeeping metrics: charted only when asked by name.
OWN_METRIC_PREFIX = "jupyter_mlops."

_TAG_OF_KIND = {"job": JOB_TAG, "deployment": DEPLOYMENT_TAG}


class HistoryService:
    """Reads over the server's tracking service (its MLflow client)."""

    def __init__(self, tracking: TrackingService) -> None:
        self.tracking = tracking

    def history(self, kind: Kind, name: str, query: HistoryQuery) -> MonitoringHistory:
        """The newest ``query.limit`` runs of the job (or deployment) ``name``, oldest first.

        ``name`` is checked by the route's path model (letters, digits, ``_.-``), so it
        goes into MLflow's filter quoted with nothing to escape."""
        with mlflow_errors():
            client = self.tracking.client()
            from mlflow.entities import ViewType

            experiments = self._experiment_ids()
            found: list[Any] = []
            tag = _TAG_OF_KIND[kind]
            runs_of = f"tags.\"{SOURCE_TAG}\" = 'job' and tags.\"{tag}\" = '{name}'"
            if experiments:
                found = list(
                    client.search_runs(
                        experiments,
                        filter_string=runs_of,
                        run_view_type=ViewType.ACTIVE_ONLY,
                        max_results=query.limit + 1,
                        order_by=["attributes.start_time DESC"],
                    )
                )
        truncated = len(found) > query.limit
        runs = list(reversed(found[: query.limit]))
        available = sorted({key for run in runs for key in run.data.metrics})
        chosen = (
            query.metric_names
            or [m for m in available if not m.startswith(OWN_METRIC_PREFIX)][:MAX_METRICS]
        )
        if DRIFT_METRIC in available and DRIFT_METRIC not in chosen:
            chosen = [*chosen, DRIFT_METRIC]
        monitored = [_monitored(run, chosen) for run in runs]
        return MonitoringHistory(
            kind=kind,
            name=name,
            runs=monitored,
            metrics=chosen,
            available_metrics=available,
            truncated=truncated,
            successes=sum(1 for run in monitored if run.success is True),
            failures=sum(1 for run in monitored if run.success is False),
        )

    def _experiment_ids(self) -> list[str]:
        """Every active experiment (a job records into its notebook's experiment)."""
        from mlflow.entities import ViewType

        ids: list[str] = []
        token = None
        while True:
            page = self.tracking.client().search_experiments(
                view_type=ViewType.ACTIVE_ONLY, max_results=PAGE_SIZE, page_token=token
            )
            ids.extend(str(e.experiment_id) for e in page)
            token = page.token
            if not token:
                return ids


def _monitored(run: Any, chosen: list[str]) -> MonitoredRun:
    info, tags = run.info, run.data.tags
    start, end = info.start_time, info.end_time
    status = info.status
    success = True if status == "FINISHED" else False if status in ("FAILED", "KILLED") else None
    duration = (end - start) / 1000 if start and end and status != "RUNNING" else None
    metrics = run.data.metrics
    return MonitoredRun(
        run_id=str(info.run_id),
        experiment_id=str(info.experiment_id),
        status=status,
        success=success,
        start_time=start,
        end_time=end if status != "RUNNING" else None,
        duration=duration,
        metrics={name: float(metrics[name]) for name in chosen if name in metrics},
        deployment=tags.get(DEPLOYMENT_TAG) or None,
        engine_run_id=tags.get(ENGINE_RUN_TAG) or None,
        error=(tags.get(ERROR_TAG) or None) if success is False else None,
    )
