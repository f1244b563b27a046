"""Push and pull through DVC: versions to and from a DVC remote, recorded in the journal.
A pull checks out what it fetched the way a restore does, where that loses nothing."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..errors import MlopsError
from ..tasks.progress import Progress
from .core import _pushed
from .dvcrepo import DvcProject
from .errors import LocalChanges, NotTracked
from .journal import Journal, JournalEntry, project_lock
from .listing import Listing
from .models import TransferResult
from .restores import Restores


class Transfers(Restores, Listing):
    """A pull checks out like a restore; without paths, push and pull take every tracked
    path (:meth:`Listing.list_paths`)."""

    def push(
        self,
        paths: Iterable[str] = (),
        *,
        remote: str | None = None,
        base: Path | None = None,
        progress: Progress | None = None,
    ) -> TransferResult:
        """Push the current version of each path, and any earlier version a push missed."""
        progress = progress or Progress()
        project = self._require_project()
        pairs = self._current_versions(project, paths, base)
        entries = self.journal.entries()
        for rel, _ in list(pairs):
            mine = [e for e in entries if e.path == rel]
            for e in mine:
                md5 = e.md5
                if (
                    e.event == "snapshot"
                    and md5 is not None
                    and _pushed(mine, md5) is False
                    and not project.missing_objects(md5, limit=1)
                    and (rel, md5) not in pairs
                ):
                    pairs.append((rel, md5))
        moved = _push(self.journal, project, pairs, remote, progress)
        return TransferResult(
            direction="push",
            remote=remote or project.config.default_remote,
            paths=sorted({rel for rel, _ in pairs}),
            objects=moved,
            warnings=[],
        )

    def pull(
        self,
        paths: Iterable[str] = (),
        *,
        remote: str | None = None,
        base: Path | None = None,
        progress: Progress | None = None,
    ) -> TransferResult:
        """``dvc pull`` for each path: fetch its current version, then check it out where
        that loses nothing (data with changes no snapshot holds is kept, with a warning)."""
        progress = progress or Progress()
        warnings = []
        with project_lock(self.settings.state_dir, "pull", self.lock_timeout):
            project = self._require_project()
            pairs = self._current_versions(project, paths, base)
            progress.begin("pulling", len(pairs), "files")
            moved = project.transfer("pull", [md5 for _, md5 in pairs], remote)
            for rel, md5 in pairs:
                target = self.resolve(rel)
                try:
                    _, current = self._plan_restore(project, target, md5, False)
                except LocalChanges as exc:
                    warnings.append(f"Kept {rel}: {exc.message}")
                    continue
                if current != md5:
                    project.checkout(target.dvcfile)
                    self._remember_restored(project, target, md5)
        return TransferResult(
            direction="pull",
            remote=remote or project.config.default_remote,
            paths=[rel for rel, _ in pairs],
            objects=moved,
            warnings=warnings,
        )

    def tracked_versions(self, paths: Iterable[str] = ()) -> list[tuple[str, str]]:
        """(path, md5 its .dvc file names) of each path, or of every tracked path."""
        return self._current_versions(self._require_project(), paths, None)

    def _require_project(self) -> DvcProject:
        project = self._project()
        if project is None:
            raise NotTracked("The project has no DVC repository yet; snapshot some data first.")
        return project

    def _current_versions(
        self, project: DvcProject, paths: Iterable[str], base: Path | None
    ) -> list[tuple[str, str]]:
        rels = [self.resolve(p, base, f"paths.{i}") for i, p in enumerate(paths)]
        if not rels:
            rels = [self.resolve(s.path) for s in self.list_paths().paths]
        pairs = []
        for target in rels:
            out = project.read_out(target.dvcfile)
            if out is None or not out.md5:
                raise NotTracked(f"{target.rel} has no snapshot.")
            pairs.append((target.rel, out.md5))
        if not pairs:
            raise NotTracked("No data is tracked in this project yet.")
        return pairs


def _push(
    journal: Journal,
    project: DvcProject,
    pairs: list[tuple[str, str]],
    remote: str | None,
    progress: Progress,
) -> int:
    """Send the versions ``pairs`` (path, md5) to the remote, each push recorded in the
    journal whether it succeeded or not."""
    progress.begin("pushing", len(pairs), "files")
    name = remote or project.config.default_remote
    try:
        moved = project.transfer("push", [md5 for _, md5 in pairs], remote)
    except MlopsError as exc:
        for rel, md5 in pairs:
            journal.append(JournalEntry.push(rel, md5, name, ok=False, error=exc.message))
        raise
    for rel, md5 in pairs:
        journal.append(JournalEntry.push(rel, md5, name, ok=True))
    progress.advance(len(pairs))
    return moved
