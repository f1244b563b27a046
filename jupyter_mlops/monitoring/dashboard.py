"""A Grafana dashboard for a job, built with grafana-foundation-sdk (not JSON by hand).

One dashboard per job, reading what the job pushes (:mod:`.push`) from a Prometheus data
source chosen on the dashboard (``$datasource``), for one or all of the job's deployments
(``$deployment``): time since the last success, the last run, success and failure over
time, duration, the recorded metrics and the drift share.
"""

from __future__ import annotations

import hashlib
import json

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.builders import prometheus, stat, statetimeline, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as models

#: The data source every panel reads (a dashboard variable of type prometheus).
DATASOURCE = models.DataSourceRef(type_val="prometheus", uid="${datasource}")


def _query(expr: str, legend: str = "", instant: bool = False) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).datasource(DATASOURCE).ref_id("A")
    if legend:
        query = query.legend_format(legend)
    return query.instant() if instant else query.range()


def _thresholds(*steps: tuple[float | None, str]) -> builders.ThresholdsConfig:
    # Absolute steps (the builder's default mode).
    return builders.ThresholdsConfig().steps(
        [models.Threshold(value=value, color=color) for value, color in steps]
    )


def dashboard(
    job: str,
    *,
    stale_after: int | None = None,
    drift_threshold: float | None = None,
    metrics: tuple[str, ...] = (),
) -> builders.Dashboard:
    """The dashboard's builder. ``stale_after`` (seconds) colours the time since the last
    success red past it; ``metrics`` are the names the alert rules watch (all recorded
    metrics are drawn either way)."""
    where = f'job="{job}", deployment=~"$deployment"'
    uid = "jupyter-mlops-" + hashlib.sha256(job.encode()).hexdigest()[:12]
    since = (
        stat.Panel()
        .title("Time since last success")
        .description("Seconds since the job last ended successfully.")
        .with_target(
            _query(
                f"time() - max(jupyter_mlops_job_last_success_timestamp_seconds{{{where}}})",
                instant=True,
            )
        )
        .unit("s")
        .span(6)
        .height(5)
    )
    if stale_after:
        since = since.thresholds(_thresholds((None, "green"), (float(stale_after), "red")))
    last_run = (
        stat.Panel()
        .title("Last run")
        .description("1: the last run succeeded; 0: it failed.")
        .with_target(_query(f"jupyter_mlops_job_success{{{where}}}", "{{deployment}}", True))
        .thresholds(_thresholds((None, "red"), (1.0, "green")))
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .span(6)
        .height(5)
    )
    duration_now = (
        stat.Panel()
        .title("Last run's duration")
        .with_target(
            _query(f"jupyter_mlops_job_duration_seconds{{{where}}}", "{{deployment}}", True)
        )
        .unit("s")
        .span(6)
        .height(5)
    )
    drift_now = (
        stat.Panel()
        .title("Drift share")
        .description("Share of the columns the last drift check found drifted.")
        .with_target(_query(f"jupyter_mlops_job_drift_share{{{where}}}", "{{deployment}}", True))
        .unit("percentunit")
        .min(0)
        .max(1)
        .span(6)
        .height(5)
    )
    runs = (
        statetimeline.Panel()
        .title("Success and failure over time")
        .with_target(_query(f"jupyter_mlops_job_success{{{where}}}", "{{deployment}}"))
        .thresholds(_thresholds((None, "red"), (1.0, "green")))
        .span(24)
        .height(6)
    )
    durations = (
        timeseries.Panel()
        .title("Duration")
        .with_target(_query(f"jupyter_mlops_job_duration_seconds{{{where}}}", "{{deployment}}"))
        .unit("s")
        .draw_style(common.GraphDrawStyle.LINE)
        .line_interpolation(common.LineInterpolation.STEP_AFTER)
        .span(12)
        .height(8)
    )
    recorded = (
        timeseries.Panel()
        .title("Metrics")
        .description(
            "The final value of each metric the job's runs recorded"
            + (f" (alerts on {', '.join(metrics)})" if metrics else "")
            + "."
        )
        .with_target(_query(f"jupyter_mlops_job_metric{{{where}}}", "{{name}} ({{deployment}})"))
        .line_interpolation(common.LineInterpolation.STEP_AFTER)
        .legend(
            common_builders.VizLegendOptions()
            .show_legend(True)
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.BOTTOM)
        )
        .span(12)
        .height(8)
    )
    drift = (
        timeseries.Panel()
        .title("Drift share over time")
        .with_target(_query(f"jupyter_mlops_job_drift_share{{{where}}}", "{{deployment}}"))
        .unit("percentunit")
        .min(0)
        .max(1)
        .line_interpolation(common.LineInterpolation.STEP_AFTER)
        .span(24)
        .height(8)
    )
    if drift_threshold is not None:
        drift = drift.thresholds(_thresholds((None, "green"), (drift_threshold, "red")))
    return (
        builders.Dashboard(f"{job} (jupyter-mlops)")
        .uid(uid)
        .description(f"Runs of the job {job}, as its runs push them to Prometheus.")
        .tags(["jupyter-mlops", job])
        .refresh("1m")
        .time("now-7d", "now")
        .timezone("browser")
        .with_variable(
            builders.DatasourceVariable("datasource").label("Prometheus").type("prometheus")
        )
        .with_variable(
            builders.QueryVariable("deployment")
            .label("Deployment")
            .datasource(DATASOURCE)
            .query(f'label_values(jupyter_mlops_job_success{{job="{job}"}}, deployment)')
            .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .include_all(True)
            .all_value(".*")
            .multi(True)
        )
        .with_row(builders.Row("Now"))
        .with_panel(since)
        .with_panel(last_run)
        .with_panel(duration_now)
        .with_panel(drift_now)
        .with_row(builders.Row("Over time"))
        .with_panel(runs)
        .with_panel(durations)
        .with_panel(recorded)
        .with_panel(drift)
    )


def dashboard_json(job: str, **options: object) -> str:
    """The dashboard as the JSON Grafana imports (and file provisioning reads)."""
    built = dashboard(job, **options).build()  # type: ignore[arg-type]
    return json.dumps(json.loads(JSONEncoder().encode(built)), indent=2, sort_keys=True) + "\n"
