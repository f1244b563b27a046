"""The project's tracked data paths, each with its current version and its state on
disk, in the cache and on the remote."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .. import gitfacts
from ..errors import MlopsError
from .core import DataCore, _pushed, _rel
from .dvcrepo import DVC_FILE_SUFFIX, DvcProject, dvc_file_for
from .errors import DvcError
from .hashing import NeedsDvc, scan
from .journal import JournalEntry
from .models import DataPaths, DataPathSummary, DataRemote

#: Folders never searched for .dvc files.
SKIP_DIRS = frozenset(
    {".git", ".dvc", ".hg", ".mlops", "node_modules", ".venv", "venv", "__pycache__"}
)
#: Entries looked at when listing tracked paths, at most.
LIST_SCAN_LIMIT = 50_000
#: Changed data up to this size (all its files) is hashed when listed; larger data stays
#: "unknown" until its history (or a snapshot) hashes it.
QUICK_HASH_BYTES = 32 * 1024 * 1024


class Listing(DataCore):
    def list_paths(self) -> DataPaths:
        project = self._project()
        git = gitfacts.toplevel(self.root) is not None
        if project is None:
            return DataPaths(
                root=str(self.root),
                dvc=False,
                dvc_root=None,
                git=git,
                cache_dir=None,
                cache_types=[],
                remotes=[],
                paths=[],
            )
        config = project.config
        entries = self.journal.entries()
        summaries = []
        for dvcfile in self._dvc_files(project, entries):
            summary = self._summary(project, dvcfile, entries)
            if summary is not None:
                summaries.append(summary)
        summaries.sort(key=lambda s: s.path)
        return DataPaths(
            root=str(self.root),
            dvc=True,
            dvc_root=str(project.root),
            git=git and not config.no_scm,
            cache_dir=str(config.cache_dir),
            cache_types=config.cache_types,
            remotes=[
                DataRemote(name=n, url=u, default=n == config.default_remote)
                for n, u in sorted(config.remotes.items())
            ],
            paths=summaries,
        )

    def _dvc_files(self, project: DvcProject, entries: list[JournalEntry]) -> list[Path]:
        found: dict[str, Path] = {}
        for entry in entries:
            rel = entry.path
            if rel is not None:
                dvcfile = dvc_file_for(self.root / rel)
                if dvcfile.is_file():
                    found[str(dvcfile)] = dvcfile
        seen = 0
        stack = [self.root]
        while stack and seen < LIST_SCAN_LIMIT:
            folder = stack.pop()
            try:
                with os.scandir(folder) as listing:
                    names = list(listing)
            except OSError:
                continue
            outputs = {e.name[: -len(DVC_FILE_SUFFIX)] for e in names if e.name.endswith(".dvc")}
            for item in names:
                seen += 1
                if item.name.endswith(DVC_FILE_SUFFIX) and item.is_file():
                    found[item.path] = Path(item.path)
                elif (
                    item.is_dir(follow_symlinks=False)
                    and item.name not in SKIP_DIRS
                    and item.name not in outputs  # tracked data: nothing to find inside
                ):
                    stack.append(Path(item.path))
        return list(found.values())

    def _summary(
        self, project: DvcProject, dvcfile: Path, entries: list[JournalEntry]
    ) -> DataPathSummary | None:
        try:
            out = project.read_out(dvcfile)
        except DvcError:
            return None
        if out is None or not out.md5 or "/" in out.path or out.path in ("", ".", ".."):
            return None
        path = dvcfile.parent / out.path
        rel = _rel(path, self.root)
        mine = [e for e in entries if e.path == rel]
        versions = {e.md5 for e in mine if e.event == "snapshot"} | {out.md5}
        snaps = [e.time for e in mine if e.event == "snapshot" and e.time is not None]
        return DataPathSummary(
            path=rel,
            dvc_file=_rel(dvcfile, self.root),
            kind="folder" if out.isdir else "file",
            md5=out.md5,
            size=out.size,
            nfiles=out.nfiles,
            workspace=self._quick_state(project, path, out.md5),
            in_cache=not project.missing_objects(out.md5, limit=1),
            pushed=_pushed(mine, out.md5),
            versions=len(versions),
            last_snapshot=max(snaps) if snaps else None,
        )

    def _quick_state(self, project: DvcProject, path: Path, md5: str | None) -> Any:
        if not os.path.lexists(path):
            return "missing"
        current = self._quick_md5(project, path)
        if current is None:
            current = self._small_md5(project, path)
        if current is None:
            return "unknown"
        return "unchanged" if current == md5 else "modified"

    def _small_md5(self, project: DvcProject, path: Path) -> str | None:
        """The md5 of data whose files changed since they were last hashed, read only when
        it is small (``QUICK_HASH_BYTES`` in all): the panel, which lists the paths every
        few seconds, then says "changed" or "as snapshotted" rather than "maybe changed",
        and the hashes are remembered, so the next listing reads nothing."""
        try:
            _, files = scan(path, root=self.root, trusted=[project.config.cache_dir])
            if sum(f.size for f in files) > QUICK_HASH_BYTES:
                return None
            return self._full_hash(project, path).md5
        except (MlopsError, NeedsDvc, OSError):
            return None
