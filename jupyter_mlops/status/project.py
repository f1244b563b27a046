"""Facts about the project folder: is it a git work tree, is it a DVC repository."""

from __future__ import annotations

from pathlib import Path

from .. import gitfacts
from ..data.dvcrepo import find_root as dvc_root
from .models import ProjectStatus


def project_status(root: Path, timeout: float = 3.0) -> ProjectStatus:
    git = gitfacts.state(root, timeout=timeout)
    return ProjectStatus(
        root=str(root),
        git=git is not None,
        git_branch=git.branch if git else None,
        git_commit=git.commit if git else None,
        dvc=dvc_root(root) is not None,
    )
