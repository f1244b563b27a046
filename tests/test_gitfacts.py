"""The one git helper: facts about a real work tree in a temporary folder."""

from __future__ import annotations

import subprocess
from pathlib import Path

from jupyter_mlops import gitfacts


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def make_repo(path: Path) -> Path:
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "t@example.org")
    git(path, "config", "user.name", "T")
    return path


def test_outside_a_work_tree_there_are_no_facts(tmp_path: Path) -> None:
    assert gitfacts.state(tmp_path) is None
    assert gitfacts.toplevel(tmp_path) is None
    assert gitfacts.output(tmp_path, "rev-parse", "HEAD") is None


def test_a_repository_before_its_first_commit(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    state = gitfacts.state(repo)
    assert state is not None
    assert state.toplevel.resolve() == repo.resolve()
    assert state.commit is None
    assert state.branch == "main"


def test_commit_branch_remote_and_dirty_state(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "a.txt").write_text("one\n")
    git(repo, "add", "a.txt")
    git(repo, "commit", "-q", "-m", "first")
    git(repo, "remote", "add", "origin", "https://user:secret@example.org/r.git")
    sub = repo / "sub"
    sub.mkdir()

    clean = gitfacts.state(sub)
    assert clean is not None
    assert clean.commit == git(repo, "rev-parse", "HEAD")
    assert clean.dirty is False
    assert clean.remote == "https://user:secret@example.org/r.git"  # scrubbed by callers
    assert gitfacts.diff_head(sub, 1000) == b""

    (repo / "a.txt").write_text("two\n")
    (repo / "untracked.txt").write_text("not counted\n")
    dirty = gitfacts.state(sub)
    assert dirty is not None
    assert dirty.dirty is True
    diff = gitfacts.diff_head(sub, 1000)
    assert b"-one" in diff
    assert b"+two" in diff
    assert len(gitfacts.diff_head(sub, 10)) == 10

    git(repo, "checkout", "-q", "--detach")
    assert (detached := gitfacts.state(repo)) is not None
    assert detached.branch is None
