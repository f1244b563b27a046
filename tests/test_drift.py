"""Drift checks, for real: Evidently on made data (numpy with a seed), references read from
a real git + DVC project by the version a tracked run read (on the real MLflow server),
the caches of a reference version, the results logged into a tracked run, bad input, and
the drift gate's exit code 5 in a real job run (papermill, a real kernel)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from conftest import subprocess_env
from hypothesis import given, settings
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mlops import settings as settings_mod
from jupyter_mlops.export.driftgate import EXIT_DRIFTED, gate_drift
from jupyter_mlops.export.finish import JobOutcome

pytest.importorskip("evidently")

from jupyter_mlops.drift import (
    DriftInputError,
    DriftUnavailable,
    check,
    drift,
    sources,
    stattests,
)

pytestmark = pytest.mark.slow
ROWS = 800


def made(seed: int, shift: float = 0.0, tilt: bool = False, rows: int = ROWS) -> pd.DataFrame:
    """Two numeric columns, one categorical; ``shift`` moves 'amount', ``tilt`` skews 'city'."""
    rng = np.random.default_rng(seed)
    # Exact shares, shuffled: Evidently's chi-square tests the batch against the reference's
    # shares, so two random draws of one distribution are flagged by chance more than 5%.
    shares = [0.7, 0.1, 0.1, 0.1] if tilt else [0.25, 0.25, 0.25, 0.25]
    cities = np.repeat(["oslo", "lima", "pune", "kyiv"], [int(rows * s) for s in shares])
    return pd.DataFrame(
        {
            "amount": rng.normal(10 + shift, 2, rows),
            "age": rng.integers(18, 90, rows),
            "city": rng.permutation(cities),
        }
    )


# -- made data ----------------------------------------------------------------------------------
def test_the_same_distribution_is_not_flagged() -> None:
    result = drift(made(1), made(2))
    assert not result.drifted
    assert not result
    assert result.share == 0.0
    assert set(result.columns) == {"amount", "age", "city"}
    assert result.columns["amount"].kind == "numerical"
    assert result.columns["age"].kind == "numerical"  # integers are numbers, not categories
    assert result.columns["city"].kind == "categorical"
    assert "K-S" in result.columns["amount"].test
    assert "chi-square" in result.columns["city"].test


def test_shifted_numeric_and_categorical_columns_are_flagged() -> None:
    result = drift(made(1), made(2, shift=1.5, tilt=True), threshold=0.5)
    assert result.drifted_columns == ["amount", "city"]
    assert result.share == pytest.approx(2 / 3)
    assert result.drifted
    assert result.columns["age"].drifted is False
    # Above the threshold asked for: the same columns, no verdict on the whole.
    assert not drift(made(1), made(2, shift=1.5, tilt=True), threshold=0.9).drifted
    html = result.report_html
    assert html.lstrip().lower().startswith("<html") or "<html" in html[:500].lower()
    assert json.loads(result.to_json())["drifted_columns"] == ["amount", "city"]


def test_a_path_and_a_path_of_the_current_batch(tmp_path: Path) -> None:
    made(1).to_csv(tmp_path / "ref.csv", index=False)
    made(2, tilt=True).to_parquet(tmp_path / "cur.parquet")
    result = drift(str(tmp_path / "ref.csv"), tmp_path / "cur.parquet")
    assert result.drifted_columns == ["city"]


def large(seed: int, shift: float = 0.0, tilt: bool = False, rows: int = 3000) -> pd.DataFrame:
    """Over 1,000 rows, where Evidently tests with Wasserstein and Jensen-Shannon distances:
    numbers with many values (some missing or infinite), numbers with four values,
    categories and booleans."""
    rng = np.random.default_rng(seed)
    amount = rng.normal(10 + shift, 2, rows)
    amount[rng.choice(rows, 40, replace=False)] = np.nan
    amount[:3] = [np.inf, -np.inf, np.inf]
    shares = [0.7, 0.1, 0.1, 0.1] if tilt else [0.25, 0.25, 0.25, 0.25]
    return pd.DataFrame(
        {
            "amount": amount,
            "age": rng.integers(18, 90, rows),
            "rating": rng.choice([1, 2, 3, 4], rows, p=shares),
            "city": rng.choice(["oslo", "lima", "pune", "kyiv"], rows, p=shares),
            "member": rng.random(rows) < (0.8 if tilt else 0.5),
        }
    )


def _evidently_preset(reference: pd.DataFrame, current: pd.DataFrame) -> tuple[dict, float]:
    """Each column's (test, score, drifted) and the drifted share, from Evidently's own data
    drift preset with its own choice of tests."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=["amount", "age", "rating"], categorical_columns=["city", "member"]
    )
    snapshot = Report([DataDriftPreset()], include_tests=True).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    columns, share = {}, -1.0
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith(":ValueDrift"):
            columns[config["column"]] = (config["method"], float(metric["value"]))
        elif config["type"].endswith(":DriftedColumnsCount"):
            share = metric["value"]["share"]
    return columns, share


# Evidently's own mean of a column with infinities warns.
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("shifted", [False, True])
def test_large_data_gets_evidentlys_own_tests_and_scores(shifted: bool) -> None:
    reference = large(1)
    current = large(2, shift=1.0, tilt=True) if shifted else large(2)
    expected, share = _evidently_preset(reference, current)
    result = drift(reference, current)
    assert {name: c.test for name, c in result.columns.items()} == {
        name: test for name, (test, _score) in expected.items()
    }
    assert result.columns["amount"].test == "Wasserstein distance (normed)"
    assert result.columns["rating"].test == "Jensen-Shannon distance"  # four values
    for name, (_test, score) in expected.items():
        assert result.columns[name].score == pytest.approx(score, rel=1e-9, abs=1e-12), name
    assert result.share == share
    assert result.drifted_columns == (["amount", "rating", "city", "member"] if shifted else [])
    # One page: every column's drift, and one test per column in its Tests tab.
    html = result.report_html
    for name in expected:
        assert f"Drift in column '{name}'" in html
        assert f"Value Drift for column {name}" in html
    # One summary over them all: passed and failed counted across the columns.
    passed, failed = (1, 4) if shifted else (5, 0)
    assert f'{{"value": "{passed}", "label": "SUCCESS"}}' in html
    assert f'{{"value": "{failed}", "label": "FAIL"}}' in html


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False)
values = st.one_of(
    st.lists(finite, min_size=2, max_size=60),
    st.lists(st.integers(-3, 3).map(float), min_size=2, max_size=60),  # ties
)


@settings(max_examples=150, deadline=None)
@given(reference=values, current=values)
def test_the_kept_reference_wasserstein_is_evidentlys(reference: list, current: list) -> None:
    from evidently.legacy.calculations.stattests.wasserstein_distance_norm import (
        _wasserstein_distance_norm,
    )

    ref, cur = pd.Series(reference, name="x"), pd.Series(current, name="x")
    expected, drifted = _wasserstein_distance_norm(ref, cur, None, 0.1)
    kept = {"x": stattests.ReferenceColumn.of(ref, True)}
    for active in ({}, kept):  # made on the spot, and kept from the profile
        with stattests.kept(active):
            score, verdict = stattests._wasserstein(ref, cur, None, 0.1)
        assert score == pytest.approx(float(expected), rel=1e-9, abs=1e-9)
        assert verdict == bool(drifted) or abs(float(expected) - 0.1) < 1e-9


@settings(max_examples=150, deadline=None)
@given(
    reference=st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), min_size=1, max_size=60),
    current=st.lists(st.sampled_from(["a", "b", "c", "f"]), min_size=1, max_size=60),
)
def test_the_kept_reference_jensen_shannon_is_evidentlys(reference: list, current: list) -> None:
    from evidently.legacy.calculations.stattests.jensenshannon import _jensenshannon

    ref, cur = pd.Series(reference, name="x"), pd.Series(current, name="x")
    expected, drifted = _jensenshannon(ref, cur, None, 0.1)
    with stattests.kept({"x": stattests.ReferenceColumn.of(ref, False)}):
        score, verdict = stattests._jensen_shannon(ref, cur, None, 0.1)
    assert score == pytest.approx(float(expected), rel=1e-9, abs=1e-12)
    assert verdict == bool(drifted) or abs(float(expected) - 0.1) < 1e-9


def test_a_kept_reference_column_that_does_not_fit_is_not_used() -> None:
    """Evidently passing other values than the profile was made from (another column of
    the same name, say) gets a test on what it passed."""
    kept = {"x": stattests.ReferenceColumn.of(pd.Series(np.arange(2000.0), name="x"), True)}
    ref = pd.Series(np.zeros(10), name="x")
    with stattests.kept(kept):
        score, _ = stattests._wasserstein(ref, pd.Series(np.ones(10), name="x"), None, 0.1)
    assert score == pytest.approx(1 / 0.001)  # distance 1 over the floor of the deviation


@pytest.mark.parametrize(
    ("reference", "current", "message"),
    [
        (made(1), made(2).drop(columns="age"), "missing in the current data: age"),
        (made(1), made(2).assign(extra=1), "not in the reference: extra"),
        (made(1), made(2).iloc[:0], "The current data (a DataFrame (0 rows)) is empty"),
        (made(1).iloc[:0], made(2), "The reference data"),
        (made(1), made(2).assign(age="x"), "Column age is numerical in the reference"),
        (made(1), made(2).assign(amount=np.nan), "Column amount has no values in the current"),
        (made(1).assign(city=None), made(2), "Column city has no values in the reference"),
        (made(1).assign(amount=np.inf), made(2), "amount has no values in the reference (all"),
        (42, made(2), "not int"),
        ("no/such/file.csv", made(2), "does not exist"),
    ],
)
def test_bad_input_is_one_clear_error(reference: object, current: object, message: str) -> None:
    with pytest.raises(DriftInputError) as caught:
        drift(reference, current)
    assert message in caught.value.message


@pytest.mark.parametrize("threshold", [0, 1.5, -1, True, "half"])
def test_a_threshold_outside_0_to_1_is_refused(threshold: object) -> None:
    with pytest.raises(DriftInputError, match="threshold"):
        drift(made(1), made(2), threshold=threshold)  # type: ignore[arg-type]


def test_the_drift_magic(tmp_path: Path) -> None:
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "jupyter_mlops")
    made(1).to_csv(tmp_path / "ref.csv", index=False)
    shell.user_ns["batch"] = made(2, shift=1.5)
    result = shell.run_line_magic("drift", f"{tmp_path / 'ref.csv'} batch --threshold 0.3")
    assert result.drifted_columns == ["amount"]
    assert result.threshold == 0.3
    shell.user_ns["narrow"] = made(2).drop(columns="city")
    with pytest.raises(UsageError, match="%drift: The columns differ"):
        shell.run_line_magic("drift", f"{tmp_path / 'ref.csv'} narrow")


# -- the gate ------------------------------------------------------------------------------------
def _outcome(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *checks: dict) -> JobOutcome:
    file = tmp_path / "drift.jsonl"
    file.write_text("".join(json.dumps(c) + "\n" for c in checks))
    monkeypatch.setenv("JUPYTER_MLOPS_DRIFT_FILE", str(file))
    return JobOutcome(job="score", folder=str(tmp_path), exit_code=0, message="done")


def test_the_gate_sets_the_share_and_exits_5_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = {"share": 0.6, "threshold": 0.5, "drifted": True, "reference": "run:abc",
             "drifted_columns": ["city", "amount"]}  # fmt: skip
    outcome = _outcome(tmp_path, monkeypatch, {"share": 0.1, "drifted": False}, found)
    monkeypatch.delenv("JUPYTER_MLOPS_FAIL_ON_DRIFT", raising=False)
    gate_drift(outcome)
    assert outcome.drift_share == 0.6
    assert outcome.exit_code == 0
    assert outcome.warnings[0].startswith("drifted: 60%")

    outcome = _outcome(tmp_path, monkeypatch, found)
    monkeypatch.setenv("JUPYTER_MLOPS_FAIL_ON_DRIFT", "1")
    gate_drift(outcome)
    assert outcome.exit_code == EXIT_DRIFTED
    assert outcome.state == "drifted"
    assert outcome.message == (
        "drifted: 60% of columns drifted (threshold 50%) against run:abc; columns: amount, city"
    )

    # A run that failed keeps its own exit code; no check at all changes nothing.
    outcome = _outcome(tmp_path, monkeypatch, found)
    outcome.exit_code = 3
    gate_drift(outcome)
    assert outcome.exit_code == 3
    outcome = _outcome(tmp_path, monkeypatch)
    gate_drift(outcome)
    assert outcome.drift_share is None
    assert outcome.exit_code == 0


def test_a_deployment_sets_the_gate_in_the_jobs_environment() -> None:
    from jupyter_mlops.errors import InvalidInput
    from jupyter_mlops.export.deploy import deployment

    env = deployment(fail_on_drift=True, retrain_deployment="train-nightly").environment()
    assert env["JUPYTER_MLOPS_FAIL_ON_DRIFT"] == "1"
    assert env["JUPYTER_MLOPS_RETRAIN_DEPLOYMENT"] == "train-nightly"
    assert "JUPYTER_MLOPS_FAIL_ON_DRIFT" not in deployment().environment()
    with pytest.raises(InvalidInput, match="needs --fail-on-drift"):
        deployment(retrain_deployment="train-nightly")
    with pytest.raises(InvalidInput, match="not a deployment name"):
        deployment(fail_on_drift=True, retrain_deployment="Train $(rm)")


# -- a real git + DVC project and a tracked run --------------------------------------------------
@pytest.fixture
def project(git_dvc_repo: Path, mlflow_server, monkeypatch: pytest.MonkeyPatch):
    """v1 of data/train.csv snapshotted and committed, a run that read it, then v2."""
    from mlflow import MlflowClient

    from jupyter_mlops.data.service import DataService
    from jupyter_mlops.tracking.capture import capture_lineage

    root = git_dvc_repo
    (root / "data").mkdir()
    svc = DataService(settings_mod.resolve(root, tracking_uri=mlflow_server.uri))
    made(1).to_csv(root / "data" / "train.csv", index=False)
    v1 = svc.snapshot(["data/train.csv"], message="v1", commit=True).paths[0].md5
    client = MlflowClient(mlflow_server.uri)
    experiment = client.create_experiment(f"drift-{time.time_ns()}")
    lineage = capture_lineage(str(root), ["data/train.csv"], str(root), str(root / ".mlops"))
    trained = client.create_run(experiment, run_name="train", tags=lineage.tags).info.run_id
    no_data = client.create_run(experiment, run_name="no data").info.run_id
    made(5, shift=3.0, tilt=True).to_csv(root / "data" / "train.csv", index=False)
    v2 = svc.snapshot(["data/train.csv"], message="v2", commit=True).paths[0].md5
    assert v1 != v2
    monkeypatch.chdir(root)
    monkeypatch.setenv("JUPYTER_MLOPS_ROOT", str(root))
    monkeypatch.setenv("JUPYTER_MLOPS_TRACKING_URI", mlflow_server.uri)
    check.forget()
    return {"root": root, "v1": v1, "v2": v2, "trained": trained, "no_data": no_data}


def test_a_run_reference_is_the_version_that_run_read(project: dict) -> None:
    batch = made(9)  # the distribution of v1, not of v2 that is on disk now
    result = drift(f"run:{project['trained']}", batch)
    assert not result.drifted, result.to_dict()
    assert result.reference_version == project["v1"]
    assert result.reference == f"run:{project['trained']} (data/train.csv {project['v1'][:12]})"
    # The workspace holds v2: against it the same batch drifted.
    assert drift("data/train.csv", batch).drifted
    # The same version by git revision and by md5.
    assert drift("data/train.csv@HEAD~1", batch).reference_version == project["v1"]
    assert drift(f"data/train.csv@{project['v2']}", batch).drifted


def test_a_second_check_reads_and_profiles_nothing(project: dict) -> None:
    reference = f"run:{project['trained']}"
    reads, profiles = sources.stats["reads"], check.stats["profiles"]
    drift(reference, made(9))
    assert sources.stats["reads"] == reads + 1
    assert check.stats["profiles"] == profiles + 1
    cached = project["root"] / ".mlops" / "cache" / "drift" / f"{project['v1']}.parquet"
    assert cached.is_file()

    hits = check.stats["profile_hits"]
    drift(reference, made(10, tilt=True))
    assert sources.stats["reads"] == reads + 1  # not read again
    assert check.stats["profiles"] == profiles + 1  # not profiled again
    assert check.stats["profile_hits"] == hits + 1

    # Another process (memory forgotten): the parquet copy, not DVC's csv.
    check.forget()
    disk = sources.stats["disk_cache_hits"]
    drift(reference, made(11))
    assert sources.stats["reads"] == reads + 1
    assert sources.stats["disk_cache_hits"] == disk + 1


def test_references_that_cannot_be_compared(project: dict) -> None:
    with pytest.raises(DriftInputError, match=f"Run {project['no_data']} read no data DVC"):
        drift(f"run:{project['no_data']}", made(9))
    with pytest.raises(DriftUnavailable, match=r"git has no data/train\.csv\.dvc at nosuchrev"):
        drift("data/train.csv@nosuchrev", made(9))
    missing = "0123456789abcdef0123456789abcdef"
    with pytest.raises(DriftUnavailable, match="not in the local DVC cache and no DVC remote"):
        drift(f"data/train.csv@{missing}", made(9))


def test_inside_a_tracked_block_the_check_logs_into_its_run(project: dict, mlflow_server) -> None:
    from mlflow import MlflowClient

    made(3, shift=4.0).to_csv(project["root"] / "batch.csv", index=False)
    code = (
        "import jupyter_mlops\n"
        "from jupyter_mlops.tracking.session import default_session\n"
        "with jupyter_mlops.track(name='check', experiment='drift-checks') as run:\n"
        f"    jupyter_mlops.drift('run:{project['trained']}', 'batch.csv', threshold=0.3)\n"
        "key = run.key\n"
        "assert default_session().flush(120)\n"
        "print(default_session().spool.receipt(key)['run_id'])\n"
    )
    env = {"JUPYTER_MLOPS_ROOT": str(project["root"]),
           "JUPYTER_MLOPS_TRACKING_URI": mlflow_server.uri}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=project["root"], env=subprocess_env(env),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip().splitlines()[-1]
    client = MlflowClient(mlflow_server.uri)
    run = client.get_run(run_id)
    metrics = run.data.metrics
    assert metrics["drift_share"] == pytest.approx(1 / 3)
    assert metrics["drift_columns_drifted"] == 1
    assert metrics["drift.amount"] < 0.05
    assert metrics["drift.city"] > 0.05
    assert run.data.params["drift.reference"].startswith(f"run:{project['trained']}")
    assert run.data.tags["jupyter_mlops.drift"] == "drifted"
    names = {a.path for a in client.list_artifacts(run_id, "drift")}
    assert names == {"drift/report.html", "drift/columns.json"}
    local = client.download_artifacts(run_id, "drift/columns.json")
    assert json.loads(Path(local).read_text())["drifted_columns"] == ["amount"]


# -- the gate in a real job run ------------------------------------------------------------------
def test_a_drifted_job_run_ends_with_exit_code_5(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    made(1).to_csv(folder / "reference.csv", index=False)
    cells = [
        ("shift = 0.0\n", ["parameters"]),
        (
            "import numpy as np, pandas as pd, jupyter_mlops\n"
            "rng = np.random.default_rng(4)\n"
            "batch = pd.read_csv('../../reference.csv')\n"
            "batch['amount'] = batch['amount'] + shift\n"
            "result = jupyter_mlops.drift('../../reference.csv', batch, threshold=0.3)\n",
            [],
        ),
    ]
    nbformat.write(
        new_notebook(
            cells=[new_code_cell(src, metadata={"tags": tags}) for src, tags in cells],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        ),
        folder / "score.ipynb",
    )
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops", "export", str(folder / "score.ipynb")],
        env=subprocess_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    job = folder / "pipelines" / "score"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "jupyter_mlops.job", str(job), *args],
            env=subprocess_env(), capture_output=True, text=True, timeout=600,
        )  # fmt: skip

    same = run("--fail-on-drift")
    assert same.returncode == 0, same.stderr
    drifted = run("--fail-on-drift", "-p", "shift", "5")
    assert drifted.returncode == EXIT_DRIFTED, drifted.stderr
    assert "drifted: 100% of columns drifted (threshold 30%)" not in drifted.stderr
    assert "drifted: 33% of columns drifted (threshold 30%)" in drifted.stderr
    assert "columns: amount" in drifted.stderr
    # Without the gate, the same drift is a warning and the run succeeds.
    warned = run("-p", "shift", "5")
    assert warned.returncode == 0, warned.stderr
