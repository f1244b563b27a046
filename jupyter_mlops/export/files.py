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

from .. import paths
from ..errors import Forbidden, InvalidInput

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
    """Every file under ``root / relative`` (or that file), with why it must not be copied:
    ``"secret"``, ``"cache"`` (:func:`excluded`, by its name and by its target's),
    ``"outside"``: a symbolic link, at any level, whose target leaves ``root``
    (:func:`~jupyter_mlops.paths.inside_root` decides; nothing behind it is read), or
    ``"invalid"``: a name with a control character. Links
    inside ``root`` are followed, to files and folders; a folder reached twice is walked
    once."""
    start = _target(root, relative)
    if isinstance(start, str) or start.is_file():
        yield relative, _reason(root, relative, start)
        return
    seen: set[Path] = set()
    stack = [(relative, start)]
    while stack:
        current, folder = stack.pop()
        if folder in seen or not folder.is_dir():
            continue
        seen.add(folder)
        reason = _reason(root, current, folder) if current.parts else None
        if reason == "cache":
            continue
        for name in sorted(entry.name for entry in folder.iterdir()):
            child = current / name
            target = _target(root, child)
            if isinstance(target, str) or target.is_file():
                yield child, reason or _reason(root, child, target)
            elif target.is_dir():
                stack.append((child, target))


def _target(root: Path, relative: PurePosixPath) -> Path | str:
    """Where ``root / relative`` leads, links resolved; ``"outside"`` when that leaves
    ``root``, ``"invalid"`` when no job could carry its name (a control character)."""
    try:
        return paths.inside_root(root, relative.as_posix(), "file", must_exist=False)
    except Forbidden:
        return "outside"
    except InvalidInput:
        return "invalid"


def _reason(root: Path, relative: PurePosixPath, target: Path | str) -> str | None:
    if isinstance(target, str):
        return target
    real = PurePosixPath(target.relative_to(root.resolve()).as_posix())
    return excluded(relative) or (excluded(real) if real != relative else None)


def copy_file(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
