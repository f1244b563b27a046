"""The ``dvc`` export target: a DVC stage in the job folder, run for real with the dvc CLI in
a git + DVC repository; and the job entrypoint's ``--metrics`` and ``--params-json``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from conftest import subprocess_env
from nbformat.v4 import new_code_cell, new_notebook, new_output

from jupyter_mlops.cli import main as cli
from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.export import dvcstage, metrics
from jupyter_mlops.export.exporter import export_notebook
from jupyter_mlops.export.job import load_job, values_for
from jupyter_mlops.export.job import main as job_main
from jupyter_mlops.export.parameters import parse_params_file, read_schema

PARAMETERS = """\
from typing import Literal
epochs: int = 3  # passes over the data
lr: float = 1e-05  # learning rate
title = 'it\\'s "quoted"'  # run title
layers = [64, 32]  # hidden layers
run_name: str | None = None  # optional name
shuffle = True
optimizer: Literal["adam", "sgd"] = "adam"
no = "no"  # a name YAML 1.1 reads as a boolean
"""
WORK = """\
from jupyter_mlops.export.metrics import record
from helpers import total
assert isinstance(epochs, int) and not isinstance(epochs, bool), type(epochs)
assert isinstance(lr, float), type(lr)
assert title == 'it\\'s "quoted"', title
assert no == "no" and optimizer == "adam"
rows = open("data/train.csv").read().splitlines()[1:]
record(rows=len(rows), epochs=epochs, lr=lr, layers=total(layers))
record(title_length=len(title), unnamed=int(run_name is None), shuffle=int(shuffle))
"""


def write_notebook(path: Path, cells: list[Any]) -> Path:
    made = [
        new_code_cell(c[0], metadata={"tags": list(c[1])}) if isinstance(c, tuple) else c
        for c in cells
    ]
    made = [new_code_cell(c) if isinstance(c, str) else c for c in made]
    notebook = new_notebook(
        cells=made,
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    nbformat.write(notebook, path)
    return path


def project_in(folder: Path) -> Path:
    """A training notebook with typed parameters, a local module and a data file."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "data" / "train.csv").write_text("a,b\n1,2\n3,4\n")
    (folder / "helpers.py").write_text("def total(values):\n    return sum(values)\n")
    return write_notebook(folder / "train.ipynb", [(PARAMETERS, ["parameters"]), WORK])


def env() -> dict[str, str]:
    """The test environment with this venv's ``python`` first on PATH (the stage's cmd)."""
    bin_dir = str(Path(sys.executable).parent)
    return subprocess_env({"PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")})


def dvc(repo: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=repo,
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"dvc {' '.join(args)} failed:\n{output}"
    return output


def stage_of(job: Path, name: str = "train") -> dict[str, Any]:
    return dict(yaml.safe_load((job / "dvc.yaml").read_text())["stages"][name])


# -- the stage, for real --------------------------------------------------------------------
@pytest.mark.slow
def test_dvc_repro_reruns_the_job_when_data_params_or_code_change_and_only_then(
    git_dvc_repo: Path,
) -> None:
    folder = git_dvc_repo / "notebooks"
    notebook = project_in(folder)
    dvc(git_dvc_repo, "add", "-q", "notebooks/data/train.csv")
    job = export_notebook(notebook, targets=["dvc"])
    assert job == folder / "pipelines" / "train"
    stage_file = job.relative_to(git_dvc_repo) / "dvc.yaml"
    running = f"Running stage '{stage_file.as_posix()}:train'"

    stage = stage_of(job)
    assert stage["cmd"] == (
        "python -m jupyter_mlops.job . --params-file params.yaml "
        "--output output/train.ipynb --metrics metrics.json"
    )
    assert stage["deps"] == [
        "train.ipynb",
        "parameters.schema.json",
        "helpers.py",
        "../../data/train.csv",
    ]
    assert stage["params"] == [{"params.yaml": read_schema(job).names}]
    assert stage["outs"] == ["output/train.ipynb"]
    assert stage["metrics"] == [{"metrics.json": {"cache": False}}]
    # The tracked data is linked, not copied: the job reads its current version.
    assert (job / "data" / "train.csv").is_symlink()
    assert (job / "data" / "train.csv").resolve() == (folder / "data" / "train.csv").resolve()
    assert not (job / "helpers.py").is_symlink()

    first = dvc(git_dvc_repo, "repro", str(stage_file))
    assert running in first
    recorded = json.loads((job / "metrics.json").read_text())
    assert recorded == {
        "rows": 2,
        "epochs": 3,
        "lr": 1e-05,
        "layers": 96,
        "title_length": len('it\'s "quoted"'),
        "unnamed": 1,
        "shuffle": 1,
    }
    output = job / "output" / "train.ipynb"
    produced = output.stat().st_mtime_ns

    second = dvc(git_dvc_repo, "repro", str(stage_file))
    assert running not in second
    assert "Stage 'notebooks/pipelines/train/dvc.yaml:train' didn't change, skipping" in second
    assert output.stat().st_mtime_ns == produced

    # The data the notebook reads changes: the job reruns on the new version.
    (folder / "data" / "train.csv").write_text("a,b\n1,2\n3,4\n5,6\n")
    dvc(git_dvc_repo, "add", "-q", "notebooks/data/train.csv")
    third = dvc(git_dvc_repo, "repro", str(stage_file))
    assert running in third
    assert json.loads((job / "metrics.json").read_text())["rows"] == 3

    # A parameter changes in params.yaml: the job reruns with it, typed.
    params = job / "params.yaml"
    params.write_text(params.read_text().replace("epochs: 3\n", "epochs: 5\n"))
    fourth = dvc(git_dvc_repo, "repro", str(stage_file))
    assert running in fourth
    assert json.loads((job / "metrics.json").read_text())["epochs"] == 5
    assert "Stage 'notebooks/pipelines/train/dvc.yaml:train' didn't change" in dvc(
        git_dvc_repo, "repro", str(stage_file)
    )

    # Re-exporting the same notebook changes nothing DVC looks at (and keeps epochs: 5,
    # dvc.lock and the outputs); editing the code does.
    export_notebook(notebook, targets=["dvc"])
    assert parse_params_file(job / "params.yaml")["epochs"] == 5
    assert (job / "dvc.lock").is_file()
    assert output.is_file()
    assert "up to date" in dvc(git_dvc_repo, "status", str(stage_file))
    write_notebook(notebook, [(PARAMETERS, ["parameters"]), WORK + "record(extra=1)\n"])
    export_notebook(notebook, targets=["dvc"])
    status = dvc(git_dvc_repo, "status", str(stage_file))
    assert "changed deps" in status
    assert "train.ipynb" in status


# -- params.yaml ----------------------------------------------------------------------------
def comment_of(text: str, name: str) -> str:
    prefix = f"# {name} ("
    return next(line for line in text.splitlines() if line.startswith(prefix))


def test_params_file_has_each_type_default_and_help_of_the_schema(git_dvc_repo: Path) -> None:
    job = export_notebook(project_in(git_dvc_repo), targets=["dvc"])
    schema = json.loads((job / "parameters.schema.json").read_text())["properties"]
    text = (job / "params.yaml").read_text()
    values = parse_params_file(job / "params.yaml")
    assert list(values) == list(schema)
    for name, prop in schema.items():
        assert values[name] == prop["default"], name
        assert type(values[name]) is type(prop["default"]), name
        python_type = prop["x-jupyter-mlops"]["python_type"]
        expected = f"# {name} ({python_type})"
        if prop.get("description"):
            expected += f": {prop['description']}"
        assert comment_of(text, name) == expected
    # The job reads the file exactly as DVC does: a float in exponent form, the quoted
    # string and a key YAML 1.1 would take for a boolean all survive.
    assert values["lr"] == 1e-05
    assert isinstance(values["lr"], float)
    assert values["title"] == 'it\'s "quoted"'
    assert values["no"] == "no"
    assert values["run_name"] is None
    assert values["layers"] == [64, 32]
    assert values_for(load_job(job), params_file=job / "params.yaml") == values
    from ruamel.yaml import YAML

    assert YAML(typ="safe").load(text) == values  # DVC's own reader


def test_reexport_keeps_set_values_and_other_stages(git_dvc_repo: Path) -> None:
    notebook = project_in(git_dvc_repo)
    job = export_notebook(notebook, targets=["dvc"])
    params = job / "params.yaml"
    edited = params.read_text().replace("epochs: 3\n", "epochs: 7  # tuned\n")
    params.write_text(edited)
    with (job / "dvc.yaml").open("a") as file:
        file.write("  report:  # the user's own stage\n    cmd: echo report\n")

    job = export_notebook(notebook, targets=["dvc"])
    assert params.read_text() == edited, "a params.yaml that fits the schema is kept as is"
    stages = yaml.safe_load((job / "dvc.yaml").read_text())["stages"]
    assert list(stages) == ["train", "report"]
    assert stages["report"] == {"cmd": "echo report"}
    assert "# the user's own stage" in (job / "dvc.yaml").read_text()

    # A value that no longer fits, a parameter gone: defaults and warnings, the rest kept.
    params.write_text(edited.replace("shuffle: true", "shuffle: sometimes"))
    write_notebook(
        notebook,
        [(PARAMETERS.replace('no = "no"', "yes_please = 1"), ["parameters"]), WORK],
    )
    warnings: list[str] = []
    job = export_notebook(notebook, targets=["dvc"], on_warning=warnings.append)
    values = parse_params_file(params)
    assert values["epochs"] == 7
    assert values["shuffle"] is True
    assert values["yes_please"] == 1
    assert "no" not in values
    assert any("'no' is no longer a parameter" in w for w in warnings), warnings
    assert any("parameter 'shuffle' expects a boolean" in w for w in warnings), warnings
    assert stage_of(job)["params"] == [{"params.yaml": read_schema(job).names}]


def test_user_mistakes_are_one_line_and_write_nothing(
    tmp_path: Path, git_dvc_repo: Path, capsys
) -> None:
    outside = tmp_path / "plain"
    outside.mkdir()
    notebook = project_in(outside)
    assert cli(["export", str(notebook), "--target", "dvc"]) == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert "is not in a DVC repository" in line
    assert "dvc init" in line
    assert not list(outside.glob("pipelines/*")), "a job folder or staging folder was left"

    notebook = project_in(git_dvc_repo)
    elsewhere = tmp_path / "elsewhere" / "job"
    with pytest.raises(InvalidInput, match="outside the DVC repository"):
        export_notebook(notebook, targets=["dvc"], out=elsewhere)
    assert not elsewhere.exists()

    job = export_notebook(notebook, targets=["dvc"])
    (job / "dvc.yaml").write_text("stages: [not, a, mapping]\n")
    before = sorted(p.name for p in job.iterdir())
    with pytest.raises(InvalidInput, match="is not a DVC pipeline file"):
        export_notebook(notebook, targets=["dvc"])
    (job / "dvc.yaml").write_text("stages:\n  x: [\n")
    with pytest.raises(InvalidInput, match="is not valid YAML"):
        export_notebook(notebook, targets=["dvc"])
    assert sorted(p.name for p in job.iterdir()) == before
    assert not list(job.parent.glob(".train.*")), "staging folders left behind"

    (git_dvc_repo / "params.yaml").write_text("x: 1\n")
    clash = write_notebook(
        git_dvc_repo / "clash.ipynb", ["import yaml\nyaml.safe_load(open('params.yaml'))"]
    )
    with pytest.raises(InvalidInput, match=r"params\.yaml has the name of a file the dvc target"):
        export_notebook(clash, targets=["dvc"])


def test_dvc_target_is_registered() -> None:
    found = {ep.name: ep.value for ep in entry_points(group="jupyter_mlops.exporters")}
    assert found["dvc"] == "jupyter_mlops.export.dvcstage:DvcTarget"
    assert dvcstage.DvcTarget.name == "dvc"


# -- the entrypoint's --metrics and --params-json ---------------------------------------------
def test_recorded_metrics_are_the_final_values() -> None:
    first = metrics.bundle(loss=0.5, steps=10)
    assert first["text/plain"] == "metrics: loss=0.5, steps=10"
    notebook = new_notebook(
        cells=[
            new_code_cell("", outputs=[new_output("display_data", data=first)]),
            new_code_cell("", outputs=[new_output("stream", text="loss=9\n")]),
            new_code_cell("", outputs=[new_output("display_data", data=metrics.bundle(loss=0.25))]),
        ]
    )
    assert metrics.recorded(json.loads(nbformat.writes(notebook))) == {"loss": 0.25, "steps": 10}
    assert metrics.recorded(new_notebook()) == {}
    for bad in ("0.5", True, float("nan"), None):
        with pytest.raises(InvalidInput, match="metric 'x'"):
            metrics.bundle(x=bad)


def test_params_json_is_typed_and_checked(git_dvc_repo: Path, capsys) -> None:
    job = load_job(export_notebook(project_in(git_dvc_repo), targets=["dvc"]))
    given = {"title": 'say "hi"', "layers": [1, 2], "run_name": None, "lr": 1}
    values = values_for(job, params_json=json.dumps(given))
    assert values["title"] == 'say "hi"'
    assert values["layers"] == [1, 2]
    assert values["run_name"] is None
    assert values["lr"] == 1.0
    assert values_for(job, [("lr", "2")], params_json=json.dumps({"lr": 1}))["lr"] == 2.0

    for text, message in (
        ("{not json", "--params-json is not valid JSON"),
        ("[1]", "--params-json must be a JSON object"),
        ('{"epochs": "many"}', "parameter 'epochs' expects an integer"),
    ):
        assert job_main([str(job.folder), "--params-json", text, "--metrics", "m.json"]) == 2
        (line,) = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
        assert message in line
    assert not (job.folder / "output").exists()
    assert not Path("m.json").exists()
