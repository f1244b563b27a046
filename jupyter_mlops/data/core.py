"""The part of :class:`~.service.DataService` every concern shares: its settings, the
journal and hash cache, paths resolved inside the project, the project's DVC repository
and git, and the md5 of the data on disk."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import gitfacts, paths
from ..errors import Forbidden, InvalidInput, MlopsError
from ..mlflow_store import Store
from ..settings import Settings
from ..tasks.progress import Progress
from .dvcrepo import DVC_FILE_SUFFIX, DvcProject, dvc_file_for, find_root
from .errors import BadData, OutsideProject
from .hashing import Hashed, NeedsDvc, cache_for, hash_path, scan
from .journal import Journal, JournalEntry


@dataclass
class Target:
    path: Path  # absolute, parent resolved (the last component kept as given)
    rel: str  # relative to the project root, '/'-separated

    @property
    def dvcfile(self) -> Path:
        return dvc_file_for(self.path)


class DataCore:
    """State and helpers of :class:`~.service.DataService` (the concerns are mixins of
    this class in :mod:`.snapshots`, :mod:`.listing`, :mod:`.versions`, :mod:`.restores` and
    :mod:`.transfers`)."""

    def __init__(
        self,
        settings: Settings,
        tracking: Store | None = None,
        *,
        lock_timeout: float = 60.0,
    ) -> None:
        self.settings = settings
        self.root = Path(os.path.realpath(settings.root_dir))
        self._tracking = tracking
        self.lock_timeout = lock_timeout
        self.journal = Journal(settings.state_dir)

    @property
    def tracking(self) -> Store:
        """The tracking store, for the runs that read a version: the server's
        ``TrackingService``, or in a kernel or a job the settings' own store."""
        if self._tracking is None:
            self._tracking = Store(self.settings)
        return self._tracking

    @property
    def hashes(self) -> Any:
        return cache_for(self.settings.state_dir)

    def resolve(self, raw: str, base: Path | None = None, field: str = "path") -> Target:
        """A user's path as a :class:`Target` inside the project; anything that leads out of
        it (``..``, an absolute path elsewhere, a symbolic link) is refused, as
        :func:`~jupyter_mlops.paths.inside_root` refuses it.

        ``base``: the folder a relative path starts from, for the Python API and the magics
        (the kernel's working folder; an absolute path inside the project is accepted too).
        Without it the path is a request's ``field``, relative to the project, and messages
        name that field."""
        if not raw or not raw.strip():
            raise BadData("Give a data path.")
        given = os.path.expanduser(raw.strip()) if base is not None else raw.strip()
        try:
            path = paths.inside_root(
                self.root, given, "data path", False, field if base is None else None,
                base=base, resolve_last=False,
            )  # fmt: skip
        except Forbidden as exc:
            raise OutsideProject(exc.message) from None
        except InvalidInput as exc:
            raise BadData(exc.message) from None
        parent = path.parent
        rel = path.relative_to(self.root).as_posix()
        parts = rel.split("/")
        state = self.settings.state_dir.name
        if {".git", ".dvc", ".hg"} & set(parts) or parts[0] == state:
            raise BadData(f"{rel} is inside a folder of git, DVC or jupyter-mlops itself.")
        if rel.endswith(DVC_FILE_SUFFIX) and (parent / path.name[: -len(".dvc")]).exists():
            raise BadData(f"{rel} is a .dvc file; give the data path {rel[:-4]} instead.")
        if os.path.islink(path):
            target = os.path.realpath(path)
            if not Path(target).is_relative_to(self.root) and not self._in_cache(target):
                raise OutsideProject(
                    f"{rel} is a symbolic link to a place outside the project; copy the "
                    "data into the project instead."
                )
        return Target(path, rel)

    def _in_cache(self, target: str) -> bool:
        dvc_root = find_root(self.root)
        if dvc_root is None:
            return False
        cache = DvcProject(dvc_root).config.cache_dir
        return Path(target).is_relative_to(os.path.realpath(cache))

    def _project(self) -> DvcProject | None:
        root = find_root(self.root)
        return DvcProject(root) if root is not None else None

    @staticmethod
    def _git_top(project: DvcProject) -> Path | None:
        if project.config.no_scm:
            return None
        return gitfacts.toplevel(project.root)

    def _quick_md5(self, project: DvcProject, path: Path) -> str | None:
        """The md5 of the data on disk when every file's identity is remembered (nothing
        is read); None when something would have to be read."""
        try:
            isdir, files = scan(path, root=self.root, trusted=[project.config.cache_dir])
        except (MlopsError, NeedsDvc, OSError):
            return None
        cache = self.hashes
        if isdir:
            from .hashing import signature

            known = cache.tree(str(path), signature(files))
            return known[0] if known else None
        row = cache.files([files[0].path]).get(files[0].path)
        return row[3] if row is not None and row[:3] == files[0].identity else None

    def _full_hash(
        self, project: DvcProject, path: Path, progress: Progress | None = None
    ) -> Hashed:
        """The data on disk with every file's md5 (a folder's list read from the cache
        when its signature matched)."""
        hashed = hash_path(
            path, root=self.root, cache=self.hashes, trusted=[project.config.cache_dir],
            progress=progress,
        )  # fmt: skip
        if hashed.isdir and hashed.manifest is None:
            hashed = hash_path(
                path, root=self.root, cache=self.hashes, trusted=[project.config.cache_dir],
                progress=progress, use_tree_cache=False,
            )  # fmt: skip
        return hashed


# -- helpers ---------------------------------------------------------------------------------
def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _pushed(entries: Iterable[JournalEntry], md5: str) -> bool | None:
    """Whether a push of version ``md5`` worked (None: none was tried), from the journal."""
    outcomes = [e.ok for e in entries if e.event == "push" and e.md5 == md5]
    if not outcomes:
        return None
    return any(o is True for o in outcomes)


def _object_size(project: DvcProject, md5: str) -> int | None:
    try:
        return os.stat(project.object_path(md5)).st_size
    except OSError:
        return None
