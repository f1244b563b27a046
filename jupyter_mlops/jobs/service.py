"""Jobs through the server: export a notebook, build its image, run it, list job folders.

The same functions as ``jupyter mlops export|build|run``, with every path confined to the
server's root. A run started here is the CLI's ``jupyter mlops run`` in a subprocess (so a
job never shares the server's process), tracked into the server's store, its output kept
in the job folder. Each execution is a record in ``.mlops/jobs/executions/``, its end
written by the process that watches the job (``jobs.process``), so a restarted server
still answers for it; one whose processes are gone with no outcome recorded (the server
or the machine stopped under it) ends ``interrupted``.

Executions are also tasks of the one lifecycle (kind ``job-run``, the task's id the
execution's): the service is a :class:`~jupyter_mlops.tasks.registry.TaskSource`, so
``GET tasks`` lists them with snapshots and builds, and ``DELETE tasks/{id}`` stops one.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, get_args

from .. import audit, paths
from ..api.models import ErrorBody
from ..errors import InvalidInput, NotFound
from ..export.build import BuildEvent, build_image, engine, read_build
from ..export.exporter import PIPELINES_DIR, export_notebook
from ..export.job import default_output, load_job
from ..export.jobfile import JOB_FILE, InvalidJobFile, JobFile, WarningDetail
from ..export.parameters import InvalidParameters, validate
from ..export.targets import ExportNotice, describe_targets
from ..settings import Settings
from ..statefiles import Owner, read_json, records, write_json
from ..tasks.models import TaskRecord, TaskState
from ..tasks.registry import LEFT_BEHIND
from .export_check import check_export
from .models import (
    BuildRequest,
    ExportCheck,
    ExportRequest,
    ExportTargetInfo,
    ExportTargetList,
    JobBuild,
    JobDataPin,
    JobExecution,
    JobInfo,
    JobRunRequest,
    JobsList,
    JobWarning,
)

#: How deep below the root job folders are looked for (``pipelines/NAME`` next to notebooks).
SEARCH_DEPTH = 4
_SKIPPED = frozenset({"node_modules", "__pycache__", "site-packages"})
LOG_LINES = 200
#: Where the executions are recorded, in the project's state folder.
EXECUTIONS_DIR = Path("jobs") / "executions"
#: Finished executions remembered, at most (the oldest records are removed).
KEEP_FINISHED = 200
STATUSES = frozenset(get_args(JobExecution.model_fields["status"].annotation))
WATCHER = "jupyter_mlops.jobs.process"
INTERRUPTED_NOTE = (
    "jupyter-mlops: interrupted: the server stopped while this job ran and the job's "
    "process is gone; no outcome was recorded and the output notebook is incomplete."
)
_EXECUTION_ID = re.compile(r"[0-9a-f]{32}")
#: An execution's status as a task's state.
_TASK_STATE: dict[str, TaskState] = {
    "running": "running",
    "succeeded": "done",
    "failed": "failed",
    "invalid": "failed",
    "killed": "cancelled",
    "interrupted": "interrupted",
}
_ENDED = {
    "failed": "The job failed (exit code {code}); its log says why.",
    "invalid": "The job refused its parameters or its job file (exit code {code}).",
    "killed": "The job was stopped; its run is marked KILLED.",
    "interrupted": "Interrupted: the server stopped while this job ran; "
    + LEFT_BEHIND["job-run"]
    + ". Run it again.",
}


@dataclass
class _Execution:
    """A job execution: its record (what the API answers), and its watcher process when
    this server started it."""

    record: Path
    data: dict[str, Any]
    process: subprocess.Popen[bytes] | None = None


class JobsService:
    #: Its executions as tasks (see :class:`~jupyter_mlops.tasks.registry.TaskSource`).
    kind = "job-run"

    def __init__(self, settings: Settings, target_options: dict[str, Any] | None = None) -> None:
        self.settings = settings
        self.root = settings.root_dir.resolve()
        self.target_options = target_options or {}
        self._records = settings.state_dir / EXECUTIONS_DIR
        self._executions: dict[str, _Execution] = {}
        self._lock = threading.Lock()
        self._load()

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
        folder = paths.inside_root(self.root, relative, "job folder", field="job")
        info = self._info(folder)
        if info is None:
            raise NotFound(f"'{relative}' is not a job folder (no {JOB_FILE})")
        return info

    def _info(self, folder: Path, warnings: list[str] | None = None) -> JobInfo | None:
        """The job in ``folder``; None when its job file cannot be read (the listing leaves
        it out; running or building it says why)."""
        try:
            document = JobFile.read(folder)
            schema = json.loads((folder / document.parameters).read_text("utf-8"))
        except (OSError, ValueError, InvalidJobFile):
            return None
        build = read_build(folder)
        if warnings is None:
            texts = list(document.warnings)
            details = document.details()
        else:
            texts = [str(w) for w in warnings]
            details = [
                WarningDetail.from_dict(w.detail() if isinstance(w, ExportNotice) else {})
                for w in warnings
            ]
        return JobInfo(
            name=document.name,
            path=paths.relative_to_root(self.root, folder),
            notebook=document.notebook,
            source=self._relative_source(folder, document.source.path),
            experiment=document.experiment,
            targets=list(document.targets),
            parameters=schema if isinstance(schema, dict) else {},
            exported_at=document.exported_at,
            warnings=texts,
            warning_details=[
                JobWarning(message=m, code=d.code, field=d.field, values=dict(d.values))
                for m, d in zip(texts, details, strict=True)
            ],
            data=[
                JobDataPin(
                    path=pin.path,
                    md5=pin.md5,
                    size=pin.entry.size,
                    nfiles=pin.entry.nfiles,
                    remote_url=pin.url,
                )
                for pin in document.data
            ],
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

    def check_export(self, body: bytes | str) -> ExportCheck:
        """Every problem of an export request, each with its field; nothing is written."""
        return ExportCheck(problems=check_export(self.root, body).problems)

    def export(self, given: ExportRequest | bytes | str) -> JobInfo:
        """Export as the request (a model, or the route's JSON body) says, once the same
        check as :meth:`check_export` finds nothing wrong (else its problems, refused)."""
        body = (
            given.model_dump_json(exclude_unset=True) if isinstance(given, ExportRequest) else given
        )
        checked = check_export(self.root, body)
        if checked.errors:
            raise checked.refusal()
        request, notebook, out = checked.request, checked.notebook, checked.out
        assert request is not None, "checked"
        assert notebook is not None, "checked"
        assert out is not None, "checked"
        requirements = checked.requirements
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
            project_root=self.root,
            audit_root=self.settings,
        )
        info = self._info(folder, warnings)
        assert info is not None
        return info

    def check_build(self, request: BuildRequest) -> tuple[Path, Any]:
        """The job folder and an engine that answers, before a build stream starts."""
        folder = paths.inside_root(self.root, request.job, "job folder", field="job")
        load_job(folder)
        return folder, engine()

    def build(
        self, folder: Path, client: Any, request: BuildRequest, report: Callable[[BuildEvent], None]
    ) -> JobBuild:
        result = build_image(
            folder,
            request.tag,
            request.push,
            on_progress=report,
            client=client,
            audit_root=self.settings,
        )
        built = _build_model(read_build(folder))
        assert built is not None, result
        return built

    # -- runs -----------------------------------------------------------------------------
    def start_run(self, request: JobRunRequest) -> JobExecution:
        folder = paths.inside_root(self.root, request.job, "job folder", field="job")
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
        log = output.with_suffix(".log")
        execution_id = uuid.uuid4().hex
        record = self._records / f"{execution_id}.json"
        params = self._records / f"{execution_id}.params.json"
        write_json(params, values)
        command = [
            sys.executable, "-m", "jupyter_mlops", "run", str(folder),
            "--params-file", str(params), "--output", str(output),
        ]  # fmt: skip
        if request.in_container:
            command.append("--in-container")
        data: dict[str, Any] = {
            "execution_id": execution_id,
            "job": paths.relative_to_root(self.root, folder),
            "output": paths.relative_to_root(self.root, output),
            "log": paths.relative_to_root(self.root, log),
            "in_container": request.in_container,
            "started_at": _now(),
            "ended_at": None,
            "status": "running",
            "exit_code": None,
            "params_file": params.name,
            "parameters": values,
            "owner": None,
        }
        env = {
            **os.environ,
            **self.settings.kernel_environment(),
            "PYTHONUNBUFFERED": "1",
            audit.ENV_USER: audit.current_user(),  # who the run's audit entries name
        }
        watcher = [sys.executable, "-m", WATCHER, str(record), "--", *command]
        with log.open("wb") as sink:
            process = subprocess.Popen(
                watcher,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.PIPE,
                cwd=folder,
                env=env,
                start_new_session=True,
            )
        # The watcher starts the job once its record names it (stdin closed): from then
        # on the record says who runs the job, and only the watcher writes it.
        assert process.stdin is not None
        try:
            data["owner"] = Owner.of(process.pid).to_json()
            write_json(record, data)
        finally:
            process.stdin.close()
        execution = _Execution(record=record, data=data, process=process)
        with self._lock:
            self._executions[execution_id] = execution
            self._prune()
        return self._describe(execution)

    def execution(self, execution_id: str) -> JobExecution:
        return self._describe(self._find(execution_id))

    def executions(self) -> list[JobExecution]:
        with self._lock:
            known = list(self._executions.values())
        described = [self._describe(e) for e in known]
        return sorted(described, key=lambda e: e.started_at, reverse=True)

    def stop(self, execution_id: str) -> JobExecution:
        """Interrupt a running job as Ctrl-C does (its run is marked KILLED)."""
        found = self._find(execution_id)
        self._refresh(found)
        self._interrupt_process(found)
        return self._describe(found)

    # -- executions as tasks --------------------------------------------------------------
    def task_records(self) -> list[TaskRecord]:
        with self._lock:
            known = list(self._executions.values())
        return [self._task(e) for e in known]

    def task_record(self, task_id: str) -> TaskRecord | None:
        try:
            return self._task(self._find(task_id))
        except NotFound:
            return None

    def cancel_task(self, task_id: str) -> TaskRecord:
        self.stop(task_id)
        return self._task(self._find(task_id))

    def _task(self, execution: _Execution) -> TaskRecord:
        described = self._describe(execution)
        status = described.status
        error = None
        if status in _ENDED:
            error = ErrorBody(message=_ENDED[status].format(code=described.exit_code), code=status)
        parameters = execution.data.get("parameters")
        return TaskRecord(
            task_id=described.execution_id,
            kind=self.kind,
            state=_TASK_STATE[status],
            phase=status,
            done=0,
            total=0,
            unit="steps",
            started=_ms(described.started_at) or 0,
            finished=_ms(described.ended_at),
            request={
                "job": described.job,
                "in_container": described.in_container,
                "parameters": parameters if isinstance(parameters, dict) else {},
            },
            result=described.model_dump(mode="json", exclude={"log"})
            if status != "running"
            else None,
            error=error,
            log=described.log.splitlines(),
            cancellable=status == "running",
        )

    def shutdown(self) -> None:
        """Interrupt the jobs still running (the server is stopping); each one's watcher
        records how it ended."""
        with self._lock:
            known = list(self._executions.values())
        for execution in known:
            self._interrupt_process(execution)

    def _find(self, execution_id: str) -> _Execution:
        with self._lock:
            found = self._executions.get(execution_id)
        if found is None and _EXECUTION_ID.fullmatch(execution_id):
            # Started by another server on this project after this one started.
            record = self._records / f"{execution_id}.json"
            found = self._recorded(record, read_json(record))
            if found is not None:
                with self._lock:
                    found = self._executions.setdefault(execution_id, found)
        if found is None:
            raise NotFound(f"no job execution {execution_id}")
        return found

    def _interrupt_process(self, execution: _Execution) -> None:
        if execution.data.get("status") != "running":
            return
        if execution.process is not None:
            if execution.process.poll() is not None:
                return
            group = execution.process.pid
        else:
            owner = Owner.from_json(execution.data.get("owner"))
            if owner is None or owner.host != socket.gethostname() or not owner.alive():
                return
            group = owner.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGINT)

    # -- execution records ----------------------------------------------------------------
    def _load(self) -> None:
        """The executions earlier servers recorded; those still running whose process is
        gone end ``interrupted``."""
        for path, data in records(self._records):
            execution = self._recorded(path, data)
            if execution is not None:
                self._executions[execution.data["execution_id"]] = execution
        self._prune()

    def _recorded(self, path: Path, data: dict[str, Any] | None) -> _Execution | None:
        if data is None or not _readable(data) or path.stem != data["execution_id"]:
            return None
        execution = _Execution(record=path, data=data)
        self._refresh(execution)
        return execution

    def _refresh(self, execution: _Execution) -> None:
        """Bring a running execution's state up to date: the watcher's record once the
        job ended, ``interrupted`` when nobody is left to record its end."""
        if execution.data.get("status") != "running":
            return
        if execution.process is not None:
            if execution.process.poll() is None:
                return
        else:
            owner = Owner.from_json(execution.data.get("owner"))
            if owner is not None and owner.alive():
                return
        latest = read_json(execution.record)
        if latest is not None and _readable(latest) and latest.get("status") != "running":
            execution.data = latest
            return
        self._interrupted(execution)

    def _interrupted(self, execution: _Execution) -> None:
        """The job's process is gone and recorded no outcome: the server (or the machine)
        stopped under it. Said in its record and at the end of its log."""
        data = execution.data
        data.update(status="interrupted", ended_at=_now(), exit_code=None)
        with contextlib.suppress(OSError):
            write_json(execution.record, data)
        with contextlib.suppress(OSError):
            (self._records / str(data.get("params_file"))).unlink(missing_ok=True)
        with contextlib.suppress(OSError), (self.root / data["log"]).open("a") as log:
            log.write(f"\n{INTERRUPTED_NOTE}\n")

    def _prune(self) -> None:
        """Forget the oldest finished executions beyond :data:`KEEP_FINISHED`."""
        finished = sorted(
            (e for e in self._executions.values() if e.data.get("status") != "running"),
            key=lambda e: str(e.data.get("started_at")),
        )
        for execution in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._executions[execution.data["execution_id"]]
            execution.record.unlink(missing_ok=True)

    def _describe(self, execution: _Execution) -> JobExecution:
        self._refresh(execution)
        data = execution.data
        return JobExecution(
            execution_id=data["execution_id"],
            job=data["job"],
            status=data["status"],
            exit_code=data.get("exit_code") if isinstance(data.get("exit_code"), int) else None,
            in_container=bool(data.get("in_container")),
            started_at=data["started_at"],
            ended_at=data.get("ended_at") if isinstance(data.get("ended_at"), str) else None,
            output=data["output"],
            log=_tail(self.root / data["log"]),
        )


def _readable(data: dict[str, Any]) -> bool:
    """Whether a record has what an execution needs, its paths inside the root."""
    texts = ("execution_id", "job", "output", "log", "started_at", "status")
    if not all(isinstance(data.get(key), str) for key in texts):
        return False
    if not _EXECUTION_ID.fullmatch(data["execution_id"]) or data["status"] not in STATUSES:
        return False
    return all(_relative(data[key]) for key in ("job", "output", "log"))


def _relative(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return bool(parts) and not PurePosixPath(path).is_absolute() and ".." not in parts


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


def _ms(when: str | None) -> int | None:
    """Milliseconds since the epoch of a recorded ISO time (None when there is none)."""
    if when is None:
        return None
    try:
        return int(datetime.datetime.fromisoformat(when).timestamp() * 1000)
    except ValueError:
        return None


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
