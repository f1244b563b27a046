"""One tracking session per process: the journal, the delivery agent, the active runs.

The ``%%track`` magic keeps a reference to its session; plain Python (``track()`` and
``log()`` in scripts and jobs) uses the same process-wide default session.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING

from .. import settings as settings_mod
from .. import state
from .delivery import Outcome
from .spool import Spool

if TYPE_CHECKING:
    from .tracker import Tracker

#: How often the run cards' watcher looks for delivered runs, in seconds.
WATCH_INTERVAL = 0.3
#: Every this many looks, it also reads each waiting run's delivery progress.
FULL_CHECK_EVERY = 5


class TrackingSession:
    def __init__(self, settings: settings_mod.Settings | None = None) -> None:
        self.settings = settings or settings_mod.from_kernel_environment()
        self.spool = Spool(self.settings.state_dir)
        #: One background thread writes the journal, in order; its work is quick, so a run
        #: is journaled (and its outcome too) within milliseconds of the cell's start and end.
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="jupyter-mlops")
        self.stack: list[Tracker] = []
        self._agent: subprocess.Popen[bytes] | None = None
        self._listeners: dict[str, tuple[Callable[[Outcome], None], str]] = {}
        self._watcher: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def active(self) -> Tracker | None:
        return self.stack[-1] if self.stack else None

    # -- delivery ---------------------------------------------------------------------------
    def ensure_agent(self) -> None:
        """Start this process's delivery agent if it is not running."""
        with self._lock:
            if self._agent is not None and self._agent.poll() is None:
                return
            state_dir = state.ensure(self.settings.state_dir)
            log = os.fdopen(state.open_fd(state_dir / "agent.log", os.O_WRONLY | os.O_APPEND), "ab")
            self._agent = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "jupyter_mlops.tracking.agent",
                    "--state-dir",
                    str(self.settings.state_dir),
                    "--owner",
                    str(os.getpid()),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                close_fds=True,
            )
            log.close()

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait until every run of this process is written and delivered (jobs and scripts
        call this before exiting, since their container or shell may take the agent down
        with them). True when nothing is left pending."""
        deadline = time.monotonic() + timeout
        try:
            self.executor.submit(lambda: None).result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            return False
        except RuntimeError:
            pass  # shut down at interpreter exit, after finishing what it had queued
        pid = os.getpid()
        while time.monotonic() < deadline:
            if not self.spool.keys_of(pid):
                return True
            self.ensure_agent()
            time.sleep(0.05)
        return not self.spool.keys_of(pid)

    # -- run cards ----------------------------------------------------------------------------
    def listen(self, key: str, callback: Callable[[Outcome], None]) -> None:
        """Call ``callback`` when the delivery of run ``key`` makes progress."""
        with self._lock:
            self._listeners[key] = (callback, "")
            if self._watcher is None or not self._watcher.is_alive():
                self._watcher = threading.Thread(
                    target=self._watch, name="jupyter-mlops-cards", daemon=True
                )
                self._watcher.start()

    def _watch(self) -> None:
        """Follow the runs with a card until each is delivered. Delivery is what a card
        waits for, so every tick looks for receipts (one ``stat`` per run); the rest of a
        run's progress (a retry: the card says the run is pending) every
        ``FULL_CHECK_EVERY`` ticks. This thread shares the kernel's GIL: it must stay
        cheap while many runs wait (a loop of tracked cells outruns the delivery)."""
        tick = 0
        while True:
            time.sleep(WATCH_INTERVAL)
            tick += 1
            full = tick % FULL_CHECK_EVERY == 0
            with self._lock:
                items = list(self._listeners.items())
                if not items:
                    self._watcher = None
                    return
            receipts = str(self.spool.receipts)
            for key, (callback, last) in items:
                if not full and not os.path.exists(os.path.join(receipts, f"{key}.json")):
                    continue
                outcome = self._progress(key)
                if outcome is None:
                    continue
                signature = f"{outcome.state}|{outcome.run_id}|{outcome.error}"
                if signature == last:
                    continue
                with self._lock:
                    if outcome.state == "delivered":
                        self._listeners.pop(key, None)
                    elif key in self._listeners:
                        self._listeners[key] = (callback, signature)
                try:
                    callback(outcome)
                except Exception:  # noqa: S112 - a broken widget must not stop the watcher
                    continue

    def _progress(self, key: str) -> Outcome | None:
        receipt = self.spool.receipt(key)
        if receipt is not None:
            return Outcome(
                key,
                "delivered",
                receipt.get("run_id"),
                receipt.get("experiment_id"),
                run_name=receipt.get("run_name"),
            )
        if not self.spool.folder(key).is_dir():
            return None
        progress = self.spool.read_delivery(key)
        if progress.last_error and progress.attempts > 0:
            return Outcome.of(key, "retry", progress)
        if progress.run_id:
            return Outcome.of(key, "started", progress)
        return None


_default: TrackingSession | None = None
_default_lock = threading.Lock()


def default_session() -> TrackingSession:
    global _default
    with _default_lock:
        if _default is None:
            _default = TrackingSession()
            atexit.register(_flush_at_exit, _default)
        return _default


def _flush_at_exit(session: TrackingSession) -> None:
    # A plain script's runs are delivered before it exits (bounded: the agent and
    # `jupyter mlops sync` finish whatever is left).
    if session.spool.keys_of(os.getpid()):
        session.flush(timeout=float(os.environ.get("JUPYTER_MLOPS_EXIT_FLUSH", "30")))
