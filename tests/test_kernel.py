"""The IPython extension in a real kernel: ``%load_ext jupyter_mlops`` and ``%mlops``."""

from __future__ import annotations

import json
from pathlib import Path

from jupyter_mlops import settings as settings_mod

LOAD_AND_SHOW = [
    "import sys\nprint('mlflow' in sys.modules)",
    "%load_ext jupyter_mlops",
    "print('mlflow' in sys.modules)",
    "%mlops --json",
    "print('mlflow' in sys.modules)",
    "%mlops",
    "%unload_ext jupyter_mlops\nprint('mlops' in get_ipython().magics_manager.magics['line'])",
]


def test_magic_shows_what_the_server_exported(run_notebook, output_of, tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    uri = "http://alice:hunter2@127.0.0.1:5999"
    nb = run_notebook(
        LOAD_AND_SHOW,
        cwd=tmp_path,  # not the project root: the exported root must win
        env={
            settings_mod.ENV_ROOT: str(root),
            settings_mod.ENV_TRACKING_URI: uri,
            settings_mod.ENV_ARTIFACT_LOCATION: "s3://bucket/artifacts",
        },
    )
    out = [output_of(cell).strip() for cell in nb.cells]
    # Loading the extension and asking where we track imports no MLflow (seconds).
    assert out[0] == "False", "mlflow was imported before the test even started"
    assert out[2] == "False"
    assert out[4] == "False"
    info = json.loads(out[3])
    assert info == {
        "project_root": str(root.resolve()),
        "tracking_uri": "http://alice:***@127.0.0.1:5999",
        "store": "server",
        "artifact_location": "s3://bucket/artifacts",
    }
    assert "hunter2" not in "".join(out)
    assert str(root.resolve()) in out[5]
    assert "project root" in out[5]
    assert out[6] == "False", "%unload_ext left the magic registered"


def test_magic_without_server_uses_the_embedded_store_of_its_folder(
    run_notebook, output_of, tmp_path
):
    nb = run_notebook(["%load_ext jupyter_mlops", "%mlops --json"], cwd=tmp_path)
    info = json.loads(output_of(nb.cells[1]))
    expected = settings_mod.resolve(tmp_path, environ={})
    assert info == {
        "project_root": str(expected.root_dir),
        "tracking_uri": expected.tracking_uri,
        "store": "embedded",
        "artifact_location": expected.artifact_location,
    }
    assert not (tmp_path / ".mlops").exists(), "%mlops must not create the store"


def test_kernel_started_with_the_server_environment_agrees_with_the_server(
    jp_serverapp, mlops_app, run_notebook, output_of, tmp_path
):
    """What the server exports to its kernels makes ``%mlops`` name the server's store."""
    exported = mlops_app.settings_resolved.kernel_environment()
    nb = run_notebook(["%load_ext jupyter_mlops", "%mlops --json"], cwd=tmp_path, env=exported)
    info = json.loads(output_of(nb.cells[1]))
    assert info["project_root"] == str(Path(jp_serverapp.root_dir).resolve())
    assert info["tracking_uri"] == mlops_app.settings_resolved.tracking_uri
    assert info["store"] == "embedded"
