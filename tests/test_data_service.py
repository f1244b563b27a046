"""The data service: first snapshot in any project, history from git and the journal,
diff, restore with its safety check, runs linked to versions, and every bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import subprocess_env

from jupyter_mlops import settings as settings_mod
from jupyter_mlops.data.errors import (
    BadData,
    GitTracked,
    LocalChanges,
    NoSuchData,
    NoSuchVersion,
    NotTracked,
    OutsideProject,
    Overlap,
    SnapshotBusy,
)
from jupyter_mlops.data.journal import project_lock
from jupyter_mlops.data.service import DataService
from jupyter_mlops.tasks.progress import Cancelled, Progress

OLD = 1_600_000_000


def run(args: list[str], cwd: Path) -> str:
    done = subprocess.run(
        args,
        cwd=cwd,
        env=subprocess_env({"GIT_CONFIG_NOSYSTEM": "1"}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def git(root: Path, *args: str) -> str:
    return run(["git", *args], root)


def git_init(root: Path) -> None:
    git(root, "-c", "init.defaultBranch=main", "init", "--quiet")
    git(root, "config", "user.name", "jupyter-mlops tests")
    git(root, "config", "user.email", "tests@jupyter-mlops.invalid")
    (root / "README.md").write_text("# project\n")
    git(root, "add", "README.md")
    git(root, "commit", "--quiet", "-m", "first")


def write(path: Path, text: str, when: int = OLD) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (when, when))
    return path


def service(root: Path, tracking_uri: str = "", **kwargs) -> DataService:
    return DataService(settings_mod.resolve(root, tracking_uri=tracking_uri), **kwargs)


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    root = tmp_path / "plain"
    root.mkdir()
    write(root / "data" / "a.csv", "x\n1\n")
    write(root / "data" / "b.csv", "y\n2\n")
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git_init(root)
    write(root / "data" / "a.csv", "x\n1\n")
    write(root / "data" / "b.csv", "y\n2\n")
    return root


def test_the_service_modules_leave_the_python_api_alone():
    """A module of the package named like a function of the Python API would replace that
    function on the package once imported (``jupyter_mlops.data.snapshot``)."""
    import types

    import jupyter_mlops.data as data
    import jupyter_mlops.data.service  # noqa: F401  (imports every part of the service)

    for name in data.__all__:
        assert not isinstance(getattr(data, name), types.ModuleType), name


# -- a project without DVC ---------------------------------------------------------------------
def test_without_git_dvc_is_initialised_no_scm_and_history_is_journaled(plain):
    svc = service(plain)
    first = svc.snapshot(["data"], message="raw export")
    assert "dvc init --no-scm" in (first.initialised or "")
    assert "no_scm = True" in (plain / ".dvc" / "config").read_text()
    assert first.git_staged == []
    write(plain / "data" / "c.csv", "z\n3\n", OLD + 10)
    second = svc.snapshot(["data"], message="with c")
    assert second.initialised is None
    assert second.paths[0].previous_md5 == first.paths[0].md5
    history = svc.history("data")
    assert [(v.message, v.nfiles, v.current) for v in history.versions] == [
        ("with c", 3, True),
        ("raw export", 2, False),
    ]
    assert all(v.in_cache and v.commits == [] for v in history.versions)
    assert history.versions[0].workspace  # the data on disk is the newest version
    journal = (plain / ".mlops" / "data" / "journal.jsonl").read_text().splitlines()
    assert [json.loads(line)["message"] for line in journal] == ["raw export", "with c"]
    assert (plain / ".mlops" / ".gitignore").read_text().strip().endswith("*")


def test_the_listing_says_what_changed_on_disk_without_being_asked(plain, monkeypatch):
    """What the panel polls: small data whose files changed is hashed, so it reads
    "modified" (then "unchanged" again), not "maybe changed"; large data is not read."""
    from jupyter_mlops.data import listing

    svc = service(plain)
    svc.snapshot(["data"])
    state = lambda: {p.path: p.workspace for p in svc.list_paths().paths}  # noqa: E731
    assert state() == {"data": "unchanged"}
    write(plain / "data" / "a.csv", "x\n1\n2\n", OLD + 20)
    assert state() == {"data": "modified"}
    write(plain / "data" / "a.csv", "x\n1\n", OLD + 30)  # back as it was, a new mtime
    assert state() == {"data": "unchanged"}
    monkeypatch.setattr(listing, "QUICK_HASH_BYTES", 4)
    write(plain / "data" / "a.csv", "x\n9\n", OLD + 40)
    assert state() == {"data": "unknown"}  # too large to read at every listing


def test_in_a_git_repo_files_are_staged_and_committed_on_request(repo):
    (repo / "unrelated.txt").write_text("staged by the user\n")
    git(repo, "add", "unrelated.txt")
    svc = service(repo)
    result = svc.snapshot(["data"], message="first data")
    assert "(dvc init)" in (result.initialised or "")
    assert set(result.git_staged) == {
        ".dvc/config", ".dvc/.gitignore", ".dvcignore", "data.dvc", ".gitignore"
    }  # fmt: skip
    status = git(repo, "status", "--porcelain")
    assert "A  data.dvc" in status
    assert "A  .gitignore" in status
    assert result.git_commit is None

    write(repo / "data" / "a.csv", "x\n10\n", OLD + 5)
    committed = svc.snapshot(["data"], message="fix a", commit=True)
    assert committed.git_commit == git(repo, "rev-parse", "HEAD").strip()
    assert git(repo, "log", "-1", "--format=%s").strip() == "fix a"
    shown = git(repo, "show", "--name-only", "--format=", "HEAD").split()
    assert "unrelated.txt" not in shown  # only the snapshot's files are committed
    assert "A  unrelated.txt" in git(repo, "status", "--porcelain")

    history = svc.history("data")
    assert history.versions[0].message == "fix a"
    assert history.versions[0].commits == [committed.git_commit]


def test_history_includes_commits_made_with_dvc_itself(repo):
    svc = service(repo)
    svc.snapshot(["data"], message="ours", commit=True)
    # A teammate's version: plain `dvc add` and `git commit`, no journal entry here.
    write(repo / "data" / "a.csv", "x\n99\n", OLD + 20)
    run([sys.executable, "-m", "dvc", "add", "--quiet", "data"], repo)
    git(repo, "commit", "--quiet", "-am", "teammate's labels")
    history = svc.history("data")
    assert [v.message for v in history.versions] == ["teammate's labels", "ours"]
    assert history.versions[0].current
    assert len(history.versions[0].commits) == 1


def test_project_inside_a_bigger_git_repo_gets_dvc_init_subdir(tmp_path):
    top = tmp_path / "mono"
    top.mkdir()
    git_init(top)
    project = top / "team" / "project"
    write(project / "data.csv", "x\n")
    result = service(project).snapshot(["data.csv"])
    assert "--subdir" in (result.initialised or "")
    assert (project / ".dvc").is_dir()
    assert not (top / ".dvc").exists()
    assert "data.csv.dvc" in result.git_staged


# -- diff and restore --------------------------------------------------------------------------
def test_diff_between_versions_and_against_the_workspace(plain):
    svc = service(plain)
    a = svc.snapshot(["data"]).paths[0].md5
    write(plain / "data" / "a.csv", "x\n1\n2\n", OLD + 1)
    (plain / "data" / "b.csv").unlink()
    write(plain / "data" / "new" / "c.csv", "c\n", OLD + 2)
    b = svc.snapshot(["data"]).paths[0].md5
    found = svc.diff("data", a, b)
    assert [(e.path, e.change, e.size_a, e.size_b) for e in found.entries] == [
        ("a.csv", "modified", 4, 6),
        ("b.csv", "removed", 4, None),
        ("new/c.csv", "added", None, 2),
    ]
    assert (found.added, found.removed, found.modified, found.unchanged) == (1, 1, 1, 0)
    assert (found.size_a, found.size_b) == (8, 8)
    write(plain / "data" / "d.csv", "d\n", OLD + 3)
    live = svc.diff("data", b)
    assert live.b == "workspace"
    assert [(e.path, e.change) for e in live.entries] == [("d.csv", "added")]
    with pytest.raises(NoSuchVersion):
        svc.diff("data", "0" * 32 + ".dir", b)


def test_restore_refuses_to_lose_local_changes_unless_forced(repo):
    svc = service(repo)
    v1 = svc.snapshot(["data"], message="v1").paths[0].md5
    write(repo / "data" / "a.csv", "x\n2\n", OLD + 1)
    v2 = svc.snapshot(["data"], message="v2").paths[0].md5

    # Back to v1: everything on disk is in a snapshot, so nothing is lost.
    result = svc.restore("data", v1)
    assert result.paths[0].restored
    assert (repo / "data" / "a.csv").read_text() == "x\n1\n"
    assert f"md5: {v1}" in (repo / "data.dvc").read_text()
    assert "M  data.dvc" in git(repo, "status", "--porcelain") or "A  data.dvc" in git(
        repo, "status", "--porcelain"
    )
    status = run([sys.executable, "-m", "dvc", "status"], repo)
    assert "up to date" in status

    # Unsaved edits would be lost: refused, with the way out in the message.
    (repo / "data" / "a.csv").chmod(0o644)
    write(repo / "data" / "a.csv", "x\nunsaved\n", OLD + 2)
    with pytest.raises(LocalChanges, match=r"a\.csv.*force"):
        svc.restore("data", v2)
    with pytest.raises(LocalChanges):
        svc.check_restore("data", v2)
    assert (repo / "data" / "a.csv").read_text() == "x\nunsaved\n"
    forced = svc.restore("data", v2, force=True)
    assert forced.paths[0].restored
    assert (repo / "data" / "a.csv").read_text() == "x\n2\n"
    again = svc.restore("data", v2)
    assert not again.paths[0].restored
    journal = (repo / ".mlops" / "data" / "journal.jsonl").read_text()
    assert journal.count('"event": "restore"') == 2


def test_restore_of_an_unknown_version_or_untracked_path(plain):
    svc = service(plain)
    svc.snapshot(["data"])
    with pytest.raises(NoSuchVersion, match="not in the local DVC cache"):
        svc.restore("data", "f" * 32 + ".dir")
    with pytest.raises(NoSuchVersion, match="not a version"):
        svc.restore("data", "f" * 32)
    write(plain / "other.csv", "o\n")
    with pytest.raises(NotTracked):
        svc.restore("other.csv", "f" * 32)


# -- bad input ----------------------------------------------------------------------------------
def test_paths_outside_the_project_are_refused(plain, tmp_path):
    svc = service(plain)
    outside = write(tmp_path / "secret.csv", "secret\n")
    for raw in ("../secret.csv", str(outside), "data/../../secret.csv"):
        with pytest.raises(OutsideProject):
            svc.snapshot([raw])
    (plain / "link.csv").symlink_to(outside)
    with pytest.raises(OutsideProject, match="symbolic link"):
        svc.snapshot(["link.csv"])
    (plain / "linked").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(OutsideProject, match="symbolic link"):
        svc.snapshot(["linked/secret.csv"])
    (plain / "data" / "escape.csv").symlink_to(outside)
    with pytest.raises(OutsideProject):
        svc.snapshot(["data"])
    for raw in (".", "", ".mlops/x", ".git", "data.dvc"):
        with pytest.raises((BadData, OutsideProject)):
            svc.snapshot([raw])
    assert not (plain / "data.dvc").exists()


def test_missing_path_is_refused_before_anything_is_written(plain):
    svc = service(plain)
    with pytest.raises(NoSuchData, match=r"nope\.csv does not exist"):
        svc.snapshot(["data", "nope.csv"])
    assert not (plain / ".dvc").exists()  # not even initialised
    assert not (plain / "data.dvc").exists()


def test_a_path_git_tracks_is_refused_with_the_way_out(repo):
    git(repo, "add", "data")
    git(repo, "commit", "--quiet", "-m", "data in git")
    svc = service(repo)
    with pytest.raises(GitTracked, match=r"git rm -r --cached data"):
        svc.snapshot(["data"])
    git(repo, "rm", "-r", "--cached", "--quiet", "data")
    assert svc.snapshot(["data"]).paths[0].changed


def test_overlapping_outputs_are_refused(plain):
    svc = service(plain)
    svc.snapshot(["data"])
    with pytest.raises(Overlap, match="inside data"):
        svc.snapshot(["data/a.csv"])
    write(plain / "outer" / "inner.csv", "i\n")
    svc.snapshot(["outer/inner.csv"])
    with pytest.raises(Overlap, match=r"inner\.csv\.dvc"):
        svc.snapshot(["outer"])


def test_two_snapshots_at_once_one_waits_and_nothing_breaks(plain):
    svc = service(plain)
    for i in range(40):
        write(plain / "data" / f"f{i}.bin", f"{i}\n" * 20000, OLD + i)
    results: list = []
    errors: list = []

    def snap(message: str) -> None:
        try:
            results.append(svc.snapshot(["data"], message=message))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=snap, args=(f"s{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert sorted(r.paths[0].changed for r in results) == [False, True]
    assert len({r.paths[0].md5 for r in results}) == 1
    out = run([sys.executable, "-m", "dvc", "status"], plain)
    assert "up to date" in out


def test_a_held_lock_fails_clearly_after_the_timeout(plain):
    svc = service(plain, lock_timeout=0.3)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from jupyter_mlops.data.journal import project_lock\n"
            "with project_lock(Path(sys.argv[1]), 'snapshot', 5):\n"
            "    print('held', flush=True)\n"
            "    time.sleep(30)\n",
            str(plain / ".mlops"),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(SnapshotBusy, match=f"process {holder.pid}"):
            svc.snapshot(["data"])
    finally:
        holder.kill()
        holder.wait()
    assert svc.snapshot(["data"]).paths[0].changed  # the lock died with its holder


def test_cancelled_snapshot_leaves_the_previous_version_and_no_lock(plain):
    svc = service(plain)
    first = svc.snapshot(["data"]).paths[0].md5
    with (plain / "data" / "big.bin").open("wb") as handle:
        handle.truncate(3 << 30)  # sparse: read as zeros, takes seconds to hash
    progress = Progress()
    errors: list[BaseException] = []
    thread = threading.Thread(
        target=lambda: _catch(errors, lambda: svc.snapshot(["data"], progress=progress))
    )
    thread.start()
    deadline = time.monotonic() + 60
    while progress.state().phase != "hashing" or progress.state().done < (64 << 20):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    progress.cancel()
    thread.join(60)
    assert len(errors) == 1
    assert isinstance(errors[0], Cancelled)
    assert f"md5: {first}" in (plain / "data.dvc").read_text()
    assert "up to date" not in run([sys.executable, "-m", "dvc", "status"], plain)
    with project_lock(plain / ".mlops", "check", 1):
        pass  # released
    (plain / "data" / "big.bin").unlink()
    assert "up to date" in run([sys.executable, "-m", "dvc", "status"], plain)
    assert not svc.snapshot(["data"]).paths[0].changed


def _catch(errors: list[BaseException], fn) -> None:
    try:
        fn()
    except BaseException as exc:
        errors.append(exc)


# -- runs ----------------------------------------------------------------------------------------
def test_runs_that_read_a_version_are_listed_and_restorable(plain, mlflow_server):
    """The tags %%track's lineage capture records link runs to versions."""
    from mlflow import MlflowClient

    from jupyter_mlops.tracking.capture import capture_lineage

    svc = service(plain, mlflow_server.uri)
    # Data of its own: runs of other tests on the shared server read other versions.
    write(plain / "data" / "id.txt", f"{time.time_ns()}\n")
    v1 = svc.snapshot(["data"], message="v1").paths[0].md5
    state = str(plain / ".mlops")
    client = MlflowClient(mlflow_server.uri)
    experiment = client.create_experiment(f"data-links-{time.time_ns()}")

    def tracked_run(name: str, cwd: Path, paths: list[str]) -> str:
        lineage = capture_lineage(str(cwd), paths, str(plain), state)
        run = client.create_run(experiment, run_name=name, tags=lineage.tags)
        client.set_terminated(run.info.run_id)
        return run.info.run_id

    first = tracked_run("first", plain, ["data"])
    inner = tracked_run("reads a file inside", plain / "data", ["a.csv"])
    write(plain / "data" / "a.csv", "x\n5\n", OLD + 3)
    unsaved = tracked_run("unsaved", plain, ["data"])
    v2 = svc.snapshot(["data"], message="v2").paths[0].md5

    history = svc.history("data")
    runs = {v.md5: sorted(r.run_name for r in v.runs) for v in history.versions}
    assert runs == {v2: ["unsaved"], v1: ["first", "reads a file inside"]}
    assert history.runs_error is None
    tags = client.get_run(unsaved).data.tags
    assert json.loads(tags["jupyter_mlops.data"])["data"]["kind"] == "dvc-unsaved"

    data = svc.run_data(first)
    assert [(p.path, p.md5, p.restorable, p.current) for p in data.paths] == [
        ("data", v1, True, False)
    ]
    assert svc.run_data(inner).paths[0].md5 == v1
    svc.restore_run(first)
    assert (plain / "data" / "a.csv").read_text() == "x\n1\n"
    assert svc.run_data(first).paths[0].current


def test_history_says_when_the_tracking_store_is_down(plain, down_server_url):
    svc = service(plain, down_server_url)
    svc.snapshot(["data"])
    history = svc.history("data")
    assert len(history.versions) == 1
    assert history.runs_error
