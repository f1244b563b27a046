"""The one path-confinement function (``paths.inside_root``) and the export's walk that
uses it: names a file system cannot hold, control characters, paths and symbolic links
leading out of the root, and messages that name the field but no server path."""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

import pytest

from jupyter_mlops import paths
from jupyter_mlops.errors import Forbidden, InvalidInput, MlopsError, NotFound
from jupyter_mlops.export import files


def no_server_path(message: str, *places: Path) -> None:
    """The message names no absolute path of this machine."""
    for place in places:
        assert str(place) not in message, message
        assert str(place.resolve()) not in message, message
    assert not re.search(r"(^|[\s'\"(])/(tmp|etc|root|home|usr|var|work)\b", message), message


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A project with a file, a folder, links inside it and links leading out of it."""
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "secret.txt").write_text("OUTSIDE-TOKEN\n")
    (outside / "dir" / "x.txt").write_text("OUTSIDE-TOKEN\n")
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    (root / "data" / "a.csv").write_text("a\n")
    (root / ".env").write_text("KEY=1\n")
    (root / "incl").mkdir()
    (root / "incl" / "ok.txt").write_text("ok\n")
    (root / "incl" / "shadow").symlink_to(outside / "secret.txt")
    (root / "incl" / "etc").symlink_to(outside / "dir", target_is_directory=True)
    (root / "incl" / "alias.csv").symlink_to("../data/a.csv")
    (root / "incl" / "data").symlink_to("../data", target_is_directory=True)
    (root / "incl" / "env").symlink_to("../.env")
    (root / "incl" / "loop").symlink_to("loop")
    (root / "away").symlink_to(outside, target_is_directory=True)
    return root


LONG_PART = "a" * 256
NON_ASCII_PART = "é" * 128  # 128 characters, 256 bytes of UTF-8


@pytest.mark.parametrize(
    ("given", "says"),
    [
        (LONG_PART, "name of 256 bytes"),
        (f"data/{NON_ASCII_PART}.csv", "name of 260 bytes"),
        ("/".join(["b" * 200] * 21), "at most 4096"),
        ("data/a\nb.csv", "control character"),
        ("data/a\x00b.csv", "control character"),
        ("data/a\x1b[31m.csv", "control character"),
        ("", "is empty"),
        ("   ", "is empty"),
        ("data/\udcff.csv", "not valid UTF-8"),
    ],
)
def test_names_no_file_system_holds_are_refused_naming_the_field(
    root: Path, given: str, says: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        paths.inside_root(root, given, "notebook", field="notebook")
    error = caught.value
    assert (error.status, error.code) == (400, "invalid_path")
    assert error.message.startswith("Field 'notebook': the notebook"), error.message
    assert says in error.message
    assert "\n" not in error.message
    assert "\x00" not in error.message
    assert len(error.message) < 300
    no_server_path(error.message, root)


def test_a_path_the_root_makes_too_long_is_refused(root: Path) -> None:
    """Under 4096 bytes as given, over once joined to the root: refused, not an OSError."""
    given = "/".join(["c" * 254] * 16)
    assert len(given.encode()) < paths.PATH_MAX_BYTES
    with pytest.raises(InvalidInput, match="Field 'out': the job folder is longer than"):
        paths.inside_root(root, given, "job folder", must_exist=False, field="out")


@pytest.mark.parametrize(
    ("given", "how"),
    [
        ("../outside/secret.txt", "leads outside the project."),
        ("data/../../outside/secret.txt", "leads outside the project."),
        ("incl/shadow", "leads outside the project through a symbolic link."),
        ("incl/etc/x.txt", "leads outside the project through a symbolic link."),
        ("away/dir/x.txt", "leads outside the project through a symbolic link."),
        ("away/new-file", "leads outside the project through a symbolic link."),
        ("/etc/passwd", "must be relative to the project folder"),
    ],
)
def test_paths_leading_out_of_the_root_are_forbidden(root: Path, given: str, how: str) -> None:
    with pytest.raises(Forbidden) as caught:
        paths.inside_root(root, given, "included path", must_exist=False, field="include.0")
    assert caught.value.message.startswith("Field 'include.0': the included path")
    assert caught.value.message.endswith(how) or how in caught.value.message
    no_server_path(caught.value.message, root)


def test_paths_inside_the_root_resolve_through_links(root: Path) -> None:
    real = root.resolve()
    assert paths.inside_root(root, "incl/alias.csv") == real / "data" / "a.csv"
    assert paths.inside_root(root, "incl/data/a.csv") == real / "data" / "a.csv"
    assert paths.inside_root(root, "data/../incl/ok.txt") == real / "incl" / "ok.txt"
    assert paths.inside_root(root, "new/file", must_exist=False) == real / "new" / "file"
    with pytest.raises(NotFound, match="Field 'job': the job folder 'nope' does not exist"):
        paths.inside_root(root, "nope", "job folder", field="job")
    # A link loop names nothing, and says so rather than failing.
    with pytest.raises(MlopsError):
        paths.inside_root(root, "incl/loop")


def test_the_last_part_can_be_left_for_the_caller(root: Path) -> None:
    """``resolve_last=False`` (data: DVC's links into its cache) keeps the link itself but
    still resolves every folder above it; ``base`` accepts an absolute path inside."""
    link = paths.inside_root(root, "incl/shadow", must_exist=False, resolve_last=False)
    assert link == root.resolve() / "incl" / "shadow"
    assert link.is_symlink()
    with pytest.raises(Forbidden, match="through a symbolic link"):
        paths.inside_root(root, "away/secret.txt", resolve_last=False)
    for given in (".", "data/..", ""):
        with pytest.raises(InvalidInput):
            paths.inside_root(root, given, must_exist=False, resolve_last=False)
    absolute = str(root / "data" / "a.csv")
    assert paths.inside_root(root, absolute, base=root / "data") == root.resolve() / "data/a.csv"
    assert paths.inside_root(root, "a.csv", base=root / "data") == root.resolve() / "data/a.csv"
    with pytest.raises(Forbidden):
        paths.inside_root(root, "/etc/passwd", base=root)


def test_checked_name_quotes_little_and_escapes_control_characters() -> None:
    with pytest.raises(InvalidInput) as caught:
        paths.checked_name("x\n" + "y" * 500, "artifact path", "path")
    message = caught.value.message
    assert message.startswith("Field 'path': the artifact path 'x\\ny")
    assert "\n" not in message
    assert len(message) < 200
    assert paths.checked_name("figures/loss.png") == PurePosixPath("figures/loss.png")


# -- the export's walk --------------------------------------------------------------------
def walked(root: Path, start: str) -> dict[str, str | None]:
    return {p.as_posix(): reason for p, reason in files.walk(root, PurePosixPath(start))}


def test_walk_skips_links_leading_out_at_every_level(root: Path) -> None:
    found = walked(root, "incl")
    assert found["incl/shadow"] == "outside"  # a file link leading out
    assert found["incl/etc"] == "outside"  # a folder link leading out: not entered
    assert not any(p.startswith("incl/etc/") for p in found)
    assert found["incl/ok.txt"] is None
    assert found["incl/alias.csv"] is None  # a link inside the root is followed
    assert found["incl/data/a.csv"] is None  # so is a folder link inside it
    assert found["incl/env"] == "secret"  # judged by its target's name too
    assert "incl/loop" not in found  # names nothing
    # The start itself, and a link above it, are checked as well.
    assert walked(root, "incl/shadow") == {"incl/shadow": "outside"}
    assert walked(root, "away") == {"away": "outside"}
    assert walked(root, "away/dir") == {"away/dir": "outside"}


def test_walk_skips_names_with_control_characters(root: Path) -> None:
    (root / "incl" / "bad\nname.txt").write_text("x\n")
    assert walked(root, "incl")["incl/bad\nname.txt"] == "invalid"


def test_walk_follows_a_folder_link_once(root: Path) -> None:
    (root / "data" / "again").symlink_to(".", target_is_directory=True)
    found = walked(root, "data")
    assert found == {"data/a.csv": None}
    assert os.path.islink(root / "data" / "again")
