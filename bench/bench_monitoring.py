"""What pushing a job's metrics to a Pushgateway costs the job.

Figure (issue: monitoring in production): the push adds at most 100 ms to a job. Measured
in the same run against the same job without a Pushgateway:

- the job's finishers in a fresh process (what the entrypoint runs after the notebook:
  building the metrics, one HTTP POST; ``prometheus_client`` imported in a thread while
  the notebook ran, as the entrypoint does), with and without
  ``JUPYTER_MLOPS_PUSHGATEWAY``, alternated, medians of ``REPEATS``; and the same without
  the import in advance (what it would cost otherwise);
- the whole job (``python -m jupyter_mlops.job``: papermill, a kernel, the push), with and
  without, alternated, medians of ``RUN_REPEATS``: the difference is within the job's own
  noise, which the first figure is not.

Needs Debian's ``prometheus-pushgateway`` (``scripts/setup.sh --with-tests``).
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

REPEATS = int(os.environ.get("BENCH_MONITORING_REPEATS", "15"))
RUN_REPEATS = int(os.environ.get("BENCH_MONITORING_RUN_REPEATS", "5"))

# The finishers as the entrypoint runs them, timed inside a fresh process. WARM: as in a
# job, prometheus_client is imported in a thread while the notebook runs (a second here).
_FINISH = """
import sys, time
from jupyter_mlops.export.finish import JobOutcome, finish
from jupyter_mlops.monitoring.push import warm_up
if sys.argv[1] == "warm":
    warm_up()
    time.sleep(1.0)
outcome = JobOutcome("bench", "/tmp", 0, parameters={"rows": 1000}, metrics={"accuracy": 0.9})
start = time.perf_counter()
finish(outcome)
print((time.perf_counter() - start) * 1000)
assert not outcome.warnings, outcome.warnings
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_pushgateway(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("prometheus-pushgateway")
    if binary is None:
        raise RuntimeError("prometheus-pushgateway is not installed (apt-get install it)")
    port = _free_port()
    process = subprocess.Popen(
        # In memory only (Debian's default persists to /var/lib/prometheus).
        [binary, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/-/ready", timeout=1) as answer:
                if answer.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the Pushgateway did not start")


def _env(gateway: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_MLOPS_")}
    env.pop("MLFLOW_TRACKING_URI", None)
    if gateway:
        env["JUPYTER_MLOPS_PUSHGATEWAY"] = gateway
    return env


def _finish_ms(gateway: str | None, mode: str = "warm") -> float:
    done = subprocess.run(
        [sys.executable, "-c", _FINISH, mode],
        env=_env(gateway),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return float(done.stdout.strip().splitlines()[-1])


def _job(folder: Path) -> Path:
    nbformat.write(
        new_notebook(
            cells=[
                new_code_cell("rows = 1000", metadata={"tags": ["parameters"]}),
                new_code_cell(
                    "from jupyter_mlops.export.metrics import record\n"
                    "record(accuracy=0.9, rows=rows)"
                ),
            ],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        ),
        folder / "bench.ipynb",
    )
    subprocess.run(
        [sys.executable, "-m", "jupyter_mlops", "export", str(folder / "bench.ipynb")],
        env=_env(None),
        check=True,
        capture_output=True,
        timeout=300,
    )
    return folder / "pipelines" / "bench"


def _run_s(job: Path, gateway: str | None) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "jupyter_mlops.job", str(job)],
        env=_env(gateway),
        check=True,
        capture_output=True,
        timeout=300,
    )
    return time.perf_counter() - start


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-monitoring-") as tmp:
        folder = Path(tmp)
        process, gateway = _start_pushgateway(folder)
        try:
            _finish_ms(gateway), _finish_ms(None)  # warm the disk cache
            with_push, without, cold = [], [], []
            for _ in range(REPEATS):
                with_push.append(_finish_ms(gateway))
                without.append(_finish_ms(None))
                cold.append(_finish_ms(gateway, "cold"))
            job = _job(folder)
            _run_s(job, None)
            runs_with, runs_without = [], []
            for _ in range(RUN_REPEATS):
                runs_with.append(_run_s(job, gateway))
                runs_without.append(_run_s(job, None))
        finally:
            process.kill()
            process.wait()
    finish_with, finish_without = statistics.median(with_push), statistics.median(without)
    job_with, job_without = statistics.median(runs_with), statistics.median(runs_without)
    return {
        "finishers with a Pushgateway, ms (median)": finish_with,
        "finishers without, ms (median)": finish_without,
        "added by the push, ms (target <= 100)": finish_with - finish_without,
        "finishers with a Pushgateway, ms (max)": max(with_push),
        "the same without the import in advance, ms (median)": statistics.median(cold),
        "job run with a Pushgateway, s (median)": job_with,
        "job run without, s (median)": job_without,
        "job run difference, ms": (job_with - job_without) * 1000,
        "job run ratio": job_with / job_without,
    }


if __name__ == "__main__":
    for label, value in run().items():
        print(f"  {label:<55} {value:10.2f}")
