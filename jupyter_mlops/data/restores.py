"""Restores: check out a version of a data path, or every version a run read, after
checking that no change that only the data on disk holds would be lost."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .. import audit
from ..tasks.progress import Progress
from . import gitutil
from .core import Target, _object_size
from .dvcrepo import DvcOut, DvcProject
from .errors import DvcError, LocalChanges, NoSuchVersion, NotTracked
from .hashing import scan
from .journal import JournalEntry, project_lock
from .models import PathRestore, RestoreResult
from .versions import Versions


class Restores(Versions):
    """Restoring a run's data reads what the run read (:meth:`Versions.run_data`)."""

    def check_restore(
        self, raw: str, version: str, *, force: bool = False, base: Path | None = None
    ) -> None:
        """Raise what :meth:`restore` would raise before changing anything (the route
        answers it at once: 404, or 409 when local changes would be lost without force)."""
        target = self.resolve(raw, base)
        project = self._project()
        if project is None:
            raise NotTracked(f"{target.rel} has no snapshot.")
        self._plan_restore(project, target, version, force)

    def _plan_restore(
        self,
        project: DvcProject,
        target: Target,
        version: str,
        force: bool,
        progress: Progress | None = None,
    ) -> tuple[DvcOut, str | None]:
        out = project.read_out(target.dvcfile)
        if out is None:
            raise NotTracked(
                f"{target.rel} has no .dvc file; snapshot it before restoring versions."
            )
        if version.endswith(".dir") != out.isdir:
            raise NoSuchVersion(f"{version[:12]} is not a version of {target.rel}.")
        if project.missing_objects(version, limit=1) and not project.config.remotes:
            raise NoSuchVersion(
                f"Version {version[:12]} of {target.rel} is not in the local DVC cache and no "
                "DVC remote is configured to fetch it from."
            )
        current: str | None = None
        if os.path.lexists(target.path):
            hashed = self._full_hash(project, target.path, progress)
            current = hashed.md5
            if current != version and not force:
                lost = [f.rel for f, md5 in hashed.files if not project.has_object(md5)]
                if lost:
                    shown = ", ".join(lost[:3]) + (", ..." if len(lost) > 3 else "")
                    raise LocalChanges(
                        f"{target.rel} has changes that no snapshot holds ({len(lost)} "
                        f"file(s): {shown}); restoring would lose them. Snapshot it first, "
                        "or restore with force to discard them."
                    )
        return out, current

    def restore(
        self,
        raw: str,
        version: str,
        *,
        force: bool = False,
        base: Path | None = None,
        progress: Progress | None = None,
        run_id: str | None = None,
    ) -> RestoreResult:
        target = self.resolve(raw, base)
        return self._restore([(target, version)], force, progress or Progress(), run_id)

    def restore_run(
        self, run_id: str, *, force: bool = False, progress: Progress | None = None
    ) -> RestoreResult:
        """Check out every DVC version the run read."""
        pairs = []
        for item in self.run_data(run_id).paths:
            if not item.restorable:
                raise NoSuchVersion(f"Cannot restore {item.path}: {item.reason}")
            pairs.append((self.resolve(item.path), item.md5))
        if not pairs:
            raise NoSuchVersion(f"Run {run_id} recorded no DVC version of its data.")
        return self._restore(pairs, force, progress or Progress(), run_id)

    def check_restore_run(self, run_id: str, *, force: bool = False) -> None:
        project = self._project()
        data = self.run_data(run_id)
        if not data.paths:
            raise NoSuchVersion(f"Run {run_id} recorded no DVC version of its data.")
        for item in data.paths:
            if not item.restorable:
                raise NoSuchVersion(f"Cannot restore {item.path}: {item.reason}")
            if project is not None:
                self._plan_restore(project, self.resolve(item.path), item.md5, force)

    def _restore(
        self,
        pairs: list[tuple[Target, str]],
        force: bool,
        progress: Progress,
        run_id: str | None,
    ) -> RestoreResult:
        done: list[PathRestore] = []
        warnings: list[str] = []
        with project_lock(self.settings.state_dir, "restore", self.lock_timeout):
            project = self._project()
            if project is None:
                raise NotTracked("The project has no DVC repository: nothing to restore.")
            git_top = self._git_top(project)
            plans = [
                (target, md5, *self._plan_restore(project, target, md5, force, progress))
                for target, md5 in pairs
            ]
            for target, md5, out, current in plans:
                progress.check()
                if current == md5 and out.md5 == md5:
                    done.append(
                        PathRestore(
                            path=target.rel, md5=md5, previous_md5=current, restored=False,
                            pulled=False,
                        )
                    )  # fmt: skip
                    continue
                pulled = False
                if project.missing_objects(md5, limit=1):
                    progress.begin("pulling", 0, "files")
                    project.transfer("pull", [md5], None)
                    pulled = True
                size, nfiles = self._version_size(project, md5)
                # No cancellation from here: the .dvc file and the data change together.
                progress.begin("checkout", nfiles or 1, "files")
                with project.locked():
                    project.write_out(
                        target.dvcfile,
                        target.path.name,
                        md5=md5,
                        size=size,
                        nfiles=nfiles,
                        isexec=out.isexec if out.md5 == md5 else False,
                        old=out,
                    )
                project.checkout(target.dvcfile)
                self._remember_restored(project, target, md5)
                if git_top is not None:
                    with contextlib.suppress(DvcError):
                        gitutil.add(git_top, [target.dvcfile])
                self.journal.append(JournalEntry.restore(target.rel, md5, current, run_id))
                audit.record(
                    audit.RESTORE,
                    target.rel,
                    root=self.settings,
                    md5=md5,
                    previous_md5=current,
                    pulled=pulled,
                    mlflow_run=run_id,
                )
                done.append(
                    PathRestore(
                        path=target.rel, md5=md5, previous_md5=current, restored=True,
                        pulled=pulled,
                    )
                )  # fmt: skip
        return RestoreResult(paths=done, warnings=warnings)

    def _version_size(self, project: DvcProject, md5: str) -> tuple[int, int | None]:
        if not md5.endswith(".dir"):
            return _object_size(project, md5) or 0, None
        manifest = project.read_manifest(md5) or {}
        return sum(_object_size(project, m) or 0 for m in manifest.values()), len(manifest)

    def _remember_restored(self, project: DvcProject, target: Target, md5: str) -> None:
        """Remember the hashes of the files DVC just wrote (exactly that version, from
        its verified cache), so the next snapshot or tracked run does not read them again
        and the Data view knows the data on disk is that version."""
        with contextlib.suppress(Exception):
            isdir, files = scan(target.path, root=self.root, trusted=[project.config.cache_dir])
            if not isdir:
                self.hashes.remember_files([(files[0], md5)])
                return
            manifest = project.read_manifest(md5) or {}
            if {f.rel for f in files} != set(manifest):
                return
            self.hashes.remember_files([(f, manifest[f.rel]) for f in files])
            from .hashing import signature

            self.hashes.remember_tree(
                str(target.path), signature(files), md5, sum(f.size for f in files), len(files)
            )
