"""Runs of an experiment for the panel's runs view: pages, details, histories, edits.

Pages are filtered, sorted and cut by the store (a page token, never the whole experiment):
``MlflowClient.search_runs`` in general, and for a SQLite store the same query read by
:mod:`.pages` (MLflow's own takes seconds there with 10,000 runs). Filters and sort
clauses are checked first with MLflow's parser, so a typo is a 400 that names the problem
whatever the store. Artifacts are in :mod:`.artifacts`."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn

from ..api.models import FieldError
from ..errors import Conflict, InvalidInput, NotFound
from ..experiments.service import TrackingService, _http_base
from ..mlflow_store import mlflow_errors
from ..tracking.capture import recorded_data_versions
from . import artifacts
from .artifacts import ArtifactFile
from .models import (
    ArtifactList,
    DataVersion,
    Lineage,
    MetricHistory,
    MetricPoint,
    RunDetails,
    RunSource,
    RunsPage,
    RunsQuery,
    RunSummary,
    RunUpdate,
)
from .pages import RunRow, SqliteRunPages

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger(__name__)

#: Tag prefixes of MLflow's and our own bookkeeping: not the user's tags, and not editable.
SYSTEM_TAG_PREFIXES = ("mlflow.", "jupyter_mlops.")
#: A metric history longer than this is evenly thinned (charts cannot show more anyway).
MAX_METRIC_POINTS = 10_000
#: The cell's source is shown in the details only below this size.
MAX_CELL_SOURCE_BYTES = 1 << 20
CELL_SOURCE_ARTIFACT = "source/cell.py"
PACKAGES_ARTIFACT: Final = "lineage/requirements.txt"
DATA_ARTIFACT = "lineage/data.json"
JOB_OUTPUT_TAG = "jupyter_mlops.job.output"


class RunsService:
    """Stateless reads and edits of runs, over the tracking service's MLflow client."""

    def __init__(self, tracking: TrackingService) -> None:
        self.tracking = tracking

    @property
    def _root(self) -> Path:
        return self.tracking.settings.root_dir

    # -- list -----------------------------------------------------------------------------
    def search(self, query: RunsQuery) -> RunsPage:
        with mlflow_errors():  # imports MLflow under the shared lock first
            _check_filter(query.filter)
            _check_order_by(query.order_by)
            client = self.tracking.client()
            found = self._sqlite_page(query)
            if found is None:
                from mlflow.entities import ViewType

                page = client.search_runs(
                    [query.experiment_id],
                    filter_string=query.filter,
                    run_view_type=ViewType.ALL if query.include_deleted else ViewType.ACTIVE_ONLY,
                    max_results=query.max_results,
                    order_by=[query.order_by],
                    page_token=query.page_token or None,
                )
                found = [summary(run, self._root) for run in page], _token(page.token)
            runs, token = found
            if not runs and not query.page_token:
                # Stores answer an unknown experiment with no runs; say it is unknown.
                client.get_experiment(query.experiment_id)
        return RunsPage(
            runs=runs,
            next_page_token=token,
            param_keys=sorted({key for run in runs for key in run.params}),
            metric_keys=sorted({key for run in runs for key in run.metrics}),
        )

    def _sqlite_page(self, query: RunsQuery) -> tuple[list[RunSummary], str | None] | None:
        """The page read straight from a SQLite store (see :mod:`.pages`); None when
        the store is not SQLite or MLflow must answer this query."""
        pages = SqliteRunPages.for_uri(self.tracking.settings.tracking_uri)
        if pages is None:
            return None
        from mlflow.utils.search_utils import SearchUtils

        offset = _page_offset(query.page_token)
        found = pages.page(
            query.experiment_id,
            query.filter,
            query.order_by,
            query.max_results,
            offset,
            query.include_deleted,
        )
        if found is None:
            return None
        rows, more = found
        token = SearchUtils.create_page_token(offset + query.max_results) if more else None
        return [_row_summary(row, self._root) for row in rows], _token(token)

    # -- one run --------------------------------------------------------------------------
    def details(self, run_id: str) -> RunDetails:
        with mlflow_errors():
            client = self.tracking.client()
            run = client.get_run(run_id)
            sources = self._listing(client, run_id, "source")
            lineage_files = self._listing(client, run_id, "lineage")
        tags: dict[str, str] = dict(run.data.tags)
        cell_source = None
        if CELL_SOURCE_ARTIFACT in sources:  # read_text checks the size the store omits
            size = sources[CELL_SOURCE_ARTIFACT]
            if size is None or size < MAX_CELL_SOURCE_BYTES:
                cell_source = self._small_text(client, run_id, CELL_SOURCE_ARTIFACT)
        data = _data_versions(tags.get("jupyter_mlops.data"))
        if data is None and DATA_ARTIFACT in lineage_files:
            # The tag is cut at 5,000 characters; the artifact has the whole map.
            data = _data_versions(self._small_text(client, run_id, DATA_ARTIFACT))
        base = _http_base(self.tracking.settings.tracking_uri)
        experiment_id = run.info.experiment_id
        # A job's run: its output notebook (a URL papermill wrote to is shown, not opened).
        job_output = tags.get(JOB_OUTPUT_TAG) if tags.get("jupyter_mlops.source") == "job" else None
        return RunDetails(
            run=summary(run, self._root),
            all_tags=tags,
            cell_source=cell_source,
            lineage=Lineage(
                git_commit=tags.get("mlflow.source.git.commit"),
                git_branch=tags.get("mlflow.source.git.branch"),
                git_dirty=_flag(tags.get("jupyter_mlops.git.dirty")),
                python=tags.get("jupyter_mlops.python"),
                data=data or {},
                packages_artifact=PACKAGES_ARTIFACT if PACKAGES_ARTIFACT in lineage_files else None,
            ),
            error=tags.get("jupyter_mlops.error"),
            mlflow_ui_url=f"{base}/#/experiments/{experiment_id}/runs/{run_id}" if base else None,
            job_output=job_output,
            job_output_path=_output_path(job_output, self._root),
        )

    def metric_history(self, run_id: str, key: str) -> MetricHistory:
        with mlflow_errors():
            client = self.tracking.client()
            history = client.get_metric_history(run_id, key)
            if not history:
                client.get_run(run_id)  # an unknown run is a 404 of its own
                raise NotFound(f"Run {run_id} has no metric '{key}'.", code="no_such_metric")
        ordered = sorted(history, key=lambda m: (m.step, m.timestamp))
        thinned = _thin(ordered, MAX_METRIC_POINTS)
        return MetricHistory(
            key=key,
            points=[
                MetricPoint(step=m.step, value=_finite(m.value), timestamp=m.timestamp)
                for m in thinned
            ],
            downsampled=len(thinned) < len(ordered),
        )

    # -- artifacts ------------------------------------------------------------------------
    def list_artifacts(self, run_id: str, path: str) -> ArtifactList:
        folder = artifacts.artifact_path(path, allow_root=True)
        with mlflow_errors():
            return artifacts.list_folder(self.tracking.client(), run_id, folder)

    def open_artifact(self, run_id: str, path: str, download: bool = False) -> ArtifactFile:
        """Download one artifact file into a temporary folder (the caller closes it)."""
        file_path = artifacts.artifact_path(path, allow_root=False)
        with mlflow_errors():
            return artifacts.open_file(self.tracking.client(), run_id, file_path, download)

    # -- edits ----------------------------------------------------------------------------
    def update(self, run_id: str, change: RunUpdate) -> RunSummary:
        name = change.name
        if name is not None and not name.strip():
            problem = "A run name cannot be blank."
            raise InvalidInput(
                f"Field 'name': {problem}",
                code="invalid_body",
                fields=[FieldError(field="name", message=problem)],
            )
        if name is None and not change.set_tags and not change.delete_tags:
            raise InvalidInput(
                "Nothing to change: give name, set_tags or delete_tags.", code="invalid_body"
            )
        keys = [*change.set_tags, *change.delete_tags]
        reserved = sorted({k for k in keys if k.startswith(SYSTEM_TAG_PREFIXES)})
        if reserved:
            raise InvalidInput(
                f"Tags {', '.join(map(repr, reserved))} are kept by MLflow or jupyter-mlops "
                "and cannot be edited.",
                code="reserved_tag",
            )
        both = sorted(set(change.set_tags) & set(change.delete_tags))
        if both:
            raise InvalidInput(
                f"Tags {', '.join(map(repr, both))} are both set and deleted; choose one.",
                code="invalid_body",
            )
        with mlflow_errors():
            client = self.tracking.client()
            run = client.get_run(run_id)
            if run.info.lifecycle_stage != "active":
                raise Conflict(f"Run {run_id} is deleted; restore it first.", code="run_deleted")
            if name is not None:
                client.update_run(run_id, name=name)
            if change.set_tags:
                from mlflow.entities import RunTag

                client.log_batch(run_id, tags=[RunTag(k, v) for k, v in change.set_tags.items()])
            for key in change.delete_tags:
                if key in run.data.tags:
                    client.delete_tag(run_id, key)
            return summary(client.get_run(run_id), self._root)

    def delete(self, run_id: str) -> None:
        """Soft delete (MLflow's lifecycle stage): :meth:`restore` undoes it."""
        with mlflow_errors():
            self.tracking.client().delete_run(run_id)

    def restore(self, run_id: str) -> RunSummary:
        with mlflow_errors():
            client = self.tracking.client()
            client.restore_run(run_id)
            return summary(client.get_run(run_id), self._root)

    # -- helpers --------------------------------------------------------------------------
    @staticmethod
    def _listing(client: MlflowClient, run_id: str, folder: str) -> dict[str, int | None]:
        """File path -> size of one artifact folder; empty when the artifact store fails
        (the details still show what the tracking store knows)."""
        try:
            return {e.path: e.size for e in artifacts.list_folder(client, run_id, folder).entries}
        except Exception as exc:  # artifact stores fail in many ways; details go on
            log.warning("jupyter-mlops: listing artifacts of run %s failed: %s", run_id, exc)
            return {}

    @staticmethod
    def _small_text(client: MlflowClient, run_id: str, path: str) -> str | None:
        try:
            return artifacts.read_text(client, run_id, path, MAX_CELL_SOURCE_BYTES)
        except Exception as exc:  # as above: an artifact is a bonus, not a requirement
            log.warning("jupyter-mlops: reading %s of run %s failed: %s", path, run_id, exc)
            return None


def summary(run: Any, root: Path) -> RunSummary:
    """An MLflow run entity as the runs table shows it; no store calls."""
    info, data = run.info, run.data
    row = RunRow(
        run_id=info.run_id,
        name=info.run_name,
        experiment_id=str(info.experiment_id),
        status=info.status,
        lifecycle_stage=info.lifecycle_stage,
        start_time=info.start_time,
        end_time=info.end_time,
        params=data.params,
        metrics=data.metrics,
        tags=data.tags,
    )
    return _row_summary(row, root)


def _row_summary(row: RunRow, root: Path) -> RunSummary:
    tags = row.tags
    notebook = tags.get("jupyter_mlops.notebook")
    start, end = row.start_time, row.end_time
    return RunSummary(
        run_id=row.run_id,
        run_name=row.name or tags.get("mlflow.runName") or "",
        experiment_id=row.experiment_id,
        status=row.status,  # type: ignore[arg-type]
        lifecycle_stage=row.lifecycle_stage,  # type: ignore[arg-type]
        start_time=start,
        end_time=end,
        duration_ms=end - start if start is not None and end is not None else None,
        source=_source(tags.get("jupyter_mlops.source", "")),
        notebook=notebook,
        notebook_path=_root_relative(notebook, root),
        params=row.params,
        metrics={k: _finite(v) for k, v in row.metrics.items()},
        tags={k: v for k, v in tags.items() if not k.startswith(SYSTEM_TAG_PREFIXES)},
        parent_run_id=tags.get("mlflow.parentRunId") or None,
    )


def _finite(value: float) -> float | None:
    """JSON has no NaN or infinities: the API sends null for them."""
    return value if math.isfinite(value) else None


def _token(token: str | bytes | None) -> str | None:
    """MLflow's stores give page tokens as str or bytes; the API speaks str."""
    if isinstance(token, bytes):
        token = token.decode("ascii")
    return token or None


def _source(tag: str) -> RunSource:
    if tag == "cell":
        return "cell"
    if tag == "job":
        return "job"
    if tag == "script":
        return "script"
    return "other"


def _root_relative(notebook: str | None, root: Path) -> str | None:
    """The notebook as a path below the server's root ('/'-separated), if it is one."""
    if not notebook:
        return None
    path = Path(os.path.normpath(notebook))
    if path.is_absolute():
        try:
            path = path.relative_to(root)
        except ValueError:
            return None
    text = path.as_posix()
    if text.startswith("../") or text in ("..", "."):
        return None
    return text


def _output_path(output: str | None, root: Path) -> str | None:
    """A job's output notebook below the server's root, if it is a file there (the job
    records an absolute path; a URL or a relative path is only shown)."""
    if not output or "://" in output or not os.path.isabs(output):
        return None
    return _root_relative(output, root)


#: The largest offset a page token may hold (SQLite's integers are 64-bit).
MAX_PAGE_OFFSET = 2**63 - 1


def _page_offset(token: str | None) -> int:
    """The offset in one of MLflow's page tokens (base64 of ``{"offset": N}``, what
    :meth:`RunsService.search` hands out for a SQLite store); a 400 naming ``page_token``
    for anything else. MLflow's own parser lets odd tokens through as 500s (a list, a
    string, a float offset, non-ASCII text)."""
    if not token:
        return 0
    try:
        decoded = json.loads(base64.b64decode(token.encode("ascii"), validate=True))
    except (UnicodeError, binascii.Error, ValueError):
        decoded = None
    offset = decoded.get("offset") if isinstance(decoded, dict) else None
    if type(offset) is not int or not 0 <= offset <= MAX_PAGE_OFFSET:
        problem = "Not a page token of this server: pass a page's next_page_token, or none."
        raise InvalidInput(
            f"Query parameter 'page_token': {problem}",
            code="invalid_page_token",
            fields=[FieldError(field="page_token", message=problem)],
        )
    return offset


#: Numbers a filter may compare with (SQLite's integers are 64-bit; MLflow's stores fail
#: on larger ones).
_FILTER_INT_RANGE = range(-(2**63), 2**63)


def _check_filter(filter_string: str) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.utils.search_utils import SearchUtils

    try:
        for clause in SearchUtils.parse_search_filter(filter_string):
            # The comparator checks stores make later (one raises for a wrong comparator).
            kind, comparator = clause.get("type"), str(clause.get("comparator", "")).upper()
            key = SearchUtils.translate_key_alias(clause.get("key"))
            _ = (
                SearchUtils.is_metric(kind, comparator)
                or SearchUtils.is_param(kind, comparator)
                or SearchUtils.is_tag(kind, comparator)
                or SearchUtils.is_attribute(kind, key, comparator)
                or SearchUtils.is_dataset(kind, comparator)
            )
            value = clause.get("value")
            if isinstance(value, int) and value not in _FILTER_INT_RANGE:
                _invalid_filter(f"{clause.get('key')} is compared with a number out of range.")
    except MlflowException as exc:
        _invalid_filter(exc.message)


def _invalid_filter(problem: str) -> NoReturn:
    message = f"The filter is not valid: {problem}"
    raise InvalidInput(
        message, code="invalid_filter", fields=[FieldError(field="filter", message=message)]
    )


def _check_order_by(clause: str) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.utils.search_utils import SearchUtils

    try:
        SearchUtils.parse_order_by_for_search_runs(clause)
    except MlflowException as exc:
        raise InvalidInput(
            f"order_by must be one clause such as 'metrics.loss ASC', 'params.lr DESC' or "
            f"'attributes.start_time DESC': {exc.message}",
            code="invalid_order_by",
        ) from exc


def _thin(points: list[Any], cap: int) -> list[Any]:
    """At most ``cap`` points, evenly spaced, the first and the last always kept."""
    if len(points) <= cap:
        return points
    last = len(points) - 1
    return [points[round(i * last / (cap - 1))] for i in range(cap)]


def _flag(value: str | None) -> bool | None:
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    return None


def _data_versions(text: str | None) -> dict[str, DataVersion] | None:
    """The ``jupyter_mlops.data`` map, or None when missing or not readable JSON."""
    found = recorded_data_versions(text)
    if found is None:
        return None
    return {path: DataVersion(kind=kind, hash=hash_) for path, (kind, hash_) in found.items()}
