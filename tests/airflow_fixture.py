"""A real Airflow 3 for the deployment tests and the bench: ``airflow standalone`` from the
project's Airflow environment (``.venv-airflow``, made by ``scripts/setup.sh``), SQLite and
the LocalExecutor, on a free loopback port, with a user of the simple auth manager, its DAG
folder in a temporary folder, and the scheduler tuned for a test (:data:`FAST_SCHEDULER`).

``start_airflow`` is used by the session fixture ``airflow`` and by ``bench/bench_deploy.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import free_port, start_process, stop_process_group, subprocess_env

ROOT = Path(__file__).resolve().parent.parent
AIRFLOW_VENV = ROOT / ".venv-airflow"
USER, PASSWORD = "mlops", "a-test-password"
#: Scheduler settings that make a DAG file parsed and a run started within seconds (the
#: defaults look for new DAG files every 5 minutes); the bench reports them.
FAST_SCHEDULER = {
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
    "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "1",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "600",
    # The LocalExecutor starts this many worker processes up front (default 32).
    "AIRFLOW__CORE__PARALLELISM": "4",
    # A worker's calls to the API server (task start, heartbeats) wait longer than the 5 s
    # default: on a busy 2-core machine with SQLite, one took 41 s and the task failed.
    "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "90",
}


@dataclass
class Airflow:
    url: str
    home: Path
    dags_folder: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    def client_env(self) -> dict[str, str]:
        """The variables ``jupyter mlops deploy`` finds Airflow by."""
        return {
            "JUPYTER_MLOPS_AIRFLOW_URL": self.url,
            "JUPYTER_MLOPS_AIRFLOW_DAGS_FOLDER": str(self.dags_folder),
            "JUPYTER_MLOPS_AIRFLOW_USERNAME": USER,
            "JUPYTER_MLOPS_AIRFLOW_PASSWORD": PASSWORD,
        }


def airflow_available() -> bool:
    return (AIRFLOW_VENV / "bin" / "airflow").exists()


def start_airflow(home: Path, timeout: float = 180.0) -> Airflow:
    """``airflow standalone`` in ``home`` (its own process group); ready once its API
    answers ``/api/v2/monitor/health``."""
    home.mkdir(parents=True, exist_ok=True)
    dags = home / "dags"
    dags.mkdir(exist_ok=True)
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({USER: PASSWORD}))
    port = free_port()
    env = subprocess_env(
        {
            "PATH": f"{AIRFLOW_VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "VIRTUAL_ENV": str(AIRFLOW_VENV),
            "PYTHONPATH": None,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            **FAST_SCHEDULER,
        }
    )
    log = home / "standalone.log"
    proc = start_process(
        [str(AIRFLOW_VENV / "bin" / "airflow"), "standalone"],
        cwd=home,
        env=env,
        log=log,
        ready_url=f"http://127.0.0.1:{port}/api/v2/monitor/health",
        timeout=timeout,
    )
    return Airflow(f"http://127.0.0.1:{port}", home, dags, log, proc, env)


def stop_airflow(airflow: Airflow) -> None:
    if airflow.proc is not None:
        stop_process_group(airflow.proc, timeout=20)


@pytest.fixture(scope="session")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airflow]:
    if not airflow_available():
        if os.environ.get("CI"):
            pytest.fail("no Airflow environment: scripts/setup.sh --with-tests makes it")
        pytest.skip("no Airflow environment (.venv-airflow; scripts/setup.sh --with-tests)")
    home = tmp_path_factory.mktemp("airflow")
    found = start_airflow(home)
    try:
        yield found
    finally:
        stop_airflow(found)
        shutil.rmtree(home / "logs", ignore_errors=True)
