"""Git, the one way this package asks it anything: commands run with argument lists (never a
shell), no terminal prompt, C locale, a timeout; and the facts a run, a job or the status
view records about a work tree (:func:`state`)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

#: Seconds a fact-finding command (``rev-parse``, ``status``) may take.
TIMEOUT = 10.0


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GIT_TERMINAL_PROMPT", "0")
    env["LC_ALL"] = "C"
    return env


def run(
    cwd: Path | str, *args: str, input_: bytes | None = None, timeout: float = TIMEOUT
) -> subprocess.CompletedProcess[bytes]:
    """``git ARGS`` in ``cwd``; raises :class:`OSError` (no git) or
    :class:`subprocess.TimeoutExpired`, and leaves the exit status to the caller."""
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        input=input_,
        capture_output=True,
        timeout=timeout,
        env=_env(),
        check=False,
    )


def output(cwd: Path | str, *args: str, timeout: float = TIMEOUT) -> str | None:
    """What ``git ARGS`` printed, without surrounding white space; ``None`` when git is
    missing, slow or fails (``cwd`` outside a work tree, no commit yet)."""
    try:
        done = run(cwd, *args, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.decode("utf-8", "replace").strip() if done.returncode == 0 else None


def toplevel(folder: Path | str, timeout: float = TIMEOUT) -> Path | None:
    """The git work tree holding ``folder``, or ``None``."""
    top = output(folder, "rev-parse", "--show-toplevel", timeout=timeout)
    return Path(top) if top else None


@dataclass(frozen=True)
class GitState:
    """Where a folder stands in git."""

    toplevel: Path
    #: ``None`` before the first commit.
    commit: str | None
    #: ``None`` on a detached head.
    branch: str | None
    #: ``remote.origin.url`` as configured (it may hold credentials: scrub before keeping).
    remote: str | None
    #: Tracked files changed since the commit; ``None`` when git could not say.
    dirty: bool | None


def state(folder: Path | str, timeout: float = TIMEOUT) -> GitState | None:
    """The git facts of ``folder``'s work tree, or ``None`` outside one (or without git)."""
    top = toplevel(folder, timeout)
    if top is None:
        return None
    status = output(folder, "status", "--porcelain", "--untracked-files=no", timeout=timeout)
    return GitState(
        toplevel=top,
        commit=output(folder, "rev-parse", "--verify", "--quiet", "HEAD", timeout=timeout) or None,
        branch=output(folder, "symbolic-ref", "--quiet", "--short", "HEAD", timeout=timeout)
        or None,
        remote=output(folder, "config", "--get", "remote.origin.url", timeout=timeout) or None,
        dirty=bool(status) if status is not None else None,
    )


def diff_head(folder: Path | str, limit: int) -> bytes:
    """``git diff HEAD`` (the uncommitted changes to tracked files), at most ``limit`` bytes."""
    try:
        done = run(folder, "diff", "HEAD")
    except (OSError, subprocess.TimeoutExpired):
        return b""
    return done.stdout[:limit] if done.returncode == 0 else b""
