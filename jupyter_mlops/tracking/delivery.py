"""Delivering journaled runs to the MLflow store: in the background, in batches, once.

A run is delivered in resumable steps (run created, parameters, metrics in batches,
artifacts, end status), each recorded in ``delivery.json`` so a retry after a crash or an
outage picks up where it stopped. Exactly once: the run carries the tag
``jupyter_mlops.run_key``; a retry finds the run by it instead of creating a second one, and
SQL stores ignore a metric batch sent twice (same key, value, timestamp and step).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import mlflow_store
from ..errors import reason
from ..redact import scrub_text, with_credentials
from .jobrun import copy_metrics_to_parent, link_parent, parents_first
from .naming import naming_lock, unique_name
from .spool import Delivery, RunRecord, Spool, now_ms, process_alive

if TYPE_CHECKING:
    from mlflow import MlflowClient

RUN_KEY_TAG = "jupyter_mlops.run_key"
#: MLflow's limits for one log_batch call.
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100
#: Runs delivered at once by ``sync``.
SYNC_THREADS = 4
#: Seconds between retries of a run whose store did not answer: doubling, capped.
RETRY_FIRST, RETRY_MAX = 1.0, 60.0


@dataclass
class Outcome:
    key: str
    state: str  # "delivered" | "started" | "retry" | "busy" | "gone"
    run_id: str | None = None
    experiment_id: str | None = None
    error: str | None = None
    #: the run's name in the store, once it is created there (see ``naming``)
    run_name: str | None = None

    @classmethod
    def of(cls, key: str, state: str, progress: Delivery) -> Outcome:
        """The outcome ``state`` of the run ``key`` whose delivery stands at ``progress``
        (its error only when it is waiting to retry)."""
        error = progress.last_error if state == "retry" else None
        return cls(key, state, progress.run_id, progress.experiment_id, error, progress.run_name)


def experiment_artifact_location(artifact_root: str | None, name: str) -> str | None:
    """Where a new experiment keeps its artifacts: a readable, unique folder of the root."""
    if not artifact_root:
        return None
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")[:60] or "experiment"
    digest = hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:6]
    return f"{artifact_root.rstrip('/')}/{slug}-{digest}"


_experiment_ids: dict[tuple[str, str], str] = {}


def experiment_id_for(client: MlflowClient, name: str, artifact_root: str | None) -> str:
    """The id of the experiment ``name``, created (with our artifact location) if missing;
    remembered per store for this process."""
    cache_key = (client.tracking_uri, name)
    if cache_key not in _experiment_ids:
        _experiment_ids[cache_key] = _experiment_id(client, name, artifact_root)
    return _experiment_ids[cache_key]


def _experiment_id(client: MlflowClient, name: str, artifact_root: str | None) -> str:
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            client.restore_experiment(found.experiment_id)
        return str(found.experiment_id)
    try:
        return str(
            client.create_experiment(
                name, artifact_location=experiment_artifact_location(artifact_root, name)
            )
        )
    except MlflowException:
        # Another kernel created it in the meantime.
        again = client.get_experiment_by_name(name)
        if again is None:
            raise
        return str(again.experiment_id)


def _find_run(client: MlflowClient, experiment_id: str, key: str) -> tuple[str, str] | None:
    runs = client.search_runs(
        [experiment_id], filter_string=f"tags.`{RUN_KEY_TAG}` = '{key}'", max_results=1
    )
    return (runs[0].info.run_id, runs[0].info.run_name) if runs else None


def ensure_run(
    client: MlflowClient, record: RunRecord, progress: Delivery, state_dir: Path | None = None
) -> str:
    """The MLflow run of this record, created if it does not exist yet, under a name no
    other run of the experiment has (``naming``; ``state_dir`` holds the naming lock)."""
    if progress.run_id:
        return progress.run_id
    if progress.experiment_id is None:
        progress.experiment_id = experiment_id_for(
            client, record.experiment, record.artifact_location
        )
    if record.run_id is not None:  # created by the kernel (fluent MLflow), named there
        progress.run_id, progress.run_name = record.run_id, record.run_name
        return record.run_id
    found = _find_run(client, progress.experiment_id, record.key) if progress.attempts > 1 else None
    if found is None:
        tags = {RUN_KEY_TAG: record.key, **record.tags}
        with naming_lock(state_dir):
            name = unique_name(client, progress.experiment_id, record.run_name)
            run = client.create_run(
                progress.experiment_id, start_time=record.start_time, tags=tags, run_name=name
            )
        found = (run.info.run_id, name)
    progress.run_id, progress.run_name = found
    return progress.run_id


def deliver(
    spool: Spool, key: str, *, timeout: float = 3.0, credentials: Sequence[str] = ()
) -> Outcome:
    """Move one journaled run into its store as far as it can go now. The journal names
    the store without credentials; they come from ``credentials`` (URIs, such as the
    caller's settings) or this process's environment (``redact.with_credentials``)."""
    with spool.locked(key) as held:
        if not held:
            return Outcome(key, "busy")
        record = spool.read(key)
        if record is None:
            return Outcome(key, "gone")
        record.tracking_uri = with_credentials(record.tracking_uri, credentials)
        if record.artifact_location:
            record.artifact_location = with_credentials(record.artifact_location, credentials)
        with_lineage(spool, record)
        progress = spool.read_delivery(key)
        progress.attempts += 1
        spool.write_delivery(key, progress)  # a crash from here on makes the retry search
        try:
            client = mlflow_store.client(
                record.tracking_uri, record.artifact_location, timeout=timeout
            )
            link_parent(client, spool, record)
            ensure_run(client, record, progress, spool.state_dir)
            spool.write_delivery(key, progress)
            if not record.deliverable:
                return Outcome.of(key, "started", progress)
            _send(client, spool, record, progress)
        except Exception as exc:
            progress.last_error = _one_line(exc)
            delay = min(RETRY_MAX, RETRY_FIRST * 2 ** min(progress.attempts, 10))
            progress.next_attempt = time.time() + delay
            spool.write_delivery(key, progress)
            return Outcome.of(key, "retry", progress)
        outcome = Outcome.of(key, "delivered", progress)
        spool.remove(
            key,
            outcome={
                "run_id": outcome.run_id,
                "experiment_id": outcome.experiment_id,
                "run_name": outcome.run_name,
            },
        )
        return outcome


def _send(client: MlflowClient, spool: Spool, record: RunRecord, progress: Delivery) -> None:
    from mlflow.entities import Metric, Param, RunTag

    run_id = progress.run_id
    assert run_id is not None
    if record.outbox_uri and not progress.outbox_copied:
        _copy_outbox_run(client, record, run_id)
        progress.outbox_copied = True
        spool.write_delivery(record.key, progress)
    if record.run_id or record.outbox_uri:
        record = _without_param_conflicts(client, record, run_id)
    batches = _batches(record)
    while progress.batches_sent < len(batches):
        params, tags, metrics = batches[progress.batches_sent]
        client.log_batch(
            run_id,
            params=[Param(k, v) for k, v in params],
            tags=[RunTag(k, v) for k, v in tags],
            metrics=[Metric(k, float(v), int(ts), int(step)) for k, v, ts, step in metrics],
        )
        progress.batches_sent += 1
        spool.write_delivery(record.key, progress)
    artifacts = spool.artifacts_dir(record.key)
    if not progress.artifacts_sent and artifacts.is_dir() and any(artifacts.iterdir()):
        client.log_artifacts(run_id, str(artifacts))
        progress.artifacts_sent = True
        spool.write_delivery(record.key, progress)
    if not progress.parent_metrics_sent:
        # A tracked cell of a job: its metrics show on the job's run too (before the run
        # ends, so whoever sees it ended sees the job's run complete).
        copy_metrics_to_parent(client, record, run_id)
        progress.parent_metrics_sent = True
        spool.write_delivery(record.key, progress)
    # Ending a run on a tracking server, MLflow prints "View run ... at: <url>" to stdout
    # (and asks the server for the run once more): noise in the agent's log, and in
    # `jupyter mlops sync --json` it would come before the JSON. Only processes that
    # deliver get here (agent, server, CLI), never a kernel.
    os.environ.setdefault(_QUIET_URL, "true")
    client.set_terminated(run_id, status=record.status, end_time=record.end_time or now_ms())


_QUIET_URL = "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"


def _without_param_conflicts(client: MlflowClient, record: RunRecord, run_id: str) -> RunRecord:
    """The record without the captured parameters that the cell's own MLflow calls logged
    with another value (a cell that logs ``n`` and then changes it): MLflow refuses to
    change a parameter, and the run would never be delivered. MLflow keeps the value the
    cell logged; ours goes into a tag. The same on every retry, so batches resume."""
    logged = client.get_run(run_id).data.params
    conflicts = {k: v for k, v in record.params.items() if k in logged and logged[k] != v}
    if not conflicts:
        return record
    params = {k: v for k, v in record.params.items() if k not in conflicts}
    tags = {**record.tags, "jupyter_mlops.param_conflicts": json.dumps(conflicts)[:5000]}
    return dataclasses.replace(record, params=params, tags=tags)


def _batches(record: RunRecord) -> list[tuple[list[Any], list[Any], list[Any]]]:
    """Parameters, tags and metrics packed into as few ``log_batch`` calls as MLflow's
    limits allow (usually one per run). Deterministic, so a retry resumes by count."""
    params, tags, metrics = list(record.params.items()), list(record.tags.items()), record.metrics
    count = max(
        -(-len(params) // MAX_PARAMS_PER_BATCH),
        -(-len(tags) // MAX_TAGS_PER_BATCH),
        -(-len(metrics) // MAX_METRICS_PER_BATCH),
    )
    return [
        (
            params[i * MAX_PARAMS_PER_BATCH : (i + 1) * MAX_PARAMS_PER_BATCH],
            tags[i * MAX_TAGS_PER_BATCH : (i + 1) * MAX_TAGS_PER_BATCH],
            metrics[i * MAX_METRICS_PER_BATCH : (i + 1) * MAX_METRICS_PER_BATCH],
        )
        for i in range(count)
    ]


def _copy_outbox_run(client: MlflowClient, record: RunRecord, run_id: str) -> None:
    """Copy what fluent MLflow calls logged into the local outbox store while the target
    store was down: parameters, tags, the full metric histories and the artifacts."""
    import tempfile

    from mlflow.entities import Metric, Param, RunTag

    assert record.outbox_uri
    outbox = mlflow_store.client(record.outbox_uri)
    source = outbox.search_runs(
        [experiment_id_for(outbox, record.experiment, None)],
        filter_string=f"tags.`{RUN_KEY_TAG}` = '{record.key}'",
        max_results=1,
    )
    if not source:
        return
    src = source[0]
    params = [Param(k, v) for k, v in src.data.params.items()]
    tags = [RunTag(k, v) for k, v in src.data.tags.items() if not k.startswith("mlflow.")]
    for i in range(0, max(len(params), len(tags)), MAX_PARAMS_PER_BATCH):
        client.log_batch(
            run_id,
            params=params[i : i + MAX_PARAMS_PER_BATCH],
            tags=tags[i : i + MAX_TAGS_PER_BATCH],
        )
    metrics: list[Any] = []
    for key in src.data.metrics:
        metrics += [
            Metric(m.key, m.value, m.timestamp, m.step)
            for m in outbox.get_metric_history(src.info.run_id, key)
        ]
    for i in range(0, len(metrics), MAX_METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=metrics[i : i + MAX_METRICS_PER_BATCH])
    if outbox.list_artifacts(src.info.run_id):
        with tempfile.TemporaryDirectory() as tmp:
            local = outbox.download_artifacts(src.info.run_id, "", tmp)
            client.log_artifacts(run_id, local)


def sync(
    spool: Spool,
    *,
    timeout: float = 3.0,
    reap: bool = True,
    force: bool = False,
    ended_hosts: Collection[str] = (),
    credentials: Sequence[str] = (),
) -> list[Outcome]:
    """Deliver every journaled run that can be delivered now (``jupyter mlops sync``).

    With ``reap``, a run still RUNNING whose process is gone (a killed or restarted
    kernel) is first marked KILLED. Runs of live processes are left to their owners;
    ``ended_hosts`` names hosts (containers) known to have ended with all their processes."""
    ready = []
    for record in spool.pending():
        if not force and spool.read_delivery(record.key).next_attempt > time.time():
            continue  # its store failed a moment ago: wait for the retry time
        if record.host not in ended_hosts and process_alive(record.pid, record.host):
            # Its owner delivers it, unless its store was down: then help.
            if record.pid != os.getpid() and spool.read_delivery(record.key).attempts == 0:
                continue
            if not record.deliverable:
                continue
        elif not record.deliverable:
            if not reap:
                continue
            finish_orphan(spool, record)
        ready.append(record.key)
    # A job's run before the runs of its cells, which wait for it (``jobrun``).
    ready = parents_first(spool, ready)
    if len(ready) < 2:
        return [deliver(spool, key, timeout=timeout, credentials=credentials) for key in ready]
    # Runs are independent: a few at a time keep the tracking server busy. Runs sharing a
    # name go one after the other, in the order they started, so a rerun's unique name
    # ("#2") follows the first run's.
    same_name: dict[tuple[str, str], list[str]] = {}
    for key in ready:
        found = spool.read(key)
        name = (found.experiment, found.run_name) if found else ("", key)
        same_name.setdefault(name, []).append(key)

    def in_turn(keys: list[str]) -> list[Outcome]:
        return [deliver(spool, key, timeout=timeout, credentials=credentials) for key in keys]

    with ThreadPoolExecutor(SYNC_THREADS, thread_name_prefix="jupyter-mlops-sync") as pool:
        return [outcome for turn in pool.map(in_turn, same_name.values()) for outcome in turn]


def with_lineage(spool: Spool, record: RunRecord) -> None:
    """Add the run's lineage to ``record`` (in memory): captured on first need, here, out of
    the kernel's process (git, package versions, data hashes cost the kernel nothing),
    then kept in the journal so that every attempt sends the same."""
    request = record.lineage
    if request is None:
        return
    found = spool.read_lineage(record.key)
    if found is None:
        from .capture import capture_lineage

        found = {"tags": {}, "params": {}}
        # Packages are those of the kernel's environment: only its own Python can tell.
        same_python = request.get("executable") in (None, sys.executable)
        try:
            lineage = capture_lineage(
                str(request.get("cwd") or "."),
                list(request.get("data") or []),
                request.get("root"),
                request.get("state_dir"),
                packages=same_python,
                job_dir=request.get("job_dir"),
            )
        except Exception as exc:  # lineage is best effort; the run itself must go
            found["tags"]["jupyter_mlops.lineage_error"] = _one_line(exc)
        else:
            for path, content in lineage.artifacts.items():
                if content:
                    spool.add_artifact(record.key, path, content)
            found = {"tags": lineage.tags, "params": lineage.params}
        spool.write_lineage(record.key, found)
    record.tags.update(found.get("tags") or {})
    for name, value in (found.get("params") or {}).items():
        record.params.setdefault(name, value)


def finish_orphan(spool: Spool, record: RunRecord) -> None:
    """Close the record of a process that died: a run still running was KILLED."""
    if not record.terminal:
        record.status = "KILLED"
        record.end_time = now_ms()
        record.tags["jupyter_mlops.killed_reason"] = "the kernel ended while the cell ran"
    record.complete = True
    spool.write(record)


def _one_line(exc: BaseException) -> str:
    """The error as the journal keeps it (``delivery.json``, the agent's log, the run
    card): one line, with any URL's credentials masked."""
    return scrub_text(reason(exc))
