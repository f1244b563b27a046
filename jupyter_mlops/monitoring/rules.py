"""Prometheus alerting rules for a job, and a ``promtool test rules`` file proving they fire.

The rules read what the job pushes (:mod:`.push`), for one job (``job="NAME"``):

- ``JupyterMlopsJobFailed``: the last run did not succeed;
- ``JupyterMlopsJobStale``: no success within twice the schedule's interval (the longest
  gap between two runs of its cron expression; or an interval given when the job has no
  schedule);
- ``JupyterMlopsJobMetric``: a recorded metric below or above a threshold (``accuracy<0.8``);
- ``JupyterMlopsJobDrift``: the last drift check's share of drifted columns above a
  threshold.

The same groups go into a rules file (``rule_files:`` of prometheus.yml) and a
prometheus-operator ``PrometheusRule``. The unit-test file feeds made series to the rules
(a failed run, a last success that grows old, a metric on each side of its threshold) and
says which alerts must fire when: ``promtool test rules`` runs it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInput

#: ``NAME<0.8``, ``NAME>=100``: a metric's name, a comparison, a number.
_THRESHOLD = re.compile(r"\s*([A-Za-z0-9_.:/-]{1,200})\s*(<=|>=|<|>)\s*([-+]?[0-9.eE+-]+)\s*")
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
#: What the alerts are called, in the rules and the tests.
FAILED, STALE, METRIC, DRIFT = (
    "JupyterMlopsJobFailed",
    "JupyterMlopsJobStale",
    "JupyterMlopsJobMetric",
    "JupyterMlopsJobDrift",
)


@dataclass(frozen=True)
class Threshold:
    """``name op value``: alert when the job's metric ``name`` compares so with ``value``."""

    name: str
    op: str
    value: float

    @classmethod
    def parse(cls, text: str) -> Threshold:
        match = _THRESHOLD.fullmatch(text)
        number = _number(match.group(3)) if match else None
        if match is None or number is None:
            raise InvalidInput(
                f"--alert-metric '{text}' is not NAME<VALUE or NAME>VALUE (also <= and >=), "
                "e.g. accuracy<0.8"
            )
        return cls(match.group(1), match.group(2), number)

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.value:g}"


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_duration(text: str, option: str) -> int:
    """Seconds of ``90s``, ``30m``, ``1h``, ``1d12h``; :class:`InvalidInput` naming ``option``."""
    match = _DURATION.fullmatch(text.strip())
    seconds = 0
    if match and any(match.groups()):
        d, h, m, s = (int(g or 0) for g in match.groups())
        seconds = ((d * 24 + h) * 60 + m) * 60 + s
    if seconds <= 0:
        raise InvalidInput(f"{option} '{text}' is not a duration such as 30m, 6h or 1d")
    return seconds


def schedule_interval(schedule: str) -> int:
    """The longest gap, in seconds, between two consecutive runs of a cron schedule (five
    fields, or @daily...): a job that has not succeeded for twice that is overdue."""
    expression = _MACROS.get(schedule.strip().lower(), schedule)
    fields = expression.split()
    if len(fields) != 5:
        raise InvalidInput(f"schedule '{schedule}' is not a 5-field cron expression")
    minutes = _expand(fields[0], 0, 59, {})
    hours = _expand(fields[1], 0, 23, {})
    days = _expand(fields[2], 1, 31, {})
    months = _expand(fields[3], 1, 12, {m: i + 1 for i, m in enumerate(_MONTHS)})
    weekdays = {d % 7 for d in _expand(fields[4], 0, 7, {d: i for i, d in enumerate(_DAYS)})}
    times = sorted(h * 60 + m for h in hours for m in minutes)
    if not times:
        raise InvalidInput(f"schedule '{schedule}' never runs")
    gap = max((b - a for a, b in itertools.pairwise(times)), default=0)
    # Days it runs on, over eight years (two leap days); cron ORs day-of-month and
    # day-of-week when both are restricted.
    any_day, any_weekday = fields[2] in ("*", "?"), fields[4] in ("*", "?")
    start, previous = dt.date(2024, 1, 1), None
    for offset in range(8 * 366 + 7):
        day = start + dt.timedelta(days=offset)
        if day.month not in months:
            continue
        by_day, by_weekday = day.day in days, (day.isoweekday() % 7) in weekdays
        runs = (by_day and by_weekday) if any_day or any_weekday else (by_day or by_weekday)
        if not runs:
            continue
        if previous is not None:
            between = (day - previous).days * 1440 + times[0] - times[-1]
            gap = max(gap, between)
        previous = day
    if previous is None:
        raise InvalidInput(f"schedule '{schedule}' never runs")
    return max(gap, 1) * 60


def _expand(text: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    found: set[int] = set()
    for part in text.lower().split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else 1
        if base in ("*", "?"):
            first, last = low, high
        else:
            bounds = [names.get(b, int(b) if b.isdigit() else -1) for b in base.split("-")]
            if len(bounds) > 2 or any(not low <= b <= high for b in bounds):
                raise InvalidInput(f"cron field '{text}' is not valid")
            first = bounds[0]
            last = bounds[1] if len(bounds) == 2 else high if step_text else bounds[0]
        found.update(range(first, last + 1, step))
    return found


def _quote(value: str) -> str:
    """A PromQL (and Go template) string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _seconds_text(seconds: int) -> str:
    """A Prometheus duration (``2d``, ``90m``, ``45s``)."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class RuleSet:
    """The alerts of one job (see the module docstring)."""

    job: str
    #: Seconds between scheduled runs (None: no staleness alert).
    interval: int | None = None
    thresholds: tuple[Threshold, ...] = ()
    drift_threshold: float | None = 0.5

    @property
    def selector(self) -> str:
        return "{job=" + _quote(self.job) + "}"

    def rules(self) -> list[dict[str, Any]]:
        job, selector = self.job, self.selector
        found = [
            {
                "alert": FAILED,
                "expr": f"jupyter_mlops_job_success{selector} == 0",
                "labels": {"severity": "critical"},
                "annotations": {
                    "summary": f"Job {job} failed",
                    "description": "The last run of job {{ $labels.job }} (deployment "
                    "'{{ $labels.deployment }}') did not succeed.",
                },
            }
        ]
        if self.interval:
            limit = 2 * self.interval
            found.append(
                {
                    "alert": STALE,
                    "expr": "time() - jupyter_mlops_job_last_success_timestamp_seconds"
                    f"{selector} > {limit}",
                    "labels": {"severity": "critical"},
                    "annotations": {
                        "summary": f"Job {job} has not succeeded for {_seconds_text(limit)}",
                        "description": f"No success of job {{{{ $labels.job }}}} within twice "
                        f"its schedule's interval ({_seconds_text(limit)}).",
                    },
                }
            )
        for threshold in self.thresholds:
            metric = (
                "jupyter_mlops_job_metric{job="
                + _quote(job)
                + ",name="
                + _quote(threshold.name)
                + "}"
            )
            found.append(
                {
                    "alert": METRIC,
                    "expr": f"{metric} {threshold.op} {threshold.value:g}",
                    "labels": {"severity": "warning", "threshold": str(threshold)},
                    "annotations": {
                        "summary": f"Job {job}: {threshold.name} {threshold.op} "
                        f"{threshold.value:g}",
                        "description": "The last run of job {{ $labels.job }} recorded "
                        f"{threshold.name} {threshold.op} {threshold.value:g}.",
                    },
                }
            )
        if self.drift_threshold is not None:
            found.append(
                {
                    "alert": DRIFT,
                    "expr": f"jupyter_mlops_job_drift_share{selector} > {self.drift_threshold:g}",
                    "labels": {"severity": "warning"},
                    "annotations": {
                        "summary": f"Job {job}: data drift",
                        "description": "The last drift check of job {{ $labels.job }} found "
                        f"more than {self.drift_threshold:.0%} of the columns drifted.",
                    },
                }
            )
        return found

    def groups(self) -> list[dict[str, Any]]:
        return [{"name": f"jupyter-mlops-{self.job}", "rules": self.rules()}]

    def rules_file(self) -> dict[str, Any]:
        return {"groups": self.groups()}

    def prometheus_rule(self, namespace: str | None = None) -> dict[str, Any]:
        """The prometheus-operator resource holding the same groups."""
        metadata: dict[str, Any] = {
            "name": f"{self.job}-jupyter-mlops",
            "labels": {
                "app.kubernetes.io/managed-by": "jupyter-mlops",
                "jupyter-mlops/job": self.job,
            },
        }
        if namespace:
            metadata["namespace"] = namespace
        return {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": metadata,
            "spec": {"groups": self.groups()},
        }

    # -- the unit tests -------------------------------------------------------------------
    def unit_tests(self, rules_file: str) -> dict[str, Any]:
        """A ``promtool test rules`` file for :meth:`rules_file` saved as ``rules_file``."""
        tests = [self._failed_test()]
        if self.interval:
            tests.append(self._stale_test())
        tests += [self._threshold_test(t) for t in self.thresholds]
        if self.drift_threshold is not None:
            tests.append(self._drift_test())
        step = _seconds_text(self.step)
        return {"rule_files": [rules_file], "evaluation_interval": step, "tests": tests}

    @property
    def step(self) -> int:
        """Seconds between the tests' samples and evaluations: a minute, or longer for
        long schedules, so that twice the interval is at most about a thousand steps."""
        if not self.interval:
            return 60
        return max(60, math.ceil(2 * self.interval / 1000 / 60) * 60)

    def _at(self, steps: int) -> str:
        return _seconds_text(steps * self.step) if steps else "0m"

    def _alert(self, name: str, series: dict[str, str] | None = None) -> dict[str, Any]:
        rule = next(r for r in self.rules() if r["alert"] == name)
        labels = {"job": self.job, **(series or {})}
        annotations = {
            k: v.replace("{{ $labels.job }}", self.job).replace(
                "{{ $labels.deployment }}", labels.get("deployment", "")
            )
            for k, v in rule["annotations"].items()
        }
        return {"exp_labels": {**labels, **rule["labels"]}, "exp_annotations": annotations}

    def _series(self, metric: str, extra: str = "") -> str:
        return f"{metric}{{job={_quote(self.job)}{extra}}}"

    def _failed_test(self) -> dict[str, Any]:
        # Two successes, then failures: the alert fires from the first failure on.
        return {
            "interval": _seconds_text(self.step),
            "input_series": [
                {
                    "series": self._series("jupyter_mlops_job_success", ',deployment="nightly"'),
                    "values": "1 1 0 0 1",
                }
            ],
            "alert_rule_test": [
                {"eval_time": self._at(1), "alertname": FAILED, "exp_alerts": []},
                {
                    "eval_time": self._at(2),
                    "alertname": FAILED,
                    "exp_alerts": [self._alert(FAILED, {"deployment": "nightly"})],
                },
                {"eval_time": self._at(4), "alertname": FAILED, "exp_alerts": []},
            ],
        }

    def _stale_test(self) -> dict[str, Any]:
        # The last success at time 0, pushed again and again by failing runs: the alert
        # fires once twice the interval has passed, not before.
        assert self.interval is not None
        limit, step = 2 * self.interval, self.step
        before = (limit // step - 1) * step
        after = (limit // step + 1) * step
        samples = after // step + 2
        return {
            "interval": _seconds_text(step),
            "input_series": [
                {
                    "series": self._series("jupyter_mlops_job_last_success_timestamp_seconds"),
                    "values": f"0+0x{samples}",
                }
            ],
            "alert_rule_test": [
                {"eval_time": _seconds_text(before), "alertname": STALE, "exp_alerts": []},
                {
                    "eval_time": _seconds_text(after),
                    "alertname": STALE,
                    "exp_alerts": [self._alert(STALE)],
                },
            ],
        }

    def _threshold_test(self, threshold: Threshold) -> dict[str, Any]:
        # A value on the good side, then one on the bad side of the threshold.
        margin = max(abs(threshold.value) * 0.1, 0.01)
        bad = threshold.value - margin if "<" in threshold.op else threshold.value + margin
        good = threshold.value + margin if "<" in threshold.op else threshold.value - margin
        extra = f",name={_quote(threshold.name)}"
        return {
            "interval": _seconds_text(self.step),
            "input_series": [
                {
                    "series": self._series("jupyter_mlops_job_metric", extra),
                    "values": f"{good!r} {good!r} {bad!r} {bad!r}",
                }
            ],
            "alert_rule_test": [
                {"eval_time": self._at(1), "alertname": METRIC, "exp_alerts": []},
                {
                    "eval_time": self._at(3),
                    "alertname": METRIC,
                    "exp_alerts": [self._alert_for(threshold)],
                },
            ],
        }

    def _alert_for(self, threshold: Threshold) -> dict[str, Any]:
        rule = next(r for r in self.rules() if r["labels"].get("threshold") == str(threshold))
        annotations = {
            k: v.replace("{{ $labels.job }}", self.job) for k, v in rule["annotations"].items()
        }
        return {
            "exp_labels": {"job": self.job, "name": threshold.name, **rule["labels"]},
            "exp_annotations": annotations,
        }

    def _drift_test(self) -> dict[str, Any]:
        assert self.drift_threshold is not None
        low = max(self.drift_threshold - 0.1, 0.0)
        high = min(self.drift_threshold + 0.1, 1.0)
        return {
            "interval": _seconds_text(self.step),
            "input_series": [
                {
                    "series": self._series("jupyter_mlops_job_drift_share"),
                    "values": f"{low!r} {high!r}",
                }
            ],
            "alert_rule_test": [
                {"eval_time": self._at(0), "alertname": DRIFT, "exp_alerts": []},
                {"eval_time": self._at(1), "alertname": DRIFT, "exp_alerts": [self._alert(DRIFT)]},
            ],
        }


def thresholds(texts: Iterable[str]) -> tuple[Threshold, ...]:
    """Parsed ``--alert-metric`` values, one per metric and comparison."""
    return tuple(dict.fromkeys(Threshold.parse(t) for t in texts))
