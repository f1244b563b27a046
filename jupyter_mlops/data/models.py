"""Request and response bodies of the data snapshot routes. They need only
:mod:`jupyter_mlops.api.models`, so a snapshot in a fresh process (``%snapshot``,
``jupyter_mlops.snapshot()``) loads only these."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..api.models import RUN_ID_PATTERN, ApiModel, ErrorBody

#: DVC's md5 of a file, or of a folder's manifest followed by ``.dir``.
DVC_MD5_PATTERN = r"^[0-9a-f]{32}(\.dir)?$"
TASK_ID_PATTERN = r"^[0-9a-f]{32}$"
LinkType = Literal["reflink", "hardlink", "symlink", "copy"]
WorkspaceState = Literal["unchanged", "modified", "missing", "unknown"]


DATA_PATH_DESCRIPTION = "A path relative to the project root (the server's root folder)."


class DataRemote(ApiModel):
    name: str
    url: str = Field(description="The remote's URL, credentials masked.")
    default: bool


class DataPathSummary(ApiModel):
    path: str = Field(description="Relative to the project root.")
    dvc_file: str = Field(description="Its .dvc file, relative to the project root.")
    kind: Literal["file", "folder"]
    md5: str | None = Field(description="The version the .dvc file names now.")
    size: int | None
    nfiles: int | None = Field(description="Files in a folder version; null for a file.")
    workspace: WorkspaceState = Field(
        description="The data on disk against that version, judged by file time stamps "
        "and sizes ('unknown': files changed since they were last read)."
    )
    in_cache: bool = Field(description="The version is in the local DVC cache (restorable).")
    pushed: bool | None = Field(
        description="A push of this version to a remote worked (true) or failed (false); "
        "null when none was tried from jupyter-mlops."
    )
    versions: int = Field(description="Versions known from git and the journal.")
    last_snapshot: int | None = Field(description="Milliseconds since the epoch.")


class DataPaths(ApiModel):
    root: str = Field(description="The project root.")
    dvc: bool = Field(
        description="Whether a DVC repository exists (else the first snapshot makes one)."
    )
    dvc_root: str | None
    git: bool = Field(description="Whether DVC's files are kept in git.")
    cache_dir: str | None
    cache_types: list[str] = Field(description="DVC's cache.type: link types tried in order.")
    remotes: list[DataRemote]
    paths: list[DataPathSummary]


class DataRunRef(ApiModel):
    run_id: str
    run_name: str
    experiment_id: str
    status: str
    start_time: int | None


class DataVersionEntry(ApiModel):
    md5: str
    size: int | None
    nfiles: int | None
    created: int | None = Field(description="When this version was first snapshotted (ms).")
    message: str | None = Field(description="The snapshot's message, or its commit's subject.")
    commits: list[str] = Field(description="Git commits whose .dvc file names this version.")
    current: bool = Field(description="The .dvc file names this version now.")
    workspace: bool = Field(description="The data on disk is this version (by time stamps).")
    in_cache: bool = Field(description="Restorable from the local DVC cache.")
    pushed: bool | None = Field(description="A push of it worked (true), failed (false), or none.")
    runs: list[DataRunRef] = Field(description="Tracked runs that read this version.")


class DataHistoryQuery(ApiModel):
    path: str = Field(min_length=1, max_length=1024, description=DATA_PATH_DESCRIPTION)


class DataHistory(ApiModel):
    path: str
    kind: Literal["file", "folder"]
    dvc_file: str
    versions: list[DataVersionEntry] = Field(description="Newest first.")
    runs_error: str | None = Field(
        description="Why runs could not be looked up (tracking store down), if so."
    )


class DataDiffQuery(ApiModel):
    path: str = Field(min_length=1, max_length=1024, description=DATA_PATH_DESCRIPTION)
    a: str = Field(pattern=DVC_MD5_PATTERN, description="The older version (its md5).")
    b: str = Field(
        default="workspace",
        pattern=r"^([0-9a-f]{32}(\.dir)?|workspace)$",
        description="The newer version, or 'workspace' for the data on disk now.",
    )


class DataDiffEntry(ApiModel):
    path: str = Field(description="Relative to the data folder ('' for a single file).")
    change: Literal["added", "removed", "modified"]
    size_a: int | None = Field(description="Bytes in version a; null when absent or not cached.")
    size_b: int | None


class DataDiff(ApiModel):
    path: str
    a: str
    b: str
    b_md5: str = Field(description="The md5 of b (the workspace's, when b is 'workspace').")
    added: int
    removed: int
    modified: int
    unchanged: int
    size_a: int | None
    size_b: int | None
    entries: list[DataDiffEntry] = Field(description="Changed files, by path, at most 1,000.")
    truncated: bool


class SnapshotRequest(ApiModel):
    paths: list[str] = Field(min_length=1, max_length=100, description="Data paths to snapshot.")
    message: str | None = Field(default=None, max_length=2000)
    push: bool = Field(default=False, description="Push the new versions to the DVC remote.")
    commit: bool = Field(
        default=False, description="Commit the .dvc files with the message (git only)."
    )
    remote: str | None = Field(default=None, max_length=200, description="DVC remote name.")
    link: LinkType | None = Field(
        default=None, description="Set DVC's cache.type for the project first."
    )


class PathSnapshot(ApiModel):
    path: str
    dvc_file: str
    md5: str
    size: int
    nfiles: int | None
    changed: bool = Field(description="A new version (false: the data was already snapshotted).")
    previous_md5: str | None
    method: Literal["fast", "dvc"] = Field(
        description="'fast': jupyter-mlops' hashing; 'dvc': DVC's own dvc add."
    )
    cache: str = Field(description="How objects went into DVC's cache (a link type).")
    hashed_bytes: int = Field(description="Bytes read this time (0: nothing had changed).")
    hashed_files: int
    seconds: float


class SnapshotResult(ApiModel):
    paths: list[PathSnapshot]
    initialised: str | None = Field(description="What was set up first, when something was.")
    git_staged: list[str] = Field(description="Files staged with git (project-relative).")
    git_commit: str | None
    pushed: bool | None = Field(description="Null when no push was asked for.")
    push_error: str | None = Field(description="Why the push failed; the snapshot is kept.")
    remote: str | None
    warnings: list[str]


class RestoreRequest(ApiModel):
    path: str | None = Field(default=None, min_length=1, max_length=1024)
    version: str | None = Field(default=None, pattern=DVC_MD5_PATTERN, description="An md5.")
    run_id: str | None = Field(
        default=None, pattern=RUN_ID_PATTERN, description="Restore what this run read."
    )
    force: bool = Field(
        default=False, description="Overwrite local changes that no snapshot holds."
    )


class PathRestore(ApiModel):
    path: str
    md5: str
    previous_md5: str | None
    restored: bool = Field(description="False when the data was that version already.")
    pulled: bool = Field(description="The version was fetched from the DVC remote first.")


class RestoreResult(ApiModel):
    paths: list[PathRestore]
    warnings: list[str]


class TransferRequest(ApiModel):
    paths: list[str] = Field(
        default_factory=list, max_length=100, description="Data paths; empty: every one."
    )
    remote: str | None = Field(default=None, max_length=200)


class TransferResult(ApiModel):
    direction: Literal["push", "pull"]
    remote: str | None
    paths: list[str]
    objects: int = Field(description="Objects transferred (files and manifests).")
    warnings: list[str]


class DataTaskPath(ApiModel):
    task_id: str = Field(pattern=TASK_ID_PATTERN)


class DataTask(ApiModel):
    task_id: str
    kind: Literal["snapshot", "restore", "push", "pull"]
    state: Literal["running", "done", "failed", "cancelled", "interrupted"] = Field(
        description="'interrupted': the server stopped while the task ran (the error says "
        "what that left behind)."
    )
    phase: str = Field(description="What it is doing: scanning, hashing, caching, pushing...")
    done: int
    total: int = Field(description="0 while unknown.")
    unit: Literal["bytes", "files"]
    started: int
    finished: int | None
    snapshot: SnapshotResult | None = None
    restore: RestoreResult | None = None
    transfer: TransferResult | None = None
    error: ErrorBody | None = None


class DataTasks(ApiModel):
    tasks: list[DataTask] = Field(description="Recent tasks, newest first.")


class RunDataPath(ApiModel):
    path: str = Field(description="Relative to the project root.")
    md5: str
    kind: str = Field(description="'dvc' (a snapshot) or 'dvc-unsaved' (changes not snapshotted).")
    tracked: bool = Field(description="A .dvc file tracks the path now.")
    current: bool = Field(description="The data on disk is this version already.")
    in_cache: bool
    restorable: bool
    reason: str | None = Field(description="Why it cannot be restored, when it cannot.")


class RunData(ApiModel):
    run_id: str
    paths: list[RunDataPath]
