"""Snapshots: put paths under DVC, writing exactly what ``dvc add`` writes (the hashes,
the cache objects, the ``.dvc`` file, DVC's state rows) or, for what that fast path
leaves alone, running DVC's own ``dvc add``; then stage or commit with git, and push."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .. import audit, gitfacts
from ..errors import MlopsError, disk_full_is_clear
from ..tasks.progress import Progress
from . import gitutil
from .core import DataCore, Target, _rel
from .dvcrepo import DVC_FILE_SUFFIX, DvcOut, DvcProject, StoreAsHashed, dvc_file_for
from .errors import BadData, DvcError, GitTracked, NoSuchData, Overlap
from .hashing import Hashed, NeedsDvc, hash_path
from .journal import JournalEntry, project_lock
from .models import PathSnapshot, SnapshotResult
from .transfers import _push


@dataclass
class _Added:
    """What one path's snapshot wrote, by the fast path or by ``dvc add``."""

    md5: str
    size: int | None
    nfiles: int | None
    #: a new version (or the first): the journal records it
    changed: bool
    method: Literal["fast", "dvc"]
    cache: str
    to_stage: list[Path]
    hashed_bytes: int = 0
    hashed_files: int = 0


class Snapshots(DataCore):
    def validate(self, paths: Iterable[str], base: Path | None = None) -> list[Target]:
        """Resolve and check paths without writing anything (the routes answer errors at
        once, before a task starts)."""
        targets = self._targets(paths, base)
        project = self._project()
        git_top = self._git_top(project) if project else gitfacts.toplevel(self.root)
        for target in targets:
            self._check(project, git_top, target)
        return targets

    def _targets(self, paths: Iterable[str], base: Path | None) -> list[Target]:
        targets: dict[str, Target] = {}
        for i, raw in enumerate(paths):
            target = self.resolve(raw, base, f"paths.{i}")
            targets.setdefault(target.rel, target)
        if not targets:
            raise BadData("Give at least one data path.")
        return list(targets.values())

    def _check(self, project: DvcProject | None, git_top: Path | None, target: Target) -> None:
        """Refuse what DVC would refuse, before anything is written."""
        if not os.path.lexists(target.path):
            raise NoSuchData(f"{target.rel} does not exist (looked for {target.path}).")
        if os.path.islink(target.path) and not os.path.isfile(target.path):
            raise BadData(
                f"{target.rel} is a symbolic link to a folder; snapshot the folder itself."
            )
        if git_top is not None:
            tracked = gitutil.tracked_files(git_top, target.path)
            if tracked:
                raise GitTracked(
                    f"{target.rel} is tracked by git ({', '.join(tracked[:3])}"
                    f"{', ...' if len(tracked) > 3 else ''}). To move it to DVC run "
                    f"`git rm -r --cached {_quote(target.rel)}` (your files stay), then "
                    "snapshot it again."
                )
        if project is None:
            return
        for folder in target.path.parents:
            if not folder.is_relative_to(project.root) or folder == project.root:
                break
            if dvc_file_for(folder).is_file():
                outer = _rel(folder, self.root)
                raise Overlap(
                    f"{target.rel} is inside {outer}, which DVC tracks as a whole "
                    f"({outer}.dvc); snapshot {outer} instead."
                )

    @disk_full_is_clear(
        "snapshotting the data",
        "the previous version is unchanged (a version is recorded only once all of it is stored)",
    )
    def snapshot(
        self,
        paths: Iterable[str],
        *,
        message: str | None = None,
        push: bool = False,
        commit: bool = False,
        remote: str | None = None,
        link: str | None = None,
        base: Path | None = None,
        progress: Progress | None = None,
    ) -> SnapshotResult:
        progress = progress or Progress()
        targets = self._targets(paths, base)
        message = (message or "").strip() or None
        warnings: list[str] = []
        staged: list[Path] = []
        done: list[PathSnapshot] = []
        commit_sha = None
        with project_lock(self.settings.state_dir, "snapshot", self.lock_timeout):
            project = self._project()
            git_top = self._git_top(project) if project else gitfacts.toplevel(self.root)
            for target in targets:
                self._check(project, git_top, target)
            initialised = None
            if project is None:
                project, initialised = DvcProject.init(self.root, git_top)
                git_top = self._git_top(project)
                if git_top is not None:
                    staged += [
                        project.dvc_dir / "config",
                        project.dvc_dir / ".gitignore",
                        project.root / ".dvcignore",
                    ]
            if link:
                project.set_cache_type(link)
                if git_top is not None:  # the project's DVC settings belong in git
                    staged.append(project.dvc_dir / "config")
            for target in targets:
                progress.check()
                one, to_stage = self._snapshot_one(project, git_top, target, message, progress)
                done.append(one)
                staged += to_stage
            if git_top is not None and staged:
                progress.begin("git", 0, "files")
                existing = [p for p in dict.fromkeys(staged) if p.exists()]
                gitutil.add(git_top, existing)
                if commit:
                    subject = message or "Snapshot " + ", ".join(r.path for r in done)
                    try:
                        commit_sha = gitutil.commit(git_top, existing, subject)
                    except DvcError as exc:
                        warnings.append(f"Not committed: {exc.message}")
                    else:
                        for r in done:
                            if r.changed:
                                self.journal.append(
                                    JournalEntry.committed(r.path, r.md5, commit_sha)
                                )
            elif commit:
                warnings.append("Not committed: the project does not keep DVC's files in git.")
        result = SnapshotResult(
            paths=done,
            initialised=initialised,
            git_staged=[_rel(p, self.root) for p in dict.fromkeys(staged) if p.exists()]
            if git_top is not None
            else [],
            git_commit=commit_sha,
            pushed=None,
            push_error=None,
            remote=remote,
            warnings=warnings,
        )
        if push:
            try:
                _push(self.journal, project, [(r.path, r.md5) for r in done], remote, progress)
                result.pushed = True
                result.remote = remote or project.config.default_remote
            except MlopsError as exc:
                result.pushed = False
                result.push_error = exc.message
                result.remote = remote or project.config.default_remote
        for r in done:
            audit.record(
                audit.SNAPSHOT,
                r.path,
                root=self.settings,
                md5=r.md5,
                previous_md5=r.previous_md5,
                changed=r.changed,
                size=r.size,
                nfiles=r.nfiles,
                message=message,
                git_commit=commit_sha,
                pushed=result.pushed,
                remote=result.remote,
            )
        return result

    def _snapshot_one(
        self,
        project: DvcProject,
        git_top: Path | None,
        target: Target,
        message: str | None,
        progress: Progress,
    ) -> tuple[PathSnapshot, list[Path]]:
        started = time.perf_counter()
        old = project.read_out(target.dvcfile)
        if old is not None and old.path != target.path.name:
            raise BadData(f"{_rel(target.dvcfile, self.root)} tracks {old.path!r}, not this path.")
        added = self._add(project, git_top, target, old, progress)
        if added.changed:
            self.journal.append(
                JournalEntry.snapshot(
                    target.rel,
                    added.md5,
                    size=added.size,
                    nfiles=added.nfiles,
                    message=message,
                    previous=old.md5 if old else None,
                )
            )
        return (
            PathSnapshot(
                path=target.rel,
                dvc_file=_rel(target.dvcfile, self.root),
                md5=added.md5,
                size=added.size or 0,
                nfiles=added.nfiles,
                changed=added.changed,
                previous_md5=old.md5 if old else None,
                method=added.method,
                cache=added.cache,
                hashed_bytes=added.hashed_bytes,
                hashed_files=added.hashed_files,
                seconds=round(time.perf_counter() - started, 3),
            ),
            added.to_stage,
        )

    def _add(
        self,
        project: DvcProject,
        git_top: Path | None,
        target: Target,
        old: DvcOut | None,
        progress: Progress,
    ) -> _Added:
        """The fast path where it applies, else DVC's own ``dvc add``."""
        if (old is None or old.plain) and not self._ignore_rules(project, target.path):
            try:
                # DVC's lock from the first byte read: files go into the cache as they are
                # hashed, and a `dvc gc` must not see them before the .dvc file does.
                with project.locked():
                    return self._fast_snapshot(project, git_top, target, old, progress)
            except NeedsDvc:
                pass
        return self._dvc_add(project, git_top, target, old, progress)

    def _fast_snapshot(
        self,
        project: DvcProject,
        git_top: Path | None,
        target: Target,
        old: DvcOut | None,
        progress: Progress,
    ) -> _Added:
        """DVC's ``add``, written by us: the hashes, the cache objects and the .dvc file
        exactly as DVC writes them (checked against DVC in the tests)."""
        hashed, method = self._hash_and_store(project, target, progress)
        # From here on no cancellation: the .dvc file, the .gitignore entry and (by
        # _snapshot_one) the journal line are written together.
        progress.begin("writing", 0, "files")
        differs = _differs(old, hashed)
        if differs:
            project.write_out(
                target.dvcfile,
                target.path.name,
                md5=hashed.md5,
                size=hashed.size,
                nfiles=hashed.nfiles,
                isexec=hashed.isexec,
                old=old,
            )
        to_stage: list[Path] = []
        if git_top is not None:
            gitignore = project.git_ignore(git_top, target.path)
            if differs or gitignore is not None or old is None:
                to_stage.append(target.dvcfile)
            if gitignore is not None:
                to_stage.append(gitignore)
        return _Added(
            md5=hashed.md5,
            size=hashed.size,
            nfiles=hashed.nfiles,
            changed=differs,
            method="fast",
            cache=method,
            to_stage=to_stage,
            hashed_bytes=hashed.hashed_bytes,
            hashed_files=hashed.hashed_files,
        )

    def _hash_and_store(
        self, project: DvcProject, target: Target, progress: Progress
    ) -> tuple[Hashed, str]:
        """The path's version, every file of it in the cache (each stored as soon as it is
        hashed), and DVC's state told the md5s read. Returns the cache link type used."""
        with StoreAsHashed(project) as stored:
            found = self._hash(project, target, progress, stored)
            self._check_nested(found, target)
            # A folder whose signature matched was not read. Its manifest must still be
            # in the cache (written after all its files, so it says they are there;
            # `dvc gc` may have removed them all); else read the file list and store
            # what is missing.
            if found.isdir and found.manifest is None and not project.has_object(found.md5):
                found = self._hash(project, target, progress, stored, use_tree_cache=False)
            if found.isdir and found.manifest is not None:
                progress.begin("caching", len(found.files), "files")
                used = project.store_files(found.files, progress, done=stored.md5s)
                project.store_manifest(found.md5, found.manifest)
                used |= stored.kinds
                return found, next((k for k in sorted(used) if k != "present"), "present")
            if found.isdir:
                return found, "present"
            progress.begin("caching", 1, "files")
            entry, md5 = found.files[0]
            if found.fresh:
                stored.state.add(entry, md5)
            method = project.store_file(entry, md5)
            progress.advance(1)
            return found, method

    def _hash(
        self,
        project: DvcProject,
        target: Target,
        progress: Progress,
        stored: StoreAsHashed,
        use_tree_cache: bool = True,
    ) -> Hashed:
        return hash_path(
            target.path,
            root=self.root,
            cache=self.hashes,
            trusted=[project.config.cache_dir],
            progress=progress,
            use_tree_cache=use_tree_cache,
            store=stored,
        )

    def _dvc_add(
        self,
        project: DvcProject,
        git_top: Path | None,
        target: Target,
        old: DvcOut | None,
        progress: Progress,
    ) -> _Added:
        """DVC's own ``dvc add``, for what the fast path leaves to it."""
        progress.begin("dvc add", 0, "files")
        project.dvc_add(target.path)
        new = project.read_out(target.dvcfile)
        if new is None or not new.md5:
            raise DvcError(f"dvc add wrote no .dvc file for {target.rel}.")
        return _Added(
            md5=new.md5,
            size=new.size,
            nfiles=new.nfiles,
            changed=old is None or old.md5 != new.md5,
            method="dvc",
            cache=",".join(project.config.cache_types),
            to_stage=[target.dvcfile, target.path.parent / ".gitignore"] if git_top else [],
        )

    def _check_nested(self, hashed: Hashed, target: Target) -> None:
        names = {f.rel for f, _ in hashed.files}
        for name in names:
            if name.endswith(DVC_FILE_SUFFIX):
                inner = name[: -len(DVC_FILE_SUFFIX)]
                if inner in names or any(n.startswith(inner + "/") for n in names):
                    raise Overlap(
                        f"{target.rel} contains {target.rel}/{name}, which tracks part of it "
                        "already; remove that .dvc file or snapshot the parts separately."
                    )

    def _ignore_rules(self, project: DvcProject, path: Path) -> bool:
        """Whether a ``.dvcignore`` above ``path`` has rules (left to DVC's own add)."""
        for folder in path.parents:
            if not folder.is_relative_to(project.root):
                break
            try:
                text = (folder / ".dvcignore").read_text(encoding="utf-8")
            except OSError:
                continue
            if any(_is_rule(line) for line in text.splitlines()):
                return True
        return False


# -- helpers ---------------------------------------------------------------------------------
def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _is_rule(line: str) -> bool:
    return bool(line.strip()) and not line.lstrip().startswith("#")


def _differs(old: DvcOut | None, hashed: Hashed) -> bool:
    return (
        old is None
        or old.md5 != hashed.md5
        or old.size != hashed.size
        or old.nfiles != hashed.nfiles
        or old.isexec != hashed.isexec
    )
