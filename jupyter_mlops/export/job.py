"""The one job entrypoint: ``python -m jupyter_mlops.job [JOB_DIR] [-p NAME VALUE]...``.

The container, ``jupyter mlops run`` and every orchestrator start a job this way, so what
runs locally is what runs in the cluster. In order:

1. read ``job.json`` and ``parameters.schema.json`` and check the values given (``-p``
   text, a ``--params-file``) before anything else: a wrong value exits with code 2 and one
   line per mistake naming the parameter and the type it expects, and no kernel starts
   (papermill is not even imported);
2. make the DVC-tracked data the job reads the version it was exported with, pulling it
   from the DVC remote where it is missing or different (``datapins``);
3. run the notebook with papermill in kernel ``python3`` with the job folder as working
   directory, the values injected typed;
4. keep the output notebook (``<job>/output/<name>-<time>.ipynb`` or ``--output``, any
   location papermill writes to);
5. with a tracking URI configured (``MLFLOW_TRACKING_URI`` or ``JUPYTER_MLOPS_TRACKING_URI``)
   record the run in the notebook's experiment, tagged ``jupyter_mlops.source=job``, with the
   parameters, the output notebook and the image digest (``JUPYTER_MLOPS_IMAGE_DIGEST``),
   and deliver it before exiting.

Exit codes: 0 done, 2 invalid parameters or job folder, 3 the notebook failed (the message
names the cell), 4 the pinned data could not be fetched (a remote down: worth retrying),
5 the notebook's drift check found the data drifted, with ``--fail-on-drift`` (see
``export/driftgate.py``; ``--retrain-deployment NAME`` then triggers that deployment),
130/143 interrupted or terminated (the run is KILLED).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import settings as settings_mod
from ..errors import InvalidInput, MlopsError
from ..tracking.jobrun import ENV_PARENT_KEY, JobContext
from .datapins import DataUnavailable, ensure_pinned_data
from .driftgate import ENV_DRIFT_FILE, ENV_FAIL_ON_DRIFT, ENV_RETRAIN_DEPLOYMENT
from .finish import JobOutcome, finish
from .jobfile import JOB_FILE, InvalidJobFile, JobFile
from .parameters import (
    InvalidParameters,
    ParameterProblem,
    ParameterSchema,
    parse_cli_values,
    parse_params_file,
    read_schema,
    validate,
)

KERNEL = "python3"
EXIT_OK = 0
EXIT_INVALID = 2
EXIT_FAILED = 3
EXIT_NO_DATA = 4
ENV_IMAGE_DIGEST = "JUPYTER_MLOPS_IMAGE_DIGEST"
ENV_FLUSH_TIMEOUT = "JUPYTER_MLOPS_EXIT_FLUSH"
#: Set by an engine's manifest: the deployment that started the run, and the engine's own id
#: of the run (an Airflow DAG run id); both tag the job's MLflow run.
ENV_DEPLOYMENT = "JUPYTER_MLOPS_DEPLOYMENT"
ENV_ENGINE_RUN_ID = "JUPYTER_MLOPS_ENGINE_RUN_ID"
#: Where the output notebook will be for whoever started the job, when it is not where the
#: job writes it (``jupyter mlops run --in-container`` copies it out to the host).
ENV_OUTPUT_ON_HOST = "JUPYTER_MLOPS_OUTPUT_ON_HOST"
SOURCE_TAG = "jupyter_mlops.source"
PROG = "jupyter-mlops job"


class JobFailed(MlopsError):
    """The notebook did not run to its end."""

    code = "job_failed"

    def __init__(
        self,
        message: str,
        output: str | None = None,
        cell: str | None = None,
        error: str | None = None,
    ) -> None:
        super().__init__(message)
        self.output = output
        #: ``[N] `first line``` of the failing cell, and the error it raised, when known.
        self.cell = cell
        self.error = error


@dataclass(frozen=True)
class Job:
    """A job folder: what ``job.json`` says, and the parameter schema."""

    folder: Path
    name: str
    experiment: str
    notebook: str
    schema: ParameterSchema
    file: JobFile

    @property
    def notebook_path(self) -> Path:
        return self.folder / self.notebook


def load_job(folder: str | Path) -> Job:
    folder = Path(folder).expanduser().resolve()
    if not (folder / JOB_FILE).is_file():
        raise InvalidInput(
            f"{folder} is not a job folder (no {JOB_FILE}); make one with "
            "`jupyter mlops export NOTEBOOK`"
        )
    file = JobFile.read(folder)
    if file.unreadable_pins:
        raise InvalidJobFile(
            f"{folder / JOB_FILE} is not a valid job file: "
            + "; ".join(file.unreadable_pins)
            + " (export the notebook again)"
        )
    job = Job(
        folder=folder,
        name=file.name,
        experiment=file.experiment,
        notebook=file.notebook,
        schema=read_schema(folder / file.parameters),
        file=file,
    )
    if not job.notebook_path.is_file():
        raise InvalidInput(f"the job's notebook {job.notebook_path} is missing")
    return job


def values_for(
    job: Job,
    pairs: Sequence[tuple[str, str]] = (),
    params_file: str | Path | None = None,
    params_json: str | None = None,
) -> dict[str, Any]:
    """Every parameter's value, typed and checked: a parameters file, then a JSON object
    (``--params-json``), then ``-p`` pairs (text, typed by the schema; a later one wins),
    then the defaults."""
    given: dict[str, Any] = {}
    problems: list[ParameterProblem] = []
    if params_file is not None:
        given.update(parse_params_file(params_file))
    if params_json is not None:
        given.update(_params_object(params_json))
    try:
        given.update(parse_cli_values(job.schema, pairs))
    except InvalidParameters as exc:
        problems += exc.details
    try:
        values = validate(job.schema, given)
    except InvalidParameters as exc:
        problems += [p for p in exc.details if p not in problems]
    if problems:
        raise InvalidParameters(problems)
    return values


def _params_object(text: str) -> dict[str, Any]:
    """The values of ``--params-json``: one JSON object of names to values."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"--params-json is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput(
            f"--params-json must be a JSON object of names to values, not {type(data).__name__}"
        )
    return data


def default_output(job: Job) -> str:
    """``<job>/output/<name>-<UTC time>.ipynb``, never an existing file."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    base = job.folder / "output" / f"{job.name}-{stamp}"
    path, count = base.with_suffix(".ipynb"), 1
    while path.exists():
        count += 1
        path = base.with_name(f"{base.name}-{count}.ipynb")
    return str(path)


def tracking_configured() -> bool:
    return bool(
        os.environ.get("MLFLOW_TRACKING_URI") or os.environ.get(settings_mod.ENV_TRACKING_URI)
    )


# -- running ----------------------------------------------------------------------------------
def run_job(
    job_dir: str | Path,
    values: Mapping[str, Any],
    output: str | None = None,
    outcome: JobOutcome | None = None,
) -> str:
    """Run the job with checked ``values`` (see :func:`values_for`); the output notebook's
    location. :class:`JobFailed` when the notebook fails (its run, if tracked, FAILED).
    ``outcome``, when given, learns the output notebook and the job's run."""
    job = load_job(job_dir)
    values = validate(job.schema, values)  # cheap, and run_job may be called directly
    output = output or default_output(job)
    if outcome is not None:
        outcome.output = output
    if "://" not in output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
    # Tracked cells in the notebook record the job, its parameters and its data (``jobrun``).
    context = JobContext(job.name, str(job.folder), job.experiment, _param_texts(values))
    with _environment({"JUPYTER_MLOPS_NOTEBOOK": str(job.notebook_path), **context.environment()}):
        if not tracking_configured():
            _execute(job, values, output)
            return output
        return _tracked(job, values, output, outcome)


def _param_texts(values: Mapping[str, Any]) -> dict[str, str]:
    from ..tracking import capture

    return {k: capture.param_text(v) or json.dumps(v)[:500] for k, v in values.items()}


def _tracked(
    job: Job, values: Mapping[str, Any], output: str, outcome: JobOutcome | None = None
) -> str:
    from ..tracking.session import TrackingSession
    from ..tracking.tracker import Tracker

    session = TrackingSession(settings_mod.from_kernel_environment(cwd=job.folder))
    source = job.file.source
    tags = {
        SOURCE_TAG: "job",
        "jupyter_mlops.job": job.name,
        "jupyter_mlops.job.output": os.environ.get(ENV_OUTPUT_ON_HOST) or output,
        "jupyter_mlops.job.notebook_sha256": source.sha256 or "",
        "jupyter_mlops.job.git_commit": source.git_commit or "",
        "mlflow.source.git.commit": source.git_commit or "",
        "jupyter_mlops.image.digest": os.environ.get(ENV_IMAGE_DIGEST, ""),
        "jupyter_mlops.deployment": os.environ.get(ENV_DEPLOYMENT, ""),
        "jupyter_mlops.engine_run_id": os.environ.get(ENV_ENGINE_RUN_ID, ""),
    }
    params = _param_texts(values)
    tracker = Tracker(
        session,
        name=Path(output).stem if "://" not in output else job.name,
        experiment=job.experiment,
        params=params,
        tags={k: v for k, v in tags.items() if v},
        source=None,
        namespace={},
        cwd=str(job.folder),
    )
    if outcome is not None:
        outcome.run_key = tracker.key
    from ..models.notebook import models_used

    try:
        # The model versions the notebook loads (jupyter_mlops.load_model) are tagged too.
        with tracker, models_used(tracker):
            try:
                # The runs of tracked cells name this run as their parent, by its key.
                with _environment({ENV_PARENT_KEY: tracker.key}):
                    _execute(job, values, output)
            finally:
                _keep_output(session, tracker.key, output)
    finally:
        # 0: someone else delivers the journal (the host, after a container on its
        # embedded store); the journal itself is written before the process exits.
        timeout = float(os.environ.get(ENV_FLUSH_TIMEOUT, "60"))
        if timeout > 0 and not session.flush(timeout):
            print(
                f"{PROG}: warning: the run is not delivered to the tracking store yet; it is "
                f"kept in {session.settings.state_dir} (`jupyter mlops sync` delivers it)",
                file=sys.stderr,
            )
        if outcome is not None:
            receipt = session.spool.receipt(tracker.key) or {}
            outcome.run_id = receipt.get("run_id")
    return output


def _keep_output(session: Any, key: str, output: str) -> None:
    """The output notebook as an artifact of the run (also when the notebook failed)."""
    try:
        if "://" in output:
            from papermill.iorw import papermill_io

            content: bytes | str = papermill_io.read(output)
        else:
            content = Path(output).read_bytes()
    except Exception:
        return  # no output notebook (the kernel never started): nothing to keep
    session.spool.add_artifact(key, f"output/{os.path.basename(output)}", content)


def _execute(job: Job, values: Mapping[str, Any], output: str) -> None:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    try:
        papermill.execute_notebook(
            str(job.notebook_path),
            output,
            parameters=dict(values),
            kernel_name=KERNEL,
            cwd=str(job.folder),
            progress_bar=False,
            config=_kernel_config(),
        )
    except PapermillExecutionError as exc:
        cell, error = _cell_and_error(exc)
        raise JobFailed(
            f"the notebook failed in cell {cell}: {error}; output notebook: {output}",
            output,
            cell=cell,
            error=error,
        ) from exc
    except (KeyboardInterrupt, MlopsError):
        raise
    except Exception as exc:
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:500]
        raise JobFailed(f"the notebook did not run to its end: {detail}", output) from exc


def _kernel_config() -> Any:
    """The job's kernel talks to papermill over Unix sockets beside its connection file
    (owner-only), not over TCP on loopback, where anyone on the machine or pod could
    connect (and ipykernel warns about it in every job's log)."""
    from traitlets.config import Config

    config = Config()
    if os.name == "posix":
        config.KernelManager.transport = "ipc"
    return config


def _cell_and_error(exc: Any) -> tuple[str, str]:
    """``[N] (`first line`)`` of the cell papermill reports failed, and its error."""
    first = next((line.strip() for line in str(exc.source).splitlines() if line.strip()), "")
    first = first if len(first) <= 60 else first[:57] + "..."
    error = " ".join(f"{exc.ename}: {exc.evalue}".split())[:300]
    return f"[{exc.exec_count}] (`{first}`)", error


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Variables for the kernel papermill starts (it inherits this process's environment)."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# -- the command ----------------------------------------------------------------------------
def add_value_options(parser: argparse.ArgumentParser) -> None:
    """The options that give a job its values: shared by this entrypoint and
    ``jupyter mlops run``, so both read parameters the same way."""
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="A parameter value, typed by the schema (lists and dicts as JSON); repeatable.",
    )
    parser.add_argument("--params-file", help="Parameter values in a YAML or JSON file.")
    parser.add_argument(
        "--output", help="Where to write the output notebook (a path or any papermill URL)."
    )


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Run an exported notebook job (parameters checked first)."
    )
    parser.add_argument(
        "job_dir", nargs="?", default=".", metavar="JOB_DIR", help="The job folder (default: here)."
    )
    add_value_options(parser)
    # For orchestrators, which render a run's values into arguments (Airflow's
    # `{{ params | tojson }}`) and need the job's results as files (DVC's metrics).
    parser.add_argument(
        "--params-json",
        metavar="JSON",
        help="Parameter values as one JSON object (after --params-file, before -p).",
    )
    parser.add_argument(
        "--fail-on-drift",
        action="store_true",
        default=None,
        help="End with exit code 5 when a drift check in the notebook found the data drifted "
        f"(also {ENV_FAIL_ON_DRIFT}=1).",
    )
    parser.add_argument(
        "--retrain-deployment",
        metavar="NAME",
        help="With --fail-on-drift: trigger this (training) deployment when the data drifted "
        f"(also {ENV_RETRAIN_DEPLOYMENT}).",
    )
    parser.add_argument(
        "--metrics",
        metavar="FILE",
        help="After a successful run, write the metrics the notebook recorded "
        "(jupyter_mlops.export.metrics.record) to FILE as a JSON object.",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from ..monitoring.push import warm_up

    warm_up()  # the push at the end then costs the job a few milliseconds
    outcome = JobOutcome(job=Path(args.job_dir).resolve().name, folder=args.job_dir, exit_code=0)
    # The kernel's drift checks leave their results in a file the drift gate reads.
    with tempfile.TemporaryDirectory(prefix="mlops-drift-") as scratch:
        gate = {ENV_DRIFT_FILE: os.path.join(scratch, "drift.jsonl")}
        if args.fail_on_drift:
            gate[ENV_FAIL_ON_DRIFT] = "1"
        if args.retrain_deployment:
            gate[ENV_RETRAIN_DEPLOYMENT] = args.retrain_deployment
        with _environment(gate):
            outcome.exit_code = _main(args, outcome)
            outcome.ended = time.time()
            return finish(outcome, PROG)


def _main(args: argparse.Namespace, outcome: JobOutcome) -> int:
    """Run the job as ``args`` say, filling in ``outcome``; the exit code."""
    try:
        job = load_job(args.job_dir)
        outcome.job, outcome.folder = job.name, str(job.folder)
        values = values_for(
            job, [tuple(p) for p in args.parameter], args.params_file, args.params_json
        )
    except InvalidParameters as exc:
        for problem in exc.problems:
            print(f"{PROG}: error: {problem}", file=sys.stderr)
        outcome.message = "; ".join(str(problem) for problem in exc.problems)
        return EXIT_INVALID
    except MlopsError as exc:
        outcome.message = " ".join(exc.message.split())
        print(f"{PROG}: error: {outcome.message}", file=sys.stderr)
        return EXIT_INVALID
    outcome.parameters = values
    from ..audit.jobs import run_started

    unrecorded = run_started(job.folder, job.file, values)
    if unrecorded:
        outcome.warnings.append(unrecorded)
    with _sigterm_interrupts() as terminated:
        started = False
        try:
            ensure_pinned_data(job.folder, job.file.data, lambda m: print(f"{PROG}: {m}"))
            started = True
            output = run_job(job.folder, values, args.output, outcome)
        except DataUnavailable as exc:
            outcome.message = exc.message
            print(f"{PROG}: error: {exc.message}", file=sys.stderr)
            return EXIT_NO_DATA
        except JobFailed as exc:
            outcome.message, outcome.failed_cell, outcome.error = exc.message, exc.cell, exc.error
            _read_metrics(outcome)
            print(f"{PROG}: {exc.message}", file=sys.stderr)
            return EXIT_FAILED
        except MlopsError as exc:
            outcome.message = " ".join(exc.message.split())
            print(f"{PROG}: error: {outcome.message}", file=sys.stderr)
            return EXIT_INVALID
        except KeyboardInterrupt:
            what = "the run is marked KILLED" if started else "the notebook did not start"
            outcome.message = f"interrupted; {what}"
            print(f"{PROG}: interrupted; {what}", file=sys.stderr)
            return 143 if terminated else 130
    _read_metrics(outcome)
    if args.metrics:
        from .metrics import write_metrics

        try:
            write_metrics(output, args.metrics)
        except (OSError, ValueError, MlopsError) as exc:
            detail = exc.message if isinstance(exc, MlopsError) else f"{type(exc).__name__}: {exc}"
            outcome.message = f"the metrics cannot be written: {detail}"
            print(f"{PROG}: error: {outcome.message}", file=sys.stderr)
            return EXIT_FAILED
    outcome.message = f"done; output notebook: {output}"
    print(f"{PROG}: {outcome.message}")
    return EXIT_OK


def _read_metrics(outcome: JobOutcome) -> None:
    """The final value of each metric the output notebook recorded, into ``outcome``."""
    from .metrics import recorded

    if not outcome.output or "://" in outcome.output:
        return
    try:
        notebook = json.loads(Path(outcome.output).read_text(encoding="utf-8"))
        outcome.metrics = {k: float(v) for k, v in recorded(notebook).items()}
    except (OSError, ValueError, MlopsError):
        return  # no output notebook, or not one: no metrics


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[list[int]]:
    """SIGTERM (Kubernetes stopping the pod) ends the job as Ctrl-C does: the kernel is shut
    down and the run is marked KILLED. The list yielded is non-empty once it came."""
    received: list[int] = []

    def interrupt(signum: int, frame: Any) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield received
        return
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, previous)
