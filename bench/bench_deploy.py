"""Deployments: a job run through Airflow against the same job run in its container.

Same job, same image, same run: ``jupyter mlops trigger NAME --wait`` (trigger to success
as the CLI sees it, through Airflow 3 standalone: SQLite, LocalExecutor, the scheduler
settings of ``tests/airflow_fixture.FAST_SCHEDULER``, printed) against ``jupyter mlops run
--in-container`` (the baseline), alternated, ``REPEATS`` each, medians. Goal: at most 1.5x.

``BENCH_DEPLOY_WORK`` (seconds, default 0) makes the job's notebook work that long (a
sleep), to show how Airflow's fixed cost weighs against jobs of a given length.

Needs the Airflow environment (``.venv-airflow``) and a container engine (Podman through
``scripts/containers.sh``); the job's image is built first (cached after the first time).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
REPEATS = int(os.environ.get("BENCH_DEPLOY_REPEATS", "3"))
WORK = float(os.environ.get("BENCH_DEPLOY_WORK", "0"))
CA_CERTS = Path("/usr/local/share/ca-certificates")


def _mlops(*args: str, cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"jupyter mlops {' '.join(args)}: {done.stderr[-2000:]}")
    return took


def run() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "tests"))
    fixture = importlib.import_module("airflow_fixture")
    containers = subprocess.run(
        [str(ROOT / "scripts" / "containers.sh"), "start"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    env = dict(os.environ)
    for line in containers.stdout.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = value
    if any(CA_CERTS.glob("*.crt")):
        env["JUPYTER_MLOPS_CA_CERTS"] = str(CA_CERTS)
    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp:
        folder = Path(tmp)
        airflow = fixture.start_airflow(folder / "airflow")
        try:
            return _measure(folder, airflow, {**env, **airflow.client_env()}, fixture)
        finally:
            fixture.stop_airflow(airflow)


def _measure(folder: Path, airflow: Any, env: dict[str, str], fixture: Any) -> dict[str, Any]:
    project = folder / "project"
    (project / ".mlops").mkdir(parents=True)
    document = new_notebook(
        cells=[
            new_code_cell(
                "times = 2  # how often\nwork = 0.0  # seconds of work",
                metadata={"tags": ["parameters"]},
            ),
            new_code_cell("import time\ntime.sleep(work)\nprint('RESULT', 'hello' * times)"),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    nbformat.write(document, project / "small.ipynb")
    _mlops("export", "small.ipynb", cwd=project, env=env)
    _mlops("build", "pipelines/small", cwd=project, env=env)
    deploy = _mlops(
        "deploy", "pipelines/small", "--network-mode", "host", "--retries", "0",
        cwd=project, env=env,
    )  # fmt: skip
    airflow_runs, container_runs = [], []
    with contextlib.suppress(KeyboardInterrupt):
        for _ in range(REPEATS):
            container_runs.append(
                _mlops(
                    "run",
                    "pipelines/small",
                    "--in-container",
                    "-p",
                    "times",
                    "3",
                    "-p",
                    "work",
                    str(WORK),
                    cwd=project,
                    env=env,
                )
            )
            airflow_runs.append(
                _mlops(
                    "trigger",
                    "small",
                    "-p",
                    "times",
                    "3",
                    "-p",
                    "work",
                    str(WORK),
                    "--wait",
                    "--interval",
                    "0.5",
                    cwd=project,
                    env=env,
                )
            )
    through_airflow = statistics.median(airflow_runs)
    in_container = statistics.median(container_runs)
    print("scheduler settings: " + " ".join(f"{k}={v}" for k, v in fixture.FAST_SCHEDULER.items()))
    return {
        "job's work (BENCH_DEPLOY_WORK) s": WORK,
        "deploy (write, parse, unpause) s": deploy,
        "run --in-container (baseline) median s": in_container,
        "trigger --wait through Airflow median s": through_airflow,
        "Airflow / in-container ratio (goal <= 1.5)": through_airflow / in_container,
    }
