"""A job's outcome and metrics, pushed to a Prometheus Pushgateway when the run ends.

A batch job lives too short for Prometheus to scrape it, so the job entrypoint's finisher
(:func:`push_outcome`) pushes once, at the end of every run, when a Pushgateway is
configured (``JUPYTER_MLOPS_PUSHGATEWAY``: the server's setting, a deployment's
``--pushgateway``, or the variable itself). What is pushed:

- ``jupyter_mlops_job_success`` (1 or 0), ``jupyter_mlops_job_duration_seconds``,
  ``jupyter_mlops_job_exit_code`` and ``jupyter_mlops_job_last_run_timestamp_seconds``,
  every run;
- ``jupyter_mlops_job_last_success_timestamp_seconds``, only when the run succeeded;
- ``jupyter_mlops_job_metric{name="..."}``, the final value of each metric the notebook
  recorded, when it recorded any;
- ``jupyter_mlops_job_drift_share``, when a drift check ran.

The group is the job and its deployment (the Pushgateway's grouping key), and the push is a
POST (push-add): the Pushgateway then replaces only the metric families this push carries,
so a failed run, which carries no last-success time, leaves the last success in place
(a PUT would replace the whole group and erase it). The image digest and the parameters'
hash are labels of the series, not of the group: a new image or new parameters replace
the previous series instead of leaving stale groups behind. The run id is never a label
(each run would make new series forever).

A Pushgateway that is down or refuses the push never fails the job: the finisher prints a
warning, keeps it with the outcome, and tags the job's MLflow run
``jupyter_mlops.warning.pushgateway`` when the run is known.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..settings import ENV_PUSHGATEWAY

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from ..export.finish import JobOutcome

#: Seconds a push may take before it is given up (the job waits at most this long).
ENV_TIMEOUT = "JUPYTER_MLOPS_PUSHGATEWAY_TIMEOUT"
#: Basic auth for a Pushgateway behind a proxy: expose them from a Secret
#: (``--env-from-secret``), never in the URL (which lands in manifests).
ENV_USERNAME = "JUPYTER_MLOPS_PUSHGATEWAY_USERNAME"
ENV_PASSWORD = "JUPYTER_MLOPS_PUSHGATEWAY_PASSWORD"  # noqa: S105 - a variable's name
DEFAULT_TIMEOUT = 5.0
#: The MLflow tag a failed push leaves on the job's run.
WARNING_TAG = "jupyter_mlops.warning.pushgateway"
PREFIX = "jupyter_mlops_job_"
#: Labels of every series besides the group's (``job``, ``deployment``).
SERIES_LABELS = ("image_digest", "params_hash")


def gateway_url(environ: Mapping[str, str] | None = None) -> str:
    """The configured Pushgateway's URL, or "" when none is."""
    env = os.environ if environ is None else environ
    return (env.get(ENV_PUSHGATEWAY) or "").strip()


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a Pushgateway's URL, or ``None``."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https"):
        return f"'{parts.scheme}' is not http or https"
    if not parts.hostname:
        return "it names no host"
    if parts.username or parts.password:
        return (
            f"it holds credentials; give them as {ENV_USERNAME} and {ENV_PASSWORD} "
            "(from a Secret), not in the URL"
        )
    if parts.query or parts.fragment:
        return "a Pushgateway URL has no query or fragment"
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError as exc:
        return str(exc)
    return None


def parameters_hash(parameters: Mapping[str, Any]) -> str:
    """A short, stable hash of a run's parameter values (the same values, the same hash)."""
    text = json.dumps(dict(parameters), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def grouping_key(outcome: JobOutcome) -> dict[str, str]:
    """The Pushgateway group of a run, besides its ``job``: its deployment ("" for none)."""
    return {"deployment": outcome.deployment}


def registry_for(outcome: JobOutcome) -> CollectorRegistry:
    """The metrics one run pushes (see the module docstring)."""
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry()
    labels = {
        "image_digest": outcome.image_digest,
        "params_hash": parameters_hash(outcome.parameters),
    }

    def gauge(name: str, doc: str, value: float, extra: Mapping[str, str] | None = None) -> None:
        names = [*labels, *(extra or {})]
        metric = Gauge(PREFIX + name, doc, names, registry=registry)
        metric.labels(**labels, **(extra or {})).set(value)

    gauge("success", "1 if the job's last run succeeded, else 0.", int(outcome.succeeded))
    gauge("duration_seconds", "How long the job's last run took.", outcome.duration)
    gauge("exit_code", "The exit code of the job's last run (0 done, 3 failed).", outcome.exit_code)
    gauge("last_run_timestamp_seconds", "When the job's last run ended.", outcome.ended)
    if outcome.succeeded:
        gauge(
            "last_success_timestamp_seconds",
            "When the job last ended successfully.",
            outcome.ended,
        )
    if outcome.metrics:
        metric = Gauge(
            PREFIX + "metric",
            "The final value of each metric the job's last run recorded.",
            [*labels, "name"],
            registry=registry,
        )
        for name, value in sorted(outcome.metrics.items()):
            metric.labels(**labels, name=name).set(value)
    drift = getattr(outcome, "drift_share", None)
    if drift is not None:
        gauge("drift_share", "Share of the columns the last drift check found drifted.", drift)
    return registry


def push(outcome: JobOutcome, url: str, timeout: float | None = None) -> None:
    """Push ``outcome``'s metrics to the Pushgateway at ``url`` (POST: push-add). Raises
    what the HTTP client raises when the Pushgateway does not take them."""
    from prometheus_client import pushadd_to_gateway

    problem = url_problem(url)
    if problem:
        raise ValueError(f"{ENV_PUSHGATEWAY}={url!r} is not a Pushgateway URL: {problem}")
    if timeout is None:
        timeout = _timeout()
    pushadd_to_gateway(
        url,
        job=outcome.job,
        registry=registry_for(outcome),
        grouping_key=grouping_key(outcome),
        timeout=timeout,
        handler=_handler(),
    )


def warm_up() -> None:
    """With a Pushgateway configured, import ``prometheus_client`` in a thread while the
    notebook runs: its import (http.server, wsgiref, platform) costs 100 ms or more on a
    busy machine, which the push at the end would otherwise add to the job."""
    if not gateway_url() or "prometheus_client" in sys.modules:
        return
    import threading

    def load() -> None:
        try:
            import prometheus_client.exposition  # noqa: F401
        except Exception:  # the finisher reports it, with the push
            return

    threading.Thread(target=load, name="jupyter-mlops-prometheus-import").start()


def push_outcome(outcome: JobOutcome) -> None:
    """The finisher: push when a Pushgateway is configured; never fail the job."""
    url = gateway_url()
    if not url:
        return
    try:
        push(outcome, url)
    except Exception as exc:
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        warning = f"the metrics were not pushed to the Pushgateway {_shown(url)}: {detail}"
        outcome.warnings.append(warning)
        print(f"jupyter-mlops job: warning: {warning}", file=sys.stderr)
        _tag_run(outcome, warning)


def _timeout() -> float:
    try:
        value = float(os.environ.get(ENV_TIMEOUT) or DEFAULT_TIMEOUT)
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT


def _handler() -> Callable[..., Callable[[], None]]:
    from prometheus_client.exposition import basic_auth_handler, default_handler

    username, password = os.environ.get(ENV_USERNAME), os.environ.get(ENV_PASSWORD)
    if not username:
        return default_handler

    def handler(**kwargs: Any) -> Callable[[], None]:
        return basic_auth_handler(username=username, password=password, **kwargs)

    return handler


def _shown(url: str) -> str:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def _tag_run(outcome: JobOutcome, warning: str) -> None:
    """Leave the warning on the job's MLflow run, when there is one (best effort)."""
    if not outcome.run_id:
        return
    try:
        from .. import mlflow_store
        from .. import settings as settings_mod

        settings = settings_mod.from_kernel_environment(cwd=outcome.folder)
        client = mlflow_store.client(settings.tracking_uri, timeout=settings.probe_timeout)
        client.set_tag(outcome.run_id, WARNING_TAG, warning[:5000])
    except Exception as exc:  # the warning is printed already
        print(
            f"jupyter-mlops job: warning: the run was not tagged {WARNING_TAG}: "
            + " ".join(str(exc).split())[:200],
            file=sys.stderr,
        )
