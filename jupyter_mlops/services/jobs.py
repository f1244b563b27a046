"""Jobs through the server: export a notebook, build its image, run it, list job folders.

The same functions as ``jupyter mlops export|build|run``, with every path confined to the
server's root. A run started here is the CLI's ``jupyter mlops run`` in a subprocess (so a
job never shares the server's process), tracked into the server's store, its output kept
in the job folder; the server keeps the executions it started until it stops.
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import paths
from ..errors import InvalidInput, NotFound
from ..export.build import BuildEvent, build_image, engine, read_build
from ..export.exporter import JOB_FILE, PIPELINES_DIR, export_notebook
from ..export.job import default_output, load_job
from ..export.parameters import InvalidParameters, validate
from ..export.targets import describe_targets
from ..models import (
    BuildRequest,
    ExportRequest,
    ExportTargetInfo,
    ExportTargetList,
    JobBuild,
    JobDataPin,
    JobExecution,
    JobInfo,
    JobRunRequest,
    JobsList,
)
from ..settings import Settings

#: How deep below the root job folders are looked for (``pipelines/NAME`` next to notebooks).
SEARCH_DEPTH = 4
_SKIPPED = frozenset({"node_modules", "__pycache__", "site-packages"})
LOG_LINES = 200
_EXIT_STATUS = {0: "succeeded", 2: "invalid", 130: "killed", 143: "killed", -2: "killed"}


@dataclass
class _Execution:
    execution_id: str
    job: Path
    process: subprocess.Popen[bytes]
    log: Path
    output: Path
    in_container: bool
    started_at: str
    params_file: Path
    ended_at: str | None = None


class JobsService:
    def __init__(self, settings: Settings, target_options: dict[str, Any] | None = None) -> None:
        self.settings = settings
        self.root = settings.root_dir.resolve()
        self.target_options = target_options or {}
        self._executions: dict[str, _Execution] = {}
        self._lock = threading.Lock()

    # -- listing --------------------------------------------------------------------------
    def list_jobs(self) -> JobsList:
        found = [self._info(folder) for folder in sorted(self._job_folders())]
        return JobsList(jobs=[info for info in found if info is not None])

    def _job_folders(self) -> Iterator[Path]:
        def walk(folder: Path, depth: int) -> Iterator[Path]:
            try:
                entries = sorted(folder.iterdir())
            except OSError:
                return
            for entry in entries:
                if not entry.is_dir() or entry.is_symlink() or entry.name.startswith("."):
                    continue
                if entry.name in _SKIPPED:
                    continue
                if entry.name == PIPELINES_DIR:
                    yield from (p for p in entry.iterdir() if (p / JOB_FILE).is_file())
                elif depth > 0:
                    yield from walk(entry, depth - 1)

        yield from walk(self.root, SEARCH_DEPTH)

    def job(self, relative: str) -> JobInfo:
        folder = paths.inside_root(self.root, relative, "job folder")
        info = self._info(folder)
        if info is None:
            raise NotFound(f"'{relative}' is not a job folder (no {JOB_FILE})")
        return info

    def _info(self, folder: Path, warnings: list[str] | None = None) -> JobInfo | None:
        try:
            document = json.loads((folder / JOB_FILE).read_text(encoding="utf-8"))
            schema = json.loads((folder / str(document.get("parameters"))).read_text("utf-8"))
        except (OSError, ValueError, AttributeError):
            return None
        source = document.get("source", {}).get("path")
        build = read_build(folder)
        return JobInfo(
            name=str(document.get("name")),
            path=paths.relative_to_root(self.root, folder),
            notebook=str(document.get("notebook")),
            source=self._relative_source(folder, source),
            experiment=str(document.get("experiment") or document.get("name")),
            targets=list(document.get("targets") or []),
            parameters=schema if isinstance(schema, dict) else {},
            exported_at=document.get("exported_at"),
            warnings=warnings if warnings is not None else list(document.get("warnings") or []),
            data=_data_pins(document.get("data")),
            build=_build_model(build),
        )

    def _relative_source(self, folder: Path, source: Any) -> str | None:
        if not isinstance(source, str):
            return None
        candidates = [Path(source)] if Path(source).is_absolute() else []
        candidates += [parent / source for parent in folder.parents]
        for candidate in candidates:
            if candidate.is_file() and candidate.resolve().is_relative_to(self.root):
                return paths.relative_to_root(self.root, candidate)
        return None

    # -- export, build --------------------------------------------------------------------
    def targets(self) -> ExportTargetList:
        """The export targets installed (built in and plugins); loading one imports its
        module, hence a worker thread. A broken plugin is listed with its error."""
        return ExportTargetList(
            targets=[
                ExportTargetInfo(
                    name=t.name,
                    description=t.description,
                    orchestrator=t.orchestrator,
                    error=t.error,
                )
                for t in describe_targets()
            ]
        )

    def export(self, request: ExportRequest) -> JobInfo:
        notebook = paths.inside_root(self.root, request.notebook, "notebook")
        out = (
            paths.inside_root(self.root, request.out, "job folder", False) if request.out else None
        )
        requirements = (
            paths.inside_root(self.root, request.requirements, "requirements file")
            if request.requirements
            else None
        )
        for include in request.include:
            paths.inside_root(self.root, _beside(notebook, self.root, include), "included path")
        warnings: list[str] = []
        folder = export_notebook(
            notebook,
            name=request.name,
            out=out,
            targets=request.targets,
            base_image=request.base_image,
            requirements=requirements,
            include=request.include,
            deployment=request.deployment,
            target_options=self.target_options,
            on_warning=warnings.append,
        )
        if not folder.resolve().is_relative_to(self.root):
            raise InvalidInput(f"the job folder {folder} is outside the server's root")
        info = self._info(folder, warnings)
        assert info is not None
        return info

    def check_build(self, request: BuildRequest) -> tuple[Path, Any]:
        """The job folder and an engine that answers, before a build stream starts."""
        folder = paths.inside_root(self.root, request.job, "job folder")
        load_job(folder)
        return folder, engine()

    def build(
        self, folder: Path, client: Any, request: BuildRequest, report: Callable[[BuildEvent], None]
    ) -> JobBuild:
        result = build_image(folder, request.tag, request.push, on_progress=report, client=client)
        built = _build_model(read_build(folder))
        assert built is not None, result
        return built

    # -- runs -----------------------------------------------------------------------------
    def start_run(self, request: JobRunRequest) -> JobExecution:
        folder = paths.inside_root(self.root, request.job, "job folder")
        job = load_job(folder)
        try:
            values = validate(job.schema, request.parameters)
        except InvalidParameters as exc:
            # One line for the message; the error body lists each problem with its parameter.
            raise InvalidParameters(exc.details, separator="; ") from None
        if request.in_container and not read_build(folder):
            raise InvalidInput(
                f"no image built for {request.job}; build it first", code="not_built"
            )
        output = Path(default_output(job))
        output.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix="jupyter-mlops-params-", suffix=".json")
        with os.fdopen(handle, "w", encoding="utf-8") as params:
            json.dump(values, params)
        command = [
            sys.executable, "-m", "jupyter_mlops", "run", str(folder),
            "--params-file", name, "--output", str(output),
        ]  # fmt: skip
        if request.in_container:
            command.append("--in-container")
        log = output.with_suffix(".log")
        env = {**os.environ, **self.settings.kernel_environment(), "PYTHONUNBUFFERED": "1"}
        with log.open("wb") as sink:
            process = subprocess.Popen(
                command,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=folder,
                env=env,
                start_new_session=True,
            )
        execution = _Execution(
            execution_id=uuid.uuid4().hex,
            job=folder,
            process=process,
            log=log,
            output=output,
            in_container=request.in_container,
            started_at=_now(),
            params_file=Path(name),
        )
        with self._lock:
            self._executions[execution.execution_id] = execution
        return self._describe(execution)

    def execution(self, execution_id: str) -> JobExecution:
        with self._lock:
            found = self._executions.get(execution_id)
        if found is None:
            raise NotFound(f"no job execution {execution_id} (the server keeps those it started)")
        return self._describe(found)

    def executions(self) -> list[JobExecution]:
        with self._lock:
            known = list(self._executions.values())
        return [self._describe(e) for e in sorted(known, key=lambda e: e.started_at, reverse=True)]

    def stop(self, execution_id: str) -> JobExecution:
        """Interrupt a running job as Ctrl-C does (its run is marked KILLED)."""
        found = self._executions.get(execution_id)
        if found is None:
            raise NotFound(f"no job execution {execution_id}")
        if found.process.poll() is None:
            os.killpg(found.process.pid, signal.SIGINT)
        return self._describe(found)

    def _describe(self, execution: _Execution) -> JobExecution:
        code = execution.process.poll()
        if code is not None and execution.ended_at is None:
            execution.ended_at = _now()
            execution.params_file.unlink(missing_ok=True)
        status = "running" if code is None else _EXIT_STATUS.get(code, "failed")
        return JobExecution(
            execution_id=execution.execution_id,
            job=paths.relative_to_root(self.root, execution.job),
            status=status,  # type: ignore[arg-type]
            exit_code=code,
            in_container=execution.in_container,
            started_at=execution.started_at,
            ended_at=execution.ended_at,
            output=paths.relative_to_root(self.root, execution.output),
            log=_tail(execution.log),
        )

    def shutdown(self) -> None:
        """Interrupt the jobs still running (the server is stopping)."""
        for execution in list(self._executions.values()):
            if execution.process.poll() is None:
                os.killpg(execution.process.pid, signal.SIGINT)


def _beside(notebook: Path, root: Path, include: str) -> str:
    """An ``include`` (relative to the notebook's folder) relative to the root."""
    return os.path.relpath(notebook.parent / include, root)


def _build_model(record: dict[str, Any] | None) -> JobBuild | None:
    if not record:
        return None
    try:
        return JobBuild.model_validate(
            {k: v for k, v in record.items() if k in JobBuild.model_fields}
        )
    except ValueError:
        return None


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-LOG_LINES:])


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _data_pins(pins: Any) -> list[JobDataPin]:
    """The pins of ``job.json`` (``export/datapins.py``); entries it cannot read are left out
    (a job folder edited by hand still lists)."""
    found = []
    for pin in pins if isinstance(pins, list) else []:
        entry = pin.get("entry") if isinstance(pin, dict) else None
        if not isinstance(entry, dict) or not isinstance(entry.get("md5"), str):
            continue
        found.append(
            JobDataPin(
                path=str(pin.get("path")),
                md5=entry["md5"],
                size=entry.get("size") if isinstance(entry.get("size"), int) else None,
                nfiles=entry.get("nfiles") if isinstance(entry.get("nfiles"), int) else None,
                remote_url=pin.get("url") if isinstance(pin.get("url"), str) else None,
            )
        )
    return found
