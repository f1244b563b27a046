"""``POST jobs/export/validate``: one check of an export request that finds every problem
at once, each with its field, and writes nothing; ``POST jobs/export`` refuses with the
same problems."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

PARAMETERS = "epochs = 2  # passes\nlabel = 'x'\n"


@pytest.fixture
def jp_root_dir(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "notebooks").mkdir(parents=True)
    notebook = new_notebook(
        cells=[
            new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
            new_code_cell("print(epochs, label)"),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    nbformat.write(notebook, root / "notebooks" / "train.ipynb")
    bad = new_notebook(
        cells=[
            new_code_cell(
                "epochs: int = 'two'\nlr = compute()\n", metadata={"tags": ["parameters"]}
            )
        ]
    )
    nbformat.write(bad, root / "notebooks" / "bad.ipynb")
    (tmp_path / "outside.ipynb").write_text(nbformat.writes(notebook))
    return root


def tree(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


async def validate(fetch_json: Any, body: Any) -> tuple[int, Any]:
    return await fetch_json("jobs", "export", "validate", method="POST", body=json.dumps(body))


async def test_a_clean_request_has_no_problem_and_nothing_is_written(
    fetch_json: Any, jp_root_dir: Path
) -> None:
    before = tree(jp_root_dir)
    body = {
        "notebook": "notebooks/train.ipynb",
        "name": "train",
        "targets": ["docker", "kubernetes"],
        "deployment": {"schedule": "@daily", "cpu": "500m", "secrets": ["mlflow-creds"]},
    }
    status, answer = await validate(fetch_json, body)
    assert (status, answer) == (200, {"problems": []})
    assert tree(jp_root_dir) == before


async def test_every_problem_at_once_each_with_its_field(
    fetch_json: Any, jp_root_dir: Path
) -> None:
    before = tree(jp_root_dir)
    body = {
        "notebook": "notebooks/bad.ipynb",
        "name": "Bad_Name",
        "targets": ["docker", "nomad"],
        "deployment": {"schedule": "61 * * * *", "memory": "lots", "secrets": ["a=b"]},
    }
    status, answer = await validate(fetch_json, body)
    assert status == 200, answer
    fields = [p["field"] for p in answer["problems"]]
    assert sorted(set(fields)) == sorted(
        {
            "name",
            "deployment.schedule",
            "deployment.memory",
            "deployment.secrets",
            "notebook",
            "targets.1",
        }
    ), answer
    by_field: dict[str, list[str]] = {}
    for problem in answer["problems"]:
        by_field.setdefault(problem["field"], []).append(problem["message"])
    assert "invalid job name" in by_field["name"][0].lower()
    assert "61" in by_field["deployment.schedule"][0]
    assert "Unknown export target 'nomad'" in by_field["targets.1"][0]
    # Each mistake of the parameters cell, as a sentence, none prefixed with "Field '...'".
    assert len(by_field["notebook"]) == 2
    assert any("'two'" in m for m in by_field["notebook"])
    assert any("compute()" in m for m in by_field["notebook"])
    for problem in answer["problems"]:
        assert not problem["message"].startswith("Field "), problem
        assert not problem["message"][0].islower(), problem
        assert problem["message"].endswith("."), problem
    assert tree(jp_root_dir) == before

    # The export route refuses with the same problems, the same way, and writes nothing.
    status, error = await fetch_json("jobs", "export", method="POST", body=json.dumps(body))
    assert status == 400, error
    assert error["code"] == "invalid_export"
    assert error["fields"] == answer["problems"]
    assert tree(jp_root_dir) == before


async def test_a_missing_notebook_and_a_taken_folder(fetch_json: Any, jp_root_dir: Path) -> None:
    (jp_root_dir / "notebooks" / "pipelines" / "mine").mkdir(parents=True)
    (jp_root_dir / "notebooks" / "pipelines" / "mine" / "notes.txt").write_text("mine")
    status, answer = await validate(
        fetch_json, {"notebook": "notebooks/train.ipynb", "name": "mine"}
    )
    assert status == 200, answer
    [problem] = answer["problems"]
    assert problem["field"] == "name"
    assert "choose another job name" in problem["message"]
    assert "--out" not in problem["message"]
    # The export route: the one problem keeps its own status (409), now with its field.
    status, error = await fetch_json(
        "jobs",
        "export",
        method="POST",
        body=json.dumps({"notebook": "notebooks/train.ipynb", "name": "mine"}),
    )
    assert status == 409, error
    assert error["fields"] == answer["problems"]
    assert (jp_root_dir / "notebooks" / "pipelines" / "mine" / "notes.txt").read_text() == "mine"

    status, answer = await validate(fetch_json, {"notebook": "notebooks/gone.ipynb"})
    assert status == 200, answer
    assert [p["field"] for p in answer["problems"]] == ["notebook"]
    assert "does not exist" in answer["problems"][0]["message"]
    assert str(jp_root_dir) not in json.dumps(answer)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"notebook": "../outside.ipynb"}, "notebook"),
        ({"notebook": "/etc/passwd"}, "notebook"),
        ({"notebook": "notebooks/train.ipynb", "out": "../elsewhere"}, "out"),
        ({"notebook": "notebooks/train.ipynb", "requirements": "../x.txt"}, "requirements"),
    ],
)
async def test_paths_outside_the_root_are_refused(
    fetch_json: Any, jp_root_dir: Path, tmp_path: Path, body: dict[str, Any], field: str
) -> None:
    before = tree(tmp_path)
    status, error = await validate(fetch_json, body)
    assert status == 403, error
    assert error["message"].startswith(f"Field '{field}':"), error
    assert str(tmp_path) not in error["message"]
    assert tree(tmp_path) == before


@pytest.mark.parametrize("body", ["[1, 2]", "not json", '"text"'])
async def test_a_body_that_is_not_an_object_is_a_400(fetch_json: Any, body: str) -> None:
    status, error = await fetch_json("jobs", "export", "validate", method="POST", body=body)
    assert status == 400, error
    assert error["code"] == "invalid_body"
    assert "fields" not in error


async def test_the_route_is_in_the_openapi_document(fetch_json: Any) -> None:
    status, document = await fetch_json("openapi.json")
    assert status == 200
    operation = document["paths"]["/jupyter-mlops/jobs/export/validate"]["post"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/ExportCheck")


async def test_warnings_carry_a_code_for_the_dialog(fetch_json: Any, jp_root_dir: Path) -> None:
    """A warning that names a CLI option (--image, --output) keeps its CLI wording and says
    which warning it is and which field it is about, also when the job is listed again."""
    body = {
        "notebook": "notebooks/train.ipynb",
        "targets": ["kubernetes"],
        "deployment": {"output": "/out/run.ipynb", "schedule": "@daily"},
    }
    status, job = await fetch_json(
        "jobs", "export", method="POST", body=json.dumps(body), request_timeout=180
    )
    assert status == 200, job
    details = {d["code"]: d for d in job["warning_details"]}
    assert [d["message"] for d in job["warning_details"]] == job["warnings"]
    image = details["image_guessed"]
    assert image["field"] == "deployment.image"
    assert image["values"] == {"image": "train:latest"}
    assert "--image" in image["message"]
    assert details["output_in_container"]["field"] == "deployment.output"
    assert details["output_overwritten"]["values"]["output"] == "/out/run.ipynb"
    status, listed = await fetch_json("jobs")
    assert status == 200
    [again] = listed["jobs"]
    assert again["warning_details"] == job["warning_details"]
