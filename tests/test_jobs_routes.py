"""The jobs routes (export, list, run, build) of a real Jupyter server with the extension:
notebooks exported inside the server's root, run by real kernels, bad input refused."""

from __future__ import annotations

import asyncio
import json
import logging
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mlops.export import targets as targets_module
from jupyter_mlops.export.targets import ExportContext, ExportTarget

pytestmark = pytest.mark.slow

PARAMETERS = "epochs = 2  # passes\nlabel = 'x'  # a name\nlayers = [1, 2]\n"
WORK = "print('RESULT ' + str(epochs * sum(layers)) + ' ' + label)"


@pytest.fixture
def jp_root_dir(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "notebooks").mkdir(parents=True)
    notebook = new_notebook(
        cells=[
            new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
            new_code_cell(WORK),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    nbformat.write(notebook, root / "notebooks" / "train.ipynb")
    (tmp_path / "outside.ipynb").write_text(nbformat.writes(notebook))
    return root


async def export(fetch_json: Any, **body: Any) -> tuple[int, Any]:
    return await fetch_json(
        "jobs", "export", method="POST", body=json.dumps(body), request_timeout=120
    )


async def test_export_then_list_jobs(fetch_json: Any, jp_root_dir: Path) -> None:
    status, job = await export(
        fetch_json,
        notebook="notebooks/train.ipynb",
        targets=["docker"],
        deployment={"schedule": "0 3 * * *"},
    )
    assert status == 200, job
    assert job["name"] == "train"
    assert job["path"] == "notebooks/pipelines/train"
    assert job["source"] == "notebooks/train.ipynb"
    assert job["targets"] == ["docker"]
    assert job["build"] is None
    props = job["parameters"]["properties"]
    assert props["epochs"]["type"] == "integer"
    assert props["epochs"]["default"] == 2
    assert props["epochs"]["description"] == "passes"
    assert (jp_root_dir / "notebooks" / "pipelines" / "train" / "Dockerfile").is_file()

    status, listed = await fetch_json("jobs")
    assert status == 200
    assert [j["path"] for j in listed["jobs"]] == ["notebooks/pipelines/train"]
    assert listed["jobs"][0]["data"] == []  # no DVC here: nothing pinned


async def test_jobs_show_their_pinned_data(fetch_json: Any, jp_root_dir: Path) -> None:
    """The pins export writes in job.json (tests/test_export_datapins.py makes real ones),
    as the Jobs view shows them; an entry it cannot read is left out, not an error."""
    status, job = await export(fetch_json, notebook="notebooks/train.ipynb")
    assert status == 200, job
    job_file = jp_root_dir / job["path"] / "job.json"
    document = json.loads(job_file.read_text())
    document["data"] = [
        {
            "path": "data/train.csv",
            "entry": {"md5": "0" * 32, "size": 12, "hash": "md5"},
            "remote": "storage",
            "url": "s3://bucket/dvc",
        },
        {"path": "data/images", "entry": {"md5": "1" * 32 + ".dir", "nfiles": 3}, "url": None},
        {"path": "broken", "entry": "not a DVC entry"},
        "not a pin",
    ]
    job_file.write_text(json.dumps(document))
    status, listed = await fetch_json("jobs")
    assert status == 200, listed
    assert listed["jobs"][0]["data"] == [
        {
            "path": "data/train.csv",
            "md5": "0" * 32,
            "size": 12,
            "nfiles": None,
            "remote_url": "s3://bucket/dvc",
        },
        {
            "path": "data/images",
            "md5": "1" * 32 + ".dir",
            "size": None,
            "nfiles": 3,
            "remote_url": None,
        },
    ]


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"notebook": "../outside.ipynb"}, 403, "leads outside the project"),
        ({"notebook": "/etc/passwd"}, 403, "must be relative"),
        ({"notebook": "notebooks/missing.ipynb"}, 404, "does not exist"),
        ({"notebook": "notebooks/train.ipynb", "name": "Bad_Name"}, 400, "invalid job name"),
        ({"notebook": "notebooks/train.ipynb", "targets": ["nomad"]}, 400, "unknown export"),
        ({"notebook": "notebooks/train.ipynb", "out": "../elsewhere"}, 403, "outside"),
        (
            {"notebook": "notebooks/train.ipynb", "deployment": {"schedule": "61 * * * *"}},
            400,
            "61",
        ),
        ({"notebook": "notebooks/train.ipynb", "surprise": 1}, 400, "surprise"),
    ],
)
async def test_export_refuses_bad_input(
    fetch_json: Any, jp_root_dir: Path, body: dict[str, Any], status: int, says: str
) -> None:
    code, answer = await export(fetch_json, **body)
    assert code == status, answer
    assert says.lower() in answer["message"].lower()
    assert not (jp_root_dir / "notebooks" / "pipelines").exists()


class NomadTarget(ExportTarget):
    """Nomad job specification (a plugin made by the tests).

    Only the docstring's first line describes it."""

    name = "nomad-test"
    orchestrator = True

    def write(self, context: ExportContext) -> None:
        context.write_text("nomad.hcl", f'job "{context.name}" {{ image = "{context.image}" }}\n')


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plugin target registered through :func:`targets.register`, and a broken plugin: an
    entry point whose module is not installed."""
    targets = targets_module.TARGETS
    monkeypatch.setattr(targets, "registered", dict(targets.registered))
    targets_module.register(NomadTarget)
    installed = targets.entry_points()
    broken = EntryPoint(
        name="broken-test",
        value="jupyter_mlops_no_such_plugin:Target",
        group=targets_module.GROUP,
    )
    monkeypatch.setattr(targets, "entry_points", lambda: {**installed, broken.name: broken})


async def test_targets_lists_the_built_in_ones(fetch_json: Any) -> None:
    status, answer = await fetch_json("jobs", "targets")
    assert status == 200, answer
    listed = {t["name"]: t for t in answer["targets"]}
    assert list(listed) == sorted(listed)
    assert {"docker", "kubernetes", "argo", "kfp", "airflow", "dvc"} <= set(listed)
    orchestrators = {name for name, t in listed.items() if t["orchestrator"]}
    assert orchestrators == {"kubernetes", "argo", "kfp", "airflow"}
    assert all(t["description"] and t["error"] is None for t in listed.values())
    assert "Dockerfile" in listed["docker"]["description"]
    status, answer = await fetch_json("jobs", "targets", params={"surprise": "1"})
    assert status == 400
    assert answer["code"] == "invalid_query"


async def test_targets_lists_plugins_and_survives_a_broken_one(
    fetch_json: Any, jp_root_dir: Path, plugins: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger=targets_module.__name__):
        status, answer = await fetch_json("jobs", "targets")
    assert status == 200, answer
    listed = {t["name"]: t for t in answer["targets"]}
    assert listed["nomad-test"] == {
        "name": "nomad-test",
        "description": "Nomad job specification (a plugin made by the tests).",
        "orchestrator": True,
        "error": None,
    }
    broken = listed["broken-test"]
    assert broken["orchestrator"] is False
    assert "cannot be loaded" in broken["error"]
    assert "jupyter_mlops_no_such_plugin" in broken["error"]
    assert "docker" in listed
    assert listed["docker"]["error"] is None
    assert any("broken-test" in r.getMessage() for r in caplog.records)

    # The listed plugin is the one export uses.
    status, job = await export(
        fetch_json,
        notebook="notebooks/train.ipynb",
        targets=["nomad-test"],
        deployment={"image": "registry.example.com/train:1"},
    )
    assert status == 200, job
    assert job["targets"] == ["nomad-test"]
    written = jp_root_dir / job["path"] / "nomad.hcl"
    assert written.read_text() == 'job "train" { image = "registry.example.com/train:1" }\n'


async def wait_for(fetch_json: Any, execution: str, timeout: float = 180) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        status, state = await fetch_json("jobs", "runs", execution)
        assert status == 200, state
        if state["status"] != "running" or loop.time() > deadline:
            return dict(state)
        await asyncio.sleep(0.5)


async def test_run_a_job_with_typed_parameters(fetch_json: Any, jp_root_dir: Path) -> None:
    status, job = await export(fetch_json, notebook="notebooks/train.ipynb")
    assert status == 200, job
    body = {"job": job["path"], "parameters": {"epochs": 3, "label": 'it\'s "q"'}}
    status, started = await fetch_json("jobs", "runs", method="POST", body=json.dumps(body))
    assert status == 202, started
    assert started["status"] == "running"
    done = await wait_for(fetch_json, started["execution_id"])
    assert done["status"] == "succeeded", done["log"]
    assert done["exit_code"] == 0
    output = nbformat.read(jp_root_dir / done["output"], as_version=4)
    printed = "".join(o.get("text", "") for c in output.cells for o in c.get("outputs", []))
    assert 'RESULT 9 it\'s "q"' in printed

    status, listed = await fetch_json("jobs", "runs")
    assert [e["execution_id"] for e in listed["executions"]] == [started["execution_id"]]
    # The execution is a task too (kind job-run), followed like any other.
    status, tasks = await fetch_json("tasks", params={"kind": "job-run"})
    assert status == 200, tasks
    [task] = tasks["tasks"]
    assert task["task_id"] == started["execution_id"]
    assert (task["state"], task["error"]) == ("done", None)
    assert (task["request"]["job"], task["request"]["in_container"]) == (job["path"], False)
    # The values the job ran with: those given, the others' defaults.
    assert task["request"]["parameters"] == {"epochs": 3, "label": 'it\'s "q"', "layers": [1, 2]}
    assert task["result"]["output"] == done["output"]
    assert task["result"]["exit_code"] == 0
    assert task["finished"] >= task["started"] > 0
    status, same = await fetch_json("tasks", started["execution_id"])
    assert (status, same) == (200, task)


async def test_run_refuses_bad_parameters_and_unbuilt_images(fetch_json: Any) -> None:
    status, job = await export(fetch_json, notebook="notebooks/train.ipynb")
    assert status == 200, job
    cases = [
        ({"parameters": {"epochs": "many"}}, "invalid_parameters", "'epochs' expects an integer"),
        ({"parameters": {"epoch": 1}}, "invalid_parameters", "unknown parameter 'epoch'"),
        ({"in_container": True}, "not_built", "build it first"),
    ]
    for extra, code, says in cases:
        body = json.dumps({"job": job["path"], **extra})
        status, answer = await fetch_json("jobs", "runs", method="POST", body=body)
        assert status == 400, answer
        assert answer["code"] == code
        assert says in answer["message"]
    status, answer = await fetch_json("jobs", "runs", "0" * 32)
    assert status == 404
    status, answer = await fetch_json("jobs", "runs", "not-an-id")
    assert status == 400


async def test_parameter_errors_are_listed_by_parameter(fetch_json: Any) -> None:
    status, job = await export(fetch_json, notebook="notebooks/train.ipynb")
    assert status == 200, job
    body = json.dumps(
        {"job": job["path"], "parameters": {"epoch": 1, "epochs": "many", "label": 5}}
    )
    status, answer = await fetch_json("jobs", "runs", method="POST", body=body)
    assert status == 400, answer
    assert answer["code"] == "invalid_parameters"
    problems = answer["parameters"]
    assert [p["parameter"] for p in problems] == ["epoch", "epochs", "label"]
    assert problems[0]["message"].startswith("unknown parameter 'epoch' (did you mean 'epochs'?)")
    assert problems[1]["message"] == "parameter 'epochs' expects an integer, got 'many'"
    assert problems[2]["message"] == "parameter 'label' expects a string, got 5"
    # The message still says everything, on one line, for clients that read only it.
    assert answer["message"] == "; ".join(p["message"] for p in problems)

    # Other errors carry no parameter list: their body is {message, code}.
    body = json.dumps({"job": job["path"], "in_container": True})
    status, answer = await fetch_json("jobs", "runs", method="POST", body=body)
    assert (status, answer["code"], set(answer)) == (400, "not_built", {"message", "code"})


async def test_export_lists_the_mistakes_of_the_parameters_cell(
    fetch_json: Any, jp_root_dir: Path
) -> None:
    cell = "epochs: int = 'two'\nlr = compute_it()\nimport os\nx, y = 1, 2\n"
    notebook = new_notebook(cells=[new_code_cell(cell, metadata={"tags": ["parameters"]})])
    nbformat.write(notebook, jp_root_dir / "notebooks" / "bad.ipynb")
    status, answer = await export(fetch_json, notebook="notebooks/bad.ipynb")
    assert status == 400, answer
    assert answer["code"] == "invalid_parameters"
    problems = answer["parameters"]
    assert [p["parameter"] for p in problems] == ["epochs", "lr", None]
    assert "default 'two' is not an integer" in problems[0]["message"]
    assert "compute_it()" in problems[1]["message"]
    assert "unpacks several names" in problems[2]["message"]
    assert answer["message"] == "\n".join(p["message"] for p in problems)


async def test_build_without_an_engine_is_503(
    fetch_json: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, job = await export(fetch_json, notebook="notebooks/train.ipynb")
    assert status == 200, job
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    status, answer = await fetch_json(
        "jobs", "build", method="POST", body=json.dumps({"job": job["path"]})
    )
    assert status == 503
    assert answer["code"] == "no_container_engine"
    status, answer = await fetch_json(
        "jobs", "build", method="POST", body=json.dumps({"job": "../x"})
    )
    assert status == 403
    # Starting a build task checks the same first, and starts no task when refused.
    for body, code in ((job["path"], 503), ("../x", 403), ("nope", 404)):
        status, answer = await fetch_json(
            "jobs", "builds", method="POST", body=json.dumps({"job": body})
        )
        assert status == code, answer
    assert (await fetch_json("tasks", params={"kind": "build"}))[1] == {"tasks": []}
