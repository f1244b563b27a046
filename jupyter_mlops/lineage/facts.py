"""What the lineage graph is read from: the tag names the other slices record on runs
(see ``tracking/``, ``export/job.py``, ``models/notebook.py``) and small readers of them.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput

if TYPE_CHECKING:
    from mlflow.entities import Run

NOTEBOOK_TAG = "jupyter_mlops.notebook"
SOURCE_TAG = "jupyter_mlops.source"
DATA_TAG = "jupyter_mlops.data"
JOB_TAG = "jupyter_mlops.job"
OUTPUT_TAG = "jupyter_mlops.job.output"
DIGEST_TAG = "jupyter_mlops.image.digest"
DEPLOYMENT_TAG = "jupyter_mlops.deployment"
ENGINE_RUN_TAG = "jupyter_mlops.engine_run_id"
PARENT_TAG = "mlflow.parentRunId"
COMMIT_TAG = "mlflow.source.git.commit"
#: ``jupyter_mlops.model_used.NAME`` = the version a run loaded (``models/notebook.py``).
MODEL_USED_PREFIX = "jupyter_mlops.model_used."


def run_node_id(run: Run) -> str:
    return f"run:{run.info.run_id}"


def is_job_run(run: Run) -> bool:
    return run.data.tags.get(SOURCE_TAG) == "job"


def when(ms: int | None) -> str | None:
    """Milliseconds since the epoch as UTC ISO 8601, to the second."""
    if not ms:
        return None
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="seconds")


def quoted(text: str) -> str:
    """``text`` as a string literal of MLflow's search filters (which have no escapes)."""
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    raise InvalidInput("A name holding both ' and \" cannot be searched for.")


def nonempty(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def data_versions(tags: dict[str, str]) -> list[tuple[str, str]]:
    """(project-relative path, version) of the data a run read: the ``jupyter_mlops.data``
    map's DVC versions, else the ``jupyter_mlops.data.<P>`` tags (the map may be cut)."""
    found: dict[str, str] = {}
    try:
        recorded = json.loads(tags.get(DATA_TAG) or "{}")
    except ValueError:
        recorded = {}
    if isinstance(recorded, dict):
        for key, value in recorded.items():
            if isinstance(value, dict) and value.get("hash"):
                found[str(value.get("path") or key)] = str(value["hash"])
    if not found:
        prefix = DATA_TAG + "."
        for key, value in tags.items():
            if key.startswith(prefix) and value and key[len(prefix) :] != "error":
                found[key[len(prefix) :]] = value
    return sorted(found.items())
