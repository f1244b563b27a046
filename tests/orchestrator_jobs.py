"""A notebook with every kind of parameter, exported for the orchestrator targets
(Kubernetes, Argo, Kubeflow Pipelines), and checks that a target carries each parameter's
type, default and help text as ``parameters.schema.json`` says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mlops.cli import main as cli
from jupyter_mlops.export.parameters import Parameter, ParameterSchema, parse_cli_value, read_schema

#: int, float, bool, a string with both quotes and braces, typed list, dict holding None,
#: nullable string and float, a Literal, an untyped None; help texts with ':' and quotes.
TYPED_PARAMETERS = """\
from typing import Literal
epochs: int = 3  # number of epochs: more is slower
lr: float = 0.001  # learning "rate"
use_gpu: bool = False
title: str = 'He said "hi" and it\\'s {fine} {{x}}'  # a title with 'quotes'
layers: list[int] = [64, 32]  # layer sizes
config: dict = {"a": 1, "b": [True, None]}
run_name: str | None = None  # optional run name
threshold: float | None = 0.5
optimizer: Literal["adam", "sgd"] = "adam"
anything = None
"""
WORK = """\
import json
print("RESULT " + json.dumps({"epochs": epochs, "title": title, "layers": layers}))
"""
NAME = "typed-job"
#: A digest-pinned image reference.
DIGEST = "sha256:" + "ab" * 32
IMAGE = f"registry.example.com/team/typed-job@{DIGEST}"


def typed_notebook(
    folder: Path, name: str = "Typed Job.ipynb", parameters: str = TYPED_PARAMETERS
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    notebook = new_notebook(
        cells=[
            new_code_cell(parameters, metadata={"tags": ["parameters"]}),
            new_code_cell(WORK),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    path = folder / name
    nbformat.write(notebook, path)
    return path


def export_job(notebook: Path, *args: str) -> Path:
    """``jupyter mlops export`` in-process (exit code 0 checked); the job folder."""
    assert cli(["export", str(notebook), *args]) == 0
    return notebook.parent / "pipelines" / NAME


def schema_of(job: Path) -> ParameterSchema:
    return read_schema(job)


def reads_back(parameter: Parameter, text: str) -> Any:
    """What the job's entrypoint makes of ``-p NAME text``."""
    return parse_cli_value(ParameterSchema((parameter,)), parameter.name, text)
