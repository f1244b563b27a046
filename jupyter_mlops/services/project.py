"""Facts about the project folder: is it a git work tree, is it a DVC repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ..models import ProjectStatus


def _git(root: Path, *args: str, timeout: float) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def dvc_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding a ``.dvc`` directory (DVC's own rule)."""
    for folder in (start, *start.parents):
        if (folder / ".dvc").is_dir():
            return folder
    return None


def project_status(root: Path, timeout: float = 3.0) -> ProjectStatus:
    toplevel = _git(root, "rev-parse", "--show-toplevel", timeout=timeout)
    branch = commit = None
    if toplevel is not None:
        branch = _git(root, "symbolic-ref", "--quiet", "--short", "HEAD", timeout=timeout)
        commit = _git(root, "rev-parse", "--verify", "--quiet", "HEAD", timeout=timeout)
    return ProjectStatus(
        root=str(root),
        git=toplevel is not None,
        git_branch=branch or None,
        git_commit=commit or None,
        dvc=dvc_root(root) is not None,
    )
