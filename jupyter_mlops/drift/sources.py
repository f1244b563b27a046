"""Where the data a drift check compares comes from, read once per DVC version.

A reference is ``run:<id>[:<path>]`` (the DVC version a tracked run read: its
``jupyter_mlops.data.<path>`` tags), ``<path>@<version>`` (a git revision of the path's
``.dvc`` file, or a DVC md5), a plain path, or a DataFrame. A DVC version is read from DVC's
cache (fetched from the remote when missing) and kept twice by its md5: in this process
(the frame, and Evidently's profile of it, see :mod:`.check`) and on disk as parquet under
``<state>/cache/drift/``, so a second check against the same reference reads nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import settings as settings_mod
from .errors import DriftInputError, DriftUnavailable

MD5 = re.compile(r"^[0-9a-f]{32}(\.dir)?$")
#: How many reference frames this process keeps (each may be large).
MEMORY_ENTRIES = 2
_memory: OrderedDict[str, Any] = OrderedDict()
#: Counted by every read from a file (the tests and the bench look at them).
stats = {"reads": 0, "disk_cache_hits": 0, "memory_hits": 0}


@dataclass
class Source:
    """A frame and how to name it: ``key`` (the DVC md5 when there is one) keys the caches."""

    frame: Any
    label: str
    key: str | None = None
    version: str | None = None  # the DVC md5, for the retraining trigger


def settings() -> settings_mod.Settings:
    return settings_mod.from_kernel_environment(cwd=os.getcwd())


def load(given: Any, role: str) -> Source:
    """The frame ``given`` names (``role``: 'reference' or 'current', for messages)."""
    import pandas as pd

    if isinstance(given, pd.DataFrame):
        return Source(given, f"a DataFrame ({len(given)} rows)")
    if isinstance(given, os.PathLike):
        given = os.fspath(given)
    if not isinstance(given, str) or not given.strip():
        raise DriftInputError(
            f"The {role} must be a DataFrame, a path, 'path@version' or 'run:<id>', "
            f"not {type(given).__name__}."
        )
    text = given.strip()
    if text.startswith("run:"):
        return _run_source(text, role)
    if "@" in text and not Path(text).exists():
        path, version = text.rsplit("@", 1)
        return _version_source(path, version, role)
    return _path_source(text, role)


# -- plain paths ----------------------------------------------------------------------------
def _path_source(raw: str, role: str) -> Source:
    path = Path(raw).expanduser()
    if not path.exists():
        raise DriftInputError(f"The {role} {raw} does not exist.")
    return Source(read_table(path, path.name, role), raw)


def read_table(path: Path, name: str, role: str) -> Any:
    """A csv, parquet, feather, json(l) or excel file (or a folder of them) as a frame;
    ``name`` (the tracked path) says the format, since DVC's cache objects have none."""
    import pandas as pd

    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and _reader(p.name))
        if not files:
            raise DriftInputError(f"The {role} folder {name} holds no table file.")
        return pd.concat([read_table(f, f.name, role) for f in files], ignore_index=True)
    reader = _reader(name)
    if reader is None:
        raise DriftInputError(
            f"The {role} {name} is not a table file (csv, tsv, parquet, feather, json, jsonl)."
        )
    stats["reads"] += 1
    try:
        return reader(path)
    except Exception as exc:
        raise DriftInputError(f"The {role} {name} cannot be read: {_one_line(exc)}") from None


def _reader(name: str) -> Any:
    import pandas as pd

    lower = name.lower()
    for suffix in (".gz", ".bz2", ".zst", ".xz"):
        if lower.endswith(".csv" + suffix) or lower.endswith(".tsv" + suffix):
            lower = lower[: -len(suffix)]
    if lower.endswith(".csv"):
        return pd.read_csv
    if lower.endswith(".tsv"):
        return lambda p: pd.read_csv(p, sep="\t")
    if lower.endswith((".parquet", ".pq")):
        return pd.read_parquet
    if lower.endswith((".feather", ".arrow")):
        return pd.read_feather
    if lower.endswith(".jsonl"):
        return lambda p: pd.read_json(p, lines=True)
    if lower.endswith(".json"):
        return pd.read_json
    return None


# -- DVC versions ---------------------------------------------------------------------------
def _run_source(text: str, role: str) -> Source:
    """``run:<id>`` or ``run:<id>:<path>``: the DVC version the run read."""
    from ..data.service import DataService

    _, _, rest = text.partition(":")
    run_id, _, wanted = rest.partition(":")
    if not run_id:
        raise DriftInputError(f"The {role} '{text}' names no run: give run:<run id>.")
    service = DataService(settings())
    found = service.run_data(run_id).paths
    if wanted:
        found = [p for p in found if p.path == wanted.strip("/")]
    if not found:
        what = f" {wanted}" if wanted else " data DVC tracks"
        raise DriftInputError(
            f"Run {run_id} read no{what}: there is no DVC version to compare with (track the "
            "training cell with --data PATH, or give 'path@version')."
        )
    if len(found) > 1:
        names = ", ".join(p.path for p in found)
        raise DriftInputError(
            f"Run {run_id} read several data paths ({names}): say which, as run:{run_id}:PATH."
        )
    entry = found[0]
    source = _dvc_version(service, entry.path, entry.md5, role)
    source.label = f"run:{run_id} ({entry.path} {entry.md5[:12]})"
    return source


def _version_source(raw_path: str, version: str, role: str) -> Source:
    from ..data.service import DataService

    service = DataService(settings())
    target = service.resolve(raw_path, base=Path.cwd())
    md5 = version if MD5.match(version) else _md5_at_rev(service.root, target.rel, version, role)
    source = _dvc_version(service, target.rel, md5, role)
    source.label = f"{target.rel}@{version}"
    return source


def _md5_at_rev(root: Path, rel: str, rev: str, role: str) -> str:
    """The md5 the path's ``.dvc`` file names at git revision ``rev``."""
    from ..data.dvcrepo import DVC_FILE_SUFFIX

    if rev.startswith("-"):
        raise DriftInputError(f"The {role} version '{rev}' is not a git revision.")
    spec = f"{rev}:{rel}{DVC_FILE_SUFFIX}"
    done = subprocess.run(
        ["git", "show", spec], cwd=root, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise DriftUnavailable(
            f"Version {rev} of {rel} cannot be fetched: git has no {rel}{DVC_FILE_SUFFIX} at "
            f"{rev} ({_one_line(done.stderr) or 'unknown revision'})."
        )
    for line in done.stdout.splitlines():
        stripped = line.strip().lstrip("- ").strip()
        if stripped.startswith("md5:"):
            return stripped.split(":", 1)[1].strip()
    raise DriftUnavailable(f"{rel}{DVC_FILE_SUFFIX} at {rev} names no md5.")


def _dvc_version(service: Any, rel: str, md5: str, role: str) -> Source:
    """Version ``md5`` of project path ``rel``: from memory, the parquet cache, or DVC's
    cache (pulled from the remote when missing there)."""
    key = md5
    if key in _memory:
        stats["memory_hits"] += 1
        _memory.move_to_end(key)
        return Source(_memory[key], rel, key=key, version=md5)
    cached = Path(service.settings.state_dir, "cache", "drift", f"{md5}.parquet")
    if cached.is_file():
        import pandas as pd

        stats["disk_cache_hits"] += 1
        frame = pd.read_parquet(cached)
    else:
        frame = _read_dvc_object(service, rel, md5, role)
        _write_parquet(frame, cached)
    remember(key, frame)
    return Source(frame, rel, key=key, version=md5)


def remember(key: str, frame: Any) -> None:
    _memory[key] = frame
    _memory.move_to_end(key)
    while len(_memory) > MEMORY_ENTRIES:
        _memory.popitem(last=False)


def forget() -> None:
    """Empty the in-process cache (the disk cache stays)."""
    _memory.clear()


def _read_dvc_object(service: Any, rel: str, md5: str, role: str) -> Any:
    import pandas as pd

    project = service._project()
    if project is None:
        raise DriftUnavailable(
            f"Version {md5[:12]} of {rel} cannot be fetched: the project has no DVC repository."
        )
    if project.missing_objects(md5, limit=1):
        if not project.config.remotes:
            raise DriftUnavailable(
                f"Version {md5[:12]} of {rel} cannot be fetched: it is not in the local DVC "
                "cache and no DVC remote is configured."
            )
        try:
            project.transfer("pull", [md5], None)
        except Exception as exc:
            raise DriftUnavailable(
                f"Version {md5[:12]} of {rel} cannot be fetched from the DVC remote: "
                f"{_one_line(exc)}"
            ) from None
        if project.missing_objects(md5, limit=1):
            raise DriftUnavailable(
                f"Version {md5[:12]} of {rel} cannot be fetched: the DVC remote lacks it."
            )
    if not md5.endswith(".dir"):
        return read_table(project.object_path(md5), rel, role)
    manifest = project.read_manifest(md5) or {}
    parts = [
        read_table(project.object_path(child), name, role)
        for name, child in sorted(manifest.items())
        if _reader(name)
    ]
    if not parts:
        raise DriftInputError(f"Version {md5[:12]} of the folder {rel} holds no table file.")
    return pd.concat(parts, ignore_index=True)


def _write_parquet(frame: Any, path: Path) -> None:
    """Best effort: a frame parquet cannot hold (mixed object columns) is just not cached."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except Exception:
        return


def _one_line(exc: object) -> str:
    return " ".join(str(exc).split())[:300]
