"""What a long operation is doing, readable from any thread, and its cancel switch.

Shared by every kind of long work (data hashing and transfers, builds, job runs) and by
the kernel's interactive progress bar; it depends on nothing but the error family.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import MlopsError


class Cancelled(MlopsError):
    """The user interrupted the operation; nothing half-done was left behind."""

    status = 409
    code = "cancelled"


#: Lines of output a :class:`Progress` keeps (the newest).
LOG_LINES = 200


@dataclass
class ProgressState:
    phase: str = ""
    done: int = 0
    total: int = 0
    unit: str = "bytes"


class Progress:
    """What a long operation is doing, readable from any thread, and its cancel switch."""

    def __init__(self, on_change: Callable[[ProgressState], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._state = ProgressState()
        self.cancel_event = threading.Event()
        self._on_change = on_change
        self._lines: deque[str] = deque(maxlen=LOG_LINES)

    def begin(self, phase: str, total: int = 0, unit: str = "bytes") -> None:
        with self._lock:
            self._state = ProgressState(phase=phase, done=0, total=total, unit=unit)
        self._changed()

    def advance(self, amount: int) -> None:
        with self._lock:
            self._state.done += amount
        self._changed()

    def state(self) -> ProgressState:
        with self._lock:
            s = self._state
            return ProgressState(s.phase, s.done, s.total, s.unit)

    def log(self, line: str) -> None:
        """Keep one line of the operation's output (a build's; the newest
        :data:`LOG_LINES`)."""
        with self._lock:
            self._lines.append(line)

    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)

    def cancel(self) -> None:
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` once cancellation was asked for."""
        if self.cancel_event.is_set():
            raise Cancelled("Interrupted; nothing was half-written.")

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self.state())
