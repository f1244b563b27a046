"""Models: logged from a tracked cell in a real kernel, registered in a real MLflow server's
registry (SQL backend), promoted through the project's gate, described by a model card."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import cell_text, subprocess_env

from jupyter_mlops import settings as settings_mod
from jupyter_mlops.errors import InvalidInput, NotFound, ServiceUnavailable
from jupyter_mlops.models.card import TO_BE_COMPLETED
from jupyter_mlops.models.models import PromoteBody
from jupyter_mlops.models.service import GateRefused, ModelsService

GATE = """
[tool.jupyter-mlops.gate]
conditions = ["metric", "drift", "clean_git", "card"]
metric = "accuracy"
"""


def _train(seed: int, max_iter: int) -> tuple[Any, float]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=max_iter, random_state=seed).fit(x, y)
    return model, float(model.score(x, y))


def _register(uri: str, name: str, *, max_iter: int, tags: dict[str, str]) -> tuple[str, float]:
    """A version of ``name`` logged from a run with the tags the tracker records."""
    import mlflow
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    model, accuracy = _train(0, max_iter)
    with (
        _use_tracking_uri(uri),
        mlflow.start_run(
            experiment_id=mlflow.MlflowClient(uri).get_experiment_by_name("Default").experiment_id,
            tags=tags,
        ),
    ):
        mlflow.log_param("max_iter", max_iter)
        mlflow.log_metric("accuracy", accuracy)
        info = mlflow.sklearn.log_model(model, name=name, registered_model_name=name)
    return str(info.registered_model_version), accuracy


@pytest.fixture(scope="module")
def registry(mlflow_server: Any) -> dict[str, Any]:
    """A model with a good version 1 and a worse version 2 (clean git) and a version 3
    trained on a dirty tree."""
    name = f"iris-{uuid.uuid4().hex[:8]}"
    clean = {"mlflow.source.git.commit": "a" * 40, "jupyter_mlops.git.dirty": "false"}
    good, good_acc = _register(mlflow_server.uri, name, max_iter=200, tags=clean)
    worse, worse_acc = _register(mlflow_server.uri, name, max_iter=1, tags=clean)
    dirty = {**clean, "jupyter_mlops.git.dirty": "true", "drift_share": "0.1"}
    dirty_version, _ = _register(mlflow_server.uri, name, max_iter=200, tags=dirty)
    assert worse_acc < good_acc
    return {"name": name, "good": good, "worse": worse, "dirty": dirty_version}


@pytest.fixture
def service(tmp_path: Path, mlflow_server: Any) -> ModelsService:
    (tmp_path / "pyproject.toml").write_text(GATE)
    return ModelsService(settings_mod.resolve(tmp_path, tracking_uri=mlflow_server.uri))


def _results(result: Any) -> dict[str, str]:
    return {c.name: c.result for c in result.conditions}


def _set_run_tag(service: ModelsService, name: str, version: str, key: str, value: str) -> None:
    client = service.client()
    client.set_tag(client.get_model_version(name, version).run_id, key, value)


# -- the gate and promotion ---------------------------------------------------------------------
def test_gate_says_why_and_promotion_needs_every_condition(service, registry):
    name, good = registry["name"], registry["good"]
    result = service.gate(name, good, "champion")
    assert not result.passed
    assert _results(result) == {
        "metric": "passed",
        "drift": "cannot_evaluate",
        "clean_git": "passed",
        "card": "failed",
    }
    reasons = {c.name: c.reason for c in result.conditions}
    assert "no drift check" in reasons["drift"]
    assert "nobody holds @champion" in reasons["metric"]
    with pytest.raises(GateRefused) as refused:
        service.promote(name, "champion", PromoteBody(version=good), "tester")
    assert "drift cannot be evaluated" in refused.value.message
    assert "card failed" in refused.value.message
    assert "champion" not in service.show(name).aliases  # unchanged

    card = service.card(name, good)
    assert card.startswith("---\n")
    _set_run_tag(service, name, good, "drift_share", "0.05")
    change = service.promote(name, "champion", PromoteBody(version=good), "tester")
    assert change.gate is not None
    assert change.gate.passed
    assert not change.forced
    shown = service.show(name)
    assert shown.aliases == {"champion": good}
    assert {v.version: v.aliases for v in shown.versions}[good] == ["champion"]
    record = json.loads(service.version(name, good).tags["jupyter_mlops.alias.champion"])
    assert record["action"] == "promote"
    assert record["who"] == "tester"
    assert record["gate_passed"] is True
    assert {c["name"] for c in record["gate"]} == {"metric", "drift", "clean_git", "card"}

    # The audit trail of the project has it.
    trail = service.settings.state_dir / "audit.jsonl"
    entries = [json.loads(line) for line in trail.read_text().splitlines()]
    assert any(e["kind"] == "promote" and e["subject"] == f"{name}/{good}" for e in entries)


def test_a_worse_metric_is_refused_and_force_needs_a_reason(service, registry):
    name, good, worse = registry["name"], registry["good"], registry["worse"]
    client = service.client()
    client.set_registered_model_alias(name, "challenger", good)
    service.card(name, worse)
    _set_run_tag(service, name, worse, "drift", "passed")
    result = service.gate(name, worse, "challenger")
    [metric] = [c for c in result.conditions if c.name == "metric"]
    assert metric.result == "failed"
    assert f"worse than version {good}'s" in metric.reason
    assert _results(result)["drift"] == "passed"
    with pytest.raises(GateRefused):
        service.promote(name, "challenger", PromoteBody(version=worse), "tester")
    with pytest.raises(InvalidInput, match="needs a reason"):
        service.promote(name, "challenger", PromoteBody(version=worse, force=True), "tester")
    assert service.show(name).aliases["challenger"] == good
    change = service.promote(
        name,
        "challenger",
        PromoteBody(version=worse, force=True, reason="shadow test of the smaller model"),
        "tester",
    )
    assert change.forced
    assert change.previous_version == good
    assert service.show(name).aliases["challenger"] == worse
    record = json.loads(service.version(name, worse).tags["jupyter_mlops.alias.challenger"])
    assert record["forced"] is True
    assert record["reason"] == "shadow test of the smaller model"

    demoted = service.demote(name, "challenger", "shadow test over", "tester")
    assert demoted.version == worse
    assert "challenger" not in service.show(name).aliases
    with pytest.raises(NotFound, match="holds the alias @challenger"):
        service.demote(name, "challenger", "", "tester")


def test_dirty_tree_fails_and_missing_data_cannot_be_evaluated(tmp_path, mlflow_server, registry):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.jupyter-mlops.gate]\nconditions = ["clean_git", "data_pushed", "drift"]\n'
    )
    service = ModelsService(settings_mod.resolve(tmp_path, tracking_uri=mlflow_server.uri))
    result = service.gate(registry["name"], registry["dirty"], "champion")
    reasons = {c.name: (c.result, c.reason) for c in result.conditions}
    assert reasons["clean_git"][0] == "failed"
    assert "uncommitted changes" in reasons["clean_git"][1]
    assert reasons["data_pushed"] == (
        "cannot_evaluate",
        "The run recorded no DVC-tracked training data.",
    )
    assert reasons["drift"][0] == "passed"  # drift_share 0.1 <= 0.5


def test_gate_settings_are_checked(tmp_path, mlflow_server, registry):
    (tmp_path / "pyproject.toml").write_text('[tool.jupyter-mlops.gate]\nconditions = ["vibes"]\n')
    service = ModelsService(settings_mod.resolve(tmp_path, tracking_uri=mlflow_server.uri))
    with pytest.raises(InvalidInput, match=r"conditions .* must be a list of metric"):
        service.gate(registry["name"], registry["good"], "champion")


# -- model cards --------------------------------------------------------------------------------
def test_card_fills_what_is_known_and_marks_the_rest(service, registry, tmp_path):
    from huggingface_hub import ModelCard

    name, good = registry["name"], registry["good"]
    text = service.card(name, good)
    card = ModelCard(text)
    assert card.data.mlflow["registered_model"] == name
    assert card.data.mlflow["version"] == good
    body = card.text
    assert "| max_iter | 200 |" in body  # parameters
    assert "| accuracy |" in body  # metrics
    assert "git commit `" + "a" * 40 + "`, clean tree" in body
    assert "scikit-learn" not in body or "Packages" in body
    # Not known: marked, never invented.
    section = body.split("### 5. Risk management system", 1)[1].split("###", 1)[0]
    assert section.strip() == TO_BE_COMPLETED
    intended = body.split("## Intended use", 1)[1].split("##", 1)[0]
    assert intended.strip() == TO_BE_COMPLETED
    assert "No DVC-tracked training data" in body
    # Logged on the version: an artifact of its run, named by a tag.
    version = service.version(name, good)
    assert version.card == f"model_cards/{name}-v{good}.md"
    logged = service.client().download_artifacts(version.run_id, version.card, str(tmp_path))
    assert Path(logged).read_text() == text


# -- bad input ----------------------------------------------------------------------------------
def test_unknown_model_version_and_alias_are_refused(service, registry):
    name = registry["name"]
    with pytest.raises(NotFound, match="No registered model 'nope-"):
        service.show(f"nope-{uuid.uuid4().hex}")
    with pytest.raises(NotFound, match=f"Model '{name}' has no version 99"):
        service.gate(name, "99", "champion")
    for alias in ("latest", "v2", "bad alias", "-x", ""):
        with pytest.raises(InvalidInput, match="not a valid alias"):
            service.promote(name, alias, PromoteBody(version=registry["good"]), "tester")
    with pytest.raises(InvalidInput, match="names no model version"):
        service.resolve("no-version-here")


def test_tracking_server_down_is_one_clear_line(tmp_path, down_server_url):
    service = ModelsService(
        settings_mod.resolve(tmp_path, tracking_uri=down_server_url, probe_timeout=1.0)
    )
    with pytest.raises(ServiceUnavailable, match="does not answer") as down:
        service.promote("m", "champion", PromoteBody(version="1"), "tester")
    assert "\n" not in down.value.message


# -- the CLI ------------------------------------------------------------------------------------
def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jupyter_mlops", *args],
        cwd=cwd,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_promote_exits_non_zero_naming_each_failed_condition(tmp_path, mlflow_server, registry):
    (tmp_path / "pyproject.toml").write_text(GATE)
    name, dirty = registry["name"], registry["dirty"]
    uri = ["--root", str(tmp_path), "--tracking-uri", mlflow_server.uri]
    done = _cli("models", "promote", name, dirty, "--alias", "staging", *uri, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "FAILED           clean_git: Trained with uncommitted changes" in done.stderr
    assert "FAILED           card: No model card" in done.stderr
    listed = _cli("models", "list", "--json", *uri, cwd=tmp_path)
    assert "staging" not in json.loads(listed.stdout)["models"][0]["aliases"]
    out = tmp_path / "card.md"
    done = _cli("card", f"{name}/{dirty}", "-o", str(out), *uri, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "with uncommitted changes" in out.read_text()
    bad = _cli("card", f"{name}@v1", *uri, cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.startswith("jupyter mlops: error: 'v1' is not a valid alias")


# -- from a notebook ----------------------------------------------------------------------------
def test_log_model_in_a_tracked_cell_registers_a_version_of_its_run(
    run_notebook, git_dvc_repo, mlflow_server
):
    from mlflow import MlflowClient

    name = f"nb-{uuid.uuid4().hex[:8]}"
    nb = run_notebook(
        [
            "%load_ext jupyter_mlops",
            "%%track --name train-iris --experiment models-nb\n"
            "from sklearn.datasets import load_iris\n"
            "from sklearn.linear_model import LogisticRegression\n"
            "X, y = load_iris(return_X_y=True)\n"
            "model = LogisticRegression(max_iter=300).fit(X, y)\n"
            "accuracy = model.score(X, y)\n"
            f"info = jupyter_mlops.log_model(model, name={name!r})\n"
            "print('version', info.registered_model_version)",
            "from jupyter_mlops.tracking.session import default_session\n"
            "print('flushed', default_session().flush(90))",
            "%%track --name use-champion --experiment models-nb\n"
            f"loaded = jupyter_mlops.load_model('{name}/1')\n"
            "predictions = loaded.predict(X[:3])",
            "print('flushed', default_session().flush(90))",
        ],
        cwd=git_dvc_repo,
        env={"JUPYTER_MLOPS_TRACKING_URI": mlflow_server.uri},
        timeout=180,
    )
    assert "version 1" in cell_text(nb.cells[1])
    assert "flushed True" in cell_text(nb.cells[2])
    assert "flushed True" in cell_text(nb.cells[4])
    client = MlflowClient(tracking_uri=mlflow_server.uri)
    version = client.get_model_version(name, "1")
    assert version.tags["jupyter_mlops.flavor"] == "sklearn"
    run = client.get_run(version.run_id)
    assert run.info.run_name == "train-iris"
    assert run.info.status == "FINISHED"
    assert run.data.tags["jupyter_mlops.model." + name] == "1"
    assert "accuracy" in run.data.metrics  # the tracker's capture, same run
    assert len(run.data.tags["mlflow.source.git.commit"]) == 40
    [user] = client.search_runs([run.info.experiment_id], "attributes.run_name = 'use-champion'")
    assert user.data.tags["jupyter_mlops.model_used." + name] == "1"
    trail = git_dvc_repo / ".mlops" / "audit.jsonl"
    kinds = [json.loads(line)["kind"] for line in trail.read_text().splitlines()]
    assert "model-log" in kinds
    assert "register" in kinds


# -- the routes ---------------------------------------------------------------------------------
class TestRoutes:
    @pytest.fixture
    def mlops_config(self, mlflow_server: Any) -> dict[str, Any]:
        return {"tracking_uri": mlflow_server.uri}

    async def test_models_gate_promote_and_card(self, fetch_json, jp_fetch, registry, jp_root_dir):
        (Path(jp_root_dir) / "pyproject.toml").write_text(GATE)
        name, dirty = registry["name"], registry["dirty"]
        status, body = await fetch_json("models")
        assert status == 200
        assert name in [m["name"] for m in body["models"]]
        status, body = await fetch_json("models", name)
        assert status == 200
        assert [v["version"] for v in body["versions"]][-1] == "1"
        status, body = await fetch_json("models", name, "versions", dirty)
        assert status == 200
        assert body["lineage"]["jupyter_mlops.git.dirty"] == "true"
        status, body = await fetch_json(
            "models", name, "versions", dirty, "gate", method="POST", body='{"alias": "prod"}'
        )
        assert status == 200
        assert not body["passed"]
        assert {c["name"]: c["result"] for c in body["conditions"]}["clean_git"] == "failed"
        status, body = await fetch_json(
            "models", name, "aliases", "prod", method="POST", body=json.dumps({"version": dirty})
        )
        assert status == 409
        assert body["code"] == "gate_refused"
        assert "clean_git failed" in body["message"]
        status, body = await fetch_json(
            "models", name, "aliases", "prod", method="POST",
            body=json.dumps({"version": dirty, "force": True}),
        )  # fmt: skip
        assert status == 400
        assert "needs a reason" in body["message"]
        status, body = await fetch_json("models", name)
        assert "prod" not in body["aliases"]
        status, body = await fetch_json("models", name, "aliases", "latest", method="DELETE")
        assert status == 400
        assert body["fields"][0]["field"] == "alias"
        status, body = await fetch_json("models", f"missing-{uuid.uuid4().hex}")
        assert status == 404
        answer = await jp_fetch("jupyter-mlops", "models", name, "versions", dirty, "card")
        assert answer.headers["Content-Type"].startswith("text/markdown")
        assert b"## Approvals" in answer.body


# -- the data_pushed condition and the card's training data, on a real DVC project ---------
def test_data_pushed_reads_the_data_journal(git_dvc_repo, tmp_path, mlflow_server):
    import nbformat

    from jupyter_mlops.data.lineage import data_tag
    from jupyter_mlops.data.service import DataService

    root = git_dvc_repo
    env = subprocess_env()
    subprocess.run(
        [sys.executable, "-m", "dvc", "remote", "add", "-d", "store", str(tmp_path / "remote")],
        cwd=root, env=env, check=True, capture_output=True,
    )  # fmt: skip
    (root / "train.csv").write_text("x,y\n1,2\n3,4\n")
    (root / "pyproject.toml").write_text(
        '[tool.jupyter-mlops.gate]\nconditions = ["data_pushed"]\n'
    )
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Churn\n\nPredicts which customers leave."),
        nbformat.v4.new_code_cell("x = 1"),
    ]
    nbformat.write(notebook, root / "train.ipynb")
    settings = settings_mod.resolve(root, tracking_uri=mlflow_server.uri)
    data = DataService(settings)
    [snap] = data.snapshot(["train.csv"]).paths
    name = f"data-{uuid.uuid4().hex[:8]}"
    tags = {data_tag("train.csv"): snap.md5, "jupyter_mlops.notebook": "train.ipynb"}
    version, _ = _register(mlflow_server.uri, name, max_iter=50, tags=tags)
    service = ModelsService(settings)

    [unpushed] = service.gate(name, version, "champion").conditions
    assert unpushed.result == "failed"
    assert unpushed.reason == f"Not pushed to the DVC remote: train.csv ({snap.md5[:12]})."
    assert data.push(["train.csv"]).objects >= 1
    [pushed] = service.gate(name, version, "champion").conditions
    assert pushed.result == "passed"

    card = service.card(name, version)
    assert f"| train.csv | DVC md5 `{snap.md5}` | {snap.size} |" in card
    intended = card.split("## Intended use", 1)[1].split("\n## ", 1)[0]
    assert "### Churn" in intended
    assert "Predicts which customers leave." in intended


# -- a job records the version it resolved ------------------------------------------------------
@pytest.mark.slow
def test_a_job_tags_its_run_with_the_model_version_it_loaded(
    git_dvc_repo, clean_env, mlflow_server, registry
):
    import nbformat
    from mlflow import MlflowClient
    from nbformat.v4 import new_code_cell, new_notebook

    name, good = registry["name"], registry["good"]
    client = MlflowClient(mlflow_server.uri)
    client.set_registered_model_alias(name, "production", good)
    project = git_dvc_repo
    nbformat.write(
        new_notebook(
            cells=[
                new_code_cell("rows = 2", metadata={"tags": ["parameters"]}),
                new_code_cell("%load_ext jupyter_mlops"),
                # Not a tracked cell: the job's own run records the version.
                new_code_cell(
                    f"model = jupyter_mlops.load_model('{name}@production')\n"
                    "print(model.predict([[5.1, 3.5, 1.4, 0.2]] * rows))"
                ),
            ],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        ),
        project / "score.ipynb",
    )
    python = [sys.executable, "-m", "jupyter_mlops"]
    env = clean_env({"JUPYTER_MLOPS_TRACKING_URI": mlflow_server.uri})
    done = subprocess.run(
        [*python, "export", str(project / "score.ipynb"), "--target=docker"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [*python, "run", str(project / "pipelines" / "score")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    experiment = client.get_experiment_by_name("score")
    [run] = client.search_runs([experiment.experiment_id], "tags.`jupyter_mlops.source` = 'job'")
    assert run.data.tags["jupyter_mlops.model_used." + name] == good


def test_the_drift_checks_own_verdict_fails_the_gate_below_its_maximum_share():
    """jupyter_mlops.drift() logs drift_share and its verdict (threshold of its own); a
    run whose check said "drifted" does not pass the gate because the share is small."""
    from jupyter_mlops.models.gate import Candidate, GateConfig, evaluate

    def drift_result(tags: dict[str, str], share: float) -> tuple[str, str]:
        candidate = Candidate("1", {}, tags, {"drift_share": share})
        [condition] = evaluate(GateConfig(conditions=("drift",)), "champion", candidate)
        return condition.result, condition.reason

    assert drift_result({"jupyter_mlops.drift": "ok"}, 0.2)[0] == "passed"
    result, reason = drift_result({"jupyter_mlops.drift": "drifted"}, 0.2)
    assert result == "failed"
    assert "drifted" in reason
    assert drift_result({"jupyter_mlops.drift": "ok"}, 0.8)[0] == "failed"
