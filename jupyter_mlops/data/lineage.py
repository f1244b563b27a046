"""The link between runs and data versions.

``%%track --data PATH`` records, for each path DVC tracks (itself, or a folder holding it),
the DVC md5 of the bytes on disk when the run started, computed with the same remembered
hashes as snapshots (so unchanged data costs a ``stat`` per file):

- in the run's ``jupyter_mlops.data`` map: ``{"kind": "dvc", "hash": md5, "path": P}``
  where ``P`` is the tracked path relative to the project root; kind ``dvc-unsaved``
  when the data on disk differed from the version its ``.dvc`` file names (the run read
  changes no snapshot held at that moment; snapshotting them later links the run);
- as a tag ``jupyter_mlops.data.<P>`` = md5, one per tracked path, which the Data view
  searches to list the runs that read each version.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..tracking.capture import data_param_name
from .dvcrepo import dvc_file_for, find_root

TAG_PREFIX = "jupyter_mlops."


def data_tag(rel: str) -> str:
    """The run tag naming the version of project-relative path ``rel`` a run read."""
    return TAG_PREFIX + data_param_name(rel)


def tracked_output(path: Path, root: Path) -> Path | None:
    """The DVC output holding ``path``: the path itself when it has a ``.dvc`` file beside
    it, else the nearest folder above it (inside ``root``) that has one."""
    for candidate in (path, *path.parents):
        if not candidate.is_relative_to(root) or candidate == root:
            return None
        if dvc_file_for(candidate).is_file():
            return candidate
    return None


def dvc_version(path: Path, root: Path, state_dir: Path) -> dict[str, str] | None:
    """The DVC version of the tracked output holding ``path``, or None when DVC does not
    track it (or the project has no DVC repository)."""
    root = Path(os.path.realpath(root))
    path = Path(os.path.realpath(path.parent)) / path.name
    if find_root(root) is None:
        return None
    output = tracked_output(path, root)
    if output is None or not output.exists():
        return None
    from .dvcrepo import DvcProject
    from .hashing import cache_for, hash_path

    project = DvcProject(find_root(root) or root)
    out = project.read_out(dvc_file_for(output))
    hashed = hash_path(
        output,
        root=root,
        cache=cache_for(state_dir),
        trusted=[project.config.cache_dir],
    )
    kind = "dvc" if out is not None and out.md5 == hashed.md5 else "dvc-unsaved"
    return {"kind": kind, "hash": hashed.md5, "path": output.relative_to(root).as_posix()}
