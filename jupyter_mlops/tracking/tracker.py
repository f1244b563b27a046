"""A tracked run: the context manager behind ``%%track`` and ``jupyter_mlops.track()``.

Entering writes the run to the local journal (from a background thread) and wakes the
delivery agent, which creates it in the store; the cell's own code runs untouched. Leaving
records the outcome (FINISHED, FAILED with the exception, KILLED on an interrupt), what the
cell assigned and drew, and hands the run to the agent. The exception goes on unchanged.

MLflow is only touched on the kernel's main thread when the cell itself uses MLflow's
fluent API (it imported ``mlflow``), or asks for MLflow's autologging (``autolog``): then
the run must be active while the cell runs. If the store is down at that moment, the run
is started in a local outbox store and copied to the real store on delivery.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import time
import traceback
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from .. import mlflow_store
from ..errors import InvalidInput, MlopsError, reason, shorten
from . import capture, jobrun
from .delivery import RUN_KEY_TAG, experiment_id_for
from .figures import FigureCapture
from .naming import naming_lock, unique_name
from .session import TrackingSession, default_session
from .spool import RunRecord, now_ms, serialise

DEFAULT_EXPERIMENT = "notebooks"


class Tracker:
    def __init__(
        self,
        session: TrackingSession | None = None,
        *,
        name: str | None = None,
        experiment: str | None = None,
        params: Iterable[str] | Mapping[str, Any] | None = None,
        metrics: Iterable[str] | None = None,
        data: Iterable[str] = (),
        tags: Mapping[str, str] | None = None,
        source: str | None = None,
        namespace: dict[str, Any] | None = None,
        cwd: str | None = None,
        autolog: bool = False,
    ) -> None:
        self.session = session or default_session()
        #: MLflow's autologging (scikit-learn, XGBoost, PyTorch Lightning...) into this run,
        #: on while the cell runs only.
        self.autolog = autolog
        self.source = source
        self.namespace = namespace if namespace is not None else {}
        self.cwd = cwd or os.getcwd()
        self.notebook = capture.notebook_path(self.namespace)
        self.param_names: list[str] | None = None
        self.param_values: dict[str, str] = {}
        if isinstance(params, Mapping):
            self.param_values = {k: _param_value(v) for k, v in params.items()}
        elif params is not None:
            self.param_names = list(params)
        self.metric_names = list(metrics) if metrics is not None else None
        self.data = list(data)
        settings = self.session.settings
        #: In a job: the run is a child of the job's run, with the job's parameters.
        self.job = jobrun.current()
        job_tags = self.job.tags() if self.job else {}
        self.record = RunRecord.new(
            tracking_uri=settings.tracking_uri,
            experiment=experiment or _default_experiment(self.notebook, self.job),
            run_name=name or _default_run_name(source),
            artifact_location=settings.artifact_location,
            tags=_base_tags({**job_tags, **(tags or {})}, self.notebook, source is not None),
        )
        if self.job:
            self.record.params.update(self.job.params)  # what the cell records wins
        self.error: BaseException | None = None
        self.figures = FigureCapture()
        self._fluent = False
        self._autologging = False
        self._previous_uri: str | None = None
        self._started = 0.0

    # -- public API inside a run ----------------------------------------------------------
    @property
    def key(self) -> str:
        return self.record.key

    @property
    def status(self) -> str:
        return self.record.status

    def log(self, step: int | None = None, **metrics: Any) -> None:
        """Record metric values (numbers) at an optional step; costs microseconds."""
        timestamp = now_ms()
        for name, value in metrics.items():
            number = capture.metric_value(value)
            if number is None:
                raise InvalidInput(f"Metric '{name}' must be a number, not {type(value).__name__}.")
            self.record.metrics.append([name, number, timestamp, int(step or 0)])

    def log_params(self, **params: Any) -> None:
        for name, value in params.items():
            self.param_values[name] = _param_value(value)

    def set_tags(self, **tags: Any) -> None:
        self.record.tags.update({k: str(v) for k, v in tags.items()})

    def show(self, value: Any) -> None:
        """The value the cell shows as its result: a figure there is kept with the run."""
        self.figures.add(value)

    # -- lifecycle ------------------------------------------------------------------------
    # The main thread only takes snapshots. The session's journal thread writes them (the
    # start, then the outcome with the cell's files) and wakes the delivery agent, a
    # process of its own, which captures the lineage (git, packages, data versions) and
    # delivers. A process that dies after the cell leaves its outcome journaled.
    def __enter__(self) -> Tracker:
        self._started = time.perf_counter()
        self.figures.start()
        if self.autolog or self._uses_mlflow():
            try:
                self._start_fluent_run()
            except Exception as error:  # the cell runs all the same, its MLflow calls untracked
                self.record.tags["jupyter_mlops.fluent_error"] = _one_line(error)
        if self.autolog and self._fluent:
            try:
                self._autologging = _autolog_on()
                self.record.tags["jupyter_mlops.autolog"] = "true"
            except Exception as error:  # the cell runs all the same, not autologged
                self.record.tags["jupyter_mlops.autolog_error"] = _one_line(error)
        session = self.session
        self.record.lineage = {
            "cwd": self.cwd,
            "data": self.data,
            "root": str(session.settings.root_dir),
            "state_dir": str(session.settings.state_dir),
            "executable": sys.executable,
            "job_dir": self.job.folder if self.job else None,
        }
        session.executor.submit(self._begin, serialise(self.record))
        session.stack.append(self)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> Literal[False]:
        __tracebackhide__ = True
        if self.session.stack and self.session.stack[-1] is self:
            self.session.stack.pop()
        record = self.record
        record.end_time = now_ms()
        if exc is None:
            record.status = "FINISHED"
        elif isinstance(exc, KeyboardInterrupt):
            record.status = "KILLED"
        else:
            record.status = "FAILED"
            self.error = exc
        files: dict[str, bytes | str] = {}
        try:
            try:
                files = self._collect(exc)
            except Exception as error:  # what we record must never replace what the cell did
                record.tags["jupyter_mlops.capture_error"] = _one_line(error)
            try:
                if self._autologging:
                    self._autologging = False
                    _autolog_off()
            except Exception as error:  # the run goes on; autologging may stay on
                record.tags["jupyter_mlops.autolog_error"] = _one_line(error)
            try:
                if self._fluent:
                    self._end_fluent_run()
            except Exception as error:  # the run is delivered from the journal all the same
                record.tags["jupyter_mlops.fluent_error"] = _one_line(error)
        finally:
            self.figures.unhook()
            # Even when an interrupt cuts the capture short: the run must not stay RUNNING.
            record.complete = True
            self.session.executor.submit(self._end, serialise(record), files)
        return False

    def _begin(self, snapshot: str) -> None:
        self.session.spool.write_serialised(self.key, snapshot)
        self.session.ensure_agent()

    def _collect(self, exc: BaseException | None) -> dict[str, bytes | str]:
        """Take what the run records from the namespace and matplotlib (main thread only);
        return the files to keep with it. Each part is best effort."""
        record, ns = self.record, self.namespace
        files: dict[str, bytes | str] = {}
        problems: list[str] = []
        if exc is not None:
            record.tags["jupyter_mlops.error"] = f"{type(exc).__name__}: {exc}"[:500]
            files["error.txt"] = "".join(
                traceback.format_exception(type(exc), exc, exc.__traceback__)
            )
        timestamp = now_ms()
        duration = time.perf_counter() - self._started
        record.metrics.append(["jupyter_mlops.duration_s", duration, timestamp, 0])
        try:
            record.params.update(self._params_and_metrics(timestamp))
        except Exception as error:
            problems.append(f"parameters: {_one_line(error)}")
        try:
            self.figures.stop()
            shown, failures = self.figures.render()
            files.update({f"figures/{name}": content for name, content in shown.items()})
            problems += [f"figures: {_one_line(error)}" for error in failures]
        except Exception as error:
            problems.append(f"figures: {_one_line(error)}")
        if self.source is not None:
            files["source/cell.py"] = self.source
            try:
                files["source/history.py"] = capture.execution_history(ns)
            except Exception as error:
                problems.append(f"history: {_one_line(error)}")
        if problems:
            record.tags["jupyter_mlops.capture_error"] = "; ".join(problems)[:500]
        return files

    def _params_and_metrics(self, timestamp: int) -> dict[str, str]:
        """Append the cell's metrics to the record; return its parameters. The capture
        rule (``capture.automatic_names``) chooses, unless ``--params`` / ``--metrics``
        name them: each replaces its automatic choice, and a name given in one is never
        in the other. A name logged as a metric (``log()``) is a metric, not a parameter."""
        ns, record = self.namespace, self.record
        auto_params, auto_metrics = capture.automatic_names(
            self.source or "", capture.notebook_parameter_names(self.notebook)
        )
        logged = {metric[0] for metric in record.metrics}
        explicit_params = set(self.param_names or ())
        if self.metric_names is not None:
            for name in self.metric_names:
                value = capture.metric_value(ns.get(name))
                if value is not None:
                    record.metrics.append([name, value, timestamp, 0])
        else:
            for name in auto_metrics:
                value = capture.computed_number(ns.get(name))
                if value is not None and name not in logged and name not in explicit_params:
                    record.metrics.append([name, value, timestamp, 0])
        params = self.param_names
        if params is None:
            metrics = {metric[0] for metric in record.metrics}
            params = [n for n in auto_params if n not in metrics]
        params = [n for n in params if n not in (self.metric_names or ())]
        return {**capture.collect_params(params, ns), **self.param_values}

    def _end(self, snapshot: str, files: dict[str, bytes | str]) -> None:
        """Journal thread: keep the outcome and the cell's files as soon as the cell ends;
        the agent captures the lineage (git, packages, data versions) and delivers it all."""
        spool = self.session.spool
        for path, content in files.items():
            if content:
                spool.add_artifact(self.key, path, content)
        spool.write_serialised(self.key, snapshot)
        self.session.ensure_agent()

    # -- fluent MLflow inside the cell --------------------------------------------------
    def _uses_mlflow(self) -> bool:
        """Whether the user's code calls MLflow itself (it bound the name, or the cell
        mentions it, or logs or loads a model through ``jupyter_mlops``). Our own background
        import of MLflow does not count."""
        if isinstance(self.namespace.get("mlflow"), type(sys)):
            return True
        return bool(self.source and re.search(r"\b(mlflow|log_model|load_model)\b", self.source))

    def _start_fluent_run(self) -> None:
        import mlflow

        record, settings = self.record, self.session.settings
        tags = {RUN_KEY_TAG: record.key, **record.tags}
        self._previous_uri = mlflow.get_tracking_uri()
        try:
            client = mlflow_store.client(record.tracking_uri, record.artifact_location, timeout=1.0)
            experiment_id = experiment_id_for(client, record.experiment, record.artifact_location)
            uri = record.tracking_uri
        except Exception:
            # The store is down: MLflow calls in the cell go to the local outbox.
            uri = outbox_uri(settings.state_dir)
            client = mlflow_store.client(uri)
            experiment_id = experiment_id_for(client, record.experiment, None)
            record.outbox_uri = uri
        # As our own client has it: a server's URI without a query MLflow would garble.
        mlflow.set_tracking_uri(mlflow_store.mlflow_uri(uri))
        try:
            # Named in the store it lives in; a run in the outbox is named on delivery.
            lock_dir = None if record.outbox_uri else settings.state_dir
            with naming_lock(lock_dir):
                if lock_dir is not None:
                    record.run_name = unique_name(client, experiment_id, record.run_name)
                run = mlflow.start_run(
                    experiment_id=experiment_id,
                    run_name=record.run_name,
                    tags=tags,
                    # A run the user started in an earlier cell and left open is the parent.
                    nested=mlflow.active_run() is not None,
                )
        except BaseException:
            mlflow.set_tracking_uri(self._previous_uri)
            record.outbox_uri = None
            raise
        if record.outbox_uri is None:
            record.run_id = run.info.run_id
        self._fluent = True

    def _end_fluent_run(self) -> None:
        import mlflow

        # MLflow prints "View run ... at: <url>" when a server's run ends: output the cell
        # would not have untracked (the run card has the link).
        previous = os.environ.get(_QUIET_URL)
        os.environ[_QUIET_URL] = "true"
        try:
            mlflow.end_run(status=self.record.status)
        finally:
            if previous is None:
                os.environ.pop(_QUIET_URL, None)
            else:
                os.environ[_QUIET_URL] = previous
            if self._previous_uri is not None:
                mlflow.set_tracking_uri(self._previous_uri)


_QUIET_URL = "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"


# -- autologging, for the tracked run only ------------------------------------------------------
def _autolog_on() -> bool:
    """Turn on MLflow's autologging for every library it supports (``mlflow.autolog``),
    logging into the active run (ours). False, and nothing changed, when the user already
    turned autologging on themselves: theirs stays as they set it, ours is not undone."""
    import mlflow
    from mlflow.utils.autologging_utils import (
        AUTOLOGGING_INTEGRATIONS,
        autologging_is_disabled,
    )

    if any(not autologging_is_disabled(flavor) for flavor in list(AUTOLOGGING_INTEGRATIONS)):
        return False
    # MLflow's defaults (models are logged too), but exclusive=False: into the run we
    # started; silent: MLflow's notices (a library version it has not tested) are not the
    # cell's output.
    mlflow.autolog(exclusive=False, silent=True)
    return True


def _autolog_off() -> None:
    """Autologging off again after the cell: a later cell that is not tracked with
    ``--autolog`` logs nothing, and opens no run of MLflow's own."""
    import mlflow

    mlflow.autolog(disable=True, silent=True)


#: MLflow refuses longer parameter values (and the run would never be delivered).
MAX_PARAM_VALUE = 6000


def _param_value(value: Any) -> str:
    return str(value)[:MAX_PARAM_VALUE]


def _one_line(exc: BaseException) -> str:
    """What went wrong in capture, as a tag: the error's type and reason."""
    return shorten(f"{type(exc).__name__}: {reason(exc)}")


def outbox_uri(state_dir: Any) -> str:
    return f"sqlite:///{(state_dir / 'outbox.db').as_posix()}?timeout=60"


def _default_experiment(notebook: str | None, job: jobrun.JobContext | None = None) -> str:
    if job is not None and job.experiment:
        return job.experiment
    if notebook:
        return os.path.splitext(os.path.basename(notebook))[0]
    main = sys.modules.get("__main__")
    script = getattr(main, "__file__", None)
    return os.path.splitext(os.path.basename(script))[0] if script else DEFAULT_EXPERIMENT


def _default_run_name(source: str | None) -> str:
    """The cell's first comment, or its first assigned name, or a time stamp."""
    if source:
        for line in source.splitlines():
            text = line.strip()
            if text.startswith("#") and text.lstrip("# ").strip():
                return text.lstrip("# ").strip()[:80]
        names = capture.assigned_names(source)
        if names:
            return f"{names[0]}-{time.strftime('%H%M%S')}"
    return f"run-{time.strftime('%Y%m%d-%H%M%S')}"


def _base_tags(tags: dict[str, str], notebook: str | None, from_cell: bool) -> dict[str, str]:
    tags.setdefault("jupyter_mlops.source", "cell" if from_cell else "script")
    if notebook:
        tags["mlflow.source.name"] = notebook
        tags["jupyter_mlops.notebook"] = notebook
        tags["mlflow.source.type"] = "NOTEBOOK"
    tags["mlflow.user"] = tags.get("mlflow.user") or _user()
    return tags


@functools.cache
def _user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def track(**kwargs: Any) -> Tracker:
    """Track a block of plain Python as one MLflow run::

    with jupyter_mlops.track(name="train", params={"lr": 0.1}) as run:
        run.log(step=1, loss=0.5)
    """
    if "namespace" not in kwargs:
        kwargs["namespace"] = sys._getframe(1).f_globals
    return Tracker(**kwargs)


def log(step: int | None = None, **metrics: Any) -> None:
    """Log metrics to the run of the tracked cell (or ``track()`` block) running now."""
    active = default_session().active
    if active is None:
        raise MlopsError(
            "jupyter_mlops.log() is only meaningful inside a %%track cell or a track() block.",
            code="no_active_run",
        )
    active.log(step=step, **metrics)
