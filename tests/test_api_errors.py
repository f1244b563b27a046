"""Error bodies of a real Jupyter server with the extension: request-model mistakes listed
field by field, odd page tokens and filter numbers refused naming their parameter, and no
absolute path of the server's disk in any message."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlops import mlflow_store
from jupyter_mlops import settings as settings_mod
from jupyter_mlops.api.models import ErrorBody
from jupyter_mlops.api.openapi import build_openapi
from jupyter_mlops.errors import reason, without_root
from jupyter_mlops.routes import ROUTES

RUN_ID = "0" * 32


@pytest.fixture
def jp_root_dir(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "notebooks").mkdir(parents=True)
    return root


def _fields(body: dict[str, Any]) -> dict[str, str]:
    ErrorBody.model_validate(body)
    return {f["field"]: f["message"] for f in body.get("fields") or []}


# -- 1. request-model mistakes, field by field ----------------------------------------------
async def test_a_body_with_several_mistakes_lists_each_field(fetch_json):
    body = {
        "notebook": 3,
        "include": ["ok", 7],
        "deployment": {"schedule": "bad cron", "gpu": 99, "colour": "blue"},
        "surprise": 1,
    }
    code, answer = await fetch_json("jobs", "export", method="POST", body=json.dumps(body))
    assert code == 400, answer
    assert answer["code"] == "invalid_body"
    fields = _fields(answer)
    assert set(fields) == {
        "notebook",
        "include.1",
        "deployment.schedule",
        "deployment.gpu",
        "deployment.colour",
        "surprise",
    }
    assert "cron" in fields["deployment.schedule"]
    for text in [answer["message"], *fields.values()]:
        assert "Value error" not in text, text
    for message in fields.values():
        assert not message[0].islower(), message
        assert message.endswith("."), message
    # The message says it all on its own, for clients that do not read "fields".
    for name in fields:
        assert f"'{name}'" in answer["message"]
    assert answer["message"].startswith("Field 'notebook': ")


async def test_a_missing_field_and_a_body_that_is_not_an_object(fetch_json):
    code, answer = await fetch_json("jobs", "export", method="POST", body="{}")
    assert code == 400, answer
    assert _fields(answer) == {"notebook": "Required."}
    assert answer["message"] == "Field 'notebook' is required."

    code, answer = await fetch_json("jobs", "export", method="POST", body="[1]")
    assert code == 400, answer
    assert "fields" not in answer  # about the whole body, no field
    assert answer["message"].startswith("The request body: ")


@pytest.mark.parametrize(
    ("path", "params", "named", "code"),
    [
        (("runs",), {"experiment_id": "x", "max_results": "0"}, {"experiment_id", "max_results"},
         "invalid_query"),
        (("experiments",), {"colour": "blue"}, {"colour"}, "invalid_query"),
        (("runs", "not*an*id"), None, {"run_id"}, "invalid_path"),
        (("jobs", "runs", "nope"), None, {"execution_id"}, "invalid_path"),
    ],
)  # fmt: skip
async def test_query_and_path_mistakes_name_their_parameter(fetch_json, path, params, named, code):
    status, answer = await fetch_json(*path, params=params)
    assert status == 400, answer
    assert answer["code"] == code
    assert set(_fields(answer)) == named


async def test_a_blank_run_name_names_the_field(fetch_json):
    code, answer = await fetch_json(
        "runs", RUN_ID, method="PATCH", body=json.dumps({"name": "   "})
    )
    assert code == 400, answer
    assert _fields(answer) == {"name": "A run name cannot be blank."}


def test_the_openapi_document_declares_the_fields():
    schemas = build_openapi(ROUTES)["components"]["schemas"]
    fields = schemas["ErrorBody"]["properties"]["fields"]
    assert {"$ref": "#/components/schemas/FieldError"} in [
        option.get("items") for option in fields["anyOf"]
    ]
    assert set(schemas["FieldError"]["required"]) == {"field", "message"}


# -- 2. page tokens and filters of the embedded store ---------------------------------------
def _b64(value: str | bytes) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return base64.b64encode(raw).decode()


@pytest.fixture
def experiment(jp_root_dir: Path) -> str:
    """An experiment of the embedded store with three runs."""
    settings = settings_mod.resolve(jp_root_dir, environ={})
    client = mlflow_store.client(settings.tracking_uri, settings.artifact_location)
    experiment_id = client.create_experiment(
        "tokens", artifact_location=(jp_root_dir / ".mlops" / "artifacts").as_uri()
    )
    for i in range(3):
        client.create_run(experiment_id, run_name=f"run-{i}", start_time=1_700_000_000_000 + i)
    return str(experiment_id)


@pytest.mark.parametrize(
    "token",
    [
        _b64("[1]"),
        _b64('"x"'),
        _b64('{"offset":[1]}'),
        _b64('{"offset":1e308}'),
        _b64('{"offset":-3}'),
        _b64('{"offset":99999999999999999999999}'),
        _b64('{"offset":true}'),
        _b64(b"\xff\xfe"),
        "éé",
        "@@@garbage@@@",
        "YQ",  # base64 without its padding
    ],
)
async def test_a_page_token_this_server_did_not_give_is_a_400(fetch_json, experiment, token):
    code, answer = await fetch_json(
        "runs", params={"experiment_id": experiment, "page_token": token}
    )
    assert code == 400, answer
    assert answer["code"] == "invalid_page_token"
    assert list(_fields(answer)) == ["page_token"]
    assert "'page_token'" in answer["message"]


async def test_the_tokens_the_server_gives_still_page(fetch_json, experiment):
    params = {"experiment_id": experiment, "max_results": "2"}
    code, first = await fetch_json("runs", params=params)
    assert code == 200, first
    code, second = await fetch_json(
        "runs", params={**params, "page_token": first["next_page_token"]}
    )
    assert code == 200, second
    assert [r["run_name"] for r in first["runs"] + second["runs"]] == ["run-2", "run-1", "run-0"]


@pytest.mark.parametrize(
    "bad",
    [
        "attributes.start_time > 99999999999999999999999999",
        "attributes.end_time < -9223372036854775809",
        "attributes.created >= 9223372036854775808",
    ],
)
async def test_a_number_out_of_range_in_the_filter_is_a_400(fetch_json, experiment, bad):
    code, answer = await fetch_json("runs", params={"experiment_id": experiment, "filter": bad})
    assert code == 400, answer
    assert answer["code"] == "invalid_filter"
    assert list(_fields(answer)) == ["filter"]
    # The largest number SQLite holds is still a number the filter may use.
    largest = "attributes.start_time < 9223372036854775807"
    code, answer = await fetch_json("runs", params={"experiment_id": experiment, "filter": largest})
    assert code == 200, answer
    assert len(answer["runs"]) == 3


# -- 3. no absolute path of the server's disk in a message ----------------------------------
_ABSOLUTE = re.compile(r"(?<![\w.])/(?:tmp|root|home|work|usr|var|private)/")


def _no_server_path(text: str, root: Path) -> None:
    assert str(root) not in text, text
    assert str(root.resolve()) not in text, text
    assert not _ABSOLUTE.search(text), text


async def test_a_notebook_that_is_not_json_is_named_relative_to_the_root(fetch_json, jp_root_dir):
    (jp_root_dir / "notebooks" / "broken.ipynb").write_text("{not json")
    code, answer = await fetch_json(
        "jobs", "export", method="POST", body=json.dumps({"notebook": "notebooks/broken.ipynb"})
    )
    assert code == 400, answer
    assert "notebooks/broken.ipynb" in answer["message"]
    _no_server_path(answer["message"], jp_root_dir)


async def test_a_requirements_file_that_cannot_be_read_says_why_without_its_path(
    fetch_json, jp_root_dir
):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nbformat.write(
        new_notebook(cells=[new_code_cell("x = 1", metadata={"tags": ["parameters"]})]),
        jp_root_dir / "notebooks" / "train.ipynb",
    )
    (jp_root_dir / "requirements.txt").mkdir()  # a folder: reading it is an OSError
    body = {"notebook": "notebooks/train.ipynb", "requirements": "requirements.txt"}
    code, answer = await fetch_json("jobs", "export", method="POST", body=json.dumps(body))
    assert code == 400, answer
    assert "Is a directory" in answer["message"], answer
    _no_server_path(answer["message"], jp_root_dir)


def test_an_os_error_is_told_by_its_reason_alone(tmp_path):
    with pytest.raises(OSError, match="too long") as caught:
        (tmp_path / ("x" * 300)).read_text()
    assert reason(caught.value) == "File name too long"
    assert str(tmp_path) in str(caught.value)  # what the message must not carry


def test_paths_below_the_root_are_told_relative_to_it(tmp_path):
    root = tmp_path / "proj"
    assert without_root(f"cannot read {root}/a/b.csv: x", root) == "cannot read a/b.csv: x"
    assert without_root(f"DVC in {root}, then", root) == "DVC in ., then"
    assert without_root(f"{root}X/y", root) == f"{root}X/y"  # another folder
