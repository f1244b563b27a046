"""Content hashes in DVC's own format, computed fast and remembered by file identity.

DVC names a file by the MD5 of its bytes and a folder by the MD5 of its ``.dir`` manifest
(a JSON list of ``{"md5", "relpath"}`` sorted by path) plus ``.dir``. This module computes
exactly those, and remembers them in a small SQLite table keyed by the file's identity
(path, size, modification time in nanoseconds, inode), the same identity DVC's own state
uses. Unchanged data is therefore never read again:

- a file: one ``stat`` and one lookup;
- a folder: a walk with one ``stat`` per file, and one lookup of the folder's signature
  (a digest of every file's identity); only when that misses are files looked up one by
  one, and only files whose identity changed are read.

Large files are read with an 8 MiB buffer, several at once by a thread pool (hashlib
releases the GIL while it digests). Many small files are hashed by GNU ``md5sum`` in its
own process while Python stores each one as its md5 arrives (:func:`md5sum_many`), since
for them Python's work per file, not the digest, is what costs. A file whose modification
time is too recent to be trusted (it may still be written within the same timestamp tick)
is hashed but not remembered. Every loop checks :class:`Progress` for cancellation, so an
interrupt stops work within one buffer.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat as stat_mod
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple, overload

from ..tasks.progress import Progress
from .errors import BadData, ChangedWhileReading, OutsideProject

#: Bytes read at a time from a large file.
CHUNK = 8 << 20
#: Files up to this size are read in one call.
SMALL_FILE = 1 << 20
#: A modification time closer than this to the moment the file was looked at is not
#: trusted (a write in the same timestamp tick would keep it): hash, do not remember.
RACY_NS = 50_000_000
#: Filesystems with whole-second timestamps need a wider margin.
RACY_COARSE_NS = 2_000_000_000
#: Names DVC leaves out of a folder wherever they appear (its default ignore patterns).
IGNORED_ANYWHERE = frozenset({".git"})
IGNORED_DIRS = frozenset({".git", ".hg", ".dvc"})
DVCIGNORE = ".dvcignore"


#: Small files between two progress updates (and cancellation checks).
PROGRESS_EVERY = 64


def hash_workers() -> int:
    return min(16, (os.cpu_count() or 1) + 4)


# -- walking --------------------------------------------------------------------------------
class FileEntry(NamedTuple):
    """One file of a data path: where it is and its identity when it was looked at (a
    tuple: a folder may have millions)."""

    rel: str  # posix path below the data folder; the file's name for a single file
    path: str  # absolute
    size: int
    mtime_ns: int
    ino: int
    mode: int

    @property
    def identity(self) -> tuple[int, int, int]:
        return (self.size, self.mtime_ns, self.ino)


#: Called with each file and its md5 as soon as it is hashed, from a hashing thread.
Store = Callable[[FileEntry, str], object]


class NeedsDvc(Exception):
    """The data has something the fast path leaves to DVC itself (a symbolic link to a
    folder, a special file); the caller falls back to ``dvc add``."""


def stat_mtime(entry: FileEntry) -> float:
    """The file's ``st_mtime`` as ``os.stat`` gives it (the float DVC's state keys on),
    computed from the nanoseconds the way CPython computes it."""
    return entry.mtime_ns // 1_000_000_000 + (entry.mtime_ns % 1_000_000_000) * 1e-9


def _entry(rel: str, path: str, st: os.stat_result) -> FileEntry:
    return FileEntry(rel, path, st.st_size, st.st_mtime_ns, st.st_ino, st.st_mode)


def scan(
    path: Path,
    *,
    root: Path,
    trusted: Iterable[Path] = (),
    progress: Progress | None = None,
) -> tuple[bool, list[FileEntry]]:
    """``(is_dir, files)`` of a data path as DVC sees it: a folder's regular files at any
    depth (sorted by relative path), without DVC's default ignores; symbolic links are
    followed when they stay inside ``root`` or point into one of ``trusted`` (the DVC
    cache); any other link is refused."""
    root_real = os.path.realpath(root)
    trusted_real = [os.path.realpath(t) for t in trusted]

    def allowed(target: str) -> bool:
        return any(_inside(target, base) for base in (root_real, *trusted_real))

    try:
        st = os.stat(path)
    except FileNotFoundError as exc:
        raise BadData(f"{_shown(path, root)} does not exist.", code="no_such_path") from exc
    if stat_mod.S_ISREG(st.st_mode):
        return False, [_entry(path.name, str(path), st)]
    if not stat_mod.S_ISDIR(st.st_mode):
        raise BadData(f"{_shown(path, root)} is neither a file nor a folder.")

    files: list[FileEntry] = []
    stack = [(str(path), "")]
    checked = 0
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                name = entry.name
                if name in IGNORED_ANYWHERE:
                    continue
                if name == DVCIGNORE:
                    raise BadData(
                        f"{_shown(entry.path, root)}: a .dvcignore file cannot be inside the "
                        "data it applies to (DVC refuses it); move it to the folder above.",
                        code="dvcignore_in_data",
                    )
                rel = f"{prefix}{name}"
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    if not allowed(target):
                        raise OutsideProject(
                            f"{_shown(entry.path, root)} is a symbolic link to a place outside "
                            "the project; copy the data into the project instead."
                        )
                    if os.path.isdir(target):
                        raise NeedsDvc(rel)
                if entry.is_dir(follow_symlinks=False):
                    if name in IGNORED_DIRS:
                        if name == ".dvc":  # a DVC repository of its own: DVC skips it
                            raise NeedsDvc(rel)
                        continue
                    stack.append((entry.path, rel + "/"))
                    continue
                try:
                    info = entry.stat(follow_symlinks=True)
                except FileNotFoundError:  # a dangling link: DVC skips it too
                    continue
                if not stat_mod.S_ISREG(info.st_mode):
                    raise NeedsDvc(rel)
                files.append(_entry(rel, entry.path, info))
                checked += 1
                if progress is not None and not checked % 2048:
                    progress.check()
    files.sort(key=lambda f: f.rel)
    return True, files


def _shown(path: str | Path, root: Path) -> str:
    """``path`` as a message names it: relative to the project, never the server's own."""
    relative = os.path.relpath(os.path.abspath(path), os.path.realpath(root))
    return relative if not relative.startswith("..") else os.path.basename(path)


def _inside(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip(os.sep) + os.sep)


def signature(files: Iterable[FileEntry]) -> str:
    """A digest of every file's relative path and identity: equal signatures mean the
    folder can be taken as unchanged."""
    digest = hashlib.md5(usedforsecurity=False)
    for f in files:
        digest.update(f"{f.rel}\0{f.size}\0{f.mtime_ns}\0{f.ino}\n".encode())
    return digest.hexdigest()


def manifest_bytes(entries: Iterable[tuple[str, str]]) -> bytes:
    """DVC's ``.dir`` manifest for ``(relpath, md5)`` pairs: what dvc-data's
    ``Tree.as_bytes()`` writes (entries sorted by relpath, keys sorted)."""
    rows = sorted(({"md5": md5, "relpath": rel} for rel, md5 in entries), key=_relpath)
    return json.dumps(rows, sort_keys=True).encode("utf-8")


def _relpath(row: dict[str, str]) -> str:
    return row["relpath"]


def manifest_md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest() + ".dir"


def parse_manifest(data: bytes) -> dict[str, str]:
    """relpath -> md5 of a ``.dir`` manifest."""
    rows = json.loads(data)
    if not isinstance(rows, list):
        raise ValueError("not a DVC .dir manifest")
    return {str(r["relpath"]): str(r["md5"]) for r in rows}


# -- the remembered hashes ------------------------------------------------------------------
class HashCache:
    """path + identity -> md5 for files, and folder signature -> manifest md5, in SQLite
    (WAL, so a kernel's lineage thread and the server can share it)."""

    def __init__(self, db: Path) -> None:
        db.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._con = sqlite3.connect(str(db), timeout=30, check_same_thread=False)
        with self._lock:
            self._con.execute("PRAGMA journal_mode=WAL")
            self._con.execute("PRAGMA synchronous=NORMAL")
            self._con.executescript(
                """
                CREATE TABLE IF NOT EXISTS files (
                    path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, ino INTEGER,
                    md5 TEXT);
                CREATE TABLE IF NOT EXISTS trees (
                    path TEXT PRIMARY KEY, signature TEXT, md5 TEXT, size INTEGER,
                    nfiles INTEGER);
                """
            )

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def files(self, paths: list[str]) -> dict[str, tuple[int, int, int, str]]:
        found: dict[str, tuple[int, int, int, str]] = {}
        with self._lock:
            for i in range(0, len(paths), 900):
                chunk = paths[i : i + 900]
                marks = ",".join("?" * len(chunk))
                rows = self._con.execute(
                    f"SELECT path, size, mtime_ns, ino, md5 FROM files WHERE path IN ({marks})",  # noqa: S608
                    chunk,
                )
                for path, size, mtime_ns, ino, md5 in rows:
                    found[path] = (size, mtime_ns, ino, md5)
        return found

    def remember_files(self, rows: Iterable[tuple[FileEntry, str]]) -> None:
        values = [(f.path, f.size, f.mtime_ns, f.ino, md5) for f, md5 in rows]
        if not values:
            return
        with self._lock, self._con:
            self._con.executemany(
                "INSERT OR REPLACE INTO files (path, size, mtime_ns, ino, md5) "
                "VALUES (?, ?, ?, ?, ?)",
                values,
            )

    def tree(self, path: str, sig: str) -> tuple[str, int, int] | None:
        with self._lock:
            row = self._con.execute(
                "SELECT md5, size, nfiles FROM trees WHERE path = ? AND signature = ?",
                (path, sig),
            ).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def remember_tree(self, path: str, sig: str, md5: str, size: int, nfiles: int) -> None:
        with self._lock, self._con:
            self._con.execute(
                "INSERT OR REPLACE INTO trees (path, signature, md5, size, nfiles) "
                "VALUES (?, ?, ?, ?, ?)",
                (path, sig, md5, size, nfiles),
            )


_caches: dict[str, HashCache] = {}
_caches_lock = threading.Lock()


def cache_for(state_dir: Path) -> HashCache:
    """One :class:`HashCache` per state folder and process."""
    key = str(state_dir.resolve())
    with _caches_lock:
        cache = _caches.get(key)
        if cache is None:
            from .. import state
            from .journal import data_dir

            db = data_dir(state_dir) / "hashes.db"
            state.create_file(db)  # owner-only, like the whole state folder
            cache = _caches[key] = HashCache(db)
        return cache


# -- hashing ----------------------------------------------------------------------------------
@overload
def md5_file(path: str, size: int, progress: Progress | None = None) -> str: ...


@overload
def md5_file(
    path: str, size: int, progress: Progress | None, *, stat_after: Literal[True]
) -> tuple[str, os.stat_result]: ...


def md5_file(
    path: str, size: int, progress: Progress | None = None, *, stat_after: bool = False
) -> str | tuple[str, os.stat_result]:
    """The md5 of a file's bytes; with ``stat_after``, also its ``fstat`` once read (a
    write meanwhile shows in its time stamp)."""
    if size <= SMALL_FILE:
        # The common case of a folder of many files: a few system calls and no file object.
        fd = os.open(path, os.O_RDONLY)
        try:
            data = os.read(fd, size + 1)
            while len(data) < size:  # a short read (network filesystems)
                more = os.read(fd, size + 1 - len(data))
                if not more:
                    break
                data += more
            after = os.fstat(fd) if stat_after else None
        finally:
            os.close(fd)
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        if progress is not None:
            progress.advance(len(data))
        return (md5, after) if after is not None else md5
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb", buffering=0) as handle:
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        while True:
            if progress is not None:
                progress.check()
            n = handle.readinto(buffer)
            if not n:
                break
            digest.update(view[:n])
            if progress is not None:
                progress.advance(n)
        if stat_after:
            return digest.hexdigest(), os.fstat(handle.fileno())
    return digest.hexdigest()


def _trusted_identity(entry: FileEntry, looked_at_ns: int) -> bool:
    margin = RACY_COARSE_NS if entry.mtime_ns % 1_000_000_000 == 0 else RACY_NS
    return looked_at_ns - entry.mtime_ns > margin


@dataclass
class Hashed:
    """A data path's DVC version as found on disk."""

    path: Path
    isdir: bool
    md5: str
    size: int
    nfiles: int | None
    isexec: bool
    #: every file and its md5 (for a folder: relative paths; a file: its name)
    files: list[tuple[FileEntry, str]] = field(default_factory=list)
    manifest: bytes | None = None
    hashed_bytes: int = 0
    hashed_files: int = 0
    #: True when nothing was read: the remembered identity of every file matched
    unchanged_identity: bool = False
    #: files read this time (DVC's state is told about them)
    fresh: list[tuple[FileEntry, str]] = field(default_factory=list)


def hash_path(
    path: Path,
    *,
    root: Path,
    cache: HashCache,
    trusted: Iterable[Path] = (),
    progress: Progress | None = None,
    workers: int | None = None,
    use_tree_cache: bool = True,
    store: Store | None = None,
) -> Hashed:
    """DVC's version of ``path`` (a file or a folder), reading only what changed. With
    ``use_tree_cache`` a folder whose signature is remembered is answered without its
    file list (``manifest`` None); without, every file's md5 is returned. ``store`` is
    given each file of a folder that is read, right after it is hashed (see
    :func:`_hash_many`); the caller stores the others."""
    progress = progress or Progress()
    progress.begin("scanning", 0, "files")
    looked_at = time.time_ns()
    isdir, files = scan(path, root=root, trusted=trusted, progress=progress)
    if not isdir:
        return _hash_single(path, files[0], cache, looked_at, progress)
    key = str(path)
    sig = signature(files)
    known = cache.tree(key, sig) if use_tree_cache else None
    if known is not None:
        md5, size, nfiles = known
        return Hashed(path, True, md5, size, nfiles, False, unchanged_identity=True)

    remembered = cache.files([f.path for f in files])
    todo: list[FileEntry] = []
    hashes: dict[str, str] = {}
    for f in files:
        row = remembered.get(f.path)
        if row is not None and row[:3] == f.identity:
            hashes[f.rel] = row[3]
        else:
            todo.append(f)
    remember = _Remember(cache, looked_at, store)
    try:
        fresh = _hash_many(todo, progress, workers, remember)
    finally:
        remember.batches.flush()
    for f, md5 in fresh:
        hashes[f.rel] = md5
    data = manifest_bytes((f.rel, hashes[f.rel]) for f in files)
    md5 = manifest_md5(data)
    size = sum(f.size for f in files)
    if not remember.untrusted:
        cache.remember_tree(key, sig, md5, size, len(files))
    return Hashed(
        path,
        True,
        md5,
        size,
        len(files),
        False,
        files=[(f, hashes[f.rel]) for f in files],
        manifest=data,
        hashed_bytes=sum(f.size for f in todo),
        hashed_files=len(todo),
        unchanged_identity=not todo,
        fresh=fresh,
    )


class Batches:
    """Rows handed over from any thread and passed to ``write`` ``BATCH`` at a time (so a
    long hashing pass writes as it goes, not all at the end); :meth:`flush` passes the
    rest. ``write`` runs under the lock: batches are written one at a time, in order."""

    BATCH = 1024

    def __init__(self, write: Callable[[list[tuple[FileEntry, str]]], object]) -> None:
        self._write = write
        self._lock = threading.Lock()
        self._rows: list[tuple[FileEntry, str]] = []

    def add(self, entry: FileEntry, md5: str) -> None:
        with self._lock:
            self._rows.append((entry, md5))
            if len(self._rows) >= self.BATCH:
                self._pass()

    def flush(self) -> None:
        with self._lock:
            self._pass()

    def _pass(self) -> None:
        rows, self._rows = self._rows, []
        if rows:
            self._write(rows)


class _Remember:
    """A :data:`Store` that hands each file on to ``store``, then remembers its md5 in the
    :class:`HashCache` when its identity can be trusted (:class:`Batches`)."""

    def __init__(self, cache: HashCache, looked_at: int, store: Store | None) -> None:
        self._looked_at = looked_at
        self._store = store
        self.batches = Batches(cache.remember_files)
        #: files hashed but not remembered (written too recently to trust)
        self.untrusted = 0

    def __call__(self, entry: FileEntry, md5: str) -> None:
        if self._store is not None:
            self._store(entry, md5)
        if _trusted_identity(entry, self._looked_at):
            self.batches.add(entry, md5)
        else:
            self.untrusted += 1  # a lost update between threads still leaves it above 0


def _hash_single(
    path: Path, entry: FileEntry, cache: HashCache, looked_at: int, progress: Progress | None
) -> Hashed:
    isexec = bool(entry.mode & (stat_mod.S_IXUSR | stat_mod.S_IXGRP | stat_mod.S_IXOTH))
    row = cache.files([entry.path]).get(entry.path)
    if row is not None and row[:3] == entry.identity:
        return Hashed(
            path,
            False,
            row[3],
            entry.size,
            None,
            isexec,
            files=[(entry, row[3])],
            unchanged_identity=True,
        )
    if progress is not None:
        progress.begin("hashing", entry.size, "bytes")
    md5 = _hash_checked(entry, progress)
    if _trusted_identity(entry, looked_at):
        cache.remember_files([(entry, md5)])
    return Hashed(
        path,
        False,
        md5,
        entry.size,
        None,
        isexec,
        files=[(entry, md5)],
        hashed_bytes=entry.size,
        hashed_files=1,
        fresh=[(entry, md5)],
    )


def _hash_checked(entry: FileEntry, progress: Progress | None) -> str:
    md5, after = md5_file(entry.path, entry.size, progress, stat_after=True)
    if (after.st_size, after.st_mtime_ns, after.st_ino) != entry.identity:
        raise ChangedWhileReading(
            f"{entry.path} changed while it was being read; snapshot it again once it is written."
        )
    return md5


def _hash_many(
    todo: list[FileEntry],
    progress: Progress | None,
    workers: int | None,
    store: Store | None = None,
) -> list[tuple[FileEntry, str]]:
    """Hash files, and hand each to ``store`` as soon as it is hashed (its bytes were just
    read). Large files on a thread pool (hashlib releases the GIL while it digests a
    buffer). Small files on one more thread: for them Python's own work per file
    dominates (threads contending for the GIL were measured slower), so when there are
    many, ``md5sum`` hashes them in its own process while this thread stores each as its
    md5 arrives (:func:`md5sum_many`); what that leaves, or all of them without GNU
    ``md5sum``, are read here. Progress counts small files ``PROGRESS_EVERY`` at a time."""
    if progress is not None:
        progress.begin("hashing", sum(f.size for f in todo), "bytes")
    if not todo:
        return []
    large = sorted((f for f in todo if f.size >= SMALL_FILE), key=lambda f: -f.size)
    small = [f for f in todo if f.size < SMALL_FILE]

    def one_large(f: FileEntry) -> list[tuple[FileEntry, str]]:
        md5 = _hash_checked(f, progress)
        if store is not None:
            store(f, md5)
        return [(f, md5)]

    def small_ones(files: list[FileEntry]) -> list[tuple[FileEntry, str]]:
        found = md5sum_many(files, progress, store) if len(files) >= MD5SUM_FROM else []
        pending = 0
        for i, f in enumerate(files[len(found) :]):
            md5 = _hash_checked(f, None)
            if store is not None:
                store(f, md5)
            found.append((f, md5))
            pending += f.size
            if not i % PROGRESS_EVERY and progress is not None:
                progress.check()
                progress.advance(pending)
                pending = 0
        if progress is not None:
            progress.advance(pending)
        return found

    if len(large) <= 1:
        return [pair for f in large for pair in one_large(f)] + small_ones(small)
    results: list[tuple[FileEntry, str]] = []
    count = min(workers or hash_workers(), len(large))
    with ThreadPoolExecutor(count + 1, thread_name_prefix="mlops-hash") as pool:
        futures = [pool.submit(one_large, f) for f in large]
        if small:
            futures.append(pool.submit(small_ones, small))
        try:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    results.extend(future.result())
                if progress is not None:
                    progress.check()
        except BaseException:
            if progress is not None:
                progress.cancel()  # stops the other threads at their next check
            for future in futures:
                future.cancel()
            raise
    return results


# -- small files, hashed by md5sum -------------------------------------------------------
#: From this many small files on, ``md5sum`` hashes them (starting it costs about 1 ms).
MD5SUM_FROM = 256
#: Bytes of file names given to one ``md5sum`` (Linux allows 2 MiB of arguments in all).
MD5SUM_ARGS = 256 << 10


def md5sum_many(
    files: list[FileEntry], progress: Progress | None = None, store: Store | None = None
) -> list[tuple[FileEntry, str]]:
    """The md5s of the first files of ``files``, computed by GNU ``md5sum`` (C, in its
    own process, so on a second core) while this thread checks each file's identity and
    hands it to ``store`` as its line arrives. Files are named to ``md5sum`` as argument
    lists (never a shell), relative to their folder, and its ``-z`` output (no escaping)
    is checked name by name. Stops at the first file it did not answer for (missing,
    unreadable) and returns what was done: the caller reads the rest itself and so
    raises its usual errors; without a GNU ``md5sum``, that is every file."""
    found: list[tuple[FileEntry, str]] = []
    for cwd, batch in _md5sum_batches(files):
        done = _md5sum_batch(cwd, batch, progress, store)
        found.extend(done)
        if len(done) < len(batch):
            break
    return found


def _md5sum_batches(files: list[FileEntry]) -> Iterable[tuple[str, list[FileEntry]]]:
    """``(folder, files)`` runs of files in the same data folder whose relative names
    together stay under ``MD5SUM_ARGS`` bytes, in order."""
    cwd, size = "", 0
    batch: list[FileEntry] = []
    for f in files:
        folder = f.path[: len(f.path) - len(f.rel)]
        if batch and (folder != cwd or size + len(f.rel) > MD5SUM_ARGS):
            yield cwd, batch
            batch, size = [], 0
        cwd = folder
        batch.append(f)
        size += len(f.rel) + 1
    if batch:
        yield cwd, batch


def _md5sum_batch(
    cwd: str, files: list[FileEntry], progress: Progress | None, store: Store | None
) -> list[tuple[FileEntry, str]]:
    import subprocess

    found: list[tuple[FileEntry, str]] = []
    try:
        proc = subprocess.Popen(
            ["md5sum", "-z", "--", *(f.rel for f in files)],
            cwd=cwd or None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "LC_ALL": "C"},
        )
    except OSError:  # no md5sum here
        return found
    assert proc.stdout is not None
    out = proc.stdout.fileno()
    expected = iter(files)
    rest = b""
    pending = 0
    try:
        while chunk := os.read(out, 1 << 16):
            *records, rest = (rest + chunk).split(b"\0")
            for record in records:
                f = next(expected, None)
                # "<32 hex digits>  <name>": anything else (another md5sum, a file it
                # could not read) ends the run here.
                if f is None or record[32:] != b"  " + os.fsencode(f.rel):
                    return found
                md5 = record[:32].decode("ascii")
                st = os.stat(f.path)
                if (st.st_size, st.st_mtime_ns, st.st_ino) != f.identity:
                    raise ChangedWhileReading(
                        f"{f.path} changed while it was being read; snapshot it again "
                        "once it is written."
                    )
                if store is not None:
                    store(f, md5)
                found.append((f, md5))
                pending += f.size
                if not len(found) % PROGRESS_EVERY and progress is not None:
                    progress.check()
                    progress.advance(pending)
                    pending = 0
        return found
    finally:
        if progress is not None:
            progress.advance(pending)
        proc.stdout.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
