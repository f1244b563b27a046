"""What the audit trail records of a job: its export, and each run's start and end.

The job entrypoint records a run's start (:func:`run_started`) and its end (the finisher
:func:`finish`) in the trail of the project the run belongs to: the one named by
``JUPYTER_MLOPS_ROOT``, which JupyterLab, ``jupyter mlops run`` in a project and a container
run on the project's embedded store all set. A run with no project (an orchestrator's pod
tracking into a remote server) has no trail to write to and records nothing here; its
deployment and triggers are recorded where they happen. A recording failure never fails
the job: it becomes a warning line in the job's log and outcome.

Stdlib only (and ``export/jobfile``'s data classes): the job image carries this module.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import BUILD, EXPORT, JOB_RUN_END, JOB_RUN_START, PUSH, AuditError, Entry, record

if TYPE_CHECKING:
    from ..export.finish import JobOutcome
    from ..export.jobfile import JobFile

ENV_ROOT = "JUPYTER_MLOPS_ROOT"
#: Started runs of this process, by job folder: the end entry names its start entry.
_started: dict[str, Entry] = {}


def source_facts(file: JobFile) -> dict[str, Any]:
    """The job's lineage as the trail records it: notebook, its sha256, commit and dirty
    state, and the DVC version of each pinned data path."""
    source = file.source
    return {
        "notebook": source.path or file.notebook,
        "notebook_sha256": source.sha256,
        "git_commit": source.git_commit,
        "git_dirty": source.git_dirty,
        "data": {pin.path: pin.md5 for pin in file.data},
    }


def file_hashes(folder: Path, names: list[str] | tuple[str, ...]) -> dict[str, str]:
    """The sha256 of each regular file among ``names`` in ``folder`` (manifests, Dockerfile,
    job.json, the notebook...)."""
    found = {}
    for name in sorted(names):
        path = folder / name
        if path.is_file() and not path.is_symlink():
            found[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def record_export(folder: Path, project: Path, root: Any = None) -> Entry:
    """Record the export that just wrote the job folder ``folder``."""
    from ..export.jobfile import JobFile

    file = JobFile.read(folder)
    try:
        job = folder.relative_to(project).as_posix()
    except ValueError:
        job = folder.name
    return record(
        EXPORT,
        file.name,
        root=root if root is not None else project,
        job=job,
        **source_facts(file),
        targets=list(file.targets),
        manifests=file_hashes(folder, file.written),
        warnings=len(file.warnings),
    )


def project_for(folder: Path) -> Path:
    """The project a job folder belongs to, for its trail: ``JUPYTER_MLOPS_ROOT`` when the
    folder is in it, else the nearest folder above it with a state folder (export made
    one), else with ``.git`` or ``.dvc``, else the folder's own parent."""
    folder = folder.resolve()
    given = os.environ.get(ENV_ROOT)
    if given and folder.is_relative_to(Path(given).resolve()):
        return Path(given).resolve()
    for marker in (".mlops", ".git", ".dvc"):
        for parent in folder.parents:
            if (parent / marker).exists():
                return parent
    return folder.parent


def record_build(folder: Path, file: JobFile, result: Any, root: Any = None) -> None:
    """Record a build (the image and its digest) and, when it was pushed, the push."""
    where = root if root is not None else project_for(folder)
    facts = source_facts(file)
    record(
        BUILD,
        file.name,
        root=where,
        image=result.image,
        image_digest=result.image_id,
        size=result.size,
        seconds=result.seconds,
        engine=result.engine,
        notebook_sha256=facts["notebook_sha256"],
        git_commit=facts["git_commit"],
        git_dirty=facts["git_dirty"],
        manifests=file_hashes(folder, ["Dockerfile", "requirements.txt", "job.json"]),
    )
    if result.pushed:
        record(
            PUSH,
            file.name,
            root=where,
            image=result.image,
            image_digest=result.image_id,
            pushed=result.pushed,
        )


def _project_run() -> bool:
    return bool(os.environ.get(ENV_ROOT))


def _runtime() -> dict[str, str]:
    names = {
        "image_digest": "JUPYTER_MLOPS_IMAGE_DIGEST",
        "deployment": "JUPYTER_MLOPS_DEPLOYMENT",
        "engine_run_id": "JUPYTER_MLOPS_ENGINE_RUN_ID",
    }
    return {key: os.environ[var] for key, var in names.items() if os.environ.get(var)}


def run_started(folder: Path, file: JobFile, parameters: Mapping[str, Any]) -> str | None:
    """Record a run's start; a warning (for the job's log) when it could not be recorded."""
    if not _project_run():
        return None
    try:
        entry = record(
            JOB_RUN_START,
            file.name,
            **source_facts(file),
            parameters=dict(parameters),
            **_runtime(),
        )
    except (AuditError, OSError) as exc:
        return _warning(exc)
    _started[str(folder)] = entry
    return None


def finish(outcome: JobOutcome) -> None:
    """The finisher: record how a run whose start was recorded ended (a run refused before
    it started, for invalid parameters, records nothing)."""
    started = _started.pop(str(Path(outcome.folder)), None)
    if started is None:
        started = _started.pop(str(Path(outcome.folder).resolve()), None)
    if started is None:
        return
    facts: dict[str, Any] = {
        "state": outcome.state,
        "exit_code": outcome.exit_code,
        "parameters": dict(outcome.parameters),
        "duration_s": round(outcome.duration, 3),
        "mlflow_run": outcome.run_id or outcome.run_key,
        "output": outcome.output,
        "start_seq": started.seq,
        **_runtime(),
    }
    if outcome.exit_code != 0:
        facts["message"] = outcome.message[:500]
    record(JOB_RUN_END, outcome.job, **facts)  # the entrypoint warns when this raises


def _warning(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
    message = f"the audit trail did not record this run: {' '.join(text.split())}"
    print(f"jupyter-mlops job: warning: {message}", file=sys.stderr)
    return message
