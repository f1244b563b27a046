"""The drift gate: a job whose notebook found its data drifted can end with its own exit
code, say so in its notification, and start the training deployment.

The entrypoint names a file in ``JUPYTER_MLOPS_DRIFT_FILE`` for the kernel; each
``jupyter_mlops.drift(...)`` check in the notebook appends its result there as a JSON line
(:mod:`jupyter_mlops.drift.record`). This finisher reads them: the outcome's
``drift_share`` becomes the largest share found (pushed to Prometheus by the finisher after
it), and with the gate on (``--fail-on-drift`` or ``JUPYTER_MLOPS_FAIL_ON_DRIFT=1``, which
a deployment's ``--fail-on-drift`` sets in the job's container) a drifted run that
otherwise succeeded ends with :data:`EXIT_DRIFTED` and a message naming the columns.
``--retrain-deployment NAME`` (``JUPYTER_MLOPS_RETRAIN_DEPLOYMENT``) then triggers that
deployment, where the deployments slice is installed (a local run; not inside a job's
image), with the current data's DVC version as its ``data_version`` parameter when the
training job declares one.

Nothing here imports pandas or Evidently: the job image carries this module.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from .finish import JobOutcome

EXIT_DRIFTED = 5
ENV_DRIFT_FILE = "JUPYTER_MLOPS_DRIFT_FILE"
ENV_FAIL_ON_DRIFT = "JUPYTER_MLOPS_FAIL_ON_DRIFT"
ENV_RETRAIN_DEPLOYMENT = "JUPYTER_MLOPS_RETRAIN_DEPLOYMENT"
#: The training job's parameter that receives the current data version, if it has one.
DATA_VERSION_PARAMETER = "data_version"
#: Named, not written in the call: the job image's runtime (``export/runtime.py``) follows
#: literal ``import_module`` calls, and the deployments slice (a server's concern) stays out
#: of the image; a job run on the machine that deployed it has it.
DEPLOYMENTS_MODULE = "jupyter_mlops.deployments.service"


def checks(path: str | os.PathLike[str] | None) -> list[dict[str, Any]]:
    """The drift results the notebook left in ``path`` (one JSON object a line)."""
    if not path:
        return []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return []
    found = []
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and isinstance(item.get("share"), (int, float)):
            found.append(item)
    return found


def gate_drift(outcome: JobOutcome) -> None:
    """The finisher (see the module's docstring)."""
    found = checks(os.environ.get(ENV_DRIFT_FILE))
    if not found:
        return
    outcome.drift_share = max(float(item["share"]) for item in found)
    drifted = [item for item in found if item.get("drifted")]
    if not drifted:
        return
    columns = sorted({c for item in drifted for c in item.get("drifted_columns") or []})
    worst = max(drifted, key=lambda item: float(item["share"]))
    text = (
        f"drifted: {float(worst['share']):.0%} of columns drifted (threshold "
        f"{float(worst.get('threshold', 0)):.0%}) against {worst.get('reference', '?')}"
        + (f"; columns: {', '.join(columns[:20])}" if columns else "")
    )
    print(f"jupyter-mlops job: {text}", file=sys.stderr)
    if not _flag(os.environ.get(ENV_FAIL_ON_DRIFT)):
        outcome.warnings.append(text)
        return
    if outcome.exit_code == 0:
        outcome.exit_code = EXIT_DRIFTED
        outcome.message = text
    else:
        outcome.warnings.append(text)
    name = os.environ.get(ENV_RETRAIN_DEPLOYMENT, "").strip()
    if name:
        outcome.warnings.append(_retrain(name, worst.get("current_version")))


def _retrain(name: str, data_version: str | None) -> str:
    """Trigger deployment ``name``; one line saying what happened (kept as a warning)."""
    try:
        service_mod = importlib.import_module(DEPLOYMENTS_MODULE)
        settings_mod = importlib.import_module("jupyter_mlops.settings")
    except ImportError:
        return f"retraining: deployment {name} not triggered (no deployments slice here)"
    service = service_mod.DeploymentsService(settings_mod.from_kernel_environment())
    values: dict[str, Any] = {}
    if data_version:
        try:
            service.check_parameters(name, {DATA_VERSION_PARAMETER: data_version})
            values[DATA_VERSION_PARAMETER] = data_version
        except Exception:
            values = {}  # the training job takes no data_version: its defaults
    run = service.trigger(name, values)
    return f"retraining: deployment {name} triggered (run {getattr(run, 'run_id', '?')})"


def _flag(text: str | None) -> bool:
    return (text or "").strip().lower() in {"1", "true", "yes", "on"}
