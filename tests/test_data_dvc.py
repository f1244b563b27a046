"""What the fast snapshot writes is what DVC writes: checked against the real ``dvc``
command (``dvc add`` on a twin project, then ``dvc status``, ``dvc checkout``,
``dvc push``/``dvc pull`` on ours)."""

from __future__ import annotations

import os
import random
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import subprocess_env

from jupyter_mlops import settings as settings_mod
from jupyter_mlops.data.dvcrepo import DvcProject
from jupyter_mlops.data.hashing import Batches
from jupyter_mlops.data.service import DataService

OLD = 1_600_000_000


def run(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        args,
        cwd=cwd,
        env=subprocess_env({"GIT_CONFIG_NOSYSTEM": "1"}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done


def dvc(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "dvc", *args], cwd, check)


def git_init(root: Path) -> None:
    run(["git", "-c", "init.defaultBranch=main", "init", "--quiet"], root)
    run(["git", "config", "user.name", "jupyter-mlops tests"], root)
    run(["git", "config", "user.email", "tests@jupyter-mlops.invalid"], root)
    (root / "README.md").write_text("# project\n")
    run(["git", "add", "README.md"], root)
    run(["git", "commit", "--quiet", "-m", "first"], root)


def fill(root: Path) -> None:
    """The same data in every project of a test (times in the past, as for real data)."""
    data = root / "data"
    (data / "images" / "cats").mkdir(parents=True)
    (data / "labels.csv").write_text("id,label\n1,cat\n2,dog\n")
    (data / "images" / "cats" / "1.png").write_bytes(bytes(range(256)) * 40)
    (data / "images" / "cats" / "2.png").write_bytes(b"\x89PNG" + bytes(5000))
    (data / "images" / "b-c.txt").write_text("sorted by relpath\n")
    (root / "model.bin").write_bytes(random.Random(7).randbytes(3 << 20))
    (root / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "run.sh").chmod(0o755)
    for i, p in enumerate(
        sorted(x for x in root.rglob("*") if x.is_file() and ".git" not in x.parts)
    ):
        os.utime(p, (OLD + i, OLD + i))


def service(root: Path, **kwargs) -> DataService:
    return DataService(settings_mod.resolve(root), **kwargs)


def cache_listing(root: Path) -> dict[str, tuple[int, bytes]]:
    cache = root / ".dvc" / "cache"
    return {
        p.relative_to(cache).as_posix(): (stat.S_IMODE(p.stat().st_mode), p.read_bytes())
        for p in sorted(cache.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(params=["git", "no-git"])
def twins(request, tmp_path: Path) -> tuple[Path, Path]:
    """Two projects with the same data: ``ours`` (DVC set up by the first snapshot) and
    ``theirs`` (``dvc init``)."""
    ours, theirs = tmp_path / "ours" / "project", tmp_path / "theirs" / "project"
    for root in (ours, theirs):
        root.mkdir(parents=True)
        if request.param == "git":
            git_init(root)
        fill(root)
    dvc(theirs, "init", "--quiet", *(["--no-scm"] if request.param == "no-git" else []))
    return ours, theirs


TARGETS = ["data", "model.bin", "run.sh"]


def test_snapshot_writes_exactly_what_dvc_add_writes(twins):
    ours, theirs = twins
    result = service(ours).snapshot(TARGETS, message="first")
    dvc(theirs, "add", "--quiet", *TARGETS)
    assert [p.method for p in result.paths] == ["fast"] * 3
    for name in TARGETS:
        assert (ours / f"{name}.dvc").read_bytes() == (theirs / f"{name}.dvc").read_bytes()
    assert "isexec: true" in (ours / "run.sh.dvc").read_text()
    for gitignore in (".gitignore", "data/.gitignore"):
        assert (ours / gitignore).exists() == (theirs / gitignore).exists()
        if (ours / gitignore).exists():
            assert (ours / gitignore).read_text() == (theirs / gitignore).read_text()
    assert cache_listing(ours) == cache_listing(theirs)
    assert all(mode == 0o444 for mode, _ in cache_listing(ours).values())
    # DVC finds everything in order, and its own add changes nothing.
    assert "up to date" in dvc(ours, "status").stdout
    before = {n: (ours / f"{n}.dvc").read_bytes() for n in TARGETS}
    dvc(ours, "add", "--quiet", *TARGETS)
    assert {n: (ours / f"{n}.dvc").read_bytes() for n in TARGETS} == before


def test_updating_a_dvc_file_keeps_comments_and_keys_as_dvc_does(twins):
    ours, theirs = twins
    dvc(theirs, "add", "--quiet", "data")
    service(ours).snapshot(["data"])
    extra = (
        "# who owns this data\n"
        + (theirs / "data.dvc").read_text().replace("  path: data\n", "  path: data\n  desc: "
                                                     "labelled images\n  remote: backup\n")
        + "meta:\n  owner: data team\n"
    )  # fmt: skip
    for root in (ours, theirs):
        (root / "data.dvc").write_text(extra)
        (root / "data" / "labels.csv").write_text("id,label\n1,cat\n2,dog\n3,bird\n")
        (root / "data" / "images" / "b-c.txt").unlink()
        (root / "data" / "new.txt").write_text("added\n")
    result = service(ours).snapshot(["data"])
    dvc(theirs, "add", "--quiet", "data")
    assert result.paths[0].changed
    assert result.paths[0].method == "fast"
    assert (ours / "data.dvc").read_text() == (theirs / "data.dvc").read_text()
    assert "# who owns this data" in (ours / "data.dvc").read_text()
    assert cache_listing(ours) == cache_listing(theirs)


def test_dvc_checkout_restores_what_we_snapshotted(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    git_init(root)
    fill(root)
    svc = service(root)
    svc.snapshot(TARGETS)
    original = {p.relative_to(root): p.read_bytes() for p in (root / "data").rglob("*")
                if p.is_file()}  # fmt: skip
    shutil.rmtree(root / "data")
    (root / "model.bin").unlink()
    assert "deleted" in dvc(root, "status").stdout
    dvc(root, "checkout")
    assert {p.relative_to(root): p.read_bytes() for p in (root / "data").rglob("*")
            if p.is_file()} == original  # fmt: skip
    assert "up to date" in dvc(root, "status").stdout


@pytest.mark.parametrize("batch", [1024, 2])
def test_dvc_state_is_told_our_hashes(tmp_path, monkeypatch, batch):
    """``dvc status`` trusts what we hashed (same state database, same keys) instead of
    reading the data again; told a batch at a time while hashing goes on, the last batch
    when the snapshot ends."""
    from dvc.repo import Repo
    from dvc_objects.fs import LocalFileSystem

    monkeypatch.setattr(Batches, "BATCH", batch)
    root = tmp_path / "p"
    root.mkdir()
    fill(root)
    service(root).snapshot(["model.bin", "data"])
    project = DvcProject(root)
    repo = Repo(str(root))
    try:
        assert project.site_cache_dir() == repo.site_cache_dir
        fs = LocalFileSystem()
        for name in ("model.bin", "data/labels.csv", "data/images/cats/1.png"):
            _meta, hash_info = repo.state.get(str(root / name), fs)
            assert hash_info is not None, name
            assert (
                hash_info.value == __import__("hashlib").md5((root / name).read_bytes()).hexdigest()
            )
    finally:
        repo.close()


def test_a_state_database_dvc_cannot_write_does_not_stop_the_snapshot(tmp_path, monkeypatch):
    from dvc_data.hashfile.state import State

    def broken(*_args: object, **_kwargs: object) -> None:
        raise OSError("database is locked")

    monkeypatch.setattr(State, "save_many", broken)
    root = tmp_path / "p"
    root.mkdir()
    fill(root)
    result = service(root).snapshot(["data"])
    assert result.paths[0].changed
    monkeypatch.undo()
    assert "up to date" in dvc(root, "status").stdout


@pytest.mark.parametrize("link", ["hardlink", "symlink"])
def test_links_keep_a_single_copy_and_dvc_agrees(tmp_path, link):
    root = tmp_path / "p"
    root.mkdir()
    git_init(root)
    fill(root)
    svc = service(root)
    result = svc.snapshot(["model.bin", "data"], link=link)
    assert {p.cache for p in result.paths} == {link}
    assert "type = " + link in (root / ".dvc" / "config").read_text().replace('"', "")
    assert ".dvc/config" in result.git_staged
    project = DvcProject(root)
    md5 = result.paths[0].md5
    workspace, cached = root / "model.bin", project.object_path(md5)
    if link == "hardlink":
        assert workspace.stat().st_ino == cached.stat().st_ino
        assert cached.stat().st_nlink == 2
        assert stat.S_IMODE(workspace.stat().st_mode) == 0o444  # as DVC protects it
    else:
        assert workspace.is_symlink()
        assert workspace.resolve() == cached.resolve()
    assert "up to date" in dvc(root, "status").stdout
    again = svc.snapshot(["model.bin", "data"])
    assert [(p.changed, p.hashed_bytes) for p in again.paths] == [(False, 0), (False, 0)]
    shutil.rmtree(root / "data")
    dvc(root, "checkout")
    assert (root / "data" / "labels.csv").read_text().startswith("id,label")


def test_copy_is_the_default_and_leaves_the_workspace_alone(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    fill(root)
    result = service(root).snapshot(["model.bin"])
    assert result.paths[0].cache == "copy"  # reflink is tried first; ext4 has none
    cached = DvcProject(root).object_path(result.paths[0].md5)
    assert cached.stat().st_ino != (root / "model.bin").stat().st_ino
    assert stat.S_IMODE((root / "model.bin").stat().st_mode) != 0o444


def test_dvcignore_rules_leave_the_folder_to_dvc_add(tmp_path):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for root in (ours, theirs):
        root.mkdir()
        fill(root)
        dvc(root, "init", "--quiet", "--no-scm")
        (root / ".dvcignore").write_text("*.png\n")
    result = service(ours).snapshot(["data"])
    dvc(theirs, "add", "--quiet", "data")
    assert result.paths[0].method == "dvc"
    assert (ours / "data.dvc").read_text() == (theirs / "data.dvc").read_text()
    assert "nfiles: 2" in (ours / "data.dvc").read_text()


def test_push_to_a_folder_remote_and_pull_into_a_clone(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    git_init(root)
    fill(root)
    remote = tmp_path / "remote"
    svc = service(root)
    svc.snapshot(["data"], message="first", commit=True)
    dvc(root, "remote", "add", "-d", "store", str(remote))
    run(["git", "commit", "--quiet", "-am", "remote"], root)
    result = svc.snapshot(["data", "model.bin"], push=True, commit=True, message="two")
    assert result.pushed is True
    assert result.push_error is None
    assert result.remote == "store"
    assert "in sync" in dvc(root, "status", "--cloud").stdout

    clone = tmp_path / "clone"
    run(["git", "clone", "--quiet", str(root), str(clone)], tmp_path)
    dvc(clone, "pull")
    assert (clone / "data" / "labels.csv").read_bytes() == (
        root / "data" / "labels.csv"
    ).read_bytes()
    assert (clone / "model.bin").read_bytes() == (root / "model.bin").read_bytes()

    # Our own pull does the same in a second clone.
    other = tmp_path / "other"
    run(["git", "clone", "--quiet", str(root), str(other)], tmp_path)
    pulled = service(other).pull()
    assert sorted(pulled.paths) == ["data", "model.bin"]
    assert pulled.objects > 0
    assert (other / "model.bin").read_bytes() == (root / "model.bin").read_bytes()
    assert "up to date" in dvc(other, "status").stdout


def test_unreachable_remote_keeps_the_snapshot_and_push_can_be_retried(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    git_init(root)
    fill(root)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the remote's folder should be\n")
    svc = service(root)
    svc.snapshot(["model.bin"])
    dvc(root, "remote", "add", "-d", "store", str(blocker / "remote"))
    (root / "model.bin").write_bytes(os.urandom(1 << 20))
    result = svc.snapshot(["model.bin"], push=True, message="to push")
    assert result.pushed is False
    assert result.push_error
    assert "store" in result.push_error
    assert result.paths[0].changed  # kept locally
    assert "up to date" in dvc(root, "status").stdout
    history = svc.history("model.bin")
    assert history.versions[0].pushed is False

    dvc(root, "remote", "modify", "store", "url", str(tmp_path / "remote"))
    pushed = svc.push()
    assert pushed.paths == ["model.bin"]
    assert pushed.objects >= 1
    assert "in sync" in dvc(root, "status", "--cloud").stdout
    assert svc.history("model.bin").versions[0].pushed is True


def test_no_remote_is_a_clear_push_error(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    fill(root)
    result = service(root).snapshot(["model.bin"], push=True)
    assert result.pushed is False
    assert "dvc remote add" in (result.push_error or "")
