"""The run card: a small ipywidget under a tracked cell.

It shows the run's name, outcome, duration, key parameters and metrics, whether it reached
the store (it updates from the deliverer's thread when a delayed delivery completes), and
a link to the run in the MLflow UI when a tracking server is used.
"""

from __future__ import annotations

import html
import math
import os
from typing import Any
from urllib.parse import quote

from ..redact import base_url
from . import jobrun
from .delivery import Outcome
from .spool import RunRecord

MAX_ITEMS = 6
_STATUS_COLOURS = {
    "RUNNING": "var(--jp-brand-color1, #1976d2)",
    "FINISHED": "var(--jp-success-color1, #388e3c)",
    "FAILED": "var(--jp-error-color1, #d32f2f)",
    "KILLED": "var(--jp-warn-color1, #f57c00)",
}


def ui_run_url(tracking_uri: str, experiment_id: str | None, run_id: str | None) -> str | None:
    """The run's page in the MLflow UI. Never with the URI's credentials: the card is
    saved in the notebook."""
    if not run_id or not experiment_id or not tracking_uri.startswith(("http://", "https://")):
        return None
    return f"{base_url(tracking_uri)}/#/experiments/{experiment_id}/runs/{run_id}"


def panel_run_url(run_id: str | None) -> str | None:
    """A JupyterLab URL that opens the run's details (the frontend routes ``mlops-run``),
    when this kernel was started by a Jupyter server with jupyter-mlops."""
    base = os.environ.get("JUPYTER_MLOPS_BASE_URL")
    if not run_id or not base:
        return None
    return f"{base.rstrip('/')}/lab?mlops-run={quote(run_id)}"


def final_metrics(record: RunRecord) -> dict[str, float]:
    """The last value of each metric the run logged, but our own bookkeeping ones."""
    latest: dict[str, float] = {}
    for name, value, _ts, _step in record.metrics:
        if not name.startswith(jobrun.OWN_METRIC_PREFIX):
            latest[name] = value
    return latest


def render(record: RunRecord, outcome: Outcome | None, static: bool = False) -> str:
    """The card's HTML. Every value from the run is escaped. ``static``: a card nobody
    will update (a job's output notebook) says nothing of the delivery in progress."""
    e = html.escape
    status = record.status
    colour = _STATUS_COLOURS.get(status, "inherit")
    duration = ""
    if record.end_time:
        duration = f"{(record.end_time - record.start_time) / 1000:.2f} s"
    if outcome is None or outcome.state in ("started", "busy"):
        delivery = "saving…"
    elif outcome.state == "delivered":
        delivery = "saved to MLflow"
    elif outcome.state == "retry":
        delivery = (
            f"pending: kept locally, delivered when the store answers ({e(outcome.error or '')})"
        )
    else:
        delivery = e(outcome.state)
    latest = final_metrics(record)
    params = list(record.params.items())[:MAX_ITEMS]
    metrics = list(latest.items())[:MAX_ITEMS]
    label = "<tr><td style='opacity:.7;padding-right:8px'>{}</td><td>{}</td></tr>"
    rows = "".join(label.format(e(k), f"<code>{e(str(v)[:60])}</code>") for k, v in params)
    rows += "".join(label.format(e(k), f"<b>{v:.6g}</b>") for k, v in metrics)
    link = ""
    url = ui_run_url(
        record.tracking_uri,
        outcome.experiment_id if outcome else None,
        outcome.run_id if outcome else None,
    )
    if url:
        link = f" · <a href='{e(url)}' target='_blank' rel='noopener'>open in MLflow</a>"
    panel = panel_run_url(outcome.run_id if outcome else None)
    if panel:
        link = f" · <a href='{e(panel)}' target='_blank'>run details</a>" + link
    run_id = f" · run <code>{e(outcome.run_id[:8])}</code>" if outcome and outcome.run_id else ""
    return (
        "<div class='jp-mlops-RunCard' style='border:1px solid var(--jp-border-color2,#ccc);"
        "border-left:3px solid "
        + colour
        + ";padding:4px 8px;font-size:var(--jp-ui-font-size1,12px);"
        "color:var(--jp-ui-font-color1,inherit);background:var(--jp-layout-color1,transparent)'>"
        f"<div><b>{e(record.run_name)}</b> · <span style='color:{colour}'>{e(status)}</span>"
        f"{' · ' + duration if duration else ''}"
        f" · experiment <i>{e(record.experiment)}</i>{run_id}{link}</div>"
        + ("" if static else f"<div style='opacity:.75'>{delivery}</div>")
        + (f"<table style='margin-top:2px'>{rows}</table>" if rows else "")
        + "</div>"
    )


_models: tuple[Any, Any] | None = None


def _shared_models() -> tuple[Any, Any]:
    """One layout and one style model for every card: each widget would otherwise open
    two more comms, tripling the messages a tracked cell sends to the page."""
    global _models
    if _models is None:
        import ipywidgets
        from ipywidgets.widgets.widget_string import HTMLStyle

        _models = (ipywidgets.Layout(), HTMLStyle())
    return _models


def summary(record: RunRecord) -> str:
    """The card as plain text (what a reader without HTML sees)."""
    return f"run '{record.run_name}': {record.status} (experiment {record.experiment})"


class RunCard:
    """The widget; safe to update from the deliverer's thread. In a job, whose kernel no
    one watches, static HTML instead: the output notebook shows the card, not a widget."""

    def __init__(self, record: RunRecord) -> None:
        self.record = record
        self.outcome: Outcome | None = None
        self.widget: Any = None
        if jobrun.current() is None:
            import ipywidgets

            layout, style = _shared_models()
            self.widget = ipywidgets.HTML(value=render(record, None), layout=layout, style=style)

    def show(self) -> None:
        """Display the card: the widget, with its HTML and text as fallbacks for readers
        that cannot show widgets (nbconvert, a notebook opened without its kernel)."""
        from IPython.display import display

        data: dict[str, Any] = {
            "text/html": render(self.record, self.outcome, static=self.widget is None),
            "text/plain": summary(self.record),
        }
        if self.widget is not None:
            data = {**self.widget._repr_mimebundle_(), **data}
        else:
            # A job's cell: its final metrics travel in the output notebook as those of
            # ``export.metrics.record`` do, for the job's --metrics file, its Pushgateway
            # push and its notifications.
            from ..export.metrics import MIME_TYPE

            finite = {k: v for k, v in final_metrics(self.record).items() if math.isfinite(v)}
            if finite:
                data[MIME_TYPE] = finite
        display(data, raw=True)

    def update(self, outcome: Outcome | None = None) -> None:
        if outcome is not None:
            if outcome.run_id is None and self.outcome is not None:
                outcome.run_id, outcome.experiment_id = (
                    self.outcome.run_id,
                    self.outcome.experiment_id,
                )
            self.outcome = outcome
        if self.widget is not None:
            self.widget.value = render(self.record, self.outcome)
