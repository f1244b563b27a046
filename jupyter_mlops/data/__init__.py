"""Data snapshots with DVC, linked to runs and restorable.

In a notebook (after ``%load_ext jupyter_mlops``)::

    %snapshot data/train.csv data/images -m "cleaned labels" --push

or from Python, with the same powers::

    import jupyter_mlops.data as data
    data.snapshot("data/train.csv", message="cleaned labels", push=True)
    data.history("data/train.csv")          # versions, messages, runs that read each
    data.diff("data/images", "3f2a...dir")   # against the data on disk
    data.restore("data/train.csv", "9c1b...")   # or data.restore(run="<run id>")
    data.push(); data.pull()

Relative paths are relative to the current folder (the notebook's); every path must be
inside the project (the Jupyter server's root folder). See ``docs/data.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import (
        DataDiff,
        DataHistory,
        DataPaths,
        RestoreResult,
        SnapshotResult,
        TransferResult,
    )
    from .service import DataService

__all__ = ["diff", "history", "pull", "push", "restore", "snapshot", "tracked"]


def _service() -> DataService:
    from ..settings import from_kernel_environment
    from .service import DataService

    return DataService(from_kernel_environment())


def snapshot(
    *paths: str,
    message: str | None = None,
    push: bool = False,
    commit: bool = False,
    remote: str | None = None,
    link: str | None = None,
    progress: bool = True,
) -> SnapshotResult:
    """Put ``paths`` under DVC (a new version where the data changed); stage the ``.dvc``
    files with git, commit them with ``commit=True``, push with ``push=True``. A project
    without DVC is initialised first. ``link`` sets DVC's ``cache.type`` for the project
    (``hardlink``/``symlink``/``reflink``: no second copy of the data; ``copy``)."""
    from .interactive import run_interactive

    service, base = _service(), Path.cwd()
    return run_interactive(
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
        show=progress,
    )


def history(path: str) -> DataHistory:
    """Versions of ``path``, newest first, each with its message and the runs that read it."""
    return _service().history(path, base=Path.cwd())


def diff(path: str, a: str, b: str = "workspace") -> DataDiff:
    """Files added, removed and changed from version ``a`` to ``b`` (an md5, or the data
    on disk)."""
    return _service().diff(path, a, b, base=Path.cwd())


def restore(
    path: str | None = None,
    version: str | None = None,
    *,
    run: str | None = None,
    force: bool = False,
    progress: bool = True,
) -> RestoreResult:
    """Check out ``version`` of ``path``, or (``run=``) every DVC version that run read.
    Refuses when changes no snapshot holds would be lost, unless ``force=True``."""
    from .errors import BadData
    from .interactive import run_interactive

    service, base = _service(), Path.cwd()
    if run is not None:
        return run_interactive(
            lambda p: service.restore_run(run, force=force, progress=p),
            label="restore",
            show=progress,
        )
    if path is None or version is None:
        raise BadData("Give a path and a version (an md5 from history()), or run=.")
    return run_interactive(
        lambda p: service.restore(path, version, force=force, base=base, progress=p),
        label="restore",
        show=progress,
    )


def push(*paths: str, remote: str | None = None) -> TransferResult:
    """Push the current versions (of ``paths``, or of all tracked data) to a DVC remote;
    versions whose earlier push failed are pushed too."""
    from .interactive import run_interactive

    service, base = _service(), Path.cwd()
    return run_interactive(
        lambda p: service.push(paths, remote=remote, base=base, progress=p), label="push"
    )


def pull(*paths: str, remote: str | None = None) -> TransferResult:
    """Fetch the current versions from a DVC remote and check them out."""
    from .interactive import run_interactive

    service, base = _service(), Path.cwd()
    return run_interactive(
        lambda p: service.pull(paths, remote=remote, base=base, progress=p), label="pull"
    )


def tracked() -> DataPaths:
    """The project's tracked data paths and their state."""
    return _service().list_paths()
