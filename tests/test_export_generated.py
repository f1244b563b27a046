"""Untrusted text in generated files (issue 13): a notebook's file name, the base image,
the output location, the job name and parameter defaults reach the Dockerfile, manifests,
DAGs and pipelines only through :mod:`jupyter_mlops.export.escape`, the request model
refuses what no file can carry (a 400 naming the field), and no job file carries an
absolute path of the exporting machine."""

from __future__ import annotations

import ast
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from orchestrator_jobs import IMAGE, NAME, typed_notebook

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.export.deploy import deployment
from jupyter_mlops.export.exporter import export_notebook

#: Notebook file names from the issue: a Kubernetes resource, and a Dockerfile instruction.
YAML_INJECTION = "p\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: injected}\n---\n#.ipynb"
RUN_INJECTION = "inj\nRUN touch PWNED\n#.ipynb"
#: What the issue's Airflow reproduction sets as the output.
TEMPLATE_ESCAPE = "s3://b/{% endraw %}{{ 7*7 }}{% raw %}"
PLAIN_PARAMETERS = 'label = "x"  # a label\n'


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """``(KEYWORD, arguments)`` as Docker's parser reads them: lines are split at ``\\n``
    only, comment lines are skipped (also inside a continuation), ``\\`` continues."""
    found: list[tuple[str, str]] = []
    current = ""
    for line in dockerfile.split("\n"):
        stripped = line.strip()
        if stripped.startswith("#") or (not current and not stripped):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        keyword, _, rest = (current + line).strip().partition(" ")
        found.append((keyword.upper(), rest))
        current = ""
    return found


def export_quietly(notebook: Path, **options: Any) -> Path:
    options.setdefault("on_warning", lambda message: None)
    return export_notebook(notebook, **options)


# -- a line break in the notebook's name ------------------------------------------------------
@pytest.mark.parametrize("file_name", [YAML_INJECTION, RUN_INJECTION], ids=["yaml", "run"])
def test_a_line_break_in_the_notebook_name_starts_nothing(tmp_path: Path, file_name: str) -> None:
    targets = ["docker", "kubernetes", "argo"]
    options = {"name": NAME, "targets": targets, "deployment": deployment(image=IMAGE)}
    plain = export_quietly(
        typed_notebook(tmp_path / "plain", parameters=PLAIN_PARAMETERS), **options
    )
    job = export_quietly(
        typed_notebook(tmp_path / "evil", name=file_name, parameters=PLAIN_PARAMETERS), **options
    )
    dockerfile = (job / "Dockerfile").read_text()
    found = instructions(dockerfile)
    assert [k for k, _ in found] == [k for k, _ in instructions((plain / "Dockerfile").read_text())]
    assert not any("PWNED" in rest for keyword, rest in found if keyword == "RUN")
    assert all(line.startswith("#") for line in dockerfile.split("\n")[:4])
    for path, kind in (("kubernetes/job.yaml", "Job"), ("argo/workflow.yaml", "Workflow")):
        documents = list(yaml.safe_load_all((job / path).read_text()))
        assert [d["kind"] for d in documents] == [kind], path
        # The name itself is carried exactly where YAML's dumper writes it.
        annotations = documents[0]["metadata"]["annotations"]
        assert annotations["io.jupyter-mlops/notebook.path"] == file_name


# -- the base image -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "base_image",
    ["python:3.11-slim\nRUN echo x > /pwned\nUSER root", "python:3.11 AS x", "a" * 2**20],
    ids=["injection", "stage", "1MB"],
)
def test_export_refuses_a_base_image_that_is_no_image_reference(
    tmp_path: Path, base_image: str
) -> None:
    notebook = typed_notebook(tmp_path / "project", parameters=PLAIN_PARAMETERS)
    with pytest.raises(InvalidInput, match="--base-image"):
        export_quietly(notebook, name=NAME, base_image=base_image)
    assert not (tmp_path / "project" / "pipelines").exists()


def test_a_valid_base_image_is_the_dockerfiles_from(tmp_path: Path) -> None:
    notebook = typed_notebook(tmp_path / "project", parameters=PLAIN_PARAMETERS)
    base = "registry.example.com:5000/team/base:3.11@sha256:" + "cd" * 32
    job = export_quietly(notebook, name=NAME, base_image=base)
    assert instructions((job / "Dockerfile").read_text())[0] == ("FROM", base)


# -- through the API: a 400 naming the field ---------------------------------------------------
@pytest.fixture
def jp_root_dir(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    typed_notebook(root, name="train.ipynb", parameters=PLAIN_PARAMETERS)
    return root


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"base_image": "python:3.11-slim\nRUN echo x > /pwned\nUSER root"}, "base_image"),
        ({"base_image": "python:3.11-slim " + "x" * 2**20}, "base_image"),
        ({"name": "job\nRUN x"}, "name"),
        ({"name": "a" * 64}, "name"),
        ({"deployment": {"output": "s3://b/x\nkind: ConfigMap"}}, "deployment.output"),
        ({"deployment": {"output": "s3://b/" + "x" * 2000}}, "deployment.output"),
        ({"deployment": {"schedule": "0 3 * * *" + " " * 300}}, "deployment.schedule"),
        ({"deployment": {"image": "registry.example.com/" + "a" * 600}}, "deployment.image"),
    ],
    ids=[
        "base-image-injection",
        "base-image-1MB",
        "name-line-break",
        "name-64",
        "output-line-break",
        "output-long",
        "schedule-long",
        "image-long",
    ],
)
async def test_the_api_refuses_what_no_generated_file_can_carry(
    fetch_json: Any, jp_root_dir: Path, body: dict[str, Any], field: str
) -> None:
    code, answer = await fetch_json(
        "jobs",
        "export",
        method="POST",
        body=json.dumps({"notebook": "train.ipynb", "out": "pipelines/x", **body}),
        request_timeout=120,
    )
    assert code == 400, answer
    assert f"'{field}'" in answer["message"], answer
    assert len(answer["message"]) < 1000
    assert not (jp_root_dir / "pipelines").exists()


# -- Airflow's templated fields -----------------------------------------------------------------
def dag_arguments(source: str) -> list[str]:
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "ARGUMENTS":
            return list(ast.literal_eval(node.value))
    raise AssertionError("no ARGUMENTS")


def render_as_airflow(value: str, context: dict[str, Any]) -> str:
    """A templated field rendered as Airflow renders one: a sandboxed Jinja environment with
    a strict undefined and the ``do`` extension, ``from_string(...).render(context)``."""
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    environment = SandboxedEnvironment(
        undefined=jinja2.StrictUndefined, extensions=["jinja2.ext.do"], cache_size=0
    )
    return environment.from_string(value).render(**context)


@pytest.mark.parametrize(
    "output",
    [
        TEMPLATE_ESCAPE,
        "s3://b/{{ 7*7 }}/it's \\ {# x #}",
        "/data/{% raw %}a{% endraw %}/run.ipynb",
        "gs://b/$(HOME)/{{",
    ],
)
def test_airflow_renders_the_output_literally(tmp_path: Path, output: str) -> None:
    notebook = typed_notebook(tmp_path / "project", parameters=PLAIN_PARAMETERS)
    job = export_quietly(
        notebook, name=NAME, targets=["airflow"], deployment=deployment(output=output)
    )
    context = {"params": {"label": "y"}, "ts_nodash": "20260102T030000"}
    expected = output if output.endswith(".ipynb") else f"{output}/{NAME}-20260102T030000.ipynb"
    for dag in ("typed_job_dag.py", "typed_job_docker_dag.py"):
        arguments = dag_arguments((job / "airflow" / dag).read_text())
        rendered = [render_as_airflow(a, context) for a in arguments]
        assert rendered[:2] == ["--params-json", '{"label": "y"}']
        # A pod's arguments go through Kubernetes, which expands $(VAR) and reduces $$ to $.
        pod = dag == "typed_job_dag.py"
        assert rendered[2:] == ["--output", expected.replace("$", "$$") if pod else expected]


@pytest.mark.slow
def test_a_real_airflow_renders_the_output_literally(tmp_path: Path) -> None:
    from test_export_airflow import FULL, export_airflow, run_in_airflow

    job = export_airflow(tmp_path / "project", **{**FULL, "output": TEMPLATE_ESCAPE})
    report = run_in_airflow(job / "airflow", tmp_path)
    assert report["import_errors"] == {}
    for dag_id, dag in report["dags"].items():
        assert dag["rendered"][2:] == [
            "--output",
            f"{TEMPLATE_ESCAPE}/train-20250102T030000.ipynb",
        ], dag_id


# -- Argo and KFP limits ----------------------------------------------------------------------
def test_argo_takes_a_job_name_of_63_characters(tmp_path: Path) -> None:
    name = "a" + "-b" * 31  # 63 characters, the most a job name has
    notebook = typed_notebook(tmp_path / "project", parameters=PLAIN_PARAMETERS)
    job = export_quietly(notebook, name=name, targets=["argo"], deployment=deployment(image=IMAGE))
    (document,) = yaml.safe_load_all((job / "argo" / "workflow.yaml").read_text())
    generate_name = document["metadata"]["generateName"]
    assert len(generate_name) <= 58
    assert name.startswith(generate_name.rstrip("-"))
    assert generate_name.endswith("-")
    assert not generate_name.endswith("--")
    assert document["metadata"]["labels"]["app.kubernetes.io/name"] == name


@pytest.mark.parametrize(
    "default", ["x\ny\nkind: ConfigMap", "n\x00m", "tab\tcr\rnel\x85ls\u2028end"]
)
def test_kfp_carries_a_string_default_with_control_characters(tmp_path: Path, default: str) -> None:
    parameters = f"label: str = {default!r}  # a label\n"
    notebook = typed_notebook(tmp_path / "project", parameters=parameters)
    job = export_quietly(notebook, name=NAME, targets=["kfp"], deployment=deployment(image=IMAGE))
    documents = list(yaml.safe_load_all((job / "kfp" / "pipeline.yaml").read_text()))
    assert len(documents) == 1
    assert "pipelineInfo" in documents[0]
    (spec,) = documents[0]["root"]["inputDefinitions"]["parameters"].values()
    assert spec == {
        "defaultValue": default,
        "description": "a label",
        "isOptional": True,
        "parameterType": "STRING",
    }


# -- no absolute path of this machine -------------------------------------------------------------
def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _job_files(job: Path) -> dict[str, bytes]:
    return {
        p.relative_to(job).as_posix(): p.read_bytes()
        for p in sorted(job.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.mark.parametrize(
    "remote",
    [None, "local", "https://user:s3cret@git.example.com/team/repo.git?token=abc"],
    ids=["no-git", "local-remote", "https-remote"],
)
def test_no_job_file_holds_an_absolute_path(
    tmp_path: Path, git_dvc_repo: Path, remote: str | None
) -> None:
    """Dockerfile, labels, job.json, README, manifests, DAGs, pipeline, DVC stage: the
    notebook and the job folder relative to the project, the remote without credentials."""
    if remote is None:
        project = tmp_path / "plain" / "project"
        targets = ["docker", "kubernetes", "argo", "airflow", "kfp"]
    else:
        project = git_dvc_repo
        targets = ["docker", "kubernetes", "argo", "airflow", "kfp", "dvc"]
        url = str(tmp_path / "remote.git") if remote == "local" else remote
        _git(project, "remote", "add", "origin", url)
    notebook = typed_notebook(project / "notebooks", parameters=PLAIN_PARAMETERS)
    if remote is not None:
        _git(project, "add", "notebooks")
        _git(project, "commit", "--quiet", "-m", "a notebook")
    job = export_quietly(
        notebook,
        name=NAME,
        targets=targets,
        deployment=deployment(image=IMAGE, schedule="0 3 * * *"),
    )
    assert job == project / "notebooks" / "pipelines" / NAME
    forbidden = {str(tmp_path), str(Path.home()), str(Path.cwd()), "s3cret", "token=abc"}
    for relative, data in _job_files(job).items():
        for text in forbidden:
            assert text.encode() not in data, (relative, text)
    source = json.loads((job / "job.json").read_text())["source"]
    assert source["path"] == ("Typed Job.ipynb" if remote is None else "notebooks/Typed Job.ipynb")
    dockerfile = (job / "Dockerfile").read_text()
    assert f'io.jupyter-mlops.notebook.path="{source["path"]}"' in dockerfile
    if remote is None:
        assert source["git_commit"] is None
        assert source["git_repository"] is None
        return
    assert source["git_commit"] == _git(project, "rev-parse", "HEAD")
    if remote == "local":  # a folder of this machine names nothing elsewhere
        assert source["git_repository"] is None
    else:
        assert source["git_repository"] == "https://git.example.com/team/repo.git"
        assert 'org.opencontainers.image.source="https://git.example.com/team/repo.git"' in (
            dockerfile
        )


def test_the_job_folder_ignores_what_runs_and_builds_leave(git_dvc_repo: Path) -> None:
    notebook = typed_notebook(git_dvc_repo / "notebooks", parameters=PLAIN_PARAMETERS)
    job = export_quietly(notebook, name=NAME, targets=["docker"])
    folder = job.relative_to(git_dvc_repo).as_posix()
    left = ["output/typed-job-20260101.ipynb", "output/run.log", "build.log", "build.json"]
    left += ["__pycache__/x.pyc", "runtime/jupyter_mlops/__pycache__/job.cpython-311.pyc", ".env"]
    kept = ["Dockerfile", "job.json", "Typed Job.ipynb", "runtime/jupyter_mlops/job.py"]
    kept += ["requirements.txt", "parameters.schema.json", ".gitignore", ".dockerignore"]
    for relative in [*left, *kept]:
        path = job / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    done = subprocess.run(
        ["git", "check-ignore", "--no-index", *(f"{folder}/{p}" for p in left + kept)],
        cwd=git_dvc_repo,
        capture_output=True,
        text=True,
    )
    assert sorted(done.stdout.split("\n")[:-1]) == sorted(f"{folder}/{p}" for p in left)
