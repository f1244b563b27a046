"""Metrics a job's notebook records, for pipelines that compare runs (DVC's ``metrics``).

In the notebook::

    from jupyter_mlops.export.metrics import record
    record(accuracy=accuracy, rows=len(rows))

displays the values (``metrics: accuracy=0.93, rows=120``) and keeps them in the output
notebook under their own MIME type, as papermill-era "scraps" did. The job entrypoint's
``--metrics FILE`` then writes the final value of every metric recorded (a later
``record`` of a name wins) to FILE as one JSON object. Nothing runs in the kernel beyond a
``display``: the notebook needs no tracking store, and the values travel inside the output
notebook wherever papermill wrote it.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import InvalidInput

#: The MIME type of recorded metrics in a notebook's outputs.
MIME_TYPE = "application/vnd.jupyter-mlops.metrics+json"


def _number(name: str, value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInput(f"metric '{name}' must be a number, not {type(value).__name__}")
    number: int | float = int(value) if isinstance(value, numbers.Integral) else float(value)
    if isinstance(number, float) and not math.isfinite(number):
        raise InvalidInput(f"metric '{name}' is {number}: JSON cannot carry it")
    return number


def bundle(**metrics: Any) -> dict[str, Any]:
    """The display bundle of ``metrics`` (names to finite numbers)."""
    values = {name: _number(name, value) for name, value in metrics.items()}
    shown = ", ".join(f"{k}={v}" for k, v in values.items())
    return {MIME_TYPE: values, "text/plain": f"metrics: {shown}"}


def record(**metrics: Any) -> None:
    """Record metric values (numbers) in the notebook's output, for the job's ``--metrics``."""
    from IPython.display import display

    display(bundle(**metrics), raw=True)


def recorded(notebook: Mapping[str, Any]) -> dict[str, int | float]:
    """The final value of every metric recorded in an executed notebook (a JSON document or
    a ``NotebookNode``), in the order first recorded."""
    final: dict[str, int | float] = {}
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []) or []:
            data = (output.get("data") or {}).get(MIME_TYPE)
            if isinstance(data, Mapping):
                for name, value in data.items():
                    if isinstance(name, str):
                        final[name] = _number(name, value)
    return final


def write_metrics(output_notebook: str, path: str | Path) -> dict[str, int | float]:
    """Write the metrics recorded in ``output_notebook`` (a path or any papermill URL) to
    ``path`` as JSON (``{}`` when none were); the metrics written."""
    if "://" in output_notebook:
        from papermill.iorw import papermill_io

        text = papermill_io.read(output_notebook)
    else:
        text = Path(output_notebook).read_text(encoding="utf-8")
    metrics = recorded(json.loads(text))
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return metrics
