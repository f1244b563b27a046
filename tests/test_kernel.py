"""The IPython extension in a real kernel: ``%load_ext jupyter_mlops``, ``%mlops``, and what a
tracked cell records (the capture rule, unique run names)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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


# -- the name jupyter_mlops -------------------------------------------------------------------
def test_load_ext_makes_the_name_jupyter_mlops_available(run_notebook, output_of, tmp_path):
    """``%load_ext jupyter_mlops`` then ``jupyter_mlops.log(...)``, as the README shows;
    a notebook's own ``jupyter_mlops`` is left alone."""
    nb = run_notebook(
        [
            'jupyter_mlops = "mine"\n%load_ext jupyter_mlops\nprint(jupyter_mlops)',
            "del jupyter_mlops\n%reload_ext jupyter_mlops\nprint(jupyter_mlops.log.__module__)",
            "%who",
        ],
        cwd=tmp_path,
    )
    out = [output_of(cell).strip() for cell in nb.cells]
    assert out[0] == "mine"
    assert out[1] == "jupyter_mlops"
    assert out[2] == "Interactive namespace is empty."  # available, not listed as yours


# -- the capture rule and run names, in a real kernel -----------------------------------------
SGD_CELL = """\
%%track
# sgd baseline
import numpy as np
learning_rate = 0.05
losses = [1 / (epoch + 1) for epoch in range(epochs)]
val_loss = float(np.mean(losses))
weights = np.ones(3) * learning_rate
"""

#: In-kernel code: deliver every run, then print the text of each run card once saved.
DELIVERED_CARDS = """\
import json, time
from ipywidgets.widgets.widget import _instances
from jupyter_mlops.tracking.session import default_session
assert default_session().flush(120)
def cards():
    values = [str(getattr(w, "value", "")) for w in list(_instances.values())]
    return [v for v in values if "jp-mlops-RunCard" in v]
deadline = time.monotonic() + 20
while time.monotonic() < deadline and not all("saved to MLflow" in c for c in cards()):
    time.sleep(0.1)
print(json.dumps(cards()))
"""


def test_reruns_get_unique_names_and_cells_record_what_the_rule_says(
    run_notebook, output_of, tmp_path
):
    import nbformat

    from jupyter_mlops import mlflow_store

    root = tmp_path / "project"
    root.mkdir()
    cells = [
        "%load_ext jupyter_mlops",
        ('model_kind = "sgd"\nepochs = 15', ["parameters"]),
        SGD_CELL,
        SGD_CELL,  # run again
        DELIVERED_CARDS,
    ]
    notebook = root / "sgd.ipynb"
    nb = nbformat.v4.new_notebook()
    for cell in cells:
        source, tags = (cell, []) if isinstance(cell, str) else cell
        nb.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": tags}))
    nbformat.write(nb, notebook)
    env = {"JPY_SESSION_NAME": str(notebook)}
    first = run_notebook(cells, cwd=root, env=env)
    cards = json.loads(output_of(first.cells[-1]))
    assert len(cards) == 2
    assert "<b>sgd baseline</b>" in cards[0]
    assert "<b>sgd baseline #2</b>" in cards[1]  # the card shows the name in the store
    # A restarted kernel goes on from what the store has.
    second = run_notebook([*cells[:3], cells[-1]], cwd=root, env=env)
    assert "<b>sgd baseline #3</b>" in json.loads(output_of(second.cells[-1]))[0]

    state = settings_mod.resolve(root, environ={}).state_dir
    client = mlflow_store.client(settings_mod.embedded_tracking_uri(state))
    experiment = client.get_experiment_by_name("sgd")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.run_name for r in runs) == [
        "sgd baseline",
        "sgd baseline #2",
        "sgd baseline #3",
    ]
    for run in runs:
        # The literal it assigns and the notebook parameter it reads; not `model_kind`,
        # not the 15 losses, not the array.
        assert run.data.params == {"learning_rate": "0.05", "epochs": "15"}
        # The number it computes is a metric.
        assert set(run.data.metrics) == {"val_loss", "jupyter_mlops.duration_s"}
        assert run.data.metrics["val_loss"] == pytest.approx(
            sum(1 / (e + 1) for e in range(15)) / 15
        )


# -- MLflow autologging, scoped to the tracked run ---------------------------------------------
AUTOLOG_CELLS = [
    "%load_ext jupyter_mlops",
    "from sklearn.datasets import load_iris\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "X, y = load_iris(return_X_y=True)",
    # The setting makes it the default ...
    "%%track --name by-setting\nmodel = LogisticRegression(max_iter=300).fit(X, y)",
    # ... a cell can refuse it ...
    "%%track --no-autolog --name refused\nmodel = LogisticRegression(max_iter=301).fit(X, y)",
    # ... and it is off again after a tracked cell: this fit logs nothing, opens no run.
    "model = LogisticRegression(max_iter=302).fit(X, y)\n"
    "import mlflow\nprint('active after:', mlflow.active_run())",
    "from jupyter_mlops.tracking.session import default_session\n"
    "assert default_session().flush(120)",
]


@pytest.mark.parametrize(
    ("setting", "option", "autologged"),
    [("true", "", "by-setting"), ("false", "--autolog ", "by-option")],
)
def test_autolog_logs_into_the_tracked_run_only(
    run_notebook, output_of, tmp_path, setting, option, autologged
):
    """``%%track --autolog`` (or the setting ``JUPYTER_MLOPS_AUTOLOG``) turns on MLflow's
    autologging into the cell's run: scikit-learn's parameters, training metrics and model;
    ``--no-autolog`` and cells after it log nothing of MLflow's own."""
    from jupyter_mlops import mlflow_store

    cells = list(AUTOLOG_CELLS)
    cells[2] = cells[2].replace("%%track --name by-setting", f"%%track {option}--name {autologged}")
    nb = run_notebook(
        cells,
        cwd=tmp_path,
        env={settings_mod.ENV_AUTOLOG: setting, "JPY_SESSION_NAME": str(tmp_path / "auto.ipynb")},
        timeout=240,
    )
    assert "active after: None" in output_of(nb.cells[4])
    state = settings_mod.resolve(tmp_path, environ={}).state_dir
    client = mlflow_store.client(settings_mod.embedded_tracking_uri(state))
    experiment = client.get_experiment_by_name("auto")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    # Two runs: MLflow opened none of its own for the untracked fit.
    assert sorted(runs) == sorted([autologged, "refused"])
    auto, refused = runs[autologged], runs["refused"]
    assert auto.info.status == "FINISHED"
    assert auto.data.tags["jupyter_mlops.autolog"] == "true"
    assert auto.data.params["max_iter"] == "300"  # the estimator's parameters
    assert 0.9 < auto.data.metrics["training_accuracy_score"] <= 1.0
    assert auto.data.tags["estimator_name"] == "LogisticRegression"
    models = client.search_logged_models(experiment_ids=[experiment.experiment_id])
    assert [m.source_run_id for m in models] == [auto.info.run_id]  # the model, in this run
    assert "jupyter_mlops.autolog" not in refused.data.tags
    assert not any(k.startswith("training_") for k in refused.data.metrics)
    assert "max_iter" not in refused.data.params
