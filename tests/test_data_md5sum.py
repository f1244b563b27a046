"""Many small files are hashed by GNU ``md5sum`` in its own process while the snapshot
stores each one: the same md5s as DVC's, any file name, and every way it can go wrong
ends in the files being read by Python (or in the snapshot's usual error)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest
from test_data_hashing import dvc_data_tree

from jupyter_mlops.data import hashing
from jupyter_mlops.data.errors import ChangedWhileReading
from jupyter_mlops.data.hashing import HashCache, hash_path, md5sum_many, scan
from jupyter_mlops.tasks.progress import Cancelled, Progress

AWKWARD = ["a b.txt", "new\nline.txt", "back\\slash.txt", "-dash.txt", "ünïcödé.txt", " lead"]


def folder(root: Path, count: int = 80) -> Path:
    data = root / "data"
    (data / "sub").mkdir(parents=True)
    for i in range(count):
        (data / ("sub" if i % 2 else "") / f"{i:03d}.bin").write_bytes(os.urandom(i * 37))
    for name in AWKWARD:
        (data / name).write_text(f"{name}\n")
    return data


def md5s(files: list[hashing.FileEntry]) -> list[tuple[str, str]]:
    return [(f.rel, hashlib.md5(Path(f.path).read_bytes()).hexdigest()) for f in files]


def named(found: list[tuple[hashing.FileEntry, str]]) -> list[tuple[str, str]]:
    return [(f.rel, md5) for f, md5 in found]


@pytest.fixture
def many(tmp_path: Path) -> tuple[Path, list[hashing.FileEntry]]:
    data = folder(tmp_path)
    return data, scan(data, root=tmp_path)[1]


def test_md5sum_hashes_every_file_whatever_its_name(many):
    _data, files = many
    assert named(md5sum_many(files)) == md5s(files)


def test_a_folder_of_many_files_has_dvc_s_md5(tmp_path, monkeypatch):
    data = folder(tmp_path, hashing.MD5SUM_FROM + 10)
    used: list[int] = []
    real = hashing.md5sum_many
    monkeypatch.setattr(hashing, "md5sum_many", lambda f, *a: used.append(len(f)) or real(f, *a))
    found = hash_path(data, root=tmp_path, cache=HashCache(tmp_path / "h.db"))
    assert used == [hashing.MD5SUM_FROM + 10 + len(AWKWARD)]
    assert found.md5 == dvc_data_tree(data)[0]


def test_long_file_lists_are_split_into_several_md5sums(many, monkeypatch):
    _data, files = many
    started: list[int] = []
    real = subprocess.Popen

    def popen(args, **kwargs):
        started.append(len(args) - 3)  # md5sum -z -- NAMES
        return real(args, **kwargs)

    monkeypatch.setattr(hashing, "MD5SUM_ARGS", 200)
    monkeypatch.setattr(subprocess, "Popen", popen)
    assert named(md5sum_many(files)) == md5s(files)
    assert len(started) > 2
    assert sum(started) == len(files)


def test_without_md5sum_nothing_is_hashed_by_it(many, monkeypatch, tmp_path):
    _data, files = many
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    assert md5sum_many(files) == []


def test_another_md5sum_is_not_trusted(many, monkeypatch, tmp_path):
    """An ``md5sum`` that answers otherwise (no ``-z``, another format) hashes nothing:
    Python reads the files, and the folder's md5 is still DVC's."""
    data, files = many
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "md5sum"
    fake.write_text(  # NUL-separated, but BSD-style "hash *name"
        '#!/bin/sh\nfor f in "$@"; do printf "d41d8cd98f00b204e9800998ecf8427e *%s\\0" "$f"; done\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert md5sum_many(files) == []
    monkeypatch.setattr(hashing, "MD5SUM_FROM", 1)
    found = hash_path(data, root=tmp_path, cache=HashCache(tmp_path / "h.db"))
    assert found.md5 == dvc_data_tree(data)[0]


def test_a_file_md5sum_cannot_read_ends_its_part(many):
    """md5sum skips a file that vanished; the files before it are done, the rest are
    left to Python, which reports the missing file."""
    _data, files = many
    gone = files[30]
    os.unlink(gone.path)
    assert named(md5sum_many(files)) == md5s(files[:30])
    with pytest.raises(FileNotFoundError):
        hashing._hash_many(files, None, None)


def test_a_file_changed_since_it_was_listed_is_refused(many):
    _data, files = many
    changed = files[40]
    Path(changed.path).write_bytes(b"written after the scan, longer than before" * 99)
    with pytest.raises(ChangedWhileReading, match=changed.rel):
        md5sum_many(files)


def test_cancelling_stops_md5sum(many, monkeypatch):
    _data, files = many
    procs: list[subprocess.Popen[bytes]] = []
    real = subprocess.Popen

    def popen(args, **kwargs):
        procs.append(real(args, **kwargs))
        return procs[-1]

    monkeypatch.setattr(subprocess, "Popen", popen)
    progress = Progress()
    progress.cancel()
    with pytest.raises(Cancelled):
        md5sum_many(files, progress)
    assert len(procs) == 1
    assert procs[0].returncode is not None


def test_the_store_gets_each_file_once(many):
    _data, files = many
    stored: list[tuple[str, str]] = []
    md5sum_many(files, None, lambda f, md5: stored.append((f.rel, md5)))
    assert stored == md5s(files)
