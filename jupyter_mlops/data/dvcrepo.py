"""The DVC side of snapshots: one DVC repository, read and written the way DVC does.

The fast path writes what ``dvc add`` writes, using DVC's own libraries for everything
that is a format: the configuration (``dvc.config``), the repository lock
(``dvc.lock``), the ``.dvc`` file's YAML (``dvc.utils.serialize`` with DVC's comment
preserving update), DVC's state database of file hashes (``dvc_data``), links
(``dvc_objects``). What is left to this module is the order of operations:

- objects go to ``<cache>/files/md5/xx/yyyy...`` under their final name atomically (a
  hard link is atomic; a copy or reflink is written to a temporary name and renamed), and
  are made read-only (mode 0444, which DVC takes as "verified");
- a folder's ``.dir`` manifest is written after all its files;
- the ``.dvc`` file is replaced (write to a temporary file, rename) after the objects;
- DVC's state is told the hash of each file read, so ``dvc status`` does not read it again.

An interrupted snapshot therefore leaves either the previous ``.dvc`` file or the new
one, and at most some unreferenced objects in the cache (``dvc gc`` removes them).

Push, pull, checkout and the rare inputs the fast path leaves alone (``.dvcignore``
rules, folders linked inside data, legacy ``.dvc`` files) go through ``dvc.repo.Repo``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat as stat_mod
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ..errors import disk_full, reason
from ..redact import mask
from ..tasks.progress import Progress
from .errors import BadData, ChangedWhileReading, DvcError, SnapshotBusy
from .hashing import Batches, FileEntry, stat_mtime

if TYPE_CHECKING:
    from dvc.repo import Repo

DVC_DIR = ".dvc"
DVC_FILE_SUFFIX = ".dvc"
CACHE_MODE = 0o444
LINK_TYPES = ("reflink", "hardlink", "symlink", "copy")
DEFAULT_CACHE_TYPES = ["reflink", "copy"]
#: Keys of a ``.dvc`` output the fast path writes itself.
HASH_KEYS = ("md5", "size", "nfiles", "isexec", "hash", "path")
#: Keys of an output it keeps as they are, in DVC's order.
KEPT_OUT_KEYS = ("desc", "type", "labels", "meta", "remote", "push")
KEPT_TOP_KEYS = ("outs", "desc", "meta")
#: The process's umask, read once at import (changing it later is not thread-safe).
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def find_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` with a ``.dvc`` folder (DVC's rule)."""
    for folder in (start, *start.parents):
        if (folder / DVC_DIR).is_dir():
            return folder
    return None


def dvc_file_for(path: Path) -> Path:
    return path.with_name(path.name + DVC_FILE_SUFFIX)


@dataclass
class DvcConfig:
    cache_dir: Path
    cache_types: list[str]
    shared: bool
    hardlink_lock: bool
    no_scm: bool
    site_cache_dir: str | None
    default_remote: str | None
    remotes: dict[str, str] = field(default_factory=dict)

    @property
    def link_types(self) -> list[str]:
        """The cache types to try, in order (DVC's ``cache.type``)."""
        return [t for t in self.cache_types if t in LINK_TYPES] or ["copy"]


@dataclass
class DvcOut:
    """The one output of a ``.dvc`` file, as far as snapshots care."""

    dvcfile: Path
    path: str
    md5: str | None
    size: int | None
    nfiles: int | None
    isexec: bool
    #: Whether the fast path may rewrite this file (plain ``dvc add`` output, DVC 3 hash).
    plain: bool
    text: str

    @property
    def isdir(self) -> bool:
        return bool(self.md5 and self.md5.endswith(".dir"))


class DvcProject:
    """A DVC repository on disk (``root`` holds ``.dvc/``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dvc_dir = root / DVC_DIR
        self.tmp_dir = self.dvc_dir / "tmp"
        self._config: DvcConfig | None = None
        self._prefix = ""
        self._made_dirs: set[str] = set()
        self._failed_links: set[str] = set()
        self._link_types: list[str] = []

    # -- creation ---------------------------------------------------------------------------
    @classmethod
    def init(cls, root: Path, git_top: Path | None) -> tuple[DvcProject, str]:
        """``dvc init`` in ``root`` (``--no-scm`` without git, ``--subdir`` when git's work
        tree starts above it); returns the project and a sentence saying what was done."""
        from dvc.repo import Repo

        try:
            with _quiet_dvc():
                if git_top is None:
                    Repo.init(str(root), no_scm=True).close()
                    done = (
                        f"Initialised DVC in {root} without git (dvc init --no-scm); the "
                        "snapshot history is kept in .mlops/data/journal.jsonl."
                    )
                elif git_top.resolve() == root.resolve():
                    Repo.init(str(root)).close()
                    done = f"Initialised DVC in {root} (dvc init); its files are staged in git."
                else:
                    Repo.init(str(root), subdir=True).close()
                    done = (
                        f"Initialised DVC in {root} (dvc init --subdir, inside the git "
                        f"repository {git_top}); its files are staged in git."
                    )
        except Exception as exc:
            raise DvcError(f"dvc init failed in {root}: {reason(exc)}") from exc
        return cls(root), done

    # -- configuration ----------------------------------------------------------------------
    @property
    def config(self) -> DvcConfig:
        """DVC's configuration, all levels merged by DVC; read once per project object
        (one per operation), again after :meth:`set_cache_type`."""
        if self._config is None:
            self._config = self._load_config()
            self._prefix = str(self.objects_dir) + os.sep
            self._link_types = self._config.link_types
        return self._config

    def _load_config(self) -> DvcConfig:
        from dvc.config import Config

        try:
            conf = Config(dvc_dir=str(self.dvc_dir), validate=True)
        except Exception as exc:
            raise DvcError(f"DVC's configuration cannot be read: {reason(exc)}") from exc
        cache = conf.get("cache", {})
        core = conf.get("core", {})
        cache_dir = Path(cache["dir"]) if cache.get("dir") else self.dvc_dir / "cache"
        if not cache_dir.is_absolute():
            cache_dir = self.dvc_dir / cache_dir
        types = cache.get("type") or list(DEFAULT_CACHE_TYPES)
        if isinstance(types, str):
            types = [t.strip() for t in types.split(",") if t.strip()]
        remotes = {}
        for name, options in conf.get("remote", {}).items():
            remotes[name] = mask(str(options.get("url", "")))
        return DvcConfig(
            cache_dir=cache_dir,
            cache_types=list(types),
            shared=cache.get("shared") == "group",
            hardlink_lock=bool(core.get("hardlink_lock")),
            no_scm=bool(core.get("no_scm")),
            site_cache_dir=core.get("site_cache_dir"),
            default_remote=core.get("remote"),
            remotes=remotes,
        )

    def set_cache_type(self, link: str) -> None:
        """``dvc config cache.type LINK`` (the repository's own config file)."""
        if link not in LINK_TYPES:
            raise BadData(f"Unknown link type {link!r}; choose one of {', '.join(LINK_TYPES)}.")
        from dvc.config import Config

        with Config(dvc_dir=str(self.dvc_dir)).edit("repo") as conf:
            conf["cache"]["type"] = [link]
        self._config = None
        self._failed_links.clear()

    @property
    def objects_dir(self) -> Path:
        return self.config.cache_dir / "files" / "md5"

    def object_file(self, md5: str) -> str:
        """``<cache>/files/md5/xx/yyyy...`` (a string: this is called once per file)."""
        if self._config is None:
            _ = self.config
        return f"{self._prefix}{md5[:2]}{os.sep}{md5[2:]}"

    def object_path(self, md5: str) -> Path:
        return Path(self.object_file(md5))

    def has_object(self, md5: str) -> bool:
        return os.path.isfile(self.object_file(md5))

    # -- objects ------------------------------------------------------------------------------
    def _mkdir(self, folder: str) -> None:
        if folder in self._made_dirs:
            return
        if not os.path.isdir(folder):
            os.makedirs(folder, exist_ok=True)
            if self.config.shared:  # DVC's shared cache: group-writable folders
                with contextlib.suppress(OSError):
                    os.chmod(folder, 0o2775)  # noqa: S103 - DVC's cache.shared = group
        self._made_dirs.add(folder)

    def store_file(self, entry: FileEntry, md5: str) -> str:
        """Put one workspace file into the cache under ``md5`` with the first link type
        that works (DVC's ``cache.type`` order). Returns the type used, or ``"present"``
        when the cache had the object already (the workspace is then relinked to it if
        links are configured, as ``dvc add`` does)."""
        dest = self.object_file(md5)
        types = self._link_types
        # A hard link fails on its own when the object exists: no need to look first.
        if (types[0] != "hardlink" or types[0] in self._failed_links) and os.path.isfile(dest):
            self._relink(entry, dest, types[0])
            return "present"
        self._mkdir(os.path.dirname(dest))
        last: OSError | None = None
        for kind in types:
            if kind in self._failed_links:
                continue
            try:
                self._put(kind, entry, dest)
                return kind
            except ChangedWhileReading:
                raise
            except OSError as exc:
                if exc.errno == errno.EEXIST or os.path.isfile(dest):
                    self._relink(entry, dest, types[0])
                    return "present"
                if disk_full(exc):  # no link type would do better
                    raise
                self._failed_links.add(kind)
                last = exc
        raise DvcError(
            f"Cannot put {entry.path} into DVC's cache with any of "
            f"{', '.join(types)}: {reason(last) if last else 'no link type left'}."
        )

    def store_files(
        self,
        files: list[tuple[FileEntry, str]],
        progress: Progress | None = None,
        done: Iterable[str] = (),
    ) -> set[str]:
        """:meth:`store_file` for each file whose md5 is not in ``done`` (one object per
        content, as DVC stores it); returns the link types used."""
        used: set[str] = set()
        seen: set[str] = set(done)
        for entry, md5 in files:
            if md5 in seen:
                continue
            seen.add(md5)
            if progress is not None:
                progress.check()
            used.add(self.store_file(entry, md5))
            if progress is not None:
                progress.advance(1)
        return used

    def _put(self, kind: str, entry: FileEntry, dest: str) -> None:
        """One object into the cache (``dest``: a string, as this runs once per file)."""
        src = entry.path
        if kind == "hardlink":
            os.link(src, dest)  # atomic: the name appears complete or not at all
            if _identity(os.stat(dest)) != entry.identity:
                os.unlink(dest)
                raise ChangedWhileReading(f"{src} changed while it was being snapshotted.")
            _protect(dest)
            return
        tmp = Path(f"{dest}.{uuid.uuid4().hex}.tmp")
        try:
            if kind == "reflink":
                from dvc_objects.fs.system import reflink

                reflink(src, str(tmp))
            elif kind == "symlink":
                try:
                    os.link(src, tmp)
                except OSError:
                    shutil.copyfile(src, tmp)
            else:
                shutil.copyfile(src, tmp)
            if _identity(os.stat(src)) != entry.identity:
                raise ChangedWhileReading(f"{src} changed while it was being snapshotted.")
            _protect(tmp)
            os.replace(tmp, dest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        if kind == "symlink":
            _replace_with_symlink(Path(src), Path(dest))

    def _relink(self, entry: FileEntry, dest: str, kind: str) -> None:
        """Make the workspace file a link to the cached object when links are configured
        and it is not one yet (no second copy of the data)."""
        src = Path(entry.path)
        if kind == "hardlink":
            if os.stat(src).st_ino == os.stat(dest).st_ino or src.is_symlink():
                return
            tmp = src.with_name(f".{src.name}.{uuid.uuid4().hex}.mlops-tmp")
            try:
                os.link(dest, tmp)
            except OSError:
                return  # another filesystem: leave the copy
            os.replace(tmp, src)
        elif kind == "symlink":
            if src.is_symlink() and os.path.realpath(src) == os.path.realpath(dest):
                return
            _replace_with_symlink(src, Path(dest))

    def store_manifest(self, md5: str, data: bytes) -> None:
        dest = self.object_path(md5)
        if dest.is_file():
            return
        self._mkdir(str(dest.parent))
        tmp = dest.with_name(f"{dest.name}.{uuid.uuid4().hex}.tmp")
        try:
            tmp.write_bytes(data)
            _protect(tmp)
            os.replace(tmp, dest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def read_manifest(self, md5: str) -> dict[str, str] | None:
        """relpath -> md5 of a folder version, or None when the cache lacks it."""
        from .hashing import parse_manifest

        try:
            return parse_manifest(self.object_path(md5).read_bytes())
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            raise DvcError(f"DVC's cache holds a damaged manifest {md5}: {exc}") from exc

    def missing_objects(self, md5: str, limit: int | None = None) -> list[str]:
        """Objects of a version that the cache lacks (the manifest itself included)."""
        if not md5.endswith(".dir"):
            return [] if self.has_object(md5) else [md5]
        manifest = self.read_manifest(md5)
        if manifest is None:
            return [md5]
        missing = []
        for child in manifest.values():
            if not self.has_object(child):
                missing.append(child)
                if limit is not None and len(missing) >= limit:
                    break
        return missing

    # -- .dvc files ---------------------------------------------------------------------------
    def read_out(self, dvcfile: Path) -> DvcOut | None:
        try:
            text = dvcfile.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise DvcError(f"{dvcfile} is not valid YAML: {reason(exc)}") from exc
        outs = data.get("outs") if isinstance(data, dict) else None
        if not isinstance(outs, list) or not outs or not isinstance(outs[0], dict):
            raise DvcError(f"{dvcfile} has no output; it is not a file `dvc add` wrote.")
        out = outs[0]
        plain = (
            len(outs) == 1
            and set(data) <= set(KEPT_TOP_KEYS)
            and out.get("hash") == "md5"
            and set(out) <= set(HASH_KEYS) | set(KEPT_OUT_KEYS)
        )
        md5 = out.get("md5")
        return DvcOut(
            dvcfile=dvcfile,
            path=str(out.get("path", "")),
            md5=str(md5) if md5 else None,
            size=_int_or_none(out.get("size")),
            nfiles=_int_or_none(out.get("nfiles")),
            isexec=bool(out.get("isexec")),
            plain=plain,
            text=text,
        )

    def write_out(
        self,
        dvcfile: Path,
        name: str,
        *,
        md5: str,
        size: int,
        nfiles: int | None,
        isexec: bool,
        old: DvcOut | None,
    ) -> None:
        """Write the ``.dvc`` file as ``dvc add`` does: DVC's key order, other keys and
        comments of an existing file kept (DVC's own ``apply_diff`` on a round-trip parse)."""
        from dvc.utils.collections import apply_diff
        from dvc.utils.serialize import dumps_yaml, parse_yaml_for_update

        out: dict[str, Any] = {"md5": md5, "size": size}
        if nfiles is not None:
            out["nfiles"] = nfiles
        if isexec:
            out["isexec"] = True
        out["hash"] = "md5"
        out["path"] = name
        state: dict[str, Any] = {"outs": [out]}
        data: Any = state
        if old is not None:
            previous = yaml.safe_load(old.text) or {}
            kept = previous["outs"][0]
            for key in KEPT_OUT_KEYS:
                if key in kept:
                    out[key] = kept[key]
            state.update({k: v for k, v in previous.items() if k != "outs"})
            data = parse_yaml_for_update(old.text, str(dvcfile))
            apply_diff(state, data)
        _atomic_write(dvcfile, dumps_yaml(data).encode("utf-8"))

    # -- DVC's lock and state ------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """DVC's repository lock (``.dvc/tmp/lock``): a ``dvc`` command started meanwhile
        waits for it, and a running one makes us fail clearly instead of colliding."""
        from dvc.lock import LockError, make_lock

        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        lock = make_lock(
            str(self.tmp_dir / "lock"),
            tmp_dir=str(self.tmp_dir),
            hardlink_lock=self.config.hardlink_lock,
        )
        try:
            lock.lock()
        except LockError as exc:
            raise SnapshotBusy(
                "Another DVC command is running in this project (it holds .dvc/tmp/lock); "
                "try again when it ends."
            ) from exc
        try:
            yield
        finally:
            lock.unlock()

    def site_cache_dir(self) -> str:
        """Where DVC keeps this repository's state database: DVC's own rule
        (``Repo.site_cache_dir``), checked against DVC in the tests."""
        import getpass
        import hashlib

        from dvc.dirs import site_cache_dir
        from dvc.version import version_tuple

        cache_dir = site_cache_dir(self.config.site_cache_dir)
        repos_dir = os.path.join(cache_dir, "repo")
        if not os.path.isdir(repos_dir):
            os.makedirs(repos_dir, exist_ok=True)
            with contextlib.suppress(OSError):  # shared by every user, as DVC makes it
                os.chmod(repos_dir, 0o777)  # noqa: S103 - DVC's own rule
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        btime_file = self.tmp_dir / "btime"
        with contextlib.suppress(FileExistsError), open(btime_file, "x"):
            pass
        btime = os.path.getmtime(btime_file)
        root_dir = os.path.abspath(self.root)
        token = hashlib.md5(
            str((root_dir, None, btime, getpass.getuser(), version_tuple[0], 0)).encode(),
            usedforsecurity=False,
        ).hexdigest()
        return os.path.join(repos_dir, token)

    # -- git ignore --------------------------------------------------------------------------
    def git_ignore(self, git_top: Path, path: Path) -> Path | None:
        """Add ``/name`` to the ``.gitignore`` beside ``path`` as DVC does (scmrepo's
        rule); returns that file when it changed."""
        from pathspec.patterns.gitwildmatch import GitWildMatchPattern

        from . import gitutil

        if gitutil.is_ignored(git_top, path):
            return None
        gitignore = path.parent / ".gitignore"
        entry = GitWildMatchPattern.escape("/" + path.name)
        with open(gitignore, "a+", encoding="utf-8") as handle:
            handle.seek(0)
            lines = set(handle.readlines())
            handle.seek(0, os.SEEK_END)
            prefix = ""
            if handle.tell():
                handle.seek(handle.tell() - 1, os.SEEK_SET)
                prefix = "" if handle.read(1) == "\n" else "\n"
            line = f"{prefix}{entry}\n"
            if line not in lines:
                handle.write(line)
        return gitignore

    # -- DVC's own operations ------------------------------------------------------------------
    @contextlib.contextmanager
    def repo(self) -> Iterator[Repo]:
        from dvc.repo import Repo

        try:
            repo = Repo(str(self.root))
        except Exception as exc:
            raise DvcError(f"DVC cannot open {self.root}: {reason(exc)}") from exc
        try:
            with _quiet_dvc():
                yield repo
        finally:
            repo.close()

    def dvc_add(self, path: Path) -> None:
        """DVC's own ``dvc add`` (for inputs the fast path leaves to it)."""
        with self.repo() as repo:
            try:
                repo.add([str(path)])
            except Exception as exc:
                raise DvcError(f"dvc add {path.name} failed: {reason(exc)}") from exc

    def checkout(self, dvcfile: Path) -> None:
        with self.repo() as repo:
            try:
                repo.checkout(targets=[str(dvcfile)], force=True)
            except Exception as exc:
                raise DvcError(f"dvc checkout {dvcfile.name} failed: {reason(exc)}") from exc

    def _with_files(self, md5s: list[str]) -> list[Any]:
        """The objects of some versions: DVC's transfer moves a folder's files only when
        they are listed beside its manifest (as DVC's own push lists them)."""
        found: dict[str, None] = {}
        for md5 in md5s:
            found[md5] = None
            if md5.endswith(".dir"):
                found.update(dict.fromkeys((self.read_manifest(md5) or {}).values()))
        return _hash_infos(found)

    def transfer(self, direction: str, md5s: list[str], remote: str | None) -> int:
        """Push objects to, or fetch them from, a DVC remote through DVC (``repo.cloud``);
        returns how many objects moved. Unreachable remotes raise
        :class:`RemoteUnavailable`."""
        from dvc_data.hashfile.hash_info import HashInfo

        from .errors import RemoteUnavailable

        with self.repo() as repo:
            try:
                with repo.lock:
                    if direction == "pull":
                        # A folder's manifest first: it says which files to fetch.
                        dirs = [HashInfo("md5", m) for m in md5s if m.endswith(".dir")]
                        missing = [d for d in dirs if not self.has_object(str(d.value))]
                        if missing:
                            repo.cloud.pull(missing, remote=remote)
                    objs = self._with_files(md5s)
                    if direction == "push":
                        result = repo.cloud.push(objs, remote=remote)
                    else:
                        result = repo.cloud.pull(objs, remote=remote)
            except Exception as exc:
                raise _remote_error(exc, remote or self.config.default_remote) from exc
        if result.failed:
            raise RemoteUnavailable(
                f"{len(result.failed)} object(s) could not be "
                f"{'uploaded to' if direction == 'push' else 'downloaded from'} the DVC "
                f"remote {remote or self.config.default_remote!r}."
            )
        return len(result.transferred)


class DvcState:
    """DVC's state database (the md5 of each file by identity: inode, ``st_mtime`` and
    size, as ``os.stat`` gives them), told about files as they are hashed, so
    ``dvc status`` does not read them again: a batch at a time while later files are
    still being hashed (:class:`~.hashing.Batches`), from any thread. A speed-up for DVC,
    never a failure: after an error nothing more is written. Opened at the first batch,
    so unchanged data never opens it; :meth:`close` writes the rest."""

    def __init__(self, project: DvcProject) -> None:
        self._project = project
        self._state: Any = None
        self._broken = False
        self._batches = Batches(self._write)

    def add(self, entry: FileEntry, md5: str) -> None:
        self._batches.add(entry, md5)

    def close(self) -> None:
        self._batches.flush()
        if self._state is not None:
            with contextlib.suppress(Exception):
                self._state.close()
            self._state = None

    def _write(self, rows: list[tuple[FileEntry, str]]) -> None:
        if self._broken:
            return
        try:
            from dvc_data.hashfile.hash_info import HashInfo
            from dvc_objects.fs import LocalFileSystem

            if self._state is None:
                from dvc_data.hashfile.state import State

                project = self._project
                self._state = State(str(project.root), project.site_cache_dir(), None)
            self._state.save_many(
                ((e.path, HashInfo("md5", md5), _state_info(e)) for e, md5 in rows),
                LocalFileSystem(),
            )
        except Exception:  # DVC hashes again what it was not told
            self._broken = True


class StoreAsHashed:
    """A hashing store (:data:`hashing.Store`) that puts each file into a project's cache
    as soon as it is hashed, from any of the hashing threads, and tells DVC's state its
    md5 (:class:`DvcState`). Remembers the md5s stored (one object per content) and the
    link types used. A context manager: leaving it writes the rest of the state."""

    def __init__(self, project: DvcProject) -> None:
        self.project = project
        self.state = DvcState(project)
        self.md5s: set[str] = set()
        self.kinds: set[str] = set()
        self._lock = threading.Lock()
        _ = project.config  # read once, before the threads

    def __enter__(self) -> StoreAsHashed:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.state.close()

    def __call__(self, entry: FileEntry, md5: str) -> None:
        with self._lock:
            fresh = md5 not in self.md5s
            self.md5s.add(md5)
        if fresh:
            self.kinds.add(self.project.store_file(entry, md5))
        self.state.add(entry, md5)


@contextlib.contextmanager
def _quiet_dvc() -> Iterator[None]:
    """DVC logs progress lines to the console; jupyter-mlops says what it did itself."""
    import logging

    dvc_logger = logging.getLogger("dvc")
    level = dvc_logger.level
    dvc_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        dvc_logger.setLevel(level)


def _hash_infos(md5s: Iterable[str]) -> list[Any]:
    from dvc_data.hashfile.hash_info import HashInfo

    return [HashInfo("md5", m) for m in md5s]


def _remote_error(exc: Exception, remote: str | None) -> Exception:
    from dvc.config import NoRemoteError
    from dvc.lock import LockError

    from .errors import RemoteUnavailable

    if isinstance(exc, NoRemoteError):
        return DvcError(
            "No DVC remote is configured; add one with `dvc remote add -d NAME URL` "
            "(a folder, s3://, gs://, azure://, ssh://).",
            code="no_remote",
        )
    if isinstance(exc, LockError):
        return SnapshotBusy("Another DVC command is running in this project; try again.")
    return RemoteUnavailable(f"DVC remote {remote!r} is not reachable: {reason(exc)}")


def _state_info(entry: FileEntry) -> dict[str, Any]:
    """What DVC's state keys a file by, from the identity it had when it was read (a file
    changed since has another, so DVC will not take this md5 for it)."""
    return {"ino": entry.ino, "mtime": stat_mtime(entry), "size": entry.size}


def _identity(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _protect(path: str | Path) -> None:
    with contextlib.suppress(OSError):  # DVC too goes on where it cannot (shared caches)
        os.chmod(path, CACHE_MODE)


def _replace_with_symlink(src: Path, dest: Path) -> None:
    tmp = src.with_name(f".{src.name}.{uuid.uuid4().hex}.mlops-tmp")
    os.symlink(os.path.abspath(dest), tmp)
    os.replace(tmp, src)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        mode = stat_mod.S_IMODE(os.stat(path).st_mode) if path.exists() else None
        if mode is not None:
            os.chmod(tmp, mode)
        else:
            os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
