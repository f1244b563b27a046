"""Data snapshots: put data under DVC, list its versions, diff, restore, push and pull.

The one service behind the ``%snapshot`` magic, the Python API and the Data routes. It
knows nothing of tornado or IPython: long calls take a :class:`Progress` (read by the
caller's progress bar or polling route, and its cancel switch).

Where history comes from (newest first, one entry per version, a version being an md5):

- git, when DVC's files are kept in git: every commit of the path's ``.dvc`` file;
- the journal ``.mlops/data/journal.jsonl``: every snapshot made here (staged or not,
  git or not), with its message, and every push;
- the ``.dvc`` file on disk (the current version, even if neither knows it yet).

Runs are linked by the tag ``jupyter_mlops.data.<path>`` that ``%%track --data`` records
(see :mod:`.lineage`).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import MlopsError
from ..settings import Settings
from . import gitutil
from .dvcrepo import (
    DVC_FILE_SUFFIX,
    DvcOut,
    DvcProject,
    StoreAsHashed,
    dvc_file_for,
    find_root,
)
from .errors import (
    BadData,
    DvcError,
    GitTracked,
    LocalChanges,
    NoSuchData,
    NoSuchVersion,
    NotTracked,
    OutsideProject,
    Overlap,
    one_line,
)
from .hashing import Hashed, NeedsDvc, Progress, cache_for, hash_path, scan, stat_mtime
from .journal import Journal, project_lock
from .lineage import data_tag
from .models import (
    DataDiff,
    DataDiffEntry,
    DataHistory,
    DataPaths,
    DataPathSummary,
    DataRemote,
    DataRunRef,
    DataVersionEntry,
    PathRestore,
    PathSnapshot,
    RestoreResult,
    RunData,
    RunDataPath,
    SnapshotResult,
    TransferResult,
)

#: Folders never searched for .dvc files.
SKIP_DIRS = frozenset(
    {".git", ".dvc", ".hg", ".mlops", "node_modules", ".venv", "venv", "__pycache__"}
)
#: Entries looked at when listing tracked paths, at most.
LIST_SCAN_LIMIT = 50_000
MAX_DIFF_ENTRIES = 1000
MAX_RUNS = 1000
#: Tags ``jupyter_mlops.data.<path>`` = md5 that %%track records (see .lineage).
RUN_TAG_PREFIX = "jupyter_mlops.data."


@dataclass
class Target:
    path: Path  # absolute, parent resolved (the last component kept as given)
    rel: str  # relative to the project root, '/'-separated

    @property
    def dvcfile(self) -> Path:
        return dvc_file_for(self.path)


class DataService:
    def __init__(
        self,
        settings: Settings,
        tracking: Any = None,
        *,
        lock_timeout: float = 60.0,
    ) -> None:
        self.settings = settings
        self.root = Path(os.path.realpath(settings.root_dir))
        self._tracking = tracking
        self.lock_timeout = lock_timeout
        self.journal = Journal(settings.state_dir)

    @property
    def tracking(self) -> Any:
        if self._tracking is None:
            from ..services.tracking import TrackingService

            self._tracking = TrackingService(self.settings)
        return self._tracking

    @property
    def hashes(self) -> Any:
        return cache_for(self.settings.state_dir)

    # -- paths ------------------------------------------------------------------------------
    def resolve(self, raw: str, base: Path | None = None) -> Target:
        """A user's path as a :class:`Target` inside the project; anything that leads out of
        it (``..``, an absolute path elsewhere, a symbolic link) is refused."""
        if not raw or not raw.strip() or "\0" in raw:
            raise BadData("Give a data path.")
        given = Path(os.path.expanduser(raw.strip()))
        if not given.is_absolute():
            given = (base or self.root) / given
        lexical = Path(os.path.normpath(given))
        if lexical.name in ("", ".", ".."):
            raise BadData(f"{raw!r} is not a data path.")
        parent = Path(os.path.realpath(lexical.parent))
        path = parent / lexical.name
        if not parent.is_relative_to(self.root):
            if lexical.is_relative_to(self.root):
                raise OutsideProject(
                    f"{raw} leads outside the project through a symbolic link "
                    f"({parent}); only data inside {self.root} can be snapshotted."
                )
            raise OutsideProject(f"{raw} is outside the project {self.root}.")
        rel = path.relative_to(self.root).as_posix()
        parts = rel.split("/")
        state = self.settings.state_dir.name
        if {".git", ".dvc", ".hg"} & set(parts) or parts[0] == state:
            raise BadData(f"{rel} is inside a folder of git, DVC or jupyter-mlops itself.")
        if rel.endswith(DVC_FILE_SUFFIX) and (parent / lexical.name[: -len(".dvc")]).exists():
            raise BadData(f"{rel} is a .dvc file; give the data path {rel[:-4]} instead.")
        if os.path.islink(path):
            target = os.path.realpath(path)
            if not Path(target).is_relative_to(self.root) and not self._in_cache(target):
                raise OutsideProject(
                    f"{rel} is a symbolic link to {target}, outside the project; copy the "
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
        return gitutil.toplevel(project.root)

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

    # -- snapshot ---------------------------------------------------------------------------
    def validate(self, paths: Iterable[str], base: Path | None = None) -> list[Target]:
        """Resolve and check paths without writing anything (the routes answer errors at
        once, before a task starts)."""
        targets = self._targets(paths, base)
        project = self._project()
        git_top = self._git_top(project) if project else gitutil.toplevel(self.root)
        for target in targets:
            self._check(project, git_top, target)
        return targets

    def _targets(self, paths: Iterable[str], base: Path | None) -> list[Target]:
        targets: dict[str, Target] = {}
        for raw in paths:
            target = self.resolve(raw, base)
            targets.setdefault(target.rel, target)
        if not targets:
            raise BadData("Give at least one data path.")
        return list(targets.values())

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
            git_top = self._git_top(project) if project else gitutil.toplevel(self.root)
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
                                    "commit", path=r.path, md5=r.md5, commit=commit_sha
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
                self._push(project, [(r.path, r.md5) for r in done], remote, progress)
                result.pushed = True
                result.remote = remote or project.config.default_remote
            except MlopsError as exc:
                result.pushed = False
                result.push_error = exc.message
                result.remote = remote or project.config.default_remote
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
        if (old is None or old.plain) and not self._ignore_rules(project, target.path):
            try:
                # DVC's lock from the first byte read: files go into the cache as they are
                # hashed, and a `dvc gc` must not see them before the .dvc file does.
                with project.locked():
                    return self._fast_snapshot(
                        project, git_top, target, old, message, started, progress
                    )
            except NeedsDvc:
                pass
        return self._dvc_add(project, git_top, target, old, message, started, progress)

    def _fast_snapshot(
        self,
        project: DvcProject,
        git_top: Path | None,
        target: Target,
        old: DvcOut | None,
        message: str | None,
        started: float,
        progress: Progress,
    ) -> tuple[PathSnapshot, list[Path]]:
        """DVC's ``add``, written by us: the hashes, the cache objects and the .dvc file
        exactly as DVC writes them (checked against DVC in the tests)."""
        stored = StoreAsHashed(project)
        hashed = hash_path(
            target.path,
            root=self.root,
            cache=self.hashes,
            trusted=[project.config.cache_dir],
            progress=progress,
            store=stored,
        )
        self._check_nested(hashed, target)
        # A folder whose signature matched was not read. Its manifest must still be in the
        # cache (written after all its files, so it says they are there; `dvc gc` may
        # have removed them all); else read the file list and store what is missing.
        if hashed.isdir and hashed.manifest is None and not project.has_object(hashed.md5):
            hashed = hash_path(
                target.path,
                root=self.root,
                cache=self.hashes,
                trusted=[project.config.cache_dir],
                progress=progress,
                use_tree_cache=False,
                store=stored,
            )
        method = "present"
        if hashed.isdir and hashed.manifest is not None:
            progress.begin("caching", len(hashed.files), "files")
            used = project.store_files(hashed.files, progress, done=stored.md5s) | stored.kinds
            method = next((k for k in sorted(used) if k != "present"), method)
            project.store_manifest(hashed.md5, hashed.manifest)
        elif not hashed.isdir:
            progress.begin("caching", 1, "files")
            entry, md5 = hashed.files[0]
            method = project.store_file(entry, md5)
            progress.advance(1)
        # From here on no cancellation: the .dvc file, .gitignore, state and journal
        # are written together.
        progress.begin("writing", 0, "files")
        changed = _differs(old, hashed)
        if changed:
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
            if changed or gitignore is not None or old is None:
                to_stage.append(target.dvcfile)
            if gitignore is not None:
                to_stage.append(gitignore)
        with contextlib.suppress(Exception):  # a speed-up for DVC, never a failure
            project.save_state(_state_rows(hashed))
        if changed or old is None:
            self.journal.append(
                "snapshot",
                path=target.rel,
                md5=hashed.md5,
                size=hashed.size,
                nfiles=hashed.nfiles,
                message=message,
                previous=old.md5 if old else None,
            )
        return (
            PathSnapshot(
                path=target.rel,
                dvc_file=_rel(target.dvcfile, self.root),
                md5=hashed.md5,
                size=hashed.size,
                nfiles=hashed.nfiles,
                changed=changed,
                previous_md5=old.md5 if old else None,
                method="fast",
                cache=method,
                hashed_bytes=hashed.hashed_bytes,
                hashed_files=hashed.hashed_files,
                seconds=round(time.perf_counter() - started, 3),
            ),
            to_stage,
        )

    def _dvc_add(
        self,
        project: DvcProject,
        git_top: Path | None,
        target: Target,
        old: DvcOut | None,
        message: str | None,
        started: float,
        progress: Progress,
    ) -> tuple[PathSnapshot, list[Path]]:
        """DVC's own ``dvc add``, for what the fast path leaves to it."""
        progress.begin("dvc add", 0, "files")
        project.dvc_add(target.path)
        new = project.read_out(target.dvcfile)
        if new is None or not new.md5:
            raise DvcError(f"dvc add wrote no .dvc file for {target.rel}.")
        changed = old is None or old.md5 != new.md5
        if changed:
            self.journal.append(
                "snapshot",
                path=target.rel,
                md5=new.md5,
                size=new.size,
                nfiles=new.nfiles,
                message=message,
                previous=old.md5 if old else None,
            )
        to_stage = []
        if git_top is not None:
            to_stage = [target.dvcfile, target.path.parent / ".gitignore"]
        return (
            PathSnapshot(
                path=target.rel,
                dvc_file=_rel(target.dvcfile, self.root),
                md5=new.md5,
                size=new.size or 0,
                nfiles=new.nfiles,
                changed=changed,
                previous_md5=old.md5 if old else None,
                method="dvc",
                cache=",".join(project.config.cache_types),
                hashed_bytes=0,
                hashed_files=0,
                seconds=round(time.perf_counter() - started, 3),
            ),
            to_stage,
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

    # -- listing and history ----------------------------------------------------------------
    def list_paths(self) -> DataPaths:
        project = self._project()
        git = gitutil.toplevel(self.root) is not None
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

    def _dvc_files(self, project: DvcProject, entries: list[dict[str, Any]]) -> list[Path]:
        found: dict[str, Path] = {}
        for entry in entries:
            rel = entry.get("path")
            if isinstance(rel, str):
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
        self, project: DvcProject, dvcfile: Path, entries: list[dict[str, Any]]
    ) -> DataPathSummary | None:
        try:
            out = project.read_out(dvcfile)
        except DvcError:
            return None
        if out is None or not out.md5 or "/" in out.path or out.path in ("", ".", ".."):
            return None
        path = dvcfile.parent / out.path
        rel = _rel(path, self.root)
        mine = [e for e in entries if e.get("path") == rel]
        versions = {e.get("md5") for e in mine if e.get("event") == "snapshot"} | {out.md5}
        snaps = [e["time"] for e in mine if e.get("event") == "snapshot" and "time" in e]
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

    def _quick_state(self, project: DvcProject, path: Path, md5: str | None) -> Any:
        if not os.path.lexists(path):
            return "missing"
        current = self._quick_md5(project, path)
        if current is None:
            return "unknown"
        return "unchanged" if current == md5 else "modified"

    def history(self, raw: str, base: Path | None = None) -> DataHistory:
        target = self.resolve(raw, base)
        project = self._project()
        if project is None:
            raise NotTracked(f"{target.rel} has no snapshot: the project has no DVC repository.")
        out = project.read_out(target.dvcfile)
        entries = self.journal.entries(target.rel)
        git_top = self._git_top(project)
        commits = gitutil.file_history(git_top, target.dvcfile) if git_top else []
        if out is None and not entries and not commits:
            raise NotTracked(f"{target.rel} has no snapshot.")

        versions: dict[str, dict[str, Any]] = {}

        def version(md5: str) -> dict[str, Any]:
            return versions.setdefault(
                md5,
                {"md5": md5, "size": None, "nfiles": None, "created": None, "message": None,
                 "commits": [], "pushes": [], "journaled": False},
            )  # fmt: skip

        for entry in entries:
            md5 = entry.get("md5")
            if not isinstance(md5, str):
                continue
            v = version(md5)
            if entry.get("event") == "snapshot":
                v["journaled"] = True
                _earliest(v, entry.get("time"), entry.get("message"))
                v["size"] = v["size"] if v["size"] is not None else entry.get("size")
                v["nfiles"] = v["nfiles"] if v["nfiles"] is not None else entry.get("nfiles")
            elif entry.get("event") == "commit" and entry.get("commit"):
                if entry["commit"] not in v["commits"]:
                    v["commits"].append(entry["commit"])
            elif entry.get("event") == "push":
                v["pushes"].append(entry)
        for c in commits:
            parsed = _parse_dvc_blob(c.blob)
            if parsed is None:
                continue
            md5, size, nfiles = parsed
            v = version(md5)
            if c.sha not in v["commits"]:
                v["commits"].append(c.sha)
            if not v["journaled"]:  # git's times have whole seconds: the journal's win
                # The commit was made within that second; taking its end keeps a commit
                # made just after one of our snapshots (same second) the newer of the two.
                _earliest(v, c.time_ms + 999, c.subject)
            v["size"] = v["size"] if v["size"] is not None else size
            v["nfiles"] = v["nfiles"] if v["nfiles"] is not None else nfiles
        if out is not None and out.md5:
            v = version(out.md5)
            if v["created"] is None:
                with contextlib.suppress(OSError):
                    v["created"] = int(os.stat(target.dvcfile).st_mtime * 1000)
            v["size"] = v["size"] if v["size"] is not None else out.size
            v["nfiles"] = v["nfiles"] if v["nfiles"] is not None else out.nfiles

        runs, runs_error = self._runs_by_version(target.rel)
        on_disk = self._quick_md5(project, target.path) if os.path.lexists(target.path) else None
        listed = []
        for md5, v in versions.items():
            listed.append(
                DataVersionEntry(
                    md5=md5,
                    size=v["size"],
                    nfiles=v["nfiles"],
                    created=v["created"],
                    message=v["message"],
                    commits=v["commits"],
                    current=out is not None and out.md5 == md5,
                    workspace=on_disk == md5,
                    in_cache=not project.missing_objects(md5, limit=1),
                    pushed=_pushed(v["pushes"], md5),
                    runs=runs.get(md5, []),
                )
            )
        listed.sort(key=lambda e: (e.created or 0, e.current), reverse=True)
        newest = listed[0].md5 if listed else ""
        isdir = out.isdir if out is not None else newest.endswith(".dir")
        return DataHistory(
            path=target.rel,
            kind="folder" if isdir else "file",
            dvc_file=_rel(target.dvcfile, self.root),
            versions=listed,
            runs_error=runs_error,
        )

    def _runs_by_version(self, rel: str) -> tuple[dict[str, list[DataRunRef]], str | None]:
        """md5 -> the runs whose tag says they read that version of ``rel``."""
        tag = data_tag(rel)
        try:
            client = self.tracking.client()
            experiments = [e.experiment_id for e in _all_experiments(client)]
            found: dict[str, list[DataRunRef]] = {}
            if not experiments:
                return found, None
            runs = client.search_runs(
                experiments,
                filter_string=f"tags.`{tag}` LIKE '%'",
                max_results=MAX_RUNS,
                order_by=["attributes.start_time DESC"],
            )
        except MlopsError as exc:
            return {}, exc.message
        except Exception as exc:  # a store that fails is reported, not raised
            return {}, one_line(exc)
        for run in runs:
            md5 = run.data.tags.get(tag)
            if not md5:
                continue
            found.setdefault(md5, []).append(
                DataRunRef(
                    run_id=run.info.run_id,
                    run_name=run.info.run_name or "",
                    experiment_id=str(run.info.experiment_id),
                    status=run.info.status,
                    start_time=run.info.start_time,
                )
            )
        return found, None

    # -- diff -------------------------------------------------------------------------------
    def diff(self, raw: str, a: str, b: str = "workspace", base: Path | None = None) -> DataDiff:
        target = self.resolve(raw, base)
        project = self._project()
        if project is None:
            raise NotTracked(f"{target.rel} has no snapshot.")
        files_a, sizes_a = self._version_files(project, target, a)
        if b == "workspace":
            if not os.path.lexists(target.path):
                raise NoSuchData(f"{target.rel} does not exist on disk.")
            hashed = self._full_hash(project, target.path)
            b_md5 = hashed.md5
            names = {f.rel: md5 for f, md5 in hashed.files}
            files_b = {("" if not hashed.isdir else k): v for k, v in names.items()}
            sizes_b: dict[str, int | None] = {
                ("" if not hashed.isdir else f.rel): f.size for f, _ in hashed.files
            }
        else:
            b_md5 = b
            files_b, sizes_b = self._version_files(project, target, b)
        entries: list[DataDiffEntry] = []
        counts = {"added": 0, "removed": 0, "modified": 0, "unchanged": 0}
        for name in sorted(set(files_a) | set(files_b)):
            if name not in files_a:
                change = "added"
            elif name not in files_b:
                change = "removed"
            elif files_a[name] != files_b[name]:
                change = "modified"
            else:
                counts["unchanged"] += 1
                continue
            counts[change] += 1
            if len(entries) < MAX_DIFF_ENTRIES:
                entries.append(
                    DataDiffEntry(
                        path=name,
                        change=change,  # type: ignore[arg-type]
                        size_a=sizes_a.get(name),
                        size_b=sizes_b.get(name),
                    )
                )
        total = counts["added"] + counts["removed"] + counts["modified"]
        return DataDiff(
            path=target.rel,
            a=a,
            b=b,
            b_md5=b_md5,
            added=counts["added"],
            removed=counts["removed"],
            modified=counts["modified"],
            unchanged=counts["unchanged"],
            size_a=_total(sizes_a),
            size_b=_total(sizes_b),
            entries=entries,
            truncated=total > len(entries),
        )

    def _version_files(
        self, project: DvcProject, target: Target, md5: str
    ) -> tuple[dict[str, str], dict[str, int | None]]:
        if not md5.endswith(".dir"):
            return {"": md5}, {"": _object_size(project, md5)}
        manifest = project.read_manifest(md5)
        if manifest is None:
            raise NoSuchVersion(
                f"Version {md5[:12]} of {target.rel} is not in the local DVC cache; pull it "
                "first (restore it, or `dvc pull`)."
            )
        return manifest, {name: _object_size(project, m) for name, m in manifest.items()}

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

    # -- restore ----------------------------------------------------------------------------
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
                self.journal.append(
                    "restore", path=target.rel, md5=md5, previous=current, run_id=run_id
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

    # -- push and pull ----------------------------------------------------------------------
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
            mine = [e for e in entries if e.get("path") == rel]
            for e in mine:
                md5 = e.get("md5")
                if (
                    e.get("event") == "snapshot"
                    and isinstance(md5, str)
                    and _pushed(mine, md5) is False
                    and not project.missing_objects(md5, limit=1)
                    and (rel, md5) not in pairs
                ):
                    pairs.append((rel, md5))
        moved = self._push(project, pairs, remote, progress)
        return TransferResult(
            direction="push",
            remote=remote or project.config.default_remote,
            paths=sorted({rel for rel, _ in pairs}),
            objects=moved,
            warnings=[],
        )

    def _push(
        self,
        project: DvcProject,
        pairs: list[tuple[str, str]],
        remote: str | None,
        progress: Progress,
    ) -> int:
        progress.begin("pushing", len(pairs), "files")
        name = remote or project.config.default_remote
        try:
            moved = project.transfer("push", [md5 for _, md5 in pairs], remote)
        except MlopsError as exc:
            for rel, md5 in pairs:
                self.journal.append("push", path=rel, md5=md5, remote=name, ok=False,
                                    error=exc.message)  # fmt: skip
            raise
        for rel, md5 in pairs:
            self.journal.append("push", path=rel, md5=md5, remote=name, ok=True)
        progress.advance(len(pairs))
        return moved

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
        rels = [self.resolve(p, base) for p in paths]
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

    # -- runs -------------------------------------------------------------------------------
    def run_data(self, run_id: str) -> RunData:
        """The DVC versions a run read, and whether each can be restored now."""
        from ..services.runs import _data_versions
        from ..services.tracking import _mlflow_errors

        with _mlflow_errors():
            run = self.tracking.client().get_run(run_id)
        tags = dict(run.data.tags)
        recorded = _data_versions(tags.get("jupyter_mlops.data")) or {}
        kinds = {v.hash: v.kind for v in recorded.values()}
        project = self._project()
        found: dict[str, RunDataPath] = {}
        for key, md5 in sorted(tags.items()):
            if not key.startswith(RUN_TAG_PREFIX):
                continue
            rel = key[len(RUN_TAG_PREFIX) :]
            if data_tag(rel) != key:  # a name rewritten to suit MLflow: not a path
                continue
            found[rel] = self._run_path(project, rel, md5, kinds.get(md5, "dvc"))
        return RunData(run_id=run_id, paths=list(found.values()))

    def _run_path(self, project: DvcProject | None, rel: str, md5: str, kind: str) -> RunDataPath:
        reason = None
        tracked = current = in_cache = False
        try:
            target = self.resolve(rel)
        except MlopsError as exc:
            return RunDataPath(path=rel, md5=md5, kind=kind, tracked=False, current=False,
                               in_cache=False, restorable=False, reason=exc.message)  # fmt: skip
        if project is None:
            reason = "the project has no DVC repository"
        else:
            tracked = target.dvcfile.is_file()
            in_cache = not project.missing_objects(md5, limit=1)
            current = self._quick_md5(project, target.path) == md5
            if not tracked:
                reason = f"{rel} has no .dvc file any more"
            elif not in_cache and not project.config.remotes:
                reason = (
                    "that version is not in the local DVC cache and no remote is configured"
                    + (" (the run read changes that were never snapshotted)"
                       if kind == "dvc-unsaved" else "")
                )  # fmt: skip
        return RunDataPath(
            path=rel,
            md5=md5,
            kind=kind,
            tracked=tracked,
            current=current,
            in_cache=in_cache,
            restorable=reason is None,
            reason=reason,
        )


# -- helpers ---------------------------------------------------------------------------------
def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


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


def _state_rows(hashed: Hashed) -> list[tuple[str, str, dict[str, Any]]]:
    """(path, md5, what DVC's state keys it by) of the files read, with the identity each
    had when it was read (checked then). A file changed since has another identity, so
    DVC will not take this md5 for it."""
    return [
        (entry.path, md5, {"ino": entry.ino, "mtime": stat_mtime(entry), "size": entry.size})
        for entry, md5 in hashed.fresh
    ]


def _earliest(v: dict[str, Any], when: Any, message: Any) -> None:
    if not isinstance(when, int):
        return
    if v["created"] is None or when < v["created"]:
        v["created"] = when
        if message:
            v["message"] = message
    elif v["message"] is None and message:
        v["message"] = message


def _pushed(entries: list[dict[str, Any]], md5: str) -> bool | None:
    outcomes = [e.get("ok") for e in entries if e.get("event") == "push" and e.get("md5") == md5]
    if not outcomes:
        return None
    return any(o is True for o in outcomes)


def _parse_dvc_blob(blob: bytes | None) -> tuple[str, int | None, int | None] | None:
    if not blob:
        return None
    try:
        data = yaml.safe_load(blob) or {}
        out = data["outs"][0]
        md5 = str(out["md5"])
    except (yaml.YAMLError, KeyError, IndexError, TypeError):
        return None
    size = out.get("size")
    nfiles = out.get("nfiles")
    return md5, size if isinstance(size, int) else None, nfiles if isinstance(nfiles, int) else None


def _object_size(project: DvcProject, md5: str) -> int | None:
    try:
        return os.stat(project.object_path(md5)).st_size
    except OSError:
        return None


def _total(sizes: dict[str, int | None]) -> int | None:
    values = list(sizes.values())
    if not values or any(v is None for v in values):
        return None
    return sum(v for v in values if v is not None)


def _all_experiments(client: Any) -> list[Any]:
    from mlflow.entities import ViewType

    found: list[Any] = []
    token = None
    while True:
        page = client.search_experiments(
            view_type=ViewType.ACTIVE_ONLY, max_results=1000, page_token=token
        )
        found.extend(page)
        token = page.token
        if not token:
            return found
