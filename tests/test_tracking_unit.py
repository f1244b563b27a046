"""Pure functions of the tracking code: what a cell's source and values become, the
journal's files and lock, where experiments keep artifacts, the run card's HTML."""

from __future__ import annotations

import fractions
import hashlib
import json
import math
import multiprocessing
import os
from pathlib import Path

import numpy as np
import pytest

from jupyter_mlops.tracking import capture, card, delivery
from jupyter_mlops.tracking.delivery import Outcome
from jupyter_mlops.tracking.spool import Delivery, RunRecord, Spool


# -- capture.assigned_names -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "names"),
    [
        ("a = 1\nb: int = 2\nc += 3", ["a", "b", "c"]),
        ("x, (y, z) = 1, (2, 3)\nw = v = 0", ["x", "y", "z", "w", "v"]),
        ("obj.attr = 1\nd['k'] = 2\n_private = 3", []),
        ("if fast:\n    epochs = 1\nelse:\n    epochs = 10", ["epochs"]),
        ("with open(p) as fh:\n    text = fh.read()", ["text"]),
        ("try:\n    n = int(s)\nexcept ValueError:\n    n = 0", ["n"]),
        # Loop variables and whatever a loop body assigns change every round: not parameters.
        ("for i in range(3):\n    loss = 1 / (i + 1)\nacc = 0.9", ["acc"]),
        ("while True:\n    step = 1\n    break\nk = 2", ["k"]),
        ("async def f():\n    inner = 1\nclass C:\n    attr = 1\nlam = lambda q: q", ["lam"]),
        ("squares = [t * t for t in range(3)]", ["squares"]),
        ("not python (", []),
        ("%matplotlib inline\nrate = 0.1\n!ls", ["rate"]),
        ("", []),
    ],
)
def test_assigned_names(source, names):
    assert capture.assigned_names(source) == names


# -- capture.param_text -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1, "1"),
        (0.5, "0.5"),
        (True, "True"),
        ("adam", "adam"),
        (np.int64(7), "7"),
        (np.float32(0.25), "0.25"),
        (fractions.Fraction(1, 2), "1/2"),
        ([64, 32], "[64, 32]"),
        ((1, "a", False), '[1, "a", false]'),
        ({"lr": 0.1, "opt": "sgd"}, '{"lr": 0.1, "opt": "sgd"}'),
        ([np.int64(1), np.float64(2.5)], "[1, 2.5]"),
        (None, None),
        (object(), None),
        (np.array([1, 2]), None),
        ([[1, 2], [3]], None),
        ({1: "non-string key"}, None),
        (list(range(capture.MAX_COLLECTION_ITEMS + 1)), None),
        ("x" * (capture.MAX_PARAM_CHARS + 1), None),
        (["x" * 200] * 3, None),  # fine item by item, too long as a whole
    ],
)
def test_param_text(value, text):
    assert capture.param_text(value) == text


def test_collect_params_takes_only_simple_values_present():
    namespace = {"a": 1, "model": object(), "b": "x"}
    assert capture.collect_params(["a", "model", "b", "missing"], namespace) == {
        "a": "1",
        "b": "x",
    }


# -- capture.metric_value ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "number"),
    [
        (1, 1.0),
        (0.25, 0.25),
        (np.float64(0.5), 0.5),
        (np.float32(0.25), 0.25),
        (np.int64(3), 3.0),
        (np.array(2.5), 2.5),
        (np.array([4.0]), 4.0),
        (fractions.Fraction(1, 4), 0.25),
        (float("inf"), math.inf),
    ],
)
def test_metric_value_accepts_real_numbers(value, number):
    assert capture.metric_value(value) == number


@pytest.mark.parametrize(
    "value",
    [True, False, np.bool_(True), np.array([True]), "1.0", None, [1.0], np.array([1.0, 2.0]), 1j],
)
def test_metric_value_refuses_anything_else(value):
    assert capture.metric_value(value) is None


def test_metric_value_keeps_nan():
    assert math.isnan(capture.metric_value(np.float64("nan")))


# -- capture: notebook, data versions ---------------------------------------------------------
def test_notebook_parameter_names_reads_the_tagged_cell(tmp_path: Path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("a = 1"))
    params = nbformat.v4.new_code_cell("alpha = 0.1\nname = 'x'\n# comment")
    params.metadata["tags"] = ["parameters"]
    nb.cells.append(params)
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    assert capture.notebook_parameter_names(str(path)) == ["alpha", "name"]
    assert capture.notebook_parameter_names(str(tmp_path / "missing.ipynb")) == []
    assert capture.notebook_parameter_names(None) == []


def test_data_version_of_files_folders_and_dvc(tmp_path: Path):
    data = tmp_path / "data.csv"
    data.write_bytes(b"a,b\n1,2\n")
    assert capture.data_version(data) == {
        "kind": "sha256",
        "hash": hashlib.sha256(b"a,b\n1,2\n").hexdigest(),
    }
    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "x.bin").write_bytes(b"x")
    first = capture.data_version(folder)
    (folder / "sub" / "x.bin").write_bytes(b"y")
    assert capture.data_version(folder)["kind"] == "sha256"
    assert capture.data_version(folder) != first
    (tmp_path / "data.csv.dvc").write_text(
        "outs:\n- md5: 0123456789abcdef0123456789abcdef\n  size: 8\n  hash: md5\n  path: data.csv\n"
    )
    assert capture.data_version(data) == {
        "kind": "dvc",
        "hash": "0123456789abcdef0123456789abcdef",
    }
    assert capture.data_version(tmp_path / "nothing") == {"kind": "missing", "hash": ""}


def test_data_params_have_names_mlflow_accepts(tmp_path: Path):
    from mlflow.utils.validation import _validate_param_name

    (tmp_path / "folder").mkdir()
    (tmp_path / "a (copy).csv").write_text("1")
    found = capture.capture_lineage(str(tmp_path), ["folder/", "./a (copy).csv"])
    assert len(found.params) == 2
    for name in found.params:
        _validate_param_name(name)
    assert set(json.loads(found.tags["jupyter_mlops.data"])) == {"folder/", "./a (copy).csv"}


def test_git_state_outside_a_repository(tmp_path: Path):
    assert capture.git_state(str(tmp_path)).tags == {}


# -- spool ------------------------------------------------------------------------------------
def _record(**kwargs) -> RunRecord:
    defaults = {"tracking_uri": "sqlite:///x.db", "experiment": "e", "run_name": "r"}
    return RunRecord.new(**{**defaults, **kwargs})


def test_spool_write_read_and_remove(tmp_path: Path):
    spool = Spool(tmp_path)
    record = _record(params={"a": "1"}, metrics=[["m", 1.0, 5, 0]], tags={"t": "v"})
    spool.write(record)
    assert spool.record_keys() == [record.key]
    again = spool.read(record.key)
    assert again == record
    assert not again.deliverable
    assert spool.keys_of(record.pid) == [record.key]
    assert spool.keys_of(record.pid + 1) == []
    spool.add_artifact(record.key, "source/cell.py", "x = 1\n")
    spool.add_artifact(record.key, "figures/f.png", b"\x89PNG")
    assert (spool.artifacts_dir(record.key) / "source" / "cell.py").read_text() == "x = 1\n"
    progress = Delivery(run_id="abc", attempts=2, batches_sent=1)
    spool.write_delivery(record.key, progress)
    assert spool.read_delivery(record.key) == progress
    spool.remove(record.key, outcome={"run_id": "abc"})
    assert spool.record_keys() == []
    assert spool.read(record.key) is None
    assert spool.receipt(record.key) == {"run_id": "abc"}
    assert spool.read_delivery(record.key) == Delivery()


def test_spool_read_ignores_unknown_fields_and_broken_files(tmp_path: Path):
    spool = Spool(tmp_path)
    record = _record()
    data = {**json.loads(json.dumps(vars(record))), "from_the_future": 1}
    spool.write_serialised(record.key, json.dumps(data))
    assert spool.read(record.key) == record
    (spool.folder("broken")).mkdir()
    (spool.folder("broken") / "record.json").write_text("{not json")
    assert spool.read("broken") is None
    assert [r.key for r in spool.pending()] == [record.key]


def test_spool_pending_is_oldest_first(tmp_path: Path):
    spool = Spool(tmp_path)
    late, early = _record(start_time=2000), _record(start_time=1000)
    spool.write(late)
    spool.write(early)
    assert [r.key for r in spool.pending()] == [early.key, late.key]


def test_record_is_deliverable_when_ended_and_complete():
    assert not _record(status="FINISHED").deliverable
    assert not _record(complete=True).deliverable
    assert _record(status="KILLED", complete=True).deliverable


def _try_lock(root: str, key: str, answers: multiprocessing.Queue) -> None:
    with Spool(Path(root)).locked(key) as held:
        answers.put(held)


def test_spool_lock_is_held_by_one_process_at_a_time(tmp_path: Path):
    spool = Spool(tmp_path)
    record = _record()
    spool.write(record)
    context = multiprocessing.get_context("spawn")
    answers: multiprocessing.Queue = context.Queue()
    with spool.locked(record.key) as held:
        assert held
        other = context.Process(target=_try_lock, args=(str(tmp_path), record.key, answers))
        other.start()
        assert answers.get(timeout=60) is False
        other.join(timeout=30)
    other = context.Process(target=_try_lock, args=(str(tmp_path), record.key, answers))
    other.start()
    assert answers.get(timeout=60) is True
    other.join(timeout=30)
    with spool.locked("no-such-run") as held:
        assert held is False


def test_agent_sees_a_rewrite_within_one_clock_tick(tmp_path: Path):
    """Two writes of a record within the file system's clock tick have the same mtime; the
    agent must still see the second (the outcome after the start)."""
    from jupyter_mlops.tracking.agent import _signature

    spool = Spool(tmp_path)
    record = _record()
    spool.write(record)
    path = spool.folder(record.key) / "record.json"
    first = _signature(path)
    stat = path.stat()
    record.status, record.complete = "FINISHED", True
    spool.write(record)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_mtime_ns == stat.st_mtime_ns
    assert _signature(path) != first
    assert _signature(tmp_path / "missing") is None


# -- delivery ---------------------------------------------------------------------------------
def test_experiment_artifact_location():
    root = "file:///p/.mlops/artifacts"
    location = delivery.experiment_artifact_location(root, "My notebook (v2)")
    assert location is not None
    assert location.startswith(root + "/My-notebook-v2-")
    assert location == delivery.experiment_artifact_location(root + "/", "My notebook (v2)")
    # Names that slug alike still get their own folders.
    other = delivery.experiment_artifact_location(root, "My notebook [v2]")
    assert other != location
    assert delivery.experiment_artifact_location(root, "***").startswith(root + "/experiment-")
    assert delivery.experiment_artifact_location(None, "x") is None
    long = delivery.experiment_artifact_location(root, "n" * 200)
    assert long is not None
    assert len(long) < len(root) + 70


# -- the run card -----------------------------------------------------------------------------
def test_card_escapes_everything_from_the_run():
    record = _record(
        run_name="<script>alert(1)</script>",
        experiment="<b>exp</b>",
        params={"<img src=x onerror=y>": "<i>v</i>"},
        metrics=[["<m>", 0.5, 0, 0], ["jupyter_mlops.duration_s", 1.0, 0, 0]],
        status="FINISHED",
    )
    record.end_time = record.start_time + 1500
    html = card.render(record, Outcome(record.key, "retry", error="<down>"))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>exp</b>" not in html
    assert "<img" not in html
    assert "<i>v</i>" not in html
    assert "<m>" not in html
    assert "&lt;down&gt;" in html
    assert "pending" in html
    assert "1.50 s" in html
    assert "duration_s" not in html  # our own metrics stay off the card


def test_card_states_and_links():
    record = _record(tracking_uri="http://alice:secret@mlflow.example:5000/", status="FINISHED")
    saving = card.render(record, None)
    assert "saving" in saving
    delivered = card.render(record, Outcome(record.key, "delivered", "0123456789", "7"))
    assert "saved to MLflow" in delivered
    assert "http://mlflow.example:5000/#/experiments/7/runs/0123456789" in delivered
    assert "secret" not in delivered
    assert "alice" not in delivered
    assert "<code>01234567</code>" in delivered
    embedded = _record(tracking_uri="sqlite:////p/.mlops/mlflow.db", status="FINISHED")
    assert "open in MLflow" not in card.render(embedded, Outcome("k", "delivered", "r", "1"))


# -- magics' option parsing -------------------------------------------------------------------
def test_magic_option_parsing():
    from IPython.core.error import UsageError

    from jupyter_mlops import magics

    assert magics._names(None, "--params") is None
    assert magics._names("a, b,,c", "--params") == ["a", "b", "c"]
    with pytest.raises(UsageError, match="'1x' is not a Python name"):
        magics._names("a,1x", "--params")
    assert magics._tags("k=v, x = y=z") == {"k": "v", "x": "y=z"}
    assert magics._tags(None) == {}
    with pytest.raises(UsageError, match="key=value"):
        magics._tags("novalue")
    with pytest.raises(UsageError, match="key=value"):
        magics._tags("=v")
    # Names MLflow refuses would keep the run from ever being delivered.
    for bad in ("a(b)", "x/../y", "/abs", "a//b", "..", "k" * 251):
        with pytest.raises(UsageError, match="not a tag name"):
            magics._tags(f"{bad}=1")
    assert magics._tags("team/owner=me,stage: dev=1,a.b-c d=2") == {
        "team/owner": "me",
        "stage: dev": "1",
        "a.b-c d": "2",
    }


def test_card_links_to_the_run_in_the_panel(monkeypatch):
    from jupyter_mlops.tracking import card
    from jupyter_mlops.tracking.delivery import Outcome
    from jupyter_mlops.tracking.spool import RunRecord

    record = RunRecord.new(tracking_uri="sqlite:///x.db", experiment="e", run_name="n")
    delivered = Outcome(record.key, "delivered", "abc123", "1")
    monkeypatch.delenv("JUPYTER_MLOPS_BASE_URL", raising=False)
    assert "mlops-run" not in card.render(record, delivered)
    monkeypatch.setenv("JUPYTER_MLOPS_BASE_URL", "/user/ann/")
    html = card.render(record, delivered)
    assert "href='/user/ann/lab?mlops-run=abc123'" in html
    assert "mlops-run" not in card.render(record, Outcome(record.key, "retry", None, None))


# -- magics' option splitting -----------------------------------------------------------------
def test_magic_options_are_split_as_a_shell_splits_them():
    from IPython.core.error import UsageError

    from jupyter_mlops.magics import MlopsMagics, _parse

    args = _parse(MlopsMagics.snapshot, 'data.csv "my data/raw" -m "relabelled the cats" --push')
    assert args.paths == ["data.csv", "my data/raw"]
    assert args.message == "relabelled the cats"
    assert _parse(MlopsMagics.snapshot, "data.csv -m 'it\"s fine'").message == 'it"s fine'
    args = _parse(MlopsMagics.track, '--name "sgd baseline" --tags "team=ml ops"')
    assert (args.name, args.tags) == ("sgd baseline", "team=ml ops")
    with pytest.raises(UsageError, match="No closing quotation"):
        _parse(MlopsMagics.snapshot, 'data.csv -m "unfinished')


# -- the capture rule -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "literal", "computed"),
    [
        ("a = 1\nb = -2\nc = 2 ** 10\nd = 1e-3 * 5\ne = 'adam'\nf = True", "abcdef", ""),
        ("a = [64, 32]\nb = (1, 'x', False)\nc = [1, 2, 3, 4, 5]", "abc", ""),
        # Long sequences, nested lists, dicts, None, names and calls are not literals.
        (
            "a = [1, 2, 3, 4, 5, 6]\nb = [[1]]\nc = {'k': 1}\nd = None\ne = a\nf = g(1)",
            "",
            "abcdef",
        ),
        ("a = 'x' + 'y'\nb = f'{a}'\nc = -a", "", "abc"),
        ("a, (b, c) = 1, (g(), 3)\nd = e = 0.5\nx: int = 3", "acdex", "b"),
        ("a, *b = 1, 2, 3", "", "ab"),
        # A name assigned something computed anywhere in the cell is computed.
        ("n = 0\nn = n + 1\nm = 1\nm += 1", "", "nm"),
        ("if fast:\n    epochs = 1\nelse:\n    epochs = 10", ["epochs"], ""),
    ],
)
def test_literal_and_computed_names(source, literal, computed):
    names = capture.cell_names(source)
    assert sorted(names.literal) == sorted(literal)
    assert sorted(set(names.assigned) - names.literal) == sorted(computed)


def test_automatic_names_take_only_the_notebook_parameters_the_cell_reads():
    source = "lr = 0.1\nfor e in range(epochs):\n    pass\nscore = fit(lr, f'{seed}')"
    params, metrics = capture.automatic_names(source, ["epochs", "model_kind", "seed", "lr"])
    assert params == ["lr", "epochs", "seed"]
    assert metrics == ["score"]


#: A cell as a data scientist writes it; ``epochs`` and ``model_kind`` come from the
#: notebook's parameters cell.
RULE_CELL = """\
# sgd baseline
import numpy as np
learning_rate = 0.05
lr = 1 / 1000
optimizer = "sgd"
shuffle = True
layers = [64, 32]
losses = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.04, 0.03, 0.02, 0.01, 0.005]
six = [1, 2, 3, 4, 5, 6]
weights = np.zeros(3)
val_loss = float(np.min(losses) * 4)
best = np.float64(0.25)
one = np.array([0.5])
flag = bool(val_loss)
label = f"{optimizer}-{learning_rate}"
n = 0
n = n + epochs
for epoch in range(epochs):
    step_loss = losses[epoch]
"""


def _captured(
    tmp_path: Path, monkeypatch, logged: dict[str, float] | None = None, **options
) -> tuple[dict[str, str], dict[str, float]]:
    """What a tracker records for RULE_CELL run in a notebook whose parameters cell sets
    ``epochs`` and ``model_kind``: its parameters and metrics."""
    import nbformat

    from jupyter_mlops import settings as settings_mod
    from jupyter_mlops.tracking.session import TrackingSession
    from jupyter_mlops.tracking.tracker import Tracker

    for name in ("JUPYTER_MLOPS_NOTEBOOK", "JPY_SESSION_NAME"):
        monkeypatch.delenv(name, raising=False)
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("epochs = 15\nmodel_kind = 'sgd'")
    cell.metadata["tags"] = ["parameters"]
    nb.cells.append(cell)
    path = tmp_path / "rule.ipynb"
    nbformat.write(nb, path)
    namespace: dict = {"__session__": str(path), "epochs": 15, "model_kind": "sgd"}
    exec(RULE_CELL, namespace)
    session = TrackingSession(settings_mod.resolve(tmp_path, environ={}))
    try:
        tracker = Tracker(session, source=RULE_CELL, namespace=namespace, **options)
        tracker.log(step=3, **(logged or {}))
        params = tracker._params_and_metrics(0)
    finally:
        session.executor.shutdown()
    metrics = {name: value for name, value, _ts, _step in tracker.record.metrics}
    return params, metrics


def test_capture_rule(tmp_path: Path, monkeypatch):
    params, metrics = _captured(tmp_path, monkeypatch)
    # Literals the cell assigns and the notebook parameter it reads; not `model_kind`.
    assert params == {
        "learning_rate": "0.05",
        "lr": "0.001",
        "optimizer": "sgd",
        "shuffle": "True",
        "layers": "[64, 32]",
        "epochs": "15",
    }
    # Numbers it computes; not arrays, lists, bools, strings, loop variables.
    assert metrics == {"val_loss": 0.02, "best": 0.25, "n": 15.0}
    # A name the cell logs (jupyter_mlops.log) keeps what it logged.
    params, metrics = _captured(tmp_path, monkeypatch, logged={"val_loss": 0.5, "lr": 2.0})
    assert metrics == {"val_loss": 0.5, "lr": 2.0, "best": 0.25, "n": 15.0}
    assert "lr" not in params


def test_explicit_params_and_metrics_win(tmp_path: Path, monkeypatch):
    params, metrics = _captured(
        tmp_path, monkeypatch, params=["val_loss", "label"], metrics=["learning_rate"]
    )
    assert params == {"val_loss": "0.02", "label": "sgd-0.05"}
    assert metrics == {"learning_rate": 0.05}
    # One of the two given: the other stays automatic, without the names given.
    params, metrics = _captured(tmp_path, monkeypatch, params=["val_loss", "optimizer"])
    assert params == {"val_loss": "0.02", "optimizer": "sgd"}
    assert metrics == {"best": 0.25, "n": 15.0}
    params, metrics = _captured(tmp_path, monkeypatch, metrics=["best", "lr"])
    assert "lr" not in params
    assert "learning_rate" in params
    assert metrics == {"best": 0.25, "lr": 0.001}


# -- run names --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("base", "taken", "name"),
    [
        ("sgd baseline", [], "sgd baseline"),
        ("sgd baseline", ["other", "sgd baseline x"], "sgd baseline"),
        ("sgd baseline", ["sgd baseline"], "sgd baseline #2"),
        (
            "sgd baseline",
            ["sgd baseline", "sgd baseline #2", "sgd baseline #7", "sgd baseline #x", "sgd #9"],
            "sgd baseline #8",
        ),
        # Numbers keep growing when the first run was renamed or deleted.
        ("sgd baseline", ["sgd baseline #2"], "sgd baseline #3"),
        ("a.b (c) [d]*", ["a.b (c) [d]*", "aXb (c) [d]* #5"], "a.b (c) [d]* #2"),
    ],
)
def test_next_name(base, taken, name):
    from jupyter_mlops.tracking import naming

    assert naming.next_name(base, taken) == name


def test_next_name_stays_within_mlflows_limit():
    from jupyter_mlops.tracking import naming

    long = "n" * 300
    assert len(naming.next_name(long, ["n" * naming.MAX_BASE])) <= 250
