"""Running data operations in a kernel: a progress bar, and interrupts that work.

The work runs in a thread of its own; the kernel's main thread only waits and draws the
bar (tqdm: a widget in JupyterLab, text elsewhere), shown once the work takes longer than
half a second. An interrupt (the stop button, Ctrl-C) asks the work to stop at its next
safe point (within one read buffer while hashing or caching; never between writing a
``.dvc`` file and its journal line), waits for it briefly, and raises
``KeyboardInterrupt`` as any interrupted cell does. What was snapshotted before stays
snapshotted; the path being worked on keeps its previous version.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ..tasks.progress import Progress, ProgressState

T = TypeVar("T")
#: Seconds before a progress bar appears.
BAR_DELAY = 0.5
#: Seconds an interrupt waits for the work to reach a safe point.
STOP_GRACE = 15.0


class _Bar:
    def __init__(self, label: str) -> None:
        from tqdm.auto import tqdm

        self._tqdm = tqdm
        self.label = label
        self.bar: Any = None
        self.shape: tuple[str, str, int] | None = None

    def show(self, state: ProgressState) -> None:
        shape = (state.phase, state.unit, state.total)
        if self.bar is None or shape != self.shape:
            self.close()
            is_bytes = state.unit == "bytes"
            self.bar = self._tqdm(
                total=state.total or None,
                desc=f"{self.label}: {state.phase}",
                unit="B" if is_bytes else " files",
                unit_scale=is_bytes,
                unit_divisor=1024 if is_bytes else 1000,
                leave=False,
                file=sys.stderr,
                dynamic_ncols=True,
            )
            self.shape = shape
        self.bar.n = min(state.done, state.total) if state.total else state.done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def run_interactive(work: Callable[[Progress], T], *, label: str, show: bool = True) -> T:
    """Run ``work(progress)`` in a thread; draw progress; turn an interrupt into a clean
    stop followed by ``KeyboardInterrupt``."""
    progress = Progress()
    outcome: dict[str, Any] = {}
    finished = threading.Event()

    def target() -> None:
        try:
            outcome["value"] = work(progress)
        except BaseException as exc:  # handed to the waiting thread
            outcome["error"] = exc
        finally:
            finished.set()

    thread = threading.Thread(target=target, name=f"mlops-{label}", daemon=True)
    thread.start()
    bar: _Bar | None = None
    try:
        if not finished.wait(BAR_DELAY) and show:
            bar = _Bar(label)
        while not finished.wait(0.1):
            if bar is not None:
                bar.show(progress.state())
    except KeyboardInterrupt:
        progress.cancel()
        if bar is not None:
            bar.close()
            bar = None
        print(f"jupyter-mlops: interrupting the {label}...", file=sys.stderr)
        try:
            stopped = finished.wait(STOP_GRACE)
        except KeyboardInterrupt:
            stopped = finished.is_set()
        if not stopped:
            print(
                f"jupyter-mlops: the {label} is still finishing a step it cannot stop "
                "(a transfer to or from a remote); it goes on in the background.",
                file=sys.stderr,
            )
        elif "value" in outcome:
            print(f"jupyter-mlops: the {label} had already finished.", file=sys.stderr)
        else:
            print(
                f"jupyter-mlops: {label} interrupted; data snapshotted before the interrupt "
                "is kept, nothing was half-written.",
                file=sys.stderr,
            )
        raise
    finally:
        if bar is not None:
            bar.close()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def snapshot_in_kernel(
    settings: Any,
    paths: list[str],
    *,
    message: str | None,
    push: bool,
    remote: str | None,
    commit: bool,
    link: str | None,
) -> Any:
    """What ``%snapshot`` does: the snapshot with a progress bar, then a short report."""
    import os
    from pathlib import Path

    from .service import DataService

    service, base = DataService(settings), Path(os.getcwd())
    result = run_interactive(
        lambda p: service.snapshot(
            paths,
            message=message,
            push=push,
            commit=commit,
            remote=remote,
            link=link,
            base=base,
            progress=p,
        ),
        label="snapshot",
    )
    print(format_snapshot(result))
    return result


def format_snapshot(result: Any) -> str:
    lines = []
    if result.initialised:
        lines.append(result.initialised)
    for p in result.paths:
        files = f", {p.nfiles:,} files" if p.nfiles is not None else ""
        what = (
            f"{p.md5[:12]}{'.dir' if p.md5.endswith('.dir') else ''} ({human_size(p.size)}{files})"
        )
        if p.changed:
            head = "new version" if p.previous_md5 else "first version"
            read = (
                f"read {human_size(p.hashed_bytes)} in {p.seconds:.1f} s"
                if p.hashed_bytes
                else f"{p.seconds:.2f} s"
            )
            lines.append(f"{p.path}: {head} {what}; {read}, cache: {p.cache}")
        else:
            lines.append(f"{p.path}: unchanged, {what}")
    if result.git_commit:
        lines.append(f"Committed {', '.join(result.git_staged)} as {result.git_commit[:10]}.")
    elif result.git_staged:
        lines.append(
            f"Staged with git: {', '.join(result.git_staged)} (commit them, or use --commit)."
        )
    if result.pushed:
        lines.append(f"Pushed to the DVC remote {result.remote or '(default)'}.")
    elif result.pushed is False:
        lines.append(
            f"Push failed: {result.push_error} The snapshot is kept locally; retry with "
            f"%snapshot --push {' '.join(p.path for p in result.paths)}"
        )
    lines += [f"Warning: {w}" for w in result.warnings]
    return "\n".join(lines)


def human_size(size: int | None) -> str:
    if size is None:
        return "? B"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
