"""The exact data versions a job reads, and fetching them when a job starts without them.

At export, every local file or folder the notebook reads that DVC tracks (``dvc add`` or a
pipeline stage's output, inside the notebook's folder) is *pinned* in ``job.json``: its
path in the job folder, its DVC entry (md5, size, file count) and the project's default
DVC remote, its URL without credentials.

When a job starts (:func:`ensure_pinned_data`, called by the entrypoint before papermill),
each pinned path is checked against its md5. Where the data is missing or another version,
that exact version is pulled from the remote with DVC itself: a throwaway DVC project
in the job folder holds the pin as a ``.dvc`` file, ``dvc pull`` fetches it (credentials
from the environment, as DVC reads them: ``AWS_*``, ``GOOGLE_APPLICATION_CREDENTIALS``,
``AZURE_STORAGE_*``...), and the data is moved into place. A job therefore reads the
versions it was exported with, whatever its image or folder carries.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import InvalidInput, MlopsError, reason
from ..redact import without_credentials

#: The DVC entry keys a pin keeps (what ``dvc add`` writes for an output).
_ENTRY_KEYS = ("md5", "size", "nfiles", "hash")
#: Remote name inside the throwaway DVC project.
_REMOTE = "pinned"


class DataUnavailable(InvalidInput):
    """A pinned data version is neither in the job folder nor obtainable from the remote."""

    code = "data_unavailable"


@dataclass(frozen=True)
class DvcEntry:
    """An output's entry as ``dvc add`` writes it in a ``.dvc`` file: the version (md5,
    ``.dir`` for a folder), its size and file count, and the hash DVC made it with."""

    md5: str
    size: int | None = None
    nfiles: int | None = None
    hash: str | None = None

    @classmethod
    def from_dict(cls, raw: Any) -> DvcEntry:
        """The entry in ``raw`` (a ``.dvc`` file's output or a pin's ``entry``); keys it
        does not know are left out. :class:`ValueError` when it has no md5."""
        if not isinstance(raw, Mapping) or not isinstance(raw.get("md5"), str):
            raise ValueError("its entry has no md5")
        return cls(
            md5=raw["md5"],
            size=_int(raw.get("size")),
            nfiles=_int(raw.get("nfiles")),
            hash=raw["hash"] if isinstance(raw.get("hash"), str) else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """The keys DVC knows, those it has only (as ``dvc add`` writes them)."""
        found = {"md5": self.md5, "size": self.size, "nfiles": self.nfiles, "hash": self.hash}
        return {k: v for k, v in found.items() if v is not None}


@dataclass(frozen=True)
class DataPin:
    """One pin of ``job.json``'s ``data``: a path in the job folder, the DVC entry of its
    version, and the project's default DVC remote (its URL without credentials; None when
    the project had none). ``changed`` is export's own mark (the data on disk is not that
    version) and is never written."""

    path: str
    entry: DvcEntry
    remote: str | None = None
    url: str | None = None
    changed: bool = False

    @property
    def md5(self) -> str:
        return self.entry.md5

    @classmethod
    def from_dict(cls, raw: Any) -> DataPin:
        """A pin as ``job.json`` holds it; :class:`ValueError` saying what is wrong when it
        is not one (no path, no DVC entry with an md5)."""
        if not isinstance(raw, Mapping):
            raise ValueError(f"a pin must be an object, not {type(raw).__name__}")
        path = raw.get("path")
        if (
            not isinstance(path, str)
            or not path
            or PurePosixPath(path).is_absolute()
            or ".." in PurePosixPath(path).parts
        ):
            raise ValueError(f"pin {path!r} is not a path inside the job folder")
        try:
            entry = DvcEntry.from_dict(raw.get("entry"))
        except ValueError as exc:
            raise ValueError(f"pin {path!r}: {exc}") from None
        remote, url = raw.get("remote"), raw.get("url")
        return cls(
            path=path,
            entry=entry,
            remote=remote if isinstance(remote, str) else None,
            url=url if isinstance(url, str) else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "entry": self.entry.to_dict(),
            "remote": self.remote,
            "url": self.url,
        }


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def find_pins(folder: Path, files: Iterable[PurePosixPath]) -> list[DataPin]:
    """The DVC-tracked data among ``files`` (relative to the notebook's ``folder``): one pin
    per tracked output, sorted by path, marked ``changed`` where the data on disk is not
    the recorded version. Empty when the folder is not in a DVC repository."""
    files = list(files)
    if not files:
        return []
    from ..data.dvcrepo import find_root

    root = find_root(folder)  # DVC's own rule, without importing DVC where there is none
    if root is None:
        return []
    from dvc.exceptions import DvcException, OutputNotFoundError
    from dvc.repo import Repo

    pins: dict[str, DataPin] = {}
    try:
        with Repo(str(root)) as repo:
            outs = repo.index.outs
            remote, url = _default_remote(repo.config)
            for relative in files:
                try:
                    found = repo.find_outs_by_path(str(folder / relative), outs=outs, strict=False)
                except OutputNotFoundError:
                    continue
                for out in found:
                    dumped = out.dumpd()
                    path = Path(out.fs_path)
                    if not dumped.get("md5") or not path.is_relative_to(folder):
                        continue  # not computed yet, or outside what travels with the job
                    rel = path.relative_to(folder).as_posix()
                    entry = DvcEntry.from_dict({k: dumped.get(k) for k in _ENTRY_KEYS})
                    pins[rel] = DataPin(rel, entry, remote, url, changed=_changed(out))
    except DvcException as exc:
        detail = " ".join(str(exc).split())
        raise InvalidInput(f"cannot read the DVC repository {root}: {detail}") from None
    return [pins[k] for k in sorted(pins)]


def _changed(out: Any) -> bool:
    """Whether the data on disk is not the version DVC recorded (DVC's own check, which its
    state database answers without reading data snapshotted or added before)."""
    try:
        return bool(out.changed_checksum())
    except Exception:  # unreadable or gone: not the recorded version
        return True


def _default_remote(config: Any) -> tuple[str | None, str | None]:
    name = config.get("core", {}).get("remote")
    url = config.get("remote", {}).get(name, {}).get("url") if name else None
    return name, without_credentials(str(url)) if url else None


def ensure_pinned_data(
    job_dir: Path, pins: Iterable[DataPin], say: Callable[[str], None] = print
) -> list[str]:
    """Make every pinned path in ``job_dir`` hold its pinned version, pulling what is
    missing or different; returns the paths pulled. :class:`DataUnavailable` when a version
    cannot be had (no remote, remote unreachable, version not pushed)."""
    wrong = [pin for pin in pins if not holds_pinned_version(job_dir, pin)]
    for pin in wrong:
        say(f"pulling {pin.path} ({pin.md5}) from DVC remote {pin.url}")
        _pull(job_dir, pin)
    return [pin.path for pin in wrong]


def holds_pinned_version(job_dir: Path, pin: DataPin) -> bool:
    """Whether the data at the pin's path is the pinned version (read and hashed)."""
    from ..data.hashing import HashCache, NeedsDvc, hash_path

    path = job_dir / pin.path
    if not os.path.lexists(path):
        return False
    cache = HashCache(Path(":memory:"))
    try:
        return hash_path(path, root=job_dir, cache=cache).md5 == pin.md5
    except (NeedsDvc, OSError, MlopsError):  # unreadable, or not data DVC can take
        return False
    finally:
        cache.close()


def _pull(job_dir: Path, pin: DataPin) -> None:
    target = job_dir / pin.path
    if not pin.url:
        raise DataUnavailable(
            f"{pin.path} is not the version the job was exported with "
            f"({pin.md5}), and the project had no default DVC remote to pull it "
            "from: add one (`dvc remote add -d NAME URL`), `dvc push`, and export again"
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".mlops-pull-", dir=target.parent) as scratch:
            _pull_into(Path(scratch), pin, target)
    except OSError as exc:  # a read-only job folder, a full disk
        raise DataUnavailable(
            f"cannot put {pin.path} ({pin.md5}) in place: {reason(exc)}"
        ) from None


def _pull_into(project: Path, pin: DataPin, target: Path) -> None:
    """Pull the pinned version into the scratch DVC ``project``, then move it to ``target``."""
    import yaml
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    name = PurePosixPath(pin.path).name
    try:
        Repo.init(str(project), no_scm=True)
        with Repo(str(project)) as repo, repo.config.edit("repo") as conf:
            conf["remote"][_REMOTE] = {"url": pin.url}
            conf["core"]["remote"] = _REMOTE
            conf["cache"]["type"] = ["hardlink", "copy"]  # moved out after: one copy
        entry = {**pin.entry.to_dict(), "path": name}
        (project / f"{name}.dvc").write_text(yaml.safe_dump({"outs": [entry]}))
        with Repo(str(project)) as repo:
            repo.pull(targets=[str(project / f"{name}.dvc")])
    except DvcException as exc:
        detail = " ".join(str(exc).split())
        raise DataUnavailable(
            f"cannot pull {pin.path} ({pin.md5}) from DVC remote {pin.url}: {detail}"
        ) from None
    pulled = project / name
    if not os.path.lexists(pulled):
        raise DataUnavailable(f"DVC pulled nothing for {pin.path} from {pin.url}")
    _replace(pulled, target)


def _replace(source: Path, target: Path) -> None:
    """Put ``source`` where ``target`` is, the old data gone only once the new is there."""
    old = target.with_name(f".{target.name}.mlops-old")
    if os.path.lexists(target):
        os.replace(target, old)
    os.replace(source, target)
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old)
    else:
        with contextlib.suppress(FileNotFoundError):
            old.unlink()
    for path in [target, *(target.rglob("*") if target.is_dir() else [])]:
        with contextlib.suppress(OSError):  # DVC's cache links are read-only
            if path.is_file() and not path.is_symlink():
                os.chmod(path, 0o644)
