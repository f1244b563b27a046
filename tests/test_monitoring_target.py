"""The ``monitoring`` export target: alert rules that ``promtool check rules`` accepts and
that fire when they should (``promtool test rules``: the generated tests, a hand-written
one, and the generated tests failing on rules that are wrong), the same rules as a
PrometheusRule, and a Grafana dashboard reading what the job pushes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from conftest import subprocess_env
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.monitoring import rules
from jupyter_mlops.monitoring.dashboard import dashboard_json

needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="Debian's prometheus package (scripts/setup.sh --with-tests)",
)


def _notebook(folder: Path) -> Path:
    nbformat.write(
        new_notebook(
            cells=[
                new_code_cell("accuracy = 0.9\n", metadata={"tags": ["parameters"]}),
                new_code_cell("print(accuracy)"),
            ],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        ),
        folder / "scored.ipynb",
    )
    return folder / "scored.ipynb"


def export(folder: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jupyter_mlops", "export", str(_notebook(folder)),
         "--target", "monitoring", *options],
        env=subprocess_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.fixture(scope="module")
def monitoring(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The monitoring folder of a daily job with two metric alerts, in namespace ml."""
    folder = tmp_path_factory.mktemp("project")
    done = export(
        folder,
        "--schedule", "0 3 * * *",
        "--alert-metric", "accuracy<0.8",
        "--alert-metric", "rows >= 1000",
        "--drift-threshold", "0.3",
        "--namespace", "ml",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr, done.stderr
    return folder / "pipelines" / "scored" / "monitoring"


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@needs_promtool
def test_the_rules_pass_promtool_and_their_tests(monitoring: Path) -> None:
    checked = promtool("check", "rules", "alerts.rules.yml", cwd=monitoring)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 5 rules found" in checked.stdout
    tested = promtool("test", "rules", "alerts.test.yml", cwd=monitoring)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    tests = yaml.safe_load((monitoring / "alerts.test.yml").read_text())["tests"]
    tested_alerts = {t["alertname"] for test in tests for t in test["alert_rule_test"]}
    assert tested_alerts == {rules.FAILED, rules.STALE, rules.METRIC, rules.DRIFT}


@needs_promtool
@pytest.mark.parametrize(
    ("right", "wrong"),
    [
        ("> 172800", "> 345600"),  # staleness after four days, not two
        ('name="accuracy"} < 0.8', 'name="accuracy"} > 0.8'),  # the comparison flipped
        ('success{job="scored"} == 0', 'success{job="scored"} == 1'),
        ('drift_share{job="scored"} > 0.3', 'drift_share{job="scored"} > 0.9'),
    ],
)
def test_the_generated_tests_fail_on_wrong_rules(
    monitoring: Path, tmp_path: Path, right: str, wrong: str
) -> None:
    text = (monitoring / "alerts.rules.yml").read_text()
    assert right in text
    (tmp_path / "alerts.rules.yml").write_text(text.replace(right, wrong))
    shutil.copy(monitoring / "alerts.test.yml", tmp_path)
    tested = promtool("test", "rules", "alerts.test.yml", cwd=tmp_path)
    assert tested.returncode != 0, tested.stdout


@needs_promtool
def test_a_daily_job_is_stale_after_two_days_and_not_before(
    monitoring: Path, tmp_path: Path
) -> None:
    """Written by hand: the last success at 0, a failure pushed every 10 minutes after."""
    shutil.copy(monitoring / "alerts.rules.yml", tmp_path)
    (tmp_path / "stale.test.yml").write_text(
        textwrap.dedent(
            """\
            rule_files: [alerts.rules.yml]
            evaluation_interval: 10m
            tests:
              - interval: 10m
                input_series:
                  - series: 'jupyter_mlops_job_last_success_timestamp_seconds{job="scored"}'
                    values: '0+0x400'
                  - series: 'jupyter_mlops_job_success{job="other"}'
                    values: '0x400'
                alert_rule_test:
                  - {eval_time: 47h, alertname: JupyterMlopsJobStale, exp_alerts: []}
                  - eval_time: 48h10m
                    alertname: JupyterMlopsJobStale
                    exp_alerts:
                      - exp_labels: {job: scored, severity: critical}
                        exp_annotations:
                          summary: Job scored has not succeeded for 2d
                          description: >-
                            No success of job scored within twice its schedule's
                            interval (2d).
                  # Another job's failures are not this job's.
                  - {eval_time: 1h, alertname: JupyterMlopsJobFailed, exp_alerts: []}
            """
        )
    )
    tested = promtool("test", "rules", "stale.test.yml", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_prometheus_rule_holds_the_same_groups(monitoring: Path) -> None:
    resource = yaml.safe_load((monitoring / "prometheusrule.yaml").read_text())
    assert resource["apiVersion"] == "monitoring.coreos.com/v1"
    assert resource["kind"] == "PrometheusRule"
    assert resource["metadata"]["name"] == "scored-jupyter-mlops"
    assert resource["metadata"]["namespace"] == "ml"
    plain = yaml.safe_load((monitoring / "alerts.rules.yml").read_text())
    assert resource["spec"]["groups"] == plain["groups"]


def test_the_dashboard_reads_what_the_job_pushes(monitoring: Path) -> None:
    board = json.loads((monitoring / "grafana-dashboard.json").read_text())
    assert board["title"] == "scored (jupyter-mlops)"
    assert board["uid"] == json.loads(dashboard_json("scored"))["uid"]  # stable across exports
    panels = {p["title"]: p for p in board["panels"] if p["type"] != "row"}
    assert set(panels) == {
        "Time since last success",
        "Last run",
        "Last run's duration",
        "Drift share",
        "Success and failure over time",
        "Duration",
        "Metrics",
        "Drift share over time",
    }
    exprs = {title: p["targets"][0]["expr"] for title, p in panels.items()}
    for title, expr in exprs.items():
        assert 'job="scored"' in expr, title
        assert p_datasource(panels[title]) == "${datasource}", title
    assert exprs["Time since last success"].startswith(
        "time() - max(jupyter_mlops_job_last_success_timestamp_seconds{"
    )
    assert exprs["Metrics"].startswith("jupyter_mlops_job_metric{")
    steps = panels["Time since last success"]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps[-1]["value"] == 2 * 86400  # red once the staleness alert would fire
    drift_steps = panels["Drift share over time"]["fieldConfig"]["defaults"]["thresholds"]
    assert drift_steps["steps"][-1]["value"] == 0.3
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    assert "jupyter_mlops_job_success" in variables["deployment"]["query"]


def p_datasource(panel: dict) -> str:
    return str(panel["targets"][0]["datasource"]["uid"])


def test_without_a_schedule_there_is_no_staleness_alert_and_a_warning(tmp_path: Path) -> None:
    done = export(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "no --schedule nor --expected-interval" in done.stderr
    text = (tmp_path / "pipelines" / "scored" / "monitoring" / "alerts.rules.yml").read_text()
    assert rules.FAILED in text
    assert rules.STALE not in text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--alert-metric", "accuracy"], "--alert-metric 'accuracy' is not NAME<VALUE"),
        (["--drift-threshold", "1.5"], "--drift-threshold 1.5 is not between 0 and 1"),
        (["--expected-interval", "soon"], "--expected-interval 'soon' is not a duration"),
    ],
)
def test_bad_options_are_one_clear_error(tmp_path: Path, options: list[str], message: str) -> None:
    done = export(tmp_path, *options)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "pipelines" / "scored").exists()


@pytest.mark.parametrize(
    ("schedule", "hours"),
    [
        ("0 3 * * *", 24),
        ("@daily", 24),
        ("@hourly", 1),
        ("*/15 * * * *", 0.25),
        ("0 */6 * * *", 6),
        ("0 9,17 * * *", 16),  # the night is the longest gap
        ("0 9 * * 1-5", 72),  # Friday to Monday
        ("30 2 * * 0", 168),
        ("0 0 1 * *", 31 * 24),
        ("0 0 29 2 *", 4 * 8766),  # leap days only
    ],
)
def test_the_interval_of_a_schedule_is_its_longest_gap(schedule: str, hours: float) -> None:
    assert rules.schedule_interval(schedule) == pytest.approx(hours * 3600, rel=0.001)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("accuracy<0.8", ("accuracy", "<", 0.8)),
        (" loss >= 1e3 ", ("loss", ">=", 1000.0)),
        ("val/f1<=-0.5", ("val/f1", "<=", -0.5)),
    ],
)
def test_metric_thresholds(text: str, parsed: tuple[str, str, float]) -> None:
    threshold = rules.Threshold.parse(text)
    assert (threshold.name, threshold.op, threshold.value) == parsed


BAD_THRESHOLDS = ["accuracy", "<0.8", "accuracy=0.8", "acc<abc", "acc<inf", 'a"b<1']


@pytest.mark.parametrize("text", BAD_THRESHOLDS)
def test_bad_metric_thresholds(text: str) -> None:
    with pytest.raises(InvalidInput, match="is not NAME<VALUE"):
        rules.Threshold.parse(text)


def test_the_pushgateway_option_reaches_every_engine(tmp_path: Path) -> None:
    url = "http://pushgateway.monitoring:9091"
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops", "export", str(_notebook(tmp_path)),
         *("--target", "kubernetes", "--target", "argo", "--target", "airflow"),
         *("--target", "kfp", "--image", "reg.example.com/scored:1", "--pushgateway", url)],
        env=subprocess_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    job = tmp_path / "pipelines" / "scored"
    manifests = ["kubernetes/job.yaml", "argo/workflow.yaml", "kfp/pipeline.yaml"]
    for name in manifests:
        env = [
            item
            for document in yaml.safe_load_all((job / name).read_text())
            for item in _env_lists(document)
        ]
        assert {"name": "JUPYTER_MLOPS_PUSHGATEWAY", "value": url} in env, name
    dag = (job / "airflow" / "scored_dag.py").read_text()
    assert f"'JUPYTER_MLOPS_PUSHGATEWAY': '{url}'" in dag


def _env_lists(node: object) -> list[dict[str, str]]:
    """Every item of every ``env:`` list in a manifest."""
    found: list[dict[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "env" and isinstance(value, list):
                found += value
            else:
                found += _env_lists(value)
    elif isinstance(node, list):
        for item in node:
            found += _env_lists(item)
    return found


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://ops:hunter2@push.example.com", "it holds credentials"),
        ("ftp://push.example.com", "'ftp' is not http or https"),
    ],
)
def test_a_pushgateway_option_that_is_not_a_url_is_refused(
    tmp_path: Path, url: str, message: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops", "export", str(_notebook(tmp_path)),
         "--target", "kubernetes", "--pushgateway", url],
        env=subprocess_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "--pushgateway: '" in done.stderr
    assert message in done.stderr
    assert "hunter2" not in done.stderr


# -- from JupyterLab: the server's export, its settings ------------------------------------
@pytest.fixture
def jp_server_config() -> Config:
    """The server with the extension, the monitoring target's settings and a Pushgateway."""
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"jupyter_mlops": True}},
            "MlopsApp": {"pushgateway": "http://pushgateway.example.com:9091"},
            "MonitoringTarget": {"alert_metrics": ["accuracy<0.75"], "drift_threshold": 0.2},
        }
    )


async def test_the_servers_export_uses_the_targets_settings(
    fetch_json: Any, jp_root_dir: Path, mlops_app: Any
) -> None:
    _notebook(jp_root_dir)
    status, job = await fetch_json(
        "jobs", "export", method="POST", request_timeout=120,
        body=json.dumps({
            "notebook": "scored.ipynb",
            "targets": ["monitoring", "kubernetes"],
            "deployment": {"schedule": "@hourly", "pushgateway": "http://pg:9091"},
        }),
    )  # fmt: skip
    assert status == 200, job
    folder = jp_root_dir / job["path"]
    text = (folder / "monitoring" / "alerts.rules.yml").read_text()
    assert 'name="accuracy"} < 0.75' in text
    assert 'drift_share{job="scored"} > 0.2' in text
    assert "> 7200" in text  # twice an hour
    assert "http://pg:9091" in (folder / "kubernetes" / "job.yaml").read_text()
    # Jobs run from JupyterLab get the server's Pushgateway.
    environment = mlops_app.settings_resolved.kernel_environment()
    assert environment["JUPYTER_MLOPS_PUSHGATEWAY"] == "http://pushgateway.example.com:9091"

    status, answer = await fetch_json(
        "jobs", "export", method="POST", request_timeout=120,
        body=json.dumps({
            "notebook": "scored.ipynb",
            "targets": ["kubernetes"],
            "deployment": {"pushgateway": "http://ops:hunter2@pg:9091"},
        }),
    )  # fmt: skip
    assert status == 400, answer
    assert "it holds credentials" in json.dumps(answer)
    assert "hunter2" not in json.dumps(answer)


def test_the_environment_names_the_pushgateway_before_the_setting(tmp_path: Path) -> None:
    from jupyter_mlops import settings

    configured = settings.resolve(tmp_path, pushgateway="http://a:9091", environ={})
    assert configured.kernel_environment()["JUPYTER_MLOPS_PUSHGATEWAY"] == "http://a:9091"
    given = {"JUPYTER_MLOPS_PUSHGATEWAY": "http://b:9091"}
    assert settings.resolve(tmp_path, pushgateway="http://a:9091", environ=given).pushgateway == (
        "http://b:9091"
    )
    unset = settings.resolve(tmp_path, environ={})
    assert "JUPYTER_MLOPS_PUSHGATEWAY" not in unset.kernel_environment()
