"""REST routes of the server extension, served by a real Jupyter server (pytest-jupyter),
against the embedded SQLite store, a real MLflow tracking server, and one that is down."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import uuid
from pathlib import Path

import pytest

from jupyter_mlops import __version__
from jupyter_mlops import settings as settings_mod
from jupyter_mlops.api.models import ErrorBody
from jupyter_mlops.experiments.models import ExperimentsResponse
from jupyter_mlops.status.models import StatusResponse
from jupyter_mlops.status.service import REPORTED_PACKAGES

STATUS_KEYS = {"version", "python", "packages", "tracking", "project", "container_engine"}


@pytest.fixture
def missing_docker_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """DOCKER_HOST pointing at a socket that does not exist."""
    host = f"unix://{tmp_path / 'no-engine' / 'docker.sock'}"
    monkeypatch.setenv("DOCKER_HOST", host)
    return host


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _by_name(body: dict) -> dict[str, dict]:
    return {exp["name"]: exp for exp in body["experiments"]}


def _mlflow_client(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _make_experiment(client, name: str, runs: int, tags: dict[str, str] | None = None) -> str:
    experiment_id = client.create_experiment(name, tags=tags)
    for i in range(runs):
        run = client.create_run(experiment_id, run_name=f"run-{i}")
        client.log_param(run.info.run_id, "i", i)
        client.set_terminated(run.info.run_id)
    return experiment_id


# -- the embedded store ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def embedded_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One project root for this module's embedded-store tests, so the SQLite store (whose
    schema takes seconds to create) is created once; each test uses its own experiments."""
    return tmp_path_factory.mktemp("embedded-project")


class TestEmbeddedStore:
    @pytest.fixture
    def jp_root_dir(self, embedded_root: Path) -> Path:
        return embedded_root

    async def test_default_experiment_is_empty_and_keeps_artifacts_under_mlops(
        self, fetch_json, embedded_root, embedded_uri
    ):
        cwd_mlruns_before = Path.cwd().joinpath("mlruns").exists()
        code, body = await fetch_json("experiments")
        assert code == 200, body
        ExperimentsResponse.model_validate(body)
        root = embedded_root.resolve()
        assert body["tracking_uri"] == embedded_uri(root)
        assert (root / ".mlops" / "mlflow.db").is_file()
        default = _by_name(body)["Default"]
        assert default["experiment_id"] == "0"
        assert default["lifecycle_stage"] == "active"
        assert (default["run_count"], default["run_count_capped"]) == (0, False)
        artifacts = (root / ".mlops" / "artifacts").as_uri()
        assert default["artifact_location"].startswith(artifacts), default["artifact_location"]
        assert "mlruns" not in default["artifact_location"]
        assert not (root / "mlruns").exists()
        assert Path.cwd().joinpath("mlruns").exists() == cwd_mlruns_before

    async def test_run_counts_and_search(self, fetch_json, embedded_root):
        code, _ = await fetch_json("experiments")  # creates the store if no test did yet
        assert code == 200
        client = _mlflow_client(settings_mod.resolve(embedded_root, environ={}).tracking_uri)
        churn, forecast = _unique("Churn-Model"), _unique("forecast")
        _make_experiment(client, churn, runs=3, tags={"team": "ds"})
        _make_experiment(client, forecast, runs=1)

        code, body = await fetch_json("experiments")
        assert code == 200, body
        found = _by_name(body)
        assert found[churn]["run_count"] == 3
        assert found[forecast]["run_count"] == 1
        assert found["Default"]["run_count"] == 0
        # User tags are listed, MLflow's own (mlflow.*) are not.
        assert found[churn]["tags"] == {"team": "ds"}

        # Search is a case-insensitive substring match on the name.
        code, body = await fetch_json("experiments", params={"search": churn.upper()})
        assert code == 200
        assert [e["name"] for e in body["experiments"]] == [churn]
        code, body = await fetch_json("experiments", params={"search": "no-such-experiment"})
        assert (code, body["experiments"]) == (200, [])

        code, body = await fetch_json("experiments", params={"max_results": "1"})
        assert code == 200
        assert len(body["experiments"]) == 1

    async def test_deleted_runs_and_experiments(self, fetch_json, embedded_root):
        code, _ = await fetch_json("experiments")
        assert code == 200
        client = _mlflow_client(settings_mod.resolve(embedded_root, environ={}).tracking_uri)
        kept, gone = _unique("kept"), _unique("gone")
        kept_id = _make_experiment(client, kept, runs=2)
        gone_id = _make_experiment(client, gone, runs=1)
        client.delete_run(client.search_runs([kept_id])[0].info.run_id)
        client.delete_experiment(gone_id)

        code, body = await fetch_json("experiments")
        found = _by_name(body)
        assert found[kept]["run_count"] == 1, "deleted runs are not counted"
        assert gone not in found

        code, body = await fetch_json("experiments", params={"include_deleted": "true"})
        assert code == 200
        assert _by_name(body)[gone]["lifecycle_stage"] == "deleted"

    async def test_status(self, fetch_json, embedded_root, embedded_uri, missing_docker_socket):
        code, body = await fetch_json("status")
        assert code == 200, body
        StatusResponse.model_validate(body)
        assert set(body) == STATUS_KEYS
        assert body["version"] == __version__
        assert body["python"] == platform.python_version()
        assert set(body["packages"]) == set(REPORTED_PACKAGES)
        for name in ("mlflow", "jupyter_server", "dvc"):
            assert body["packages"][name] == importlib.metadata.version(name)
        root = embedded_root.resolve()
        assert body["tracking"] == {
            "uri": embedded_uri(root),
            "kind": "embedded",
            "source": "default",
            "reachable": True,
            "error": None,
            "ui_url": None,
        }
        assert body["project"] == {
            "root": str(root),
            "git": False,
            "git_branch": None,
            "git_commit": None,
            "dvc": False,
        }
        engine = body["container_engine"]
        assert engine["docker_host"] == missing_docker_socket
        assert engine["reachable"] is False
        assert engine["error"]
        assert engine["name"] is None
        assert engine["version"] is None

    async def test_server_exports_its_settings_for_kernels(self, mlops_app, embedded_root):
        root = embedded_root.resolve()
        assert os.environ[settings_mod.ENV_ROOT] == str(root)
        assert os.environ[settings_mod.ENV_TRACKING_URI] == mlops_app.settings_resolved.tracking_uri
        assert (
            os.environ[settings_mod.ENV_ARTIFACT_LOCATION]
            == (root / ".mlops" / "artifacts").as_uri()
        )


class TestRunCountCap:
    @pytest.fixture
    def jp_root_dir(self, embedded_root: Path) -> Path:
        return embedded_root

    @pytest.fixture
    def mlops_config(self) -> dict:
        return {"run_count_limit": 2}

    async def test_counts_stop_at_the_configured_limit(self, fetch_json, embedded_root):
        code, _ = await fetch_json("experiments")
        assert code == 200
        client = _mlflow_client(settings_mod.resolve(embedded_root, environ={}).tracking_uri)
        many, few = _unique("many"), _unique("few")
        _make_experiment(client, many, runs=3)
        _make_experiment(client, few, runs=1)
        code, body = await fetch_json("experiments")
        found = _by_name(body)
        assert (found[many]["run_count"], found[many]["run_count_capped"]) == (2, True)
        assert (found[few]["run_count"], found[few]["run_count_capped"]) == (1, False)


# -- the project folder ---------------------------------------------------------------------
class TestProjectInGitDvcRepo:
    @pytest.fixture
    def jp_root_dir(self, git_dvc_repo: Path) -> Path:
        return git_dvc_repo

    @pytest.fixture
    def mlops_config(self, down_server_url: str) -> dict:
        # The tracking probe fails at once: this test is about the project facts.
        return {"tracking_uri": down_server_url}

    async def test_status_reports_git_and_dvc(self, fetch_json, git_dvc_repo):
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=git_dvc_repo, capture_output=True, text=True
        ).stdout.strip()
        code, body = await fetch_json("status")
        assert code == 200, body
        assert body["project"] == {
            "root": str(git_dvc_repo.resolve()),
            "git": True,
            "git_branch": "main",
            "git_commit": head,
            "dvc": True,
        }


class TestProjectWithoutDvc:
    @pytest.fixture
    def jp_root_dir(self, tmp_path: Path) -> Path:
        repo = tmp_path / "git-only"
        repo.mkdir()
        subprocess.run(["git", "init", "--quiet", str(repo)], check=True)
        return repo

    @pytest.fixture
    def mlops_config(self, down_server_url: str) -> dict:
        return {"tracking_uri": down_server_url}

    async def test_status_of_a_git_repo_without_commits_or_dvc(self, fetch_json, jp_root_dir):
        code, body = await fetch_json("status")
        assert code == 200, body
        project = body["project"]
        assert (project["git"], project["dvc"], project["git_commit"]) == (True, False, None)


# -- a real MLflow tracking server ----------------------------------------------------------
class TestTrackingServer:
    @pytest.fixture(autouse=True)
    def _tracking_uri_from_environment(self, mlflow_server, monkeypatch):
        # Set before the server app starts: jp_serverapp is created after autouse fixtures.
        monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.uri)

    async def test_experiments_with_run_counts(self, fetch_json, mlflow_server):
        client = _mlflow_client(mlflow_server.uri)
        name, empty = _unique("server-exp"), _unique("server-empty")
        _make_experiment(client, name, runs=2)
        _make_experiment(client, empty, runs=0)

        code, body = await fetch_json("experiments")
        assert code == 200, body
        ExperimentsResponse.model_validate(body)
        assert body["tracking_uri"] == mlflow_server.uri
        found = _by_name(body)
        assert found[name]["run_count"] == 2
        assert found[empty]["run_count"] == 0
        assert "Default" in found
        assert found[name]["artifact_location"].startswith(
            (mlflow_server.artifact_root).as_uri()
        ), found[name]["artifact_location"]

        code, body = await fetch_json("experiments", params={"search": name})
        assert [e["name"] for e in body["experiments"]] == [name]

    async def test_status_reports_the_server(self, fetch_json, mlflow_server):
        code, body = await fetch_json("status")
        assert code == 200, body
        assert body["tracking"] == {
            "uri": mlflow_server.uri,
            "kind": "server",
            "source": "environment",
            "reachable": True,
            "error": None,
            "ui_url": mlflow_server.uri,
        }
        # Kernels started by this server are told to track to the same server.
        assert os.environ[settings_mod.ENV_TRACKING_URI] == mlflow_server.uri
        assert settings_mod.ENV_ARTIFACT_LOCATION not in os.environ


class TestTrackingServerWithCredentialsInUri:
    """MLflow's client sends a URI's user:password as basic auth; the reachability probe
    must not treat such a URI as unreachable, and no answer may show the password."""

    @pytest.fixture
    def mlops_config(self, mlflow_server) -> dict:
        return {"tracking_uri": mlflow_server.uri.replace("http://", "http://alice:hunter2@")}

    async def test_status_and_experiments(self, fetch_json, mlflow_server):
        code, body = await fetch_json("status")
        assert code == 200, body
        tracking = body["tracking"]
        assert tracking["reachable"] is True, tracking["error"]
        assert tracking["source"] == "config"
        assert tracking["uri"] == mlflow_server.uri.replace("http://", "http://alice:***@")
        assert "hunter2" not in str(body)

        code, body = await fetch_json("experiments")
        assert code == 200, body
        assert "Default" in _by_name(body)
        assert "hunter2" not in str(body)


# -- a tracking server that is down ---------------------------------------------------------
class TestTrackingServerDown:
    @pytest.fixture
    def mlops_config(self, down_server_url: str) -> dict:
        return {"tracking_uri": down_server_url, "probe_timeout": 2.0}

    async def test_experiments_answer_503_naming_the_server(self, fetch_json, down_server_url):
        code, body = await fetch_json("experiments")
        assert code == 503
        ErrorBody.model_validate(body)
        assert body["code"] == "service_unavailable"
        assert down_server_url in body["message"]

    async def test_status_answers_200_with_tracking_unreachable(self, fetch_json, down_server_url):
        code, body = await fetch_json("status")
        assert code == 200, body
        StatusResponse.model_validate(body)
        tracking = body["tracking"]
        assert (tracking["kind"], tracking["source"]) == ("server", "config")
        assert tracking["reachable"] is False
        assert down_server_url in tracking["error"]


class TestTrackingServerDownWithCredentials:
    @pytest.fixture
    def mlops_config(self, down_server_url: str) -> dict:
        return {"tracking_uri": down_server_url.replace("http://", "http://alice:hunter2@")}

    async def test_error_names_the_server_without_the_password(self, fetch_json, down_server_url):
        code, body = await fetch_json("experiments")
        assert code == 503
        assert down_server_url.replace("http://", "http://alice:***@") in body["message"]
        assert "hunter2" not in body["message"]
        # The probe really reached for the host (refused), not a name lookup of "alice:...".
        assert "refused" in body["message"].lower(), body["message"]
        code, body = await fetch_json("status")
        assert code == 200
        assert "hunter2" not in str(body)


# -- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("route", "params", "named"),
    [
        ("experiments", {"max_results": "abc"}, "max_results"),
        ("experiments", {"max_results": "0"}, "max_results"),
        ("experiments", {"max_results": "1001"}, "max_results"),
        ("experiments", {"max_results": ""}, "max_results"),
        ("experiments", {"include_deleted": "maybe"}, "include_deleted"),
        ("experiments", {"search": "x" * 257}, "search"),
        ("experiments", {"colour": "blue"}, "colour"),
        ("experiments", [("search", "a"), ("search", "b")], "search"),
        ("status", {"verbose": "1"}, "verbose"),
    ],
)
async def test_malformed_query_is_a_400_naming_the_parameter(fetch_json, route, params, named):
    code, body = await fetch_json(route, params=params)
    assert code == 400, body
    ErrorBody.model_validate(body)
    assert body["code"] == "invalid_query"
    assert f"'{named}'" in body["message"]


async def test_authentication_query_arguments_are_not_parameters(fetch_json, jp_serverapp):
    """``?token=`` belongs to Jupyter's authentication; the route must not reject it."""
    token = jp_serverapp.identity_provider.token
    code, body = await fetch_json("openapi.json", params={"token": token})
    assert code == 200
    assert body["openapi"].startswith("3.")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "nope", 404),
        ("GET", "status/extra", 404),
        ("GET", "/", 404),
        # The route's '.' is a literal dot, not "any character".
        ("GET", "openapiXjson", 404),
        ("POST", "nope", 404),
        ("DELETE", "nope", 404),
        ("POST", "status", 405),
        ("PUT", "experiments", 405),
        ("DELETE", "openapi.json", 405),
    ],
)
async def test_unknown_routes_and_methods_answer_json_errors(fetch_json, method, path, status):
    body = "{}" if method in ("POST", "PUT", "PATCH") else None
    code, answer = await fetch_json(path, method=method, body=body)
    assert code == status, answer
    ErrorBody.model_validate(answer)
    if status == 404:
        assert answer["code"] == "no_route"
        assert "jupyter-mlops" in answer["message"]
