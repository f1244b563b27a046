"""Fast hashing in DVC's format: the same md5s and manifests as DVC's own libraries, read
only when a file's identity changed, safe against files written while read."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import pytest

from jupyter_mlops.data import hashing
from jupyter_mlops.data.errors import BadData, OutsideProject
from jupyter_mlops.data.hashing import HashCache, NeedsDvc, hash_path, scan
from jupyter_mlops.tasks.progress import Cancelled, Progress

OLD = 1_600_000_000  # a modification time far enough in the past to be trusted


def age(path: Path) -> None:
    """Give every file below ``path`` an old modification time (as data written long
    before it is snapshotted has), so its identity may be remembered."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for i, f in enumerate(sorted(files)):
        os.utime(f, (OLD + i, OLD + i + 0.5))


@pytest.fixture
def cache(tmp_path: Path) -> HashCache:
    return HashCache(tmp_path / "state" / "hashes.db")


def make_folder(root: Path) -> Path:
    data = root / "data"
    (data / "sub" / "deeper").mkdir(parents=True)
    (data / "a.csv").write_text("a,b\n1,2\n")
    (data / "b-c.txt").write_text("dash sorts before slash\n")
    (data / "b").mkdir()
    (data / "b" / "x").write_text("inside b/\n")
    (data / "sub" / "deeper" / "y.bin").write_bytes(os.urandom(3 * hashing.SMALL_FILE + 17))
    (data / "empty").write_bytes(b"")
    (data / "emptydir").mkdir()
    (data / ".git").write_text("ignored by DVC")  # DVC's default ignore, anywhere
    return data


def dvc_data_tree(data: Path) -> tuple[str, bytes]:
    """The folder's md5 and manifest computed by dvc-data itself, with DVC's ignore rules
    (as ``dvc add`` builds it)."""
    from dvc.ignore import DvcIgnoreFilter
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.db import HashFileDB
    from dvc_objects.fs import LocalFileSystem, MemoryFileSystem

    fs = LocalFileSystem()
    odb = HashFileDB(MemoryFileSystem(), "memory://odb")
    ignore = DvcIgnoreFilter(fs, str(data.parent))
    _, _, tree = build(odb, str(data), fs, "md5", dry_run=True, ignore=ignore)
    return tree.hash_info.value, tree.as_bytes()


def test_folder_md5_and_manifest_are_dvc_datas(tmp_path, cache):
    data = make_folder(tmp_path)
    found = hash_path(data, root=tmp_path, cache=cache)
    md5, manifest = dvc_data_tree(data)
    assert found.md5 == md5
    assert found.manifest == manifest
    assert found.nfiles == 5
    assert found.size == sum(p.stat().st_size for p in data.rglob("*") if p.name != ".git"
                             and p.is_file())  # fmt: skip
    assert hashing.manifest_md5(manifest) == md5


def test_file_md5_is_plain_md5_any_size(tmp_path, cache):
    for size in (0, 5, hashing.SMALL_FILE, hashing.CHUNK + 3):
        f = tmp_path / f"f{size}"
        f.write_bytes(os.urandom(size))
        found = hash_path(f, root=tmp_path, cache=cache)
        assert found.md5 == hashlib.md5(f.read_bytes()).hexdigest()
        assert (found.isdir, found.nfiles, found.size) == (False, None, size)


def test_unchanged_data_is_not_read_again(tmp_path, cache):
    data = make_folder(tmp_path)
    age(data)
    first = hash_path(data, root=tmp_path, cache=cache)
    assert first.hashed_files == 5
    again = hash_path(data, root=tmp_path, cache=cache)
    assert (again.md5, again.hashed_bytes, again.unchanged_identity) == (first.md5, 0, True)
    assert again.manifest is None  # the folder's signature matched: nothing looked up

    # One file changes: only that one is read.
    target = data / "a.csv"
    target.write_text("a,b\n1,3\n")
    os.utime(target, (OLD + 100, OLD + 100))
    changed = hash_path(data, root=tmp_path, cache=cache)
    assert changed.hashed_files == 1
    assert changed.hashed_bytes == target.stat().st_size
    assert changed.md5 == dvc_data_tree(data)[0] != first.md5


def test_touch_with_same_content_rehashes_but_gives_the_same_md5(tmp_path, cache):
    f = tmp_path / "f.txt"
    f.write_text("same\n")
    age(f)
    first = hash_path(f, root=tmp_path, cache=cache)
    os.utime(f, (OLD + 50, OLD + 50))
    again = hash_path(f, root=tmp_path, cache=cache)
    assert again.hashed_files == 1
    assert again.md5 == first.md5


def test_freshly_written_files_are_hashed_but_not_remembered(tmp_path, cache):
    """A file modified a moment ago may be written again within the same timestamp tick:
    its identity is not trusted, so it is read every time until it settles."""
    f = tmp_path / "fresh.txt"
    f.write_text("just written\n")
    hash_path(f, root=tmp_path, cache=cache)
    assert hash_path(f, root=tmp_path, cache=cache).hashed_files == 1
    age(f)
    hash_path(f, root=tmp_path, cache=cache)
    assert hash_path(f, root=tmp_path, cache=cache).hashed_files == 0


def test_same_size_same_mtime_new_inode_is_read_again(tmp_path, cache):
    """Replacing a file (new inode) with the same size and time stamp is noticed."""
    f = tmp_path / "f.txt"
    f.write_text("aaaa\n")
    age(f)
    first = hash_path(f, root=tmp_path, cache=cache)
    stamp = f.stat().st_mtime_ns
    replacement = tmp_path / "g.txt"
    replacement.write_text("bbbb\n")
    os.utime(replacement, ns=(stamp, stamp))
    os.replace(replacement, f)
    again = hash_path(f, root=tmp_path, cache=cache)
    assert again.hashed_files == 1
    assert again.md5 != first.md5


def test_dvc_default_ignores_and_refusals(tmp_path):
    data = make_folder(tmp_path)
    _, files = scan(data, root=tmp_path)
    assert ".git" not in {f.rel for f in files}
    (data / ".dvcignore").write_text("*.tmp\n")
    with pytest.raises(BadData, match="dvcignore"):
        scan(data, root=tmp_path)
    (data / ".dvcignore").unlink()

    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text("secret\n")
    (data / "escape").symlink_to(outside)
    with pytest.raises(OutsideProject, match="outside the project"):
        scan(data, root=tmp_path)
    (data / "escape").unlink()

    (data / "linked-dir").symlink_to(data / "sub", target_is_directory=True)
    with pytest.raises(NeedsDvc):
        scan(data, root=tmp_path)
    (data / "linked-dir").unlink()

    (data / "inner-link").symlink_to(data / "a.csv")  # a file inside the project: followed
    _, files = scan(data, root=tmp_path)
    assert "inner-link" in {f.rel for f in files}


def test_missing_path(tmp_path):
    with pytest.raises(BadData, match="does not exist"):
        scan(tmp_path / "nope", root=tmp_path)


def test_cancel_stops_hashing_within_a_buffer(tmp_path, cache):
    big = tmp_path / "big.bin"
    with big.open("wb") as handle:  # sparse: no disk used, still read and hashed
        handle.truncate(2 << 30)
    progress = Progress()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            hash_path(big, root=tmp_path, cache=cache, progress=progress)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    deadline = time.monotonic() + 30
    while progress.state().done < hashing.CHUNK and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    progress.cancel()
    thread.join(30)
    assert time.monotonic() - started < 2
    assert len(errors) == 1
    assert isinstance(errors[0], Cancelled)
    assert progress.state().done < big.stat().st_size
    assert cache.files([str(big)]) == {}


def test_progress_counts_every_byte(tmp_path, cache):
    data = make_folder(tmp_path)
    states: list[hashing.ProgressState] = []
    progress = Progress(on_change=states.append)
    found = hash_path(data, root=tmp_path, cache=cache, progress=progress)
    hashing_states = [s for s in states if s.phase == "hashing"]
    assert hashing_states[-1].done == hashing_states[-1].total == found.size


def test_many_files_are_hashed_by_a_pool(tmp_path, cache):
    data = tmp_path / "many"
    data.mkdir()
    for i in range(500):
        (data / f"{i:04d}.txt").write_text(f"file {i}\n" * (i % 7))
    found = hash_path(data, root=tmp_path, cache=cache, workers=4)
    assert found.md5 == dvc_data_tree(data)[0]
    assert found.hashed_files == 500


def test_cache_is_shared_between_instances(tmp_path):
    f = tmp_path / "f.txt"
    f.write_text("shared\n")
    age(f)
    db = tmp_path / "state" / "hashes.db"
    hash_path(f, root=tmp_path, cache=HashCache(db))
    assert hash_path(f, root=tmp_path, cache=HashCache(db)).hashed_files == 0


def test_store_gets_each_file_read_with_its_md5(tmp_path, cache):
    """The snapshot puts files into DVC's cache from the hashing loop itself: every file
    read is handed over once with its md5, small ones and large ones; nothing when
    nothing was read."""
    data = tmp_path / "mixed"
    data.mkdir()
    for i in range(300):
        (data / f"{i:03d}.txt").write_text(f"small {i}\n")
    for i in range(3):  # sparse large files: read through the pool
        with (data / f"big{i}.bin").open("wb") as handle:
            handle.truncate(hashing.SMALL_FILE + i)
    age(data)
    stored: list[tuple[str, str]] = []
    lock = threading.Lock()

    def store(entry: hashing.FileEntry, md5: str) -> None:
        with lock:
            stored.append((entry.rel, md5))

    found = hash_path(data, root=tmp_path, cache=cache, store=store)
    assert found.md5 == dvc_data_tree(data)[0]
    assert sorted(stored) == sorted((f.rel, md5) for f, md5 in found.files)
    assert len(stored) == 303
    stored.clear()
    again = hash_path(data, root=tmp_path, cache=cache, store=store, use_tree_cache=False)
    assert again.md5 == found.md5
    assert stored == []


def test_stat_mtime_is_the_float_os_stat_gives(tmp_path):
    """DVC's state keys a file by ``st_mtime`` (a float); the snapshot computes it from the
    nanoseconds it already has, which must give the very same float."""
    f = tmp_path / "f"
    f.write_text("x")
    for ns in (0, 1, 999_999_999, 123_456_789, 500_000_000, 987_654_321):
        for seconds in (OLD, 1_700_000_000, 1_790_000_123):
            os.utime(f, ns=(seconds * 10**9 + ns, seconds * 10**9 + ns))
            st = os.stat(f)
            entry = hashing.FileEntry("f", str(f), st.st_size, st.st_mtime_ns, st.st_ino, 0)
            assert hashing.stat_mtime(entry) == st.st_mtime
