"""Tracked cells inside a job: their runs are children of the job's run.

The job entrypoint (``export/job.py``) starts the notebook's kernel with the job's facts in
its environment; a ``%%track`` cell (or ``track()`` block) in that kernel then records:

- the job's run as its parent: MLflow's ``mlflow.parentRunId`` tag, so the MLflow UI and
  the runs view show it under the job. The job's run may not be in the store yet when the
  kernel starts (it is created by the delivery agent, or by the host after a container
  ends), so the kernel is given the job run's *key* (``jupyter_mlops.run_key``) and the
  deliverer turns it into the run id (:func:`link_parent`);
- the job's experiment and the job's parameters (the values papermill injected);
- the data versions the job was exported with (``job.json``'s pins) for data it reads;
- the job's name; and the run card is static HTML, since no one watches a job's kernel.

When a child is delivered, its final metric values are also logged on the job's run
(:func:`copy_metrics_to_parent`), so the job's run reads like the interactive runs beside
it in the runs table and the compare view.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from .spool import RunRecord, Spool

ENV_JOB = "JUPYTER_MLOPS_JOB"
ENV_JOB_DIR = "JUPYTER_MLOPS_JOB_DIR"
ENV_EXPERIMENT = "JUPYTER_MLOPS_JOB_EXPERIMENT"
ENV_PARAMS = "JUPYTER_MLOPS_JOB_PARAMS"
ENV_PARENT_KEY = "JUPYTER_MLOPS_PARENT_RUN_KEY"

JOB_TAG = "jupyter_mlops.job"
PARENT_KEY_TAG = "jupyter_mlops.parent_run_key"
PARENT_ID_TAG = "mlflow.parentRunId"
#: Seconds a finished child waits for a parent being delivered beside it.
PARENT_WAIT = 15.0
#: Our own bookkeeping metrics (a cell's duration) stay on the child: the job has its own.
OWN_METRIC_PREFIX = "jupyter_mlops."


@dataclass(frozen=True)
class JobContext:
    name: str
    folder: str | None = None
    experiment: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    parent_key: str | None = None

    def environment(self) -> dict[str, str]:
        """The variables that give a kernel this context."""
        values = {
            ENV_JOB: self.name,
            ENV_JOB_DIR: self.folder,
            ENV_EXPERIMENT: self.experiment,
            ENV_PARAMS: json.dumps(self.params) if self.params else None,
            ENV_PARENT_KEY: self.parent_key,
        }
        return {k: v for k, v in values.items() if v}

    def tags(self) -> dict[str, str]:
        tags = {JOB_TAG: self.name}
        if self.parent_key:
            tags[PARENT_KEY_TAG] = self.parent_key
        return tags


def current(environ: Mapping[str, str] = os.environ) -> JobContext | None:
    """The job this process runs in, or None (an interactive kernel, a script)."""
    name = environ.get(ENV_JOB)
    if not name:
        return None
    try:
        params = json.loads(environ.get(ENV_PARAMS) or "{}")
    except ValueError:
        params = {}
    return JobContext(
        name=name,
        folder=environ.get(ENV_JOB_DIR) or None,
        experiment=environ.get(ENV_EXPERIMENT) or None,
        params={str(k): str(v) for k, v in params.items()} if isinstance(params, dict) else {},
        parent_key=environ.get(ENV_PARENT_KEY) or None,
    )


# -- delivery: the parent's run id ------------------------------------------------------------
class ParentPending(Exception):
    """The job's run is not in the store yet: the child is delivered once it is."""


def link_parent(client: MlflowClient, spool: Spool, record: RunRecord) -> None:
    """Tag ``record`` with its parent's run id (``mlflow.parentRunId``) when it names a
    parent by key. A run that is complete must not go without it: :class:`ParentPending`
    (its delivery is retried); a run just starting is created without it for now."""
    key = record.tags.get(PARENT_KEY_TAG)
    if not key or record.tags.get(PARENT_ID_TAG):
        return
    run_id = _parent_run_id(client, spool, key, record)
    deadline = time.monotonic() + PARENT_WAIT
    # Its record is here: someone is delivering it (its agent, or ``sync`` beside us).
    while not run_id and record.deliverable and spool.folder(key).is_dir():
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
        run_id = _created(spool, key)
    if run_id:
        record.tags[PARENT_ID_TAG] = run_id
    elif record.deliverable:
        raise ParentPending("waiting for the job's run to reach the store")


def _created(spool: Spool, key: str) -> str | None:
    """The run id of journaled run ``key`` once it is in the store."""
    receipt = spool.receipt(key)
    if receipt is not None and receipt.get("run_id"):
        return str(receipt["run_id"])
    return spool.read_delivery(key).run_id if spool.folder(key).is_dir() else None


def _parent_run_id(client: MlflowClient, spool: Spool, key: str, record: RunRecord) -> str | None:
    created = _created(spool, key)
    if created:
        return created
    from .delivery import RUN_KEY_TAG, experiment_id_for

    experiment_id = experiment_id_for(client, record.experiment, record.artifact_location)
    found = client.search_runs(
        [experiment_id], filter_string=f"tags.`{RUN_KEY_TAG}` = '{key}'", max_results=1
    )
    return found[0].info.run_id if found else None


def copy_metrics_to_parent(client: MlflowClient, record: RunRecord, run_id: str) -> int:
    """Log the final value of each metric of child run ``run_id`` on its job's run, under the
    same name, at step 0 and the child's end time: where two cells of a job log the same
    metric, the job's run shows the value of the cell that ended last (MLflow keeps the
    latest). Read back from the store, so what the cell logged through MLflow itself
    (``--autolog``, ``mlflow.log_metric``) counts too. Safe to repeat: SQL stores ignore a
    metric sent twice. The number of metrics copied."""
    from mlflow.entities import Metric

    parent = record.tags.get(PARENT_ID_TAG)
    if not parent or not record.tags.get(PARENT_KEY_TAG):
        return 0
    timestamp = int(record.end_time or record.start_time)
    metrics = [
        Metric(key, float(value), timestamp, 0)
        for key, value in client.get_run(run_id).data.metrics.items()
        if not key.startswith(OWN_METRIC_PREFIX)
    ]
    for i in range(0, len(metrics), 1000):  # MLflow's limit per log_batch
        client.log_batch(parent, metrics=metrics[i : i + 1000])
    return len(metrics)


def parents_first(spool: Spool, keys: list[str]) -> list[str]:
    """``keys`` with the runs that name a parent last (they wait for it)."""
    children = set()
    for key in keys:
        record = spool.read(key)
        if record is not None and record.tags.get(PARENT_KEY_TAG):
            children.add(key)
    return [k for k in keys if k not in children] + [k for k in keys if k in children]


# -- lineage: the data versions the job was exported with -------------------------------------
def pinned_version(path: Path, job_dir: str | None) -> dict[str, str] | None:
    """The DVC version of ``path`` as pinned in the job's ``job.json`` (the entrypoint made
    the data that version before the notebook started), when the data on disk is still
    that version; None otherwise."""
    if not job_dir:
        return None
    from ..export.datapins import holds_pinned_version
    from ..export.jobfile import InvalidJobFile, JobFile

    folder = Path(job_dir)
    try:
        job_file = JobFile.read(folder)
        relative = PurePosixPath(
            Path(os.path.realpath(path)).relative_to(os.path.realpath(folder)).as_posix()
        )
    except (InvalidJobFile, OSError, ValueError):
        return None
    for pin in job_file.data:
        pinned = PurePosixPath(pin.path)
        if pinned.parts and (relative == pinned or pinned in relative.parents):
            if not holds_pinned_version(folder, pin):
                return None
            # Named as in the project (the job folder mirrors the notebook's folder), so
            # the data view lists job runs among the runs that read this version.
            source = job_file.source.path
            where = PurePosixPath(source).parent / pinned if source else pinned
            return {"kind": "dvc", "hash": pin.md5, "path": where.as_posix()}
    return None
