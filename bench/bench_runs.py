"""The runs view's page of runs against loading a whole experiment.

Figure (issue: the runs view): an embedded SQLite store with 10,000 runs of 10 parameters
and 10 metrics in one experiment; the median time to serve a page of 100 runs sorted by a
metric, by the service the route calls and once more through HTTP with a real Jupyter
server; baseline in the same run: ``mlflow.search_runs(experiment_ids=[...])`` loading the
whole experiment into a pandas DataFrame (what a notebook or a simple panel would do),
and the same page asked of ``MlflowClient.search_runs`` (what the route would cost without
the SQLite reader of ``runs/pages.py``).

Building 10,000 runs through MLflow's API takes about 30 ms a run here (some 5 minutes), so
one run is made through the API and its rows are copied, with new ids and values, in one
transaction: the store holds exactly the rows MLflow writes, in seconds.
"""

from __future__ import annotations

import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

RUNS = int(os.environ.get("BENCH_RUNS_RUNS", "10000"))
PARAMS = METRICS = 10
PAGE = 100
REPEATS = int(os.environ.get("BENCH_RUNS_REPEATS", "20"))
BASELINE_REPEATS = 3
ORDER_BY = "metrics.m3 DESC"
T0 = 1_700_000_000_000


def _build(root: Path) -> tuple[str, str]:
    """The embedded store under ``root`` with RUNS runs in one experiment: (uri, id)."""
    from mlflow.entities import Metric, Param, RunStatus
    from mlflow.store.tracking.dbmodels.models import (
        SqlLatestMetric,
        SqlMetric,
        SqlParam,
        SqlRun,
        SqlTag,
    )
    from sqlalchemy import insert, select

    from jupyter_mlops import mlflow_store, settings

    resolved = settings.resolve(root, environ={})
    client = mlflow_store.client(resolved.tracking_uri, resolved.artifact_location)
    experiment_id = client.create_experiment(
        "bench-runs", artifact_location=f"{resolved.artifact_location}/bench-runs"
    )
    template = client.create_run(experiment_id, run_name="template", start_time=T0).info.run_id
    client.log_batch(
        template,
        params=[Param(f"p{j}", "0") for j in range(PARAMS)],
        metrics=[Metric(f"m{j}", 0.0, T0, 0) for j in range(METRICS)],
    )
    client.set_terminated(template, RunStatus.to_string(RunStatus.FINISHED), end_time=T0 + 1)

    engine = client._tracking_client.store.engine
    tables = [m.__table__ for m in (SqlRun, SqlTag, SqlParam, SqlMetric, SqlLatestMetric)]
    with engine.begin() as connection:
        rows = {
            table.name: [
                dict(row._mapping)
                for row in connection.execute(select(table).where(table.c.run_uuid == template))
            ]
            for table in tables
        }
        rng = random.Random(4)
        copies: dict[str, list[dict[str, Any]]] = {table.name: [] for table in tables}
        for i in range(1, RUNS):
            run_id = uuid.uuid4().hex
            start = T0 + i * 1000
            for name, originals in rows.items():
                for original in originals:
                    row = {**original, "run_uuid": run_id}
                    if name == "runs":
                        row.update(
                            name=f"run-{i}",
                            start_time=start,
                            end_time=start + rng.randint(1000, 60_000),
                            artifact_uri=original["artifact_uri"].replace(template, run_id),
                        )
                    elif name == "tags" and row["key"] == "mlflow.runName":
                        row["value"] = f"run-{i}"
                    elif name == "params":
                        row["value"] = str(rng.choice([0.001, 0.01, 0.1, 1.0]))
                    elif name in ("metrics", "latest_metrics"):
                        row.update(value=rng.random(), timestamp=start)
                    copies[name].append(row)
        for table in tables:
            if copies[table.name]:
                connection.execute(insert(table), copies[table.name])
    return resolved.tracking_uri, str(experiment_id)


def _median_ms(fn: Any, repeats: int) -> float:
    fn()  # warm: imports, connections, SQLite's page cache
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _http_median_ms(root: Path, experiment_id: str) -> float:
    """The same page through a real Jupyter server with the extension (token auth)."""
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(
        JUPYTER_CONFIG_DIR=str(root / "jupyter" / "config"),
        JUPYTER_DATA_DIR=str(root / "jupyter" / "data"),
        JUPYTER_RUNTIME_DIR=str(root / "jupyter" / "runtime"),
    )
    command = [
        sys.executable,
        "-m",
        "jupyter_server",
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
        "--ServerApp.jpserver_extensions={'jupyter_mlops': True}",
        "--MlopsApp.reap_interval=0",
    ]
    log = root / "jupyter-server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    query = urllib.parse.urlencode(
        {"experiment_id": experiment_id, "order_by": ORDER_BY, "max_results": PAGE}
    )
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/jupyter-mlops/runs?{query}",
        headers={"Authorization": f"token {token}"},
    )

    def fetch() -> None:
        with urllib.request.urlopen(request, timeout=60) as answer:
            if answer.status != 200 or not answer.read():
                raise RuntimeError(f"HTTP {answer.status}")

    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                fetch()
                break
            except urllib.error.HTTPError as exc:
                tail = log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{exc}: {exc.read()[:500]!r}\n{tail}") from exc
            except OSError:  # not listening yet
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.3)
        return _median_ms(fetch, REPEATS)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def run() -> dict[str, float]:
    import mlflow

    from jupyter_mlops import settings
    from jupyter_mlops.experiments.service import TrackingService
    from jupyter_mlops.runs.models import RunsQuery
    from jupyter_mlops.runs.service import RunsService

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve()
        start = time.perf_counter()
        uri, experiment_id = _build(root)
        built = time.perf_counter() - start

        service = RunsService(TrackingService(settings.resolve(root, environ={})))
        first = RunsQuery(experiment_id=experiment_id, order_by=ORDER_BY, max_results=PAGE)
        page = service.search(first)
        if len(page.runs) != PAGE or not page.next_page_token:
            raise RuntimeError(f"a page of {len(page.runs)} runs, expected {PAGE}")
        metric = [run.metrics["m3"] for run in page.runs]
        if metric != sorted(metric, reverse=True):
            raise RuntimeError("the page is not sorted by the metric")
        page_ms = _median_ms(lambda: service.search(first), REPEATS)
        deep = first.model_copy(update={"page_token": page.next_page_token})
        for _ in range(RUNS // PAGE // 2 - 1):  # walk to the middle of the experiment
            deep = deep.model_copy(update={"page_token": service.search(deep).next_page_token})
        deep_ms = _median_ms(lambda: service.search(deep), REPEATS)
        filtered = first.model_copy(update={"filter": "params.p1 = '0.1' and metrics.m2 > 0.5"})
        filtered_ms = _median_ms(lambda: service.search(filtered), REPEATS)

        http_ms = _http_median_ms(root, experiment_id)

        mlflow.set_tracking_uri(uri)

        def load_all() -> None:
            frame = mlflow.search_runs(experiment_ids=[experiment_id])
            if len(frame) != RUNS:
                raise RuntimeError(f"{len(frame)} runs loaded, expected {RUNS}")

        baseline_ms = _median_ms(load_all, BASELINE_REPEATS)

        client = service.tracking.client()

        def mlflow_page() -> None:  # what the route would cost without runs/pages.py
            client.search_runs([experiment_id], order_by=[ORDER_BY], max_results=PAGE)

        mlflow_page_ms = _median_ms(mlflow_page, BASELINE_REPEATS)
    return {
        "runs in the experiment": float(RUNS),
        "building the store (s)": built,
        "page of 100 sorted by a metric, service, median (ms)": page_ms,
        "same, through HTTP (Jupyter server), median (ms)": http_ms,
        "page 51 (offset 5,000), service, median (ms)": deep_ms,
        "page of 100 with a filter, service, median (ms)": filtered_ms,
        "baseline: mlflow.search_runs, whole experiment (ms)": baseline_ms,
        "baseline / page (x)": baseline_ms / page_ms,
        "same page by MlflowClient.search_runs, median (ms)": mlflow_page_ms,
    }
