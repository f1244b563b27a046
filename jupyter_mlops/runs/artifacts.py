"""Artifacts of a run: listing a folder, reading one file, and how a file is served.

Files are fetched with ``MlflowClient.download_artifacts`` (any artifact store MLflow
knows) into a temporary folder that is removed after use. Paths from requests are
normalised and checked first: relative, no '..', no backslash, so a request can only name
files inside the run's artifacts. Only images, JSON and plain text are previewed inline
(never HTML); everything else is an attachment, and the route adds a sandboxing CSP.
"""

from __future__ import annotations

import errno
import posixpath
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from .. import paths
from ..errors import InvalidInput, NotFound
from .models import ArtifactEntry, ArtifactList

if TYPE_CHECKING:
    from mlflow import MlflowClient

#: Artifacts above this size are only sent as downloads, never for preview.
MAX_PREVIEW_BYTES = 50 << 20
_TEXT = "text/plain; charset=utf-8"
#: Types an artifact is previewed as, by extension; anything else is an attachment.
#: No HTML: an artifact must never run script in JupyterLab's origin.
PREVIEW_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".ipynb": "application/json",
    **dict.fromkeys(
        (".txt", ".log", ".md", ".py", ".csv", ".tsv", ".yaml", ".yml", ".toml", ".cfg",
         ".ini", ".diff", ".patch", ".sh", ".sql", ".r", ".mlmodel", ".rst"),
        _TEXT,
    ),
}  # fmt: skip
#: Files known by name rather than extension.
PREVIEW_NAMES = {"MLmodel": _TEXT, "Dockerfile": _TEXT, "requirements.txt": _TEXT}


class ArtifactTooLarge(InvalidInput):
    """A file too large to preview (400): it can still be downloaded."""

    code = "artifact_too_large"


@dataclass
class ArtifactFile:
    """A downloaded artifact, in a temporary folder that :meth:`close` removes."""

    file: Path
    size: int
    content_type: str
    filename: str
    attachment: bool
    _folder: Path

    def close(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)


def list_folder(client: MlflowClient, run_id: str, folder: str) -> ArtifactList:
    """One folder of the run's artifacts ('' is the root): folders first, then files."""
    entries = [
        ArtifactEntry(
            path=info.path, is_dir=bool(info.is_dir), size=None if info.is_dir else info.file_size
        )
        for info in _listed(client, run_id, folder)
    ]
    entries.sort(key=lambda e: (not e.is_dir, e.path))
    return ArtifactList(path=folder, entries=entries)


def _listed(client: MlflowClient, run_id: str, folder: str) -> list[Any]:
    with _store_paths(folder):
        return list(client.list_artifacts(run_id, folder or None))


def open_file(client: MlflowClient, run_id: str, path: str, download: bool) -> ArtifactFile:
    """Download the artifact file ``path`` (already checked) for sending; the caller
    closes the result. Over :data:`MAX_PREVIEW_BYTES` only as a download."""
    parent = posixpath.dirname(path)
    info = {i.path: i for i in _listed(client, run_id, parent)}.get(path)
    if info is None:
        raise NotFound(f"Run {run_id} has no artifact '{path}'.", code="no_such_artifact")
    if info.is_dir:
        raise InvalidInput(
            f"'{path}' is a folder; list it with the artifacts route.", code="artifact_is_folder"
        )
    if not download:
        _check_preview_size(path, info.file_size)
    folder = Path(tempfile.mkdtemp(prefix="jupyter-mlops-artifact-"))
    try:
        with _store_paths(path):
            local = Path(client.download_artifacts(run_id, path, str(folder)))
        size = local.stat().st_size
        if not download:
            _check_preview_size(path, size)  # stores may not report sizes
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    name = PurePosixPath(path).name
    content_type = content_type_of(name)
    return ArtifactFile(
        file=local,
        size=size,
        content_type=content_type or "application/octet-stream",
        filename=name,
        attachment=download or content_type is None,
        _folder=folder,
    )


def read_text(client: MlflowClient, run_id: str, path: str, limit: int) -> str | None:
    """A small text artifact's content; None when it has ``limit`` bytes or more."""
    with _temporary_folder() as folder:
        local = Path(client.download_artifacts(run_id, path, str(folder)))
        if local.stat().st_size >= limit:
            return None
        return local.read_text(encoding="utf-8", errors="replace")


def artifact_path(path: str, *, allow_root: bool) -> str:
    """A run-relative artifact path (the request's field ``path``), normalised; names no
    file system holds (:func:`~jupyter_mlops.paths.checked_name`), absolute paths, '..' and
    backslashes are refused so a request can only name files inside the run's artifacts."""
    label = "Field 'path': the artifact path"
    if path:
        paths.checked_name(path, "artifact path", "path")
    if "\\" in path:
        raise InvalidInput(f"{label} {path!r} contains a backslash.", code="invalid_path")
    if path.startswith("/") or "://" in path or (len(path) > 1 and path[1] == ":"):
        raise InvalidInput(
            f"{label} {path!r} must be relative to the run's artifacts.", code="invalid_path"
        )
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise InvalidInput(f"{label} {path!r} may not contain '..'.", code="invalid_path")
    if not parts and not allow_root:
        raise InvalidInput("Field 'path': give the artifact's path.", code="invalid_path")
    return "/".join(parts)


@contextmanager
def _store_paths(path: str) -> Iterator[None]:
    """A path the artifact store's file system refuses as too long (a local store adds its
    own folder to it) is the request's mistake, told without the store's location."""
    try:
        yield
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            raise
        raise InvalidInput(
            f"Field 'path': the artifact path ({len(path.encode())} bytes) is longer than "
            "the artifact store accepts.",
            code="invalid_path",
        ) from None


def content_type_of(name: str) -> str | None:
    """The type an artifact is previewed as, or None: send it as an attachment."""
    if name in PREVIEW_NAMES:
        return PREVIEW_NAMES[name]
    return PREVIEW_TYPES.get(PurePosixPath(name).suffix.lower())


def _check_preview_size(path: str, size: int | None) -> None:
    if size is not None and size > MAX_PREVIEW_BYTES:
        raise ArtifactTooLarge(
            f"Artifact '{path}' is {size / (1 << 20):.0f} MB, more than the "
            f"{MAX_PREVIEW_BYTES >> 20} MB shown in a preview; download it instead "
            "(download=true)."
        )


@contextmanager
def _temporary_folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="jupyter-mlops-artifact-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
