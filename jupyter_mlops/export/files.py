"""Which files may travel with a job, and copying them into the job folder.

One list of patterns keeps secrets (keys, credentials, cloud configurations) and caches out
of every job: export refuses to copy a matching file into the job folder (with a warning
naming it), and the Docker target writes the same patterns into ``.dockerignore``, so a
secret a user drops into the folder later still stays out of the image.
"""

from __future__ import annotations

import fnmatch
import shutil
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

#: Names (of a file or of any folder above it) that hold secrets. Matched per path part,
#: case-insensitively, with shell wildcards.
SECRET_PATTERNS: tuple[str, ...] = (
    ".env",
    ".env.*",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".ssh",
    ".aws",
    ".gcp",
    ".azure",
    ".kube",
    ".docker",
    "credentials*",
    ".netrc",
    ".pgpass",
    ".git-credentials",
)
#: Names of version control data, caches and local state: never part of a job.
CACHE_PATTERNS: tuple[str, ...] = (
    ".git",
    ".dvc",
    "__pycache__",
    "*.pyc",
    ".ipynb_checkpoints",
    ".mlops",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".venv",
    ".DS_Store",
)

#: Above this many bytes of copied files export warns: data that size belongs in DVC or a
#: mounted volume, not in every image.
LARGE_BYTES = 100 * 1024 * 1024


def excluded(relative: str | PurePosixPath) -> str | None:
    """Why a path (relative to the notebook's folder) must not be copied: ``"secret"``,
    ``"cache"``, or None when it may travel."""
    for part in PurePosixPath(relative).parts:
        lowered = part.lower()
        if any(fnmatch.fnmatchcase(lowered, p) for p in SECRET_PATTERNS):
            return "secret"
        if any(fnmatch.fnmatchcase(lowered, p) for p in CACHE_PATTERNS):
            return "cache"
    return None


def walk(root: Path, relative: PurePosixPath) -> Iterator[tuple[PurePosixPath, str | None]]:
    """Every file under ``root / relative`` (or that file), with why it is excluded. Symbolic
    links are followed only to files; a folder reached twice is not walked again."""
    start = root / relative
    if start.is_file():
        yield relative, excluded(relative)
        return
    seen: set[Path] = set()
    stack = [relative]
    while stack:
        current = stack.pop()
        folder = root / current
        real = folder.resolve()
        if real in seen:
            continue
        seen.add(real)
        reason = excluded(current) if current.parts else None
        if reason == "cache":
            continue
        for entry in sorted(folder.iterdir()):
            child = current / entry.name
            if entry.is_dir():
                if entry.is_symlink():
                    continue
                stack.append(child)
            elif entry.is_file():
                yield child, reason or excluded(child)


def copy_file(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
