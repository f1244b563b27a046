"""Job metrics to Prometheus, for real: Debian's ``prometheus-pushgateway`` and
``prometheus`` on free loopback ports, a job run by the entrypoint (papermill, a real
kernel) that pushes at its end, Prometheus scraping the Pushgateway (``honor_labels``), and
PromQL through Prometheus' HTTP API reading back the job's success, duration and metric.
A failed run leaves the last success in place; a Pushgateway that is down leaves the job
succeeding with a warning in its log and on its MLflow run."""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    exported_job,
    free_port,
    run_entrypoint,
    start_process,
    stop_process_group,
    subprocess_env,
)

from jupyter_mlops.export.finish import JobOutcome
from jupyter_mlops.monitoring import push

pytestmark = pytest.mark.slow

needs_prometheus = pytest.mark.skipif(
    not (shutil.which("prometheus") and shutil.which("prometheus-pushgateway")),
    reason="Debian's prometheus and prometheus-pushgateway (scripts/setup.sh --with-tests)",
)


@dataclass
class Stack:
    pushgateway: str
    prometheus: str

    def query(self, promql: str) -> list[dict[str, Any]]:
        url = f"{self.prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=10) as answer:
            body = json.load(answer)
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def until(
        self, promql: str, ok: Callable[[list[dict[str, Any]]], bool], timeout: float = 30
    ) -> list[dict[str, Any]]:
        """The query's result once ``ok`` accepts it (Prometheus scrapes every second)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql)
            if ok(result) or time.monotonic() > deadline:
                return result
            time.sleep(0.5)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A Pushgateway and a Prometheus scraping it every second, both on loopback."""
    folder = tmp_path_factory.mktemp("prometheus")
    env = subprocess_env()
    gateway_port, prometheus_port = free_port(), free_port()
    gateway = f"http://127.0.0.1:{gateway_port}"
    gateway_proc = start_process(
        # Debian's default keeps metrics in /var/lib/prometheus/pushgateway.data across runs.
        [
            "prometheus-pushgateway",
            f"--web.listen-address=127.0.0.1:{gateway_port}",
            "--persistence.file=",
        ],
        cwd=folder, env=env, log=folder / "pushgateway.log", ready_url=f"{gateway}/-/ready",
    )  # fmt: skip
    config = folder / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: pushgateway\n"
        "    honor_labels: true\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{gateway_port}']}}]\n"
    )
    prometheus = f"http://127.0.0.1:{prometheus_port}"
    try:
        prometheus_proc = start_process(
            [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
            ],
            cwd=folder, env=env, log=folder / "prometheus.log", ready_url=f"{prometheus}/-/ready",
        )  # fmt: skip
    except BaseException:
        stop_process_group(gateway_proc)
        raise
    try:
        yield Stack(gateway, prometheus)
    finally:
        stop_process_group(prometheus_proc)
        stop_process_group(gateway_proc)


NOTEBOOK = [
    ("fail = False\naccuracy = 0.9\n", ["parameters"]),
    ("from jupyter_mlops.export.metrics import record\nrecord(accuracy=accuracy, rows=3)", []),
    ("if fail:\n    raise ValueError('told to fail')", []),
]


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An exported job that records two metrics and fails when told to."""
    return exported_job(tmp_path_factory.mktemp("project"), "scored", NOTEBOOK)


def value(result: list[dict[str, Any]]) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])


@needs_prometheus
def test_a_run_pushes_and_a_failure_keeps_the_last_success(job: Path, stack: Stack) -> None:
    env = {
        "JUPYTER_MLOPS_PUSHGATEWAY": stack.pushgateway,
        "JUPYTER_MLOPS_DEPLOYMENT": "nightly",
        "JUPYTER_MLOPS_IMAGE_DIGEST": "sha256:" + "ab" * 32,
    }
    started = time.time()
    done = run_entrypoint(job, **env)
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr, done.stderr
    where = '{job="scored", deployment="nightly"}'

    success = stack.until(f"jupyter_mlops_job_success{where}", lambda r: len(r) == 1)
    assert value(success) == 1
    labels = success[0]["metric"]
    assert labels["image_digest"] == "sha256:" + "ab" * 32
    assert labels["params_hash"] == push.parameters_hash({"fail": False, "accuracy": 0.9})
    assert not any("run" in name for name in labels), labels  # never a run id
    assert 0 < value(stack.query(f"jupyter_mlops_job_duration_seconds{where}")) < 300
    accuracy = stack.query('jupyter_mlops_job_metric{job="scored", name="accuracy"}')
    assert value(accuracy) == pytest.approx(0.9)
    assert value(stack.query('jupyter_mlops_job_metric{job="scored", name="rows"}')) == 3
    last_success = value(stack.query(f"jupyter_mlops_job_last_success_timestamp_seconds{where}"))
    assert started < last_success < time.time()

    # A failing run with other parameters: success 0, its own metric, the last success kept.
    done = run_entrypoint(job, "-p", "fail", "true", "-p", "accuracy", "0.5", **env)
    assert done.returncode == 3, done.stderr
    failed = stack.until(
        f"jupyter_mlops_job_success{where}", lambda r: len(r) == 1 and value(r) == 0
    )
    assert value(failed) == 0, failed
    assert failed[0]["metric"]["params_hash"] != labels["params_hash"]
    assert value(stack.query(f"jupyter_mlops_job_exit_code{where}")) == 3
    kept = stack.query(f"jupyter_mlops_job_last_success_timestamp_seconds{where}")
    assert value(kept) == last_success
    accuracy = stack.query('jupyter_mlops_job_metric{job="scored", name="accuracy"}')
    assert value(accuracy) == pytest.approx(0.5)
    # Time since the last success, as the dashboard and the staleness alert compute it.
    age = stack.query(f"time() - jupyter_mlops_job_last_success_timestamp_seconds{where}")
    assert 0 <= value(age) < 300


@needs_prometheus
def test_runs_without_a_deployment_are_a_group_of_their_own(job: Path, stack: Stack) -> None:
    done = run_entrypoint(job, JUPYTER_MLOPS_PUSHGATEWAY=stack.pushgateway)
    assert done.returncode == 0, done.stderr
    # The Pushgateway holds the group job="scored" with an empty deployment beside "nightly".
    with urllib.request.urlopen(f"{stack.pushgateway}/api/v1/metrics", timeout=10) as answer:
        groups = [g["labels"] for g in json.load(answer)["data"]]
    mine = [g for g in groups if g.get("job") == "scored"]
    assert {g.get("deployment", "") for g in mine} >= {""}, mine
    result = stack.until('jupyter_mlops_job_success{job="scored", deployment=""}', bool)
    assert value(result) == 1


def test_a_pushgateway_that_is_down_leaves_the_job_succeeding_with_a_warning(
    job: Path, tmp_path: Path, embedded_uri: Callable[[Path], str]
) -> None:
    uri = embedded_uri(tmp_path)
    down = f"http://127.0.0.1:{free_port()}"
    done = run_entrypoint(
        job,
        JUPYTER_MLOPS_PUSHGATEWAY=down,
        JUPYTER_MLOPS_TRACKING_URI=uri,
        JUPYTER_MLOPS_PUSHGATEWAY_TIMEOUT="2",
    )
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1, done.stderr
    assert f"not pushed to the Pushgateway {down}" in warnings[0]
    assert "Connection refused" in warnings[0]

    from mlflow import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("scored")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert "not pushed to the Pushgateway" in run.data.tags[push.WARNING_TAG]


def test_a_pushgateway_url_that_is_not_one_is_a_warning_not_a_failure(job: Path) -> None:
    done = run_entrypoint(job, JUPYTER_MLOPS_PUSHGATEWAY="ftp://metrics.example.com")
    assert done.returncode == 0, done.stderr
    assert "'ftp' is not http or https" in done.stderr


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://pushgateway.monitoring:9091", None),
        ("pushgateway:9091", None),
        ("https://push.example.com/prefix", None),
        ("ftp://push.example.com", "'ftp' is not http or https"),
        ("http://user:secret@push.example.com", "holds credentials"),
        ("http://push.example.com?token=x", "no query"),
        ("http://", "names no host"),
        ("http://push.example.com:99999", "out of range"),
    ],
)
def test_pushgateway_urls(url: str, problem: str | None) -> None:
    found = push.url_problem(url)
    assert (found is None) if problem is None else (problem in (found or "")), found


def test_what_a_run_pushes() -> None:
    from prometheus_client import generate_latest

    failed = JobOutcome("j", "/j", 3, parameters={"a": 1}, metrics={"acc": 0.5}, started=1, ended=4)
    text = generate_latest(push.registry_for(failed)).decode()
    assert "jupyter_mlops_job_success{" in text
    assert "last_success_timestamp" not in text  # a failure never carries it
    assert 'jupyter_mlops_job_metric{image_digest="",name="acc",params_hash=' in text
    assert "drift_share" not in text
    done = JobOutcome("j", "/j", 0, parameters={"a": 1}, drift_share=0.25, started=1, ended=4)
    text = generate_latest(push.registry_for(done)).decode()
    assert "jupyter_mlops_job_last_success_timestamp_seconds{" in text
    assert re.search(r"^jupyter_mlops_job_drift_share\{.*\} 0\.25$", text, re.M)
    assert re.search(r"^jupyter_mlops_job_duration_seconds\{.*\} 3\.0$", text, re.M)
    assert "jupyter_mlops_job_metric" not in text
    assert push.parameters_hash({"a": 1, "b": [1]}) == push.parameters_hash({"b": [1], "a": 1})
    assert push.parameters_hash({"a": 1}) != push.parameters_hash({"a": 2})
