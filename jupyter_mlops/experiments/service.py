"""Reading the MLflow tracking store: is it there, which experiments does it hold.

MLflow is imported lazily (2 to 4 s) and every call blocks, so the server runs these
methods in its worker threads. A tracking server that does not answer is found out with a
short ``/health`` probe before MLflow's client (which retries for a long time) is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .. import mlflow_store
from ..errors import MlopsError, reason
from ..redact import base_url, mask
from ..settings import Settings, uri_kind
from .models import ExperimentsQuery, ExperimentsResponse, ExperimentSummary, TrackingStatus

if TYPE_CHECKING:
    pass

#: Page size used when walking MLflow's paginated search results.
PAGE_SIZE = 1000


class TrackingService(mlflow_store.Store):
    """One per server: the configured store (its lazily created MLflow ``client()``) and
    what the server reads from it."""

    def __init__(self, settings: Settings, *, run_count_limit: int = 10_000) -> None:
        super().__init__(settings)
        self.run_count_limit = run_count_limit

    # -- store access -------------------------------------------------------------------
    def warm_up(self) -> None:
        """Import MLflow ahead of the first request (it takes seconds), creating no store."""
        mlflow_store.import_mlflow()

    # -- status -------------------------------------------------------------------------
    def status(self) -> TrackingStatus:
        kind = uri_kind(self.settings)
        reachable, error = True, None
        try:
            self.client().search_experiments(max_results=1)
        except MlopsError as exc:
            reachable, error = False, exc.message
        except Exception as exc:  # any store failure is reported, not raised
            reachable, error = False, reason(exc)
        return TrackingStatus(
            uri=mask(self.settings.tracking_uri),
            kind=kind,
            source=self.settings.source,
            reachable=reachable,
            error=error,
            ui_url=_http_base(self.settings.tracking_uri) if kind == "server" else None,
        )

    # -- experiments --------------------------------------------------------------------
    def list_experiments(self, query: ExperimentsQuery) -> ExperimentsResponse:
        found: list[ExperimentSummary] = []
        with mlflow_store.mlflow_errors():
            self.client()
            from mlflow.entities import ViewType

            view = ViewType.ALL if query.include_deleted else ViewType.ACTIVE_ONLY
            needle = (query.search or "").lower()
            for experiment in self._experiments(view):
                if needle and needle not in experiment.name.lower():
                    continue
                count, capped = self.count_runs(experiment.experiment_id)
                found.append(_summary(experiment, count, capped))
                if len(found) >= query.max_results:
                    break
        return ExperimentsResponse(tracking_uri=mask(self.settings.tracking_uri), experiments=found)

    def _experiments(self, view: int) -> Iterator[Any]:
        token = None
        while True:
            page = self.client().search_experiments(
                view_type=view,
                max_results=PAGE_SIZE,
                order_by=["last_update_time DESC"],
                page_token=token,
            )
            yield from page
            token = page.token
            if not token:
                return

    def count_runs(self, experiment_id: str) -> tuple[int, bool]:
        """Active runs in an experiment, counted page by page up to ``run_count_limit``.

        MLflow has no count API; paging is the portable way, and the cap bounds the cost."""
        client = self.client()
        from mlflow.entities import ViewType

        count, token = 0, None
        while True:
            page = client.search_runs(
                [experiment_id],
                run_view_type=ViewType.ACTIVE_ONLY,
                max_results=min(PAGE_SIZE, self.run_count_limit - count),
                page_token=token,
            )
            count += len(page)
            token = page.token
            if not token:
                return count, False
            if count >= self.run_count_limit:
                return count, True


def _http_base(uri: str) -> str | None:
    """An http(s) tracking server's address (``redact.base_url``); None for any other
    scheme."""
    return base_url(uri) if mlflow_store.is_server_uri(uri) else None


def _summary(experiment: Any, run_count: int, capped: bool) -> ExperimentSummary:
    return ExperimentSummary(
        experiment_id=str(experiment.experiment_id),
        name=experiment.name,
        lifecycle_stage=experiment.lifecycle_stage,
        artifact_location=experiment.artifact_location,
        creation_time=experiment.creation_time,
        last_update_time=experiment.last_update_time,
        run_count=run_count,
        run_count_capped=capped,
        tags={k: v for k, v in (experiment.tags or {}).items() if not k.startswith("mlflow.")},
    )
