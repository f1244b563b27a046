"""Delivery of journaled runs to a local MLflow tracking server.

Figure (issue: experiment tracking): 1,000 runs with 10 parameters and 100 metric values
each, delivered by ``jupyter mlops sync`` (the same code as the delivery agent) in batches;
baseline in the same run: the same data for a sample of runs sent the way a hand-written
loop does it, one MLflow call per value.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

RUNS = int(os.environ.get("BENCH_DELIVERY_RUNS", "1000"))
BASELINE_RUNS = 10


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{folder / 'server.db'}",
            "--default-artifact-root",
            (folder / "server-artifacts").as_uri(),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(uri + "/health", timeout=1) as answer:
                if answer.status == 200:
                    return process, uri
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("the MLflow server did not start")


def _journal(spool, uri: str, runs: int) -> None:  # type: ignore[no-untyped-def]
    from jupyter_mlops.tracking.spool import RunRecord, now_ms

    dead_pid = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_pid.wait()
    start = now_ms()
    for i in range(runs):
        record = RunRecord.new(
            tracking_uri=uri,
            experiment="bench-delivery",
            run_name=f"run-{i}",
            status="FINISHED",
            end_time=start + 1000,
            params={f"p{j}": str(j * i) for j in range(10)},
            metrics=[["loss", 1.0 / (s + 1), start + s, s] for s in range(100)],
            complete=True,
            pid=dead_pid.pid,  # a finished process: sync delivers its runs as an orphan's
        )
        spool.write(record)


def run() -> dict[str, float]:
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    from mlflow import MlflowClient

    from jupyter_mlops.tracking.delivery import sync
    from jupyter_mlops.tracking.spool import Spool

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server, uri = _start_server(folder)
        try:
            client = MlflowClient(uri)
            experiment = client.create_experiment("bench-baseline")
            start = time.perf_counter()
            for i in range(BASELINE_RUNS):
                run_id = client.create_run(experiment, run_name=f"hand-{i}").info.run_id
                for j in range(10):
                    client.log_param(run_id, f"p{j}", j * i)
                for s in range(100):
                    client.log_metric(run_id, "loss", 1.0 / (s + 1), step=s)
                client.set_terminated(run_id)
            per_run_baseline = (time.perf_counter() - start) / BASELINE_RUNS

            spool = Spool(folder / "state")
            _journal(spool, uri, RUNS)
            start = time.perf_counter()
            outcomes = sync(spool, force=True)
            took = time.perf_counter() - start
            delivered = sum(o.state == "delivered" for o in outcomes)
            if delivered != RUNS:
                raise RuntimeError(f"only {delivered} of {RUNS} runs delivered")
            found = client.search_runs(
                [client.get_experiment_by_name("bench-delivery").experiment_id],
                max_results=RUNS + 10,
            )
            if len(found) != RUNS:
                raise RuntimeError(f"{len(found)} runs in the store, expected {RUNS}")
        finally:
            server.terminate()
            server.wait(10)
    return {
        "runs delivered": float(RUNS),
        "delivery of all runs, batched (s)": took,
        "runs per second, batched": RUNS / took,
        "metric values per second, batched": RUNS * 100 / took,
        "per run, batched (ms)": took / RUNS * 1000,
        "per run, one call per value, baseline (ms)": per_run_baseline * 1000,
        "speed-up of batching (x)": per_run_baseline / (took / RUNS),
    }
