"""Nothing read or written outside the server's root, through the real routes (``jp_fetch``):
symbolic links in a folder the export copies, the default job folder behind a link, names
no file system holds in every path field (jobs, data, artifacts), each answered with a 4xx
that names the field and no absolute server path."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mlops import mlflow_store
from jupyter_mlops import settings as settings_mod

pytestmark = pytest.mark.slow

TOKEN = "OUTSIDE-THE-ROOT-7f3a"
SHADOW = Path("/etc/shadow")


def no_server_path(message: str, *places: Path) -> None:
    """The message names no absolute path of this machine."""
    for place in places:
        assert str(place) not in message, message
        assert str(place.resolve()) not in message, message
    assert not re.search(r"(^|[\s'\"(])/(tmp|etc|root|home|usr|var|work)\b", message), message


def files_under(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (links not followed) with its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def outside_state(tmp_path: Path) -> dict[str, bytes]:
    """What lies in the folders outside the root that the project's links lead to (to see
    that nothing was written there)."""
    return {
        f"{name}/{k}": v
        for name in ("outside", "away")
        if (tmp_path / name).is_dir()
        for k, v in files_under(tmp_path / name).items()
    }


def write_notebook(path: Path, code: str) -> None:
    notebook = new_notebook(
        cells=[new_code_cell("epochs = 2", metadata={"tags": ["parameters"]}), new_code_cell(code)],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


@pytest.fixture
def jp_root_dir(git_dvc_repo: Path, tmp_path: Path) -> Path:
    """The issue's project: ``incl/shadow -> /etc/shadow`` beside ``train.ipynb``, a folder
    link and a file link leading out of the root, a file link staying inside."""
    root = git_dvc_repo
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "secret.txt").write_text(TOKEN + "\n")
    (outside / "dir" / "keys.txt").write_text(TOKEN + "\n")
    write_notebook(root / "train.ipynb", "import os\nprint(sorted(os.listdir('incl')))")
    (root / "data").mkdir()
    (root / "data" / "a.csv").write_text("x\n1\n")
    incl = root / "incl"
    incl.mkdir()
    (incl / "ok.txt").write_text("ok\n")
    (incl / "shadow").symlink_to(SHADOW)
    (incl / "token").symlink_to(outside / "secret.txt")
    (incl / "elsewhere").symlink_to(outside / "dir", target_is_directory=True)
    (incl / "alias.csv").symlink_to("../data/a.csv")
    return root


async def post(fetch_json: Any, route: str, body: dict[str, Any]) -> tuple[int, Any]:
    return await fetch_json(
        *route.split("/"), method="POST", body=json.dumps(body), request_timeout=180
    )


# -- 1. links in a folder the export copies ---------------------------------------------------
@pytest.mark.parametrize(
    "include",
    [["incl"], []],  # named in the request, or only in the notebook's code
    ids=["included", "named-in-code"],
)
async def test_export_copies_no_link_leading_out_of_the_root(
    fetch_json: Any, jp_root_dir: Path, tmp_path: Path, include: list[str]
) -> None:
    root = jp_root_dir
    before = outside_state(tmp_path)
    status, job = await post(
        fetch_json,
        "jobs/export",
        {"notebook": "train.ipynb", "include": include, "out": "pipelines/inclsym"},
    )
    assert status == 200, job
    folder = root / "pipelines" / "inclsym"
    copied = files_under(folder)
    assert "incl/ok.txt" in copied
    assert copied["incl/alias.csv"] == b"x\n1\n"  # a link inside the root travels
    for name in ("incl/shadow", "incl/token", "incl/elsewhere"):
        assert not (folder / name).exists(), name
        assert any(w.startswith(f"{name} is a symbolic link") for w in job["warnings"]), job
    assert not any(p.startswith("incl/elsewhere/") for p in copied)
    secrets = [TOKEN.encode()]
    if SHADOW.is_file():
        secrets.append(SHADOW.read_bytes().strip())
    for content in copied.values():
        assert not any(s and s in content for s in secrets)
    for warning in job["warnings"]:
        no_server_path(warning, root, tmp_path)
    assert outside_state(tmp_path) == before


async def test_an_included_link_leading_out_is_refused_naming_the_field(
    fetch_json: Any, jp_root_dir: Path, tmp_path: Path
) -> None:
    for include in (["incl/ok.txt", "incl/token"], ["incl/ok.txt", "incl/elsewhere"]):
        status, error = await post(
            fetch_json, "jobs/export", {"notebook": "train.ipynb", "include": include}
        )
        assert status == 403, error
        assert error["message"].startswith("Field 'include.1':"), error
        no_server_path(error["message"], jp_root_dir, tmp_path)
    assert not (jp_root_dir / "pipelines").exists()


async def test_the_default_job_folder_behind_a_link_is_refused(
    fetch_json: Any, jp_root_dir: Path, tmp_path: Path
) -> None:
    """``pipelines`` next to the notebook leading out of the root: nothing is written there."""
    away = tmp_path / "away"
    away.mkdir()
    (jp_root_dir / "pipelines").symlink_to(away, target_is_directory=True)
    status, error = await post(fetch_json, "jobs/export", {"notebook": "train.ipynb"})
    assert status == 403, error
    assert error["message"].startswith("Field 'out':"), error
    assert "symbolic link" in error["message"]
    no_server_path(error["message"], jp_root_dir, tmp_path)
    assert list(away.iterdir()) == []


# -- 2. names no file system holds, in every path field ---------------------------------------
LONG = "n" * 256  # one part over the 255 bytes of a file name
#: Names that fit (252 bytes each) in a path of 1,023 characters (what query parameters
#: accept) and 4,047 bytes, which the root's or the artifact store's folder makes too long.
WIDE = "/".join(["\U0001f600" * 63] * 16)


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("jobs/export", {"notebook": f"{LONG}.ipynb"}, "notebook"),
        ("jobs/export", {"notebook": "train.ipynb", "out": f"pipelines/{LONG}"}, "out"),
        (
            "jobs/export",
            {"notebook": "train.ipynb", "requirements": f"{LONG}.txt"},
            "requirements",
        ),
        ("jobs/export", {"notebook": "train.ipynb", "include": ["incl", LONG]}, "include.1"),
        ("jobs/runs", {"job": f"pipelines/{LONG}"}, "job"),
        ("jobs/build", {"job": f"pipelines/{LONG}"}, "job"),
        ("data/restore", {"path": f"data/{LONG}", "version": "0" * 32}, "path"),
        ("data/snapshots", {"paths": ["data/a.csv", f"data/{LONG}"]}, "paths.1"),
        ("jobs/export", {"notebook": "train\n.ipynb"}, "notebook"),
        ("jobs/export", {"notebook": "train.ipynb", "out": "pipelines/a\rb"}, "out"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 20 else None,
)
async def test_path_fields_refuse_names_no_file_system_holds(
    fetch_json: Any, jp_root_dir: Path, tmp_path: Path, route: str, body: dict, field: str
) -> None:
    before = outside_state(tmp_path)
    status, error = await post(fetch_json, route, body)
    assert status == 400, error
    assert error["message"].startswith(f"Field '{field}':"), error
    no_server_path(error["message"], jp_root_dir, tmp_path)
    assert outside_state(tmp_path) == before
    assert not (jp_root_dir / "pipelines").exists()


@pytest.mark.parametrize("path", [f"data/{LONG}", WIDE, "data/a\nb"])
async def test_data_history_refuses_names_no_file_system_holds(
    fetch_json: Any, jp_root_dir: Path, path: str
) -> None:
    status, error = await fetch_json("data", "history", params={"path": path})
    assert status == 400, error
    assert error["message"].startswith("Field 'path':"), error
    no_server_path(error["message"], jp_root_dir)


async def test_data_paths_through_a_link_leading_out_name_no_server_path(
    fetch_json: Any, jp_root_dir: Path, tmp_path: Path
) -> None:
    status, error = await fetch_json("data", "history", params={"path": "incl/elsewhere/keys.txt"})
    assert (status, error["code"]) == (403, "outside_project"), error
    assert error["message"].startswith("Field 'path':"), error
    no_server_path(error["message"], jp_root_dir, tmp_path)


# -- 3. artifacts ------------------------------------------------------------------------------
@pytest.fixture
def run_with_artifact(jp_root_dir: Path) -> str:
    """A run of the embedded store (created as the server would) with one artifact."""
    from mlflow import MlflowClient

    settings = settings_mod.resolve(jp_root_dir, environ={})
    mlflow_store.client(settings.tracking_uri, settings.artifact_location)
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    location = (jp_root_dir / ".mlops" / "artifacts" / "hardening").as_uri()
    experiment = client.create_experiment("hardening", artifact_location=location)
    run_id = client.create_run(experiment).info.run_id
    source = jp_root_dir / "notes.txt"
    source.write_text("hello\n")
    client.log_artifact(run_id, str(source))
    client.set_terminated(run_id)
    return str(run_id)


@pytest.mark.parametrize(
    "path",
    [
        LONG,  # one name over 255 bytes
        WIDE,  # names that fit, a path the store's folder makes too long
        "notes\n.txt",
    ],
    ids=["long-name", "long-in-store", "newline"],
)
async def test_artifact_paths_no_file_system_holds_are_refused(
    fetch_json: Any, jp_root_dir: Path, run_with_artifact: str, path: str
) -> None:
    code, listed = await fetch_json("runs", run_with_artifact, "artifacts")
    assert code == 200, listed
    assert [e["path"] for e in listed["entries"]] == ["notes.txt"], listed
    for route in ("artifacts", "artifact"):
        status, error = await fetch_json("runs", run_with_artifact, route, params={"path": path})
        no_server_path(error["message"], jp_root_dir)
        if path == WIDE and route == "artifact":  # its folder is looked up first: not there
            assert (status, error["code"]) == (404, "no_such_artifact"), error
            continue
        assert (status, error["code"]) == (400, "invalid_path"), (route, error)
        assert error["message"].startswith("Field 'path':"), error
