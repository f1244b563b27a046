"""The Jupyter server extension: configuration, services and routes."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from jupyter_server.extension.application import ExtensionApp
from tornado.ioloop import PeriodicCallback
from traitlets import Bool, Float, Int, Unicode, default

from . import redact
from . import settings as settings_mod
from ._version import __version__
from .data.service import DataService
from .experiments.service import TrackingService
from .jobs.service import JobsService
from .routes import tornado_handlers
from .tasks.registry import TaskRegistry
from .tracking.delivery import Outcome, sync
from .tracking.spool import Spool

T = TypeVar("T")


class MlopsApp(ExtensionApp):
    """jupyter-mlops: experiment tracking, data snapshots and pipeline export for JupyterLab."""

    name = "jupyter_mlops"
    version = __version__
    load_other_extensions = True

    tracking_uri = Unicode(
        "",
        config=True,
        help="""MLflow tracking URI. Empty (the default) means the embedded SQLite store in
        <root>/.mlops/mlflow.db, created on first use. MLFLOW_TRACKING_URI in the
        environment wins over this setting.""",
    )
    artifact_location = Unicode(
        "",
        config=True,
        help="""Where new experiments store their artifacts (any URI MLflow accepts).
        Empty means <root>/.mlops/artifacts for the embedded store and the tracking
        server's default otherwise.""",
    )
    state_dir = Unicode(
        settings_mod.STATE_DIR_NAME,
        config=True,
        help="Folder for jupyter-mlops' local state, relative to the server's root folder.",
    )
    probe_timeout = Float(
        3.0,
        config=True,
        help="Seconds to wait for the tracking server or container engine in status checks.",
    )
    run_count_limit = Int(
        10_000,
        config=True,
        help="Experiment run counts stop at this number (MLflow has no count API; runs are paged).",
    )
    reap_interval = Float(
        2.0,
        config=True,
        help="""Seconds between looks at the run journal for runs of kernels that died
        (marked KILLED) and runs left undelivered; 0 turns it off.""",
    )
    data_lock_timeout = Float(
        60.0,
        config=True,
        help="""Seconds a data snapshot, restore or transfer waits for another one in the
        same project to finish before it fails with a clear message.""",
    )
    autolog = Bool(
        None,
        allow_none=True,
        config=True,
        help="""Whether %%track turns on MLflow's autologging (mlflow.autolog: scikit-learn,
        XGBoost, LightGBM, PyTorch Lightning...) in every tracked cell; a cell overrides it
        with --autolog or --no-autolog. Unset (the default) means JUPYTER_MLOPS_AUTOLOG
        in the environment, else off. Kernels started by this server get the value.""",
    )
    pushgateway = Unicode(
        "",
        config=True,
        help="""The Prometheus Pushgateway (a URL) jobs run from this server push their
        outcome and metrics to; JUPYTER_MLOPS_PUSHGATEWAY in the environment wins.""",
    )
    max_workers = Int(
        4, config=True, help="Threads for blocking work (MLflow, DVC, git, container engine)."
    )

    @default("max_workers")
    def _default_workers(self) -> int:
        return min(8, (os.cpu_count() or 2) + 2)

    _reaper: PeriodicCallback | None = None
    _reaping: Future[list[Outcome]] | None = None

    def initialize_settings(self) -> None:
        root = self.serverapp.root_dir if self.serverapp else os.getcwd()
        self.settings_resolved = settings_mod.resolve(
            root,
            tracking_uri=self.tracking_uri,
            artifact_location=self.artifact_location,
            state_dir=self.state_dir,
            probe_timeout=self.probe_timeout,
            autolog=self.autolog,
            pushgateway=self.pushgateway,
        )
        self.tracking = TrackingService(
            self.settings_resolved, run_count_limit=self.run_count_limit
        )
        # Export targets read their settings (c.DockerTarget.ca_certificates...) from ours.
        self.jobs = JobsService(self.settings_resolved, target_options={"parent": self})
        self.data = DataService(
            self.settings_resolved, self.tracking, lock_timeout=self.data_lock_timeout
        )
        self.tasks = TaskRegistry(self.settings_resolved.state_dir)
        self.tasks.attach(self.jobs)  # job runs are tasks too (kind job-run)
        self._executor = ThreadPoolExecutor(self.max_workers, thread_name_prefix="jupyter-mlops")
        self._executor.submit(self.tracking.warm_up)
        # Kernels started by this server inherit these, so %%track uses the same store.
        os.environ.update(self.settings_resolved.kernel_environment())
        if self.serverapp is not None:
            os.environ["JUPYTER_MLOPS_BASE_URL"] = self.serverapp.base_url
        self.log.info(
            "jupyter-mlops %s: tracking to %s",
            __version__,
            redact.mask(self.settings_resolved.tracking_uri),
        )

    def initialize_handlers(self) -> None:
        self.handlers.extend(tornado_handlers())
        if self.reap_interval > 0:
            self._reaper = PeriodicCallback(self._reap, self.reap_interval * 1000)
            self._reaper.start()

    def _reap(self) -> None:
        """Deliver runs no live process will deliver: a killed or restarted kernel's run
        becomes KILLED within seconds, and nothing stays RUNNING forever."""
        if self._reaping is not None and not self._reaping.done():
            return
        self._reaping = self._executor.submit(
            sync, Spool(self.settings_resolved.state_dir), timeout=self.probe_timeout
        )
        self._reaping.add_done_callback(self._log_reaped)

    def _log_reaped(self, future: Future[list[Outcome]]) -> None:
        try:
            outcomes = future.result()
        except Exception:
            self.log.exception("jupyter-mlops: delivering journaled runs failed")
            return
        for outcome in outcomes:
            if outcome.state == "delivered":
                self.log.info("jupyter-mlops: delivered run %s (%s)", outcome.run_id, outcome.key)

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(fn, *args))

    async def stop_extension(self) -> None:
        self.jobs.shutdown()
        if self._reaper is not None:
            self._reaper.stop()
        self._executor.shutdown(wait=False, cancel_futures=True)
