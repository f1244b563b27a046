"""The few git commands snapshots need, run with argument lists (never a shell)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import gitfacts
from ..errors import reason
from .errors import DvcError

GIT_TIMEOUT = 60.0
#: Tries when another git process holds ``.git/index.lock``.
INDEX_LOCK_TRIES = 20


def run(cwd: Path, *args: str, input_: bytes | None = None, check: bool = True) -> bytes:
    try:
        done = gitfacts.run(cwd, *args, input_=input_, timeout=GIT_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DvcError(f"git {args[0]} failed: {reason(exc)}", code="git_error") from exc
    if check and done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DvcError(
            f"git {args[0]} failed: {message[-1] if message else done.returncode}",
            code="git_error",
        )
    return done.stdout


def tracked_files(top: Path, path: Path, limit: int = 5) -> list[str]:
    """Files below (or at) ``path`` that git tracks, at most ``limit`` of them."""
    out = run(top, "ls-files", "-z", "--", str(path), check=False)
    names = [n for n in out.decode("utf-8", "replace").split("\0") if n]
    return names[:limit]


def is_ignored(top: Path, path: Path) -> bool:
    try:
        done = gitfacts.run(top, "check-ignore", "-q", "--no-index", "--", str(path))
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _with_index_lock(top: Path, *args: str) -> bytes:
    for attempt in range(INDEX_LOCK_TRIES):
        try:
            return run(top, *args)
        except DvcError as exc:
            if "index.lock" not in exc.message or attempt == INDEX_LOCK_TRIES - 1:
                raise
            time.sleep(0.25)
    raise AssertionError("unreachable")


def add(top: Path, paths: Sequence[Path]) -> None:
    if paths:
        _with_index_lock(top, "add", "--", *(str(p) for p in paths))


def commit(top: Path, paths: Sequence[Path], message: str) -> str:
    """Commit exactly ``paths`` (other staged changes stay staged); return the commit."""
    _with_index_lock(top, "commit", "--quiet", "-m", message, "--only", "--", *map(str, paths))
    return run(top, "rev-parse", "HEAD").decode().strip()


@dataclass(frozen=True)
class Commit:
    sha: str
    time_ms: int
    subject: str
    blob: bytes | None


def file_history(top: Path, path: Path, limit: int = 200) -> list[Commit]:
    """Commits that changed ``path`` (newest first) with the file's content in each one
    (None where the commit deleted it)."""
    try:
        rel = path.resolve().relative_to(top.resolve()).as_posix()
    except ValueError:
        return []
    out = run(
        top,
        "log",
        f"--max-count={limit}",
        "--format=%H%x1f%ct%x1f%s",
        "--",
        rel,
        check=False,
    )
    rows = [line.split("\x1f", 2) for line in out.decode("utf-8", "replace").splitlines()]
    rows = [r for r in rows if len(r) == 3]
    if not rows:
        return []
    request = "".join(f"{sha}:{rel}\n" for sha, _, _ in rows).encode()
    blobs = _cat_file_batch(top, request, len(rows))
    return [
        Commit(sha=sha, time_ms=int(ts) * 1000, subject=subject, blob=blob)
        for (sha, ts, subject), blob in zip(rows, blobs, strict=True)
    ]


def _cat_file_batch(top: Path, request: bytes, count: int) -> list[bytes | None]:
    out = run(top, "cat-file", "--batch", input_=request, check=False)
    found: list[bytes | None] = []
    pos = 0
    for _ in range(count):
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if len(header) == 3:
            size = int(header[2])
            found.append(out[pos : pos + size])
            pos += size + 1
        else:  # "<name> missing"
            found.append(None)
    return found
