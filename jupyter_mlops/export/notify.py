"""Notifications a job sends itself when it ends, through Apprise: a finisher.

Where the URL comes from is all the job is told; the URL itself never goes into a manifest:

- ``JUPYTER_MLOPS_NOTIFY_ENV=VAR`` (``--notify-from-env VAR``): the URL is the value of the
  environment variable ``VAR`` at run time (from a Secret's keys, the engine's environment);
- ``JUPYTER_MLOPS_NOTIFY_FILE=PATH`` (``--notify-secret NAME``: the Secret's key ``url``
  mounted at ``/etc/secrets/NAME/url``);
- ``JUPYTER_MLOPS_NOTIFY_URL``: the URL itself, for local runs (``jupyter mlops run``).

Any Apprise URL works (``slack://``, ``msteams://``, ``mailto://``, ``json://`` webhooks...),
several separated by spaces or commas. ``JUPYTER_MLOPS_NOTIFY_ON`` is ``failure`` (the
default: a run that did not succeed) or ``always``. The message names the job, how it ended,
its parameters, the failing cell and its error, the deployment and the engine's run id, the
output notebook and the MLflow run. A notification that cannot be sent never fails the job:
the finisher raises, and :func:`jupyter_mlops.export.finish.finish` makes it a warning line.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from ..redact import base_url
from .finish import JobOutcome

ENV_NOTIFY_URL = "JUPYTER_MLOPS_NOTIFY_URL"
ENV_NOTIFY_ENV = "JUPYTER_MLOPS_NOTIFY_ENV"
ENV_NOTIFY_FILE = "JUPYTER_MLOPS_NOTIFY_FILE"
ENV_NOTIFY_ON = "JUPYTER_MLOPS_NOTIFY_ON"
#: The variables that configure notifications (passed into a container by ``jupyter mlops
#: run --in-container``, with the variable ``JUPYTER_MLOPS_NOTIFY_ENV`` names).
ENVIRONMENT = (ENV_NOTIFY_URL, ENV_NOTIFY_ENV, ENV_NOTIFY_FILE, ENV_NOTIFY_ON)
#: Longest text of one parameter's value in the message.
VALUE_MAX = 200


class NotificationFailed(Exception):
    """The notification could not be sent (the job goes on; a warning line says why)."""


def passed_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of ``environ`` a job needs to notify: the settings and the variable
    ``JUPYTER_MLOPS_NOTIFY_ENV`` names (for a container started from here)."""
    found = {k: environ[k] for k in ENVIRONMENT if environ.get(k)}
    named = environ.get(ENV_NOTIFY_ENV, "")
    if named and environ.get(named):
        found[named] = environ[named]
    return found


def notify_outcome(outcome: JobOutcome, environ: Mapping[str, str] | None = None) -> None:
    """Send the outcome to the configured URL, when the configuration asks for it."""
    environ = os.environ if environ is None else environ
    if not any(environ.get(k) for k in (ENV_NOTIFY_URL, ENV_NOTIFY_ENV, ENV_NOTIFY_FILE)):
        return
    when = (environ.get(ENV_NOTIFY_ON) or "failure").strip().lower()
    if when not in ("failure", "always"):
        raise NotificationFailed(f"{ENV_NOTIFY_ON}={when!r} is neither 'failure' nor 'always'")
    if outcome.succeeded and when != "always":
        return
    urls = notification_urls(environ)
    import apprise

    sender = apprise.Apprise()
    for url in urls:
        if not sender.add(url):
            raise NotificationFailed(
                f"the notification URL ({_scheme(url)}) is not one Apprise knows; "
                "see https://github.com/caronc/apprise/wiki"
            )
    title, body = message(outcome, environ)
    kind = apprise.NotifyType.SUCCESS if outcome.succeeded else apprise.NotifyType.FAILURE
    if not sender.notify(body=body, title=title, notify_type=kind):
        schemes = ", ".join(sorted({_scheme(u) for u in urls}))
        raise NotificationFailed(f"the notification ({schemes}) could not be delivered")


def notification_urls(environ: Mapping[str, str]) -> list[str]:
    """The Apprise URLs configured (never shown: they carry tokens)."""
    text = environ.get(ENV_NOTIFY_URL, "")
    named = environ.get(ENV_NOTIFY_ENV, "")
    path = environ.get(ENV_NOTIFY_FILE, "")
    if not text and named:
        text = environ.get(named, "")
        if not text:
            raise NotificationFailed(
                f"the environment variable {named} ({ENV_NOTIFY_ENV}) is not set: no URL to notify"
            )
    if not text and path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise NotificationFailed(
                f"the notification URL cannot be read from {path}: {exc.strerror or exc}"
            ) from None
    urls = [u for u in re.split(r"[\s,]+", text) if u]
    if not urls:
        raise NotificationFailed("the notification URL configured is empty")
    return urls


def message(outcome: JobOutcome, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The title and text of the notification of ``outcome``."""
    environ = os.environ if environ is None else environ
    how = "succeeded" if outcome.succeeded else f"{outcome.state} (exit code {outcome.exit_code})"
    title = f"jupyter-mlops job {outcome.job} {how}"
    lines = [f"Job {outcome.job}: {how} after {outcome.duration:.0f} s."]
    if outcome.failed_cell:
        lines.append(f"Failing cell: {outcome.failed_cell}")
    if outcome.error:
        lines.append(f"Error: {outcome.error}")
    elif outcome.message and not outcome.succeeded:
        lines.append(f"Error: {outcome.message}")
    if outcome.parameters:
        lines.append("Parameters:")
        for name, value in outcome.parameters.items():
            text = json.dumps(value, ensure_ascii=False, default=str)
            text = text if len(text) <= VALUE_MAX else text[: VALUE_MAX - 3] + "..."
            lines.append(f"  {name} = {text}")
    if outcome.deployment:
        lines.append(f"Deployment: {outcome.deployment}")
    if outcome.engine_run_id:
        lines.append(f"Engine run: {outcome.engine_run_id}")
    if outcome.output:
        shown = environ.get("JUPYTER_MLOPS_OUTPUT_ON_HOST") or outcome.output
        lines.append(f"Output notebook: {shown}")
    run = run_link(outcome, environ)
    if run:
        lines.append(f"MLflow run: {run}")
    return title, "\n".join(lines)


def run_link(outcome: JobOutcome, environ: Mapping[str, str]) -> str | None:
    """Where the job's MLflow run is: its page on an HTTP tracking server, else its id and
    store (never a credential the tracking URI may carry)."""
    if outcome.run_url:
        return outcome.run_url
    if not outcome.run_id:
        return None
    uri = environ.get("MLFLOW_TRACKING_URI") or environ.get("JUPYTER_MLOPS_TRACKING_URI") or ""
    if uri.startswith(("http://", "https://")) and urlsplit(uri).hostname:
        return f"{base_url(uri)}/#/runs/{outcome.run_id}"
    return f"run {outcome.run_id}"


def _scheme(url: str) -> str:
    """What a URL is (``slack://``...), without its tokens."""
    scheme = url.split("://", 1)[0] if "://" in url else "?"
    return f"{scheme[:20]}://" if scheme.isalnum() else "an unreadable URL"
