"""Export to pipeline: the job folder a notebook becomes (cleaned notebook, schema, pinned
requirements, Dockerfile, .dockerignore, README), and the job entrypoint run for real with
papermill kernels, locally, with and without MLflow tracking."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from importlib.metadata import entry_points, version
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from jupyter_mlops.cli import main as cli
from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.export import docker
from jupyter_mlops.export import targets as targets_module
from jupyter_mlops.export.exporter import derive_name, export_notebook, job_name
from jupyter_mlops.export.notebook import clean, notebook_facts, read_notebook
from jupyter_mlops.export.parameters import read_schema
from jupyter_mlops.export.targets import ExportContext, ExportTarget, load_target, register

PARAMETERS = """\
epochs: int = 3  # number of epochs
lr = 0.1
name = "x"
layers = [1, 2]
data_path = "data/train.csv"
"""
SETUP = """\
%pip install -q tenacity
import json
from helpers import double
"""
WORK = """\
assert isinstance(epochs, int) and not isinstance(epochs, bool), type(epochs)
assert isinstance(lr, float), type(lr)
rows = open(data_path).read().splitlines()
result = {"epochs": epochs, "lr": lr, "name": name, "layers": double(layers), "rows": len(rows)}
print("RESULT " + json.dumps(result))
"""
CHECK = """\
if epochs < 0:
    raise ValueError("epochs must not be negative")
"""


def write_notebook(path: Path, cells: list[Any], kernel: str = "python3") -> Path:
    """``cells``: sources, ``(source, tags)`` pairs, or ready cells."""
    made = []
    for cell in cells:
        if isinstance(cell, str):
            made.append(new_code_cell(cell))
        elif isinstance(cell, tuple):
            made.append(new_code_cell(cell[0], metadata={"tags": list(cell[1])}))
        else:
            made.append(cell)
    notebook = new_notebook(
        cells=made,
        metadata={"kernelspec": {"name": kernel, "display_name": kernel, "language": "python"}},
    )
    nbformat.write(notebook, path)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A notebook folder: a training notebook with a parameters cell, a local helper
    module, a data file, an exploration cell tagged skip-export, and secrets lying around."""
    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "train.csv").write_text("a,b\n1,2\n3,4\n")
    (folder / "helpers.py").write_text("def double(values):\n    return [2 * v for v in values]\n")
    (folder / ".env").write_text("TOKEN=secret\n")
    exploration = new_code_cell(
        'raise RuntimeError("exploration only")',
        metadata={"tags": ["skip-export"]},
        execution_count=7,
        outputs=[new_output("stream", text="explored\n")],
    )
    computed = new_code_cell("x = 1", execution_count=2, outputs=[new_output("stream", text="1")])
    write_notebook(
        folder / "Train Model.ipynb",
        [
            new_markdown_cell("# Training\nDocuments the job."),
            (PARAMETERS, ["parameters"]),
            SETUP,
            exploration,
            computed,
            WORK,
            CHECK,
        ],
    )
    return folder


def export(project: Path, *args: str) -> Path:
    """``jupyter mlops export`` in-process; the job folder it printed."""
    assert cli(["export", str(project / "Train Model.ipynb"), *args]) == 0
    return project / "pipelines" / "train-model"


def error_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


# -- the job folder -----------------------------------------------------------------------
def test_export_writes_every_file(project: Path) -> None:
    job = export(project)
    for name in (
        "Train Model.ipynb",
        "parameters.schema.json",
        "requirements.txt",
        "job.json",
        "Dockerfile",
        ".dockerignore",
        "README.md",
        "helpers.py",
        "data/train.csv",
        "runtime/jupyter_mlops/job.py",
        "runtime/jupyter_mlops/export/job.py",
    ):
        assert (job / name).is_file(), name
    assert not (job / ".env").exists()
    assert not list((job / "runtime").rglob("labextension"))

    cleaned = nbformat.read(job / "Train Model.ipynb", as_version=4)
    nbformat.validate(cleaned)
    assert [c.cell_type for c in cleaned.cells] == ["markdown", *["code"] * 5]
    assert cleaned.cells[1].metadata["tags"] == ["parameters"]
    assert not any("exploration only" in c.source for c in cleaned.cells)
    code = [c for c in cleaned.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert cleaned.metadata.kernelspec.name == "python3"

    schema = {p.name: p for p in read_schema(job)}
    assert list(schema) == ["epochs", "lr", "name", "layers", "data_path"]
    assert schema["epochs"].type.kind == "integer"
    assert schema["epochs"].help == "number of epochs"

    document = json.loads((job / "job.json").read_text())
    assert document["name"] == "train-model"
    assert document["experiment"] == "Train Model"
    assert document["notebook"] == "Train Model.ipynb"
    assert document["files"] == ["data/train.csv", "helpers.py"]
    assert (
        document["source"]["sha256"]
        == hashlib.sha256((project / "Train Model.ipynb").read_bytes()).hexdigest()
    )
    assert document["warnings"] == []

    readme = (job / "README.md").read_text()
    assert "| `epochs` | `int` | `3` | number of epochs |" in readme
    assert "jupyter mlops run" in readme
    assert "docker run" in readme


def test_dockerfile_orders_layers_labels_lineage_and_runs_as_non_root(
    git_dvc_repo: Path, project: Path
) -> None:
    notebook = git_dvc_repo / "notebooks" / "train.ipynb"
    notebook.parent.mkdir()
    (notebook.parent / "helpers.py").write_text((project / "helpers.py").read_text())
    write_notebook(notebook, [(PARAMETERS, ["parameters"]), "from helpers import double"])
    subprocess.run(["git", "add", "-A"], cwd=git_dvc_repo, check=True)
    subprocess.run(["git", "commit", "-qm", "notebook"], cwd=git_dvc_repo, check=True)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=git_dvc_repo, capture_output=True, text=True
    ).stdout.strip()

    job = export_notebook(notebook, out=git_dvc_repo / "jobs" / "train")
    lines = (job / "Dockerfile").read_text().splitlines()

    def first(prefix: str) -> int:
        return next(i for i, line in enumerate(lines) if line.startswith(prefix))

    major_minor = "{}.{}".format(*sys.version_info[:2])
    assert lines[first("FROM")] == f"FROM python:{major_minor}-slim"
    pip = first("RUN python -m pip install")
    assert first("COPY requirements.txt") < pip
    user = first("USER")
    assert lines[user] == "USER 1000:1000"
    # What changes with every export comes last, in as few layers as possible.
    job_files = 'COPY ["job.json", "parameters.schema.json", "train.ipynb", "/job/"]'
    assert pip < user < first("ENTRYPOINT") < first('COPY ["helpers.py"') < first(job_files)
    assert first(job_files) == first("LABEL") - 2
    assert lines[first("ENTRYPOINT")] == 'ENTRYPOINT ["python", "-m", "jupyter_mlops.job", "/job"]'
    assert not any(line.startswith("USER") and ("root" in line or " 0" in line) for line in lines)
    assert "useradd --create-home --uid 1000" in "\n".join(lines)

    labels = "\n".join(lines[first("LABEL") :])
    sha = hashlib.sha256(notebook.read_bytes()).hexdigest()
    assert f'org.opencontainers.image.revision="{commit}"' in labels
    assert 'org.opencontainers.image.title="train"' in labels
    assert f'io.jupyter-mlops.git.commit="{commit}"' in labels
    assert f'io.jupyter-mlops.notebook.sha256="{sha}"' in labels
    assert 'io.jupyter-mlops.notebook.path="notebooks/train.ipynb"' in labels
    assert "update-ca-certificates" not in labels

    other = export_notebook(notebook, out=git_dvc_repo / "jobs" / "b", base_image="x/y:1")
    assert "FROM x/y:1\n" in (other / "Dockerfile").read_text()


def test_dockerignore_covers_secrets_and_they_are_not_copied(project: Path, capsys) -> None:
    conf = project / "conf"
    conf.mkdir()
    for secret in (".env", "id_rsa", "server.pem", "credentials.json", ".netrc"):
        (conf / secret).write_text("secret")
    (conf / ".aws").mkdir()
    (conf / ".aws" / "config").write_text("secret")
    (conf / "__pycache__").mkdir()
    (conf / "__pycache__" / "x.pyc").write_bytes(b"")
    (conf / "settings.yaml").write_text("ok: true\n")

    job = export(project, "--include", str(conf))
    copied = sorted(p.relative_to(job).as_posix() for p in (job / "conf").rglob("*"))
    assert copied == ["conf/settings.yaml"]
    warnings = error_lines(capsys)
    for secret in ("conf/.env", "conf/id_rsa", "conf/server.pem", "conf/credentials.json"):
        assert any(secret in w for w in warnings), (secret, warnings)

    ignored = set((job / ".dockerignore").read_text().splitlines())
    for pattern in (
        ".env",
        "*.pem",
        "*.key",
        "id_rsa*",
        ".aws",
        ".gcp",
        "credentials*",
        ".netrc",
        ".git",
        "__pycache__",
        ".ipynb_checkpoints",
        ".mlops",
    ):
        assert f"**/{pattern}" in ignored, pattern
    assert "output/" in ignored


def test_ca_certificates_setting(project: Path, tmp_path: Path, monkeypatch) -> None:
    certs = tmp_path / "corporate"
    certs.mkdir()
    (certs / "proxy.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv(docker.ENV_CA_CERTS, str(certs))
    job = export(project)
    assert (job / "certs" / "proxy.crt").is_file()
    text = (job / "Dockerfile").read_text()
    assert text.index("update-ca-certificates") < text.index("pip install")
    assert "REQUESTS_CA_BUNDLE" in text

    # A certs/ folder in the job is the user's: kept by a re-export without the setting.
    monkeypatch.delenv(docker.ENV_CA_CERTS)
    job = export(project)
    assert (job / "certs" / "proxy.crt").is_file()
    assert "update-ca-certificates" in (job / "Dockerfile").read_text()


def test_reexport_keeps_outputs_and_refuses_a_foreign_folder(project: Path, capsys) -> None:
    job = export(project)
    (job / "output").mkdir()
    (job / "output" / "old.ipynb").write_text("{}")
    (job / "params.yaml").write_text("epochs: 2\n")
    (job / "stale.py").write_text("")
    document = json.loads((job / "job.json").read_text())
    document["written"].append("stale.py")
    (job / "job.json").write_text(json.dumps(document))
    job = export(project)
    assert (job / "output" / "old.ipynb").is_file()
    assert (job / "params.yaml").is_file()
    assert not (job / "stale.py").exists()
    assert not list(job.parent.glob(".train-model.*")), "staging folders left behind"

    foreign = project / "data"
    capsys.readouterr()
    assert cli(["export", str(project / "Train Model.ipynb"), "--out", str(foreign)]) == 2
    assert "is not a job folder" in capsys.readouterr().err
    assert (foreign / "train.csv").is_file()


# -- requirements -------------------------------------------------------------------------
def test_requirements_pinned_from_the_kernel_environment(project: Path) -> None:
    (project / "model.py").write_text("import pandas as pd\nimport sklearn.linear_model\n")
    notebook = write_notebook(
        project / "deps.ipynb",
        [
            "import os, json\nimport numpy as np\nimport model",
            "%pip install tenacity\n!pip install -q 'nbformat>=5' -U",
            "%%time\nfrom yaml import safe_load",
            "%load_ext jupyter_mlops",
        ],
    )
    warnings: list[str] = []
    job = export_notebook(notebook, name="deps", on_warning=warnings.append)
    assert warnings == []
    pins = {
        line.split("==")[0]: line.split("==")[1]
        for line in (job / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    for dist in ("numpy", "pandas", "scikit-learn", "PyYAML", "tenacity", "nbformat"):
        assert pins.pop(dist) == version(dist), dist
    for dist in ("papermill", "ipykernel", "mlflow-skinny", "prometheus-client", "apprise"):
        assert pins.pop(dist) == version(dist), dist
    assert pins == {}, "stdlib, local modules or jupyter-mlops pinned"
    assert (job / "model.py").is_file()

    cleaned = nbformat.read(job / "deps.ipynb", as_version=4)
    lines = cleaned.cells[1].source.splitlines()
    assert all(line.startswith("#") for line in lines), lines


def test_requirements_come_from_the_kernel_not_the_server(
    tmp_path: Path, project: Path, capsys
) -> None:
    """A kernel in another environment: its own distribution is pinned, numpy (installed
    here, not there) is reported, and the base image follows the kernel's Python."""
    from jupyter_client.kernelspec import KernelSpecManager

    venv = tmp_path / "kernel-env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "onlyhere.py").write_text("VALUE = 1\n")
    info = site / "onlyhere-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: onlyhere\nVersion: 1.2.3\n")
    (info / "RECORD").write_text("onlyhere.py,,\nonlyhere-1.2.3.dist-info/METADATA,,\n")
    kernels = tmp_path / "kernels"
    (kernels / "other-env").mkdir(parents=True)
    (kernels / "other-env" / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Other env",
                "language": "python",
            }
        )
    )
    notebook = write_notebook(
        project / "other.ipynb", ["import onlyhere\nimport numpy"], kernel="other-env"
    )
    job = export_notebook(
        notebook,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]),
        on_warning=lambda m: print(m, file=sys.stderr),
    )
    text = (job / "requirements.txt").read_text()
    assert "onlyhere==1.2.3" in text.splitlines()
    assert "numpy" not in text
    assert "numpy" in capsys.readouterr().err
    kernel_python = subprocess.run(
        [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert f"FROM python:{kernel_python}-slim" in (job / "Dockerfile").read_text()


def test_a_requirements_file_replaces_the_guess(project: Path, tmp_path: Path) -> None:
    wanted = tmp_path / "reqs.txt"
    wanted.write_text("numpy<3  # ours\npapermill==2.6.0\n")
    job = export(project, "--requirements", str(wanted))
    lines = (job / "requirements.txt").read_text().splitlines()
    assert "numpy<3  # ours" in lines
    assert "papermill==2.6.0" in lines
    assert f"ipykernel=={version('ipykernel')}" in lines
    assert not any(line.startswith(("papermill==2.7", "tenacity")) for line in lines)


# -- reading notebooks --------------------------------------------------------------------
def test_code_facts_follow_ipython(tmp_path: Path) -> None:
    notebook = new_notebook(
        cells=[
            new_code_cell("%%time\nimport numpy.linalg\nx = 1"),
            new_code_cell("%run -i tools/prep.py\n%load_ext jupyter_mlops"),
            new_code_cell(
                "import importlib\nm = importlib.import_module('pandas')\n__import__('yaml')"
            ),
            new_code_cell("from sklearn.linear_model import Ridge\nfrom . import local"),
            new_code_cell("df['data.csv']\nopen('data.csv')"),
        ]
    )
    cleaned = clean(notebook, tmp_path)
    facts = notebook_facts(cleaned.code, tmp_path / "nb.ipynb")
    assert {"numpy.linalg", "jupyter_mlops", "pandas", "yaml", "sklearn.linear_model"} <= (
        facts.imports
    )
    assert "tools/prep.py" in facts.runs
    assert "data.csv" in facts.strings

    broken = new_notebook(cells=[new_code_cell("x = 1"), new_code_cell("def f(:\n  pass")])
    with pytest.raises(InvalidInput, match=r"cell 2 of .*nb.ipynb is not valid Python"):
        notebook_facts(clean(broken, tmp_path).code, tmp_path / "nb.ipynb")


def test_pip_lines(tmp_path: Path) -> None:
    (tmp_path / "extra.txt").write_text("# comment\nrequests>=2\n-e ./local\n")
    source = (
        "import os\n"
        "!pip install -q 'scikit-learn>=1' -r extra.txt --index-url https://mirror\n"
        "if True:\n"
        "    %pip install tenacity \\\n"
        "        pyyaml\n"
        "print(1)"
    )
    cleaned = clean(new_notebook(cells=[new_code_cell(source)]), tmp_path)
    assert cleaned.pip_requirements == ["scikit-learn>=1", "requests>=2", "tenacity", "pyyaml"]
    assert any("--index-url" in w for w in cleaned.warnings)
    code = cleaned.notebook.cells[0].source
    assert "import os" in code
    assert "print(1)" in code
    compile(code, "cell", "exec")  # the indented pip line became `pass`: still Python
    assert not any(line.lstrip().startswith(("%pip", "!pip")) for line in code.splitlines())


def test_malformed_notebooks_are_one_line_errors(tmp_path: Path, capsys) -> None:
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    invalid = tmp_path / "invalid.ipynb"
    document = json.loads(nbformat.writes(new_notebook(cells=[new_code_cell("x = 1")])))
    document["cells"][0]["cell_type"] = "bogus"
    invalid.write_text(json.dumps(document))
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    cases = {
        broken: "is not valid JSON",
        invalid: "is not a valid notebook: cell 1",
        tmp_path / "missing.ipynb": "not found",
        text: "is not a notebook",
    }
    for path, fragment in cases.items():
        assert cli(["export", str(path)]) == 2
        lines = error_lines(capsys)
        assert len(lines) == 1, lines
        assert str(path) in lines[0], lines[0]
        assert fragment in lines[0], lines[0]
    with pytest.raises(InvalidInput):
        read_notebook(invalid)


def test_a_kernel_that_is_not_installed_is_named(project: Path, capsys) -> None:
    notebook = write_notebook(project / "r.ipynb", ["x = 1"], kernel="no-such-kernel")
    assert cli(["export", str(notebook)]) == 2
    (line,) = error_lines(capsys)
    assert "kernel 'no-such-kernel' is not installed" in line
    assert "python3" in line
    assert "--requirements" in line


def test_unknown_target_lists_the_known_ones(project: Path, capsys) -> None:
    assert cli(["export", str(project / "Train Model.ipynb"), "--target", "nope"]) == 2
    (line,) = error_lines(capsys)
    assert "unknown export target 'nope'" in line
    assert "known targets: " in line
    assert "docker" in line.split("known targets: ")[1].split(", ")
    assert not (project / "pipelines").exists()


def test_job_names(project: Path, capsys) -> None:
    assert derive_name("Train Model (v2)") == "train-model-v2"
    assert derive_name("Über_Größe") == "uber-groe"
    assert derive_name("___") == "notebook-job"
    assert len(derive_name("x" * 100)) == 63
    assert job_name("ok-name-2") == "ok-name-2"
    for bad in ("My_Job", "-x", "x-", "a" * 64, "a.b", ""):
        with pytest.raises(InvalidInput, match="invalid job name"):
            job_name(bad)
    assert cli(["export", str(project / "Train Model.ipynb"), "--name", "Bad_Name"]) == 2
    (line,) = error_lines(capsys)
    assert "invalid job name 'Bad_Name'" in line
    assert "bad-name" in line


def test_targets_are_plugins(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    found = {ep.name: ep.value for ep in entry_points(group="jupyter_mlops.exporters")}
    assert found["docker"] == "jupyter_mlops.export.docker:DockerTarget"
    assert isinstance(load_target("docker"), docker.DockerTarget)
    # Registered for this test only: other tests list the targets installed.
    monkeypatch.setattr(
        targets_module.TARGETS, "registered", dict(targets_module.TARGETS.registered)
    )

    @register
    class Manifest(ExportTarget):
        name = "test-manifest"

        def write(self, context: ExportContext) -> None:
            context.write_text("manifest.txt", f"{context.name} {context.schema.names}")

        def readme(self, context: ExportContext) -> str:
            return "## Manifest\n"

    job = export(project, "--target", "test-manifest")
    assert (job / "manifest.txt").read_text().startswith("train-model ['epochs'")
    assert not (job / "Dockerfile").exists()
    assert "## Manifest" in (job / "README.md").read_text()


# -- running the job ----------------------------------------------------------------------
def run(*args: str) -> subprocess.CompletedProcess[str]:
    """``jupyter mlops run`` as a user types it."""
    return subprocess.run(
        [sys.executable, "-m", "jupyter_mlops", "run", *args],
        capture_output=True,
        text=True,
        timeout=240,
    )


def result_of(output: Path) -> dict[str, Any]:
    executed = nbformat.read(output, as_version=4)
    for cell in executed.cells:
        for out in cell.get("outputs", []):
            if out.get("name") == "stdout" and "RESULT " in out.text:
                return dict(json.loads(out.text.split("RESULT ", 1)[1]))
    raise AssertionError("no RESULT printed")


@pytest.mark.slow
def test_run_with_valid_parameters(project: Path, tmp_path: Path) -> None:
    job = export(project)
    params = tmp_path / "params.yaml"
    params.write_text("lr: 1\nlayers: [3, 4]\n")
    output = tmp_path / "out" / "result.ipynb"
    name = 'it\'s "quoted"'
    done = run(
        str(job), "-p", "epochs", "5", "-p", "name", name, "--params-file", str(params),
        "--output", str(output),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert str(output) in done.stdout
    assert result_of(output) == {
        "epochs": 5,
        "lr": 1.0,
        "name": name,
        "layers": [6, 8],
        "rows": 3,
    }
    assert not (job / ".mlops").exists(), "tracked without a tracking URI"


@pytest.mark.slow
def test_invalid_parameters_exit_2_before_any_kernel(project: Path) -> None:
    job = export(project)
    cases = {
        ("-p", "epochs", "many"): "parameter 'epochs' expects an integer, got 'many'",
        ("-p", "epoch", "3"): "unknown parameter 'epoch' (did you mean 'epochs'?)",
        ("-p", "layers", "[1, 'x'"): "parameter 'layers' expects a list",
    }
    for args, message in cases.items():
        started = time.monotonic()
        done = run(str(job), *args)
        elapsed = time.monotonic() - started
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert message in lines[0], lines
        assert elapsed < 10, f"{elapsed:.1f} s: did a kernel start?"
    assert not (job / "output").exists(), "a kernel ran"
    done = run(str(job.parent))
    assert done.returncode == 2
    assert "is not a job folder" in done.stderr


def mlflow_runs(uri: str, experiment: str) -> list[Any]:
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment!r}"
    return list(client.search_runs([found.experiment_id]))


def artifacts(uri: str, run_id: str, path: str) -> list[str]:
    from mlflow import MlflowClient

    return [a.path for a in MlflowClient(uri).list_artifacts(run_id, path)]


@pytest.mark.slow
def test_tracked_run_is_in_mlflow(project: Path, monkeypatch, embedded_uri) -> None:
    job = export(project)
    uri = embedded_uri(job)
    monkeypatch.setenv("JUPYTER_MLOPS_TRACKING_URI", uri)
    monkeypatch.setenv("JUPYTER_MLOPS_IMAGE_DIGEST", "sha256:abc")
    done = run(str(job), "-p", "lr", "1", "-p", "layers", "[3, 4]")
    assert done.returncode == 0, done.stderr
    (output,) = (job / "output").glob("train-model-*.ipynb")
    assert result_of(output)["lr"] == 1.0

    (found,) = mlflow_runs(uri, "Train Model")
    assert found.info.status == "FINISHED"
    tags, params = found.data.tags, found.data.params
    assert tags["jupyter_mlops.source"] == "job"
    assert tags["jupyter_mlops.job"] == "train-model"
    assert tags["jupyter_mlops.image.digest"] == "sha256:abc"
    assert params == {
        "epochs": "3",
        "lr": "1.0",
        "name": "x",
        "layers": "[3, 4]",
        "data_path": "data/train.csv",
    }
    assert artifacts(uri, found.info.run_id, "output") == [f"output/{output.name}"]


@pytest.mark.slow
def test_failing_notebook_exits_3_naming_the_cell(project: Path, monkeypatch, embedded_uri) -> None:
    job = export(project)
    uri = embedded_uri(job)
    monkeypatch.setenv("JUPYTER_MLOPS_TRACKING_URI", uri)
    done = run(str(job), "-p", "epochs", "-1")
    assert done.returncode == 3, done.stderr
    lines = [line for line in done.stderr.splitlines() if "jupyter-mlops job" in line]
    assert len(lines) == 1, done.stderr
    assert "`if epochs < 0:`" in lines[0]
    assert "ValueError: epochs must not be negative" in lines[0]
    (output,) = (job / "output").glob("*.ipynb")
    assert str(output) in lines[0]

    (found,) = mlflow_runs(uri, "Train Model")
    assert found.info.status == "FAILED"
    assert found.data.tags["jupyter_mlops.source"] == "job"
    assert found.data.params["epochs"] == "-1"
    assert artifacts(uri, found.info.run_id, "output") == [f"output/{output.name}"]
