"""History and diff of a data path, and the links between its versions and runs.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import MlopsError, reason
from . import gitutil
from .core import DataCore, Target, _object_size, _pushed, _rel
from .dvcrepo import DvcProject
from .errors import NoSuchData, NoSuchVersion, NotTracked
from .journal import JournalEntry
from .lineage import data_tag
from .models import (
    DataDiff,
    DataDiffEntry,
    DataHistory,
    DataRunRef,
    DataVersionEntry,
    RunData,
    RunDataPath,
)

MAX_DIFF_ENTRIES = 1000
MAX_RUNS = 1000
#: Tags ``jupyter_mlops.data.<path>`` = md5 that %%track records (see .lineage).
RUN_TAG_PREFIX = "jupyter_mlops.data."


class Versions(DataCore):
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

        versions: dict[str, _Version] = {}

        def version(md5: str) -> _Version:
            return versions.setdefault(md5, _Version(md5))

        for entry in entries:
            if entry.md5 is None:
                continue
            v = version(entry.md5)
            if entry.event == "snapshot":
                v.journaled = True
                v.earliest(entry.time, entry.message)
                v.fill(entry.size, entry.nfiles)
            elif entry.event == "commit" and entry.commit:
                v.add_commit(entry.commit)
            elif entry.event == "push":
                v.pushes.append(entry)
        for c in commits:
            parsed = _parse_dvc_blob(c.blob)
            if parsed is None:
                continue
            md5, size, nfiles = parsed
            v = version(md5)
            v.add_commit(c.sha)
            if not v.journaled:  # git's times have whole seconds: the journal's win
                # The commit was made within that second; taking its end keeps a commit
                # made just after one of our snapshots (same second) the newer of the two.
                v.earliest(c.time_ms + 999, c.subject)
            v.fill(size, nfiles)
        if out is not None and out.md5:
            v = version(out.md5)
            if v.created is None:
                with contextlib.suppress(OSError):
                    v.created = int(os.stat(target.dvcfile).st_mtime * 1000)
            v.fill(out.size, out.nfiles)

        runs, runs_error = self._runs_by_version(target.rel)
        on_disk = self._quick_md5(project, target.path) if os.path.lexists(target.path) else None
        listed = []
        for md5, v in versions.items():
            listed.append(
                DataVersionEntry(
                    md5=md5,
                    size=v.size,
                    nfiles=v.nfiles,
                    created=v.created,
                    message=v.message,
                    commits=v.commits,
                    current=out is not None and out.md5 == md5,
                    workspace=on_disk == md5,
                    in_cache=not project.missing_objects(md5, limit=1),
                    pushed=_pushed(v.pushes, md5),
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
            return {}, reason(exc)
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

    def run_data(self, run_id: str) -> RunData:
        """The DVC versions a run read, and whether each can be restored now."""
        from ..mlflow_store import mlflow_errors
        from ..tracking.capture import DATA_TAG, recorded_data_versions

        with mlflow_errors():
            run = self.tracking.client().get_run(run_id)
        tags = dict(run.data.tags)
        recorded = recorded_data_versions(tags.get(DATA_TAG)) or {}
        kinds = {hash_: kind for kind, hash_ in recorded.values()}
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
@dataclass
class _Version:
    """One version of a path as the history's three sources tell of it (the journal, git's
    commits of the ``.dvc`` file, the ``.dvc`` file on disk), merged: the first source to
    know the size or file count gives it; the earliest time gives the creation and its
    message."""

    md5: str
    size: int | None = None
    nfiles: int | None = None
    created: int | None = None
    message: str | None = None
    commits: list[str] = field(default_factory=list)
    pushes: list[JournalEntry] = field(default_factory=list)
    #: Whether a snapshot of the journal made it (its time wins over git's).
    journaled: bool = False

    def earliest(self, when: int | None, message: str | None) -> None:
        if when is None:
            return
        if self.created is None or when < self.created:
            self.created = when
            if message:
                self.message = message
        elif self.message is None and message:
            self.message = message

    def fill(self, size: int | None, nfiles: int | None) -> None:
        self.size = self.size if self.size is not None else size
        self.nfiles = self.nfiles if self.nfiles is not None else nfiles

    def add_commit(self, sha: str) -> None:
        if sha not in self.commits:
            self.commits.append(sha)


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
