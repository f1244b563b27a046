"""The one way to create the project's state folder (``.mlops/``) and the files in it.

The state folder holds the embedded tracking store, the run journal, the data journal and
logs: what a run recorded (parameters, data paths, cell sources) is for its owner only, so
the folder is created ``0700`` and every file in it ``0600``, whatever the umask (files
that SQLite or MLflow create inside are protected by the folder). The folder also gets a
``.gitignore`` holding ``*``, as virtual environments and DVC do it, so that
``git add -A`` in the project never commits it.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
GITIGNORE = ".gitignore"
GITIGNORE_TEXT = "# jupyter-mlops' local state (tracking store, journals): not for git\n*\n"


def ensure(state_dir: Path, *parts: str) -> Path:
    """The state folder (or the folder ``parts`` inside it), created owner-only if missing;
    the state folder gets its ``.gitignore``. Returns the folder."""
    state_dir = Path(state_dir)
    if not (state_dir / GITIGNORE).exists():
        _make_dir(state_dir, parents=True)
        write_file(state_dir / GITIGNORE, GITIGNORE_TEXT)
    folder = state_dir
    for part in parts:
        folder = folder / part
        if not folder.is_dir():
            _make_dir(folder)
    return folder


def _make_dir(folder: Path, parents: bool = False) -> None:
    if parents:
        folder.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.mkdir(folder, DIR_MODE)
    private(folder, DIR_MODE)


def private(path: Path, mode: int = FILE_MODE) -> None:
    """Make ``path`` owner-only (a file or folder of an older version, or one created with
    the umask); left as it is when another user owns it."""
    with contextlib.suppress(OSError):
        if stat.S_IMODE(os.stat(path).st_mode) != mode:
            os.chmod(path, mode)


def open_fd(path: Path, flags: int) -> int:
    """``os.open`` of a file in the state folder, created owner-only if missing."""
    fd = os.open(path, flags | os.O_CREAT, FILE_MODE)
    with contextlib.suppress(OSError):
        if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
            os.fchmod(fd, FILE_MODE)
    return fd


def write_file(path: Path, data: bytes | str) -> None:
    """Write a whole file atomically (a temporary file, synced, renamed over it; removed
    if anything fails), owner-only."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with os.fdopen(open_fd(tmp, os.O_WRONLY | os.O_TRUNC), "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def owns(folder: Path) -> bool:
    """Whether ``folder`` is a state folder made by :func:`ensure` (whatever its name)."""
    try:
        return (Path(folder) / GITIGNORE).read_text(encoding="utf-8") == GITIGNORE_TEXT
    except (OSError, UnicodeDecodeError):
        return False


def create_file(path: Path) -> None:
    """Create an empty owner-only file if missing (a database SQLite will fill: its
    ``-wal`` and ``-shm`` files take its mode)."""
    os.close(open_fd(Path(path), os.O_WRONLY))
