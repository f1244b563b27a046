"""Settings resolution (environment > configuration > embedded default) and URI masking."""

from __future__ import annotations

import pytest

from jupyter_mlops import settings as settings_mod
from jupyter_mlops.settings import mask_uri, resolve, without_credentials

SERVER = "http://tracking.example.com:5000"
OTHER = "https://mlflow.other.example.com"


def test_default_is_the_embedded_store_under_the_root(tmp_path, embedded_uri):
    s = resolve(tmp_path, environ={})
    assert s.tracking_uri == embedded_uri(tmp_path)
    assert s.source == "default"
    assert s.embedded_store
    assert s.root_dir == tmp_path.resolve()
    assert s.state_dir == tmp_path.resolve() / ".mlops"
    assert s.artifact_location == (tmp_path.resolve() / ".mlops" / "artifacts").as_uri()
    assert not (tmp_path / ".mlops").exists(), "resolving must not create anything"


def test_configured_uri_beats_the_default(tmp_path):
    s = resolve(tmp_path, tracking_uri=SERVER, environ={})
    assert (s.tracking_uri, s.source, s.embedded_store) == (SERVER, "config", False)
    # A tracking server chooses its own artifact root.
    assert s.artifact_location is None


def test_environment_beats_configured_uri(tmp_path):
    s = resolve(tmp_path, tracking_uri=OTHER, environ={"MLFLOW_TRACKING_URI": SERVER})
    assert (s.tracking_uri, s.source) == (SERVER, "environment")


def test_environment_beats_the_default(tmp_path):
    s = resolve(tmp_path, environ={"MLFLOW_TRACKING_URI": SERVER})
    assert (s.tracking_uri, s.source, s.artifact_location) == (SERVER, "environment", None)


def test_empty_environment_value_is_ignored(tmp_path):
    s = resolve(tmp_path, tracking_uri=OTHER, environ={"MLFLOW_TRACKING_URI": ""})
    assert (s.tracking_uri, s.source) == (OTHER, "config")


def test_process_environment_is_read_when_no_mapping_is_given(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", SERVER)
    s = resolve(tmp_path, tracking_uri=OTHER)
    assert (s.tracking_uri, s.source) == (SERVER, "environment")


def test_explicit_artifact_location_wins_even_for_the_embedded_store(tmp_path):
    s = resolve(tmp_path, artifact_location="s3://bucket/mlops", environ={})
    assert s.embedded_store
    assert s.artifact_location == "s3://bucket/mlops"


def test_configured_uri_equal_to_the_embedded_store_keeps_its_artifact_default(
    tmp_path, embedded_uri
):
    s = resolve(tmp_path, tracking_uri=embedded_uri(tmp_path), environ={})
    assert s.source == "config"
    assert s.embedded_store
    assert s.artifact_location == (tmp_path.resolve() / ".mlops" / "artifacts").as_uri()


def test_relative_state_dir_is_under_the_root_and_absolute_one_is_kept(tmp_path, embedded_uri):
    relative = resolve(tmp_path, state_dir="state", environ={})
    assert relative.state_dir == tmp_path.resolve() / "state"
    assert relative.tracking_uri == embedded_uri(tmp_path, "state")
    elsewhere = tmp_path / "elsewhere"
    absolute = resolve(tmp_path / "root", state_dir=str(elsewhere), environ={})
    assert absolute.state_dir == elsewhere
    assert absolute.embedded_store
    assert absolute.artifact_location == (elsewhere / "artifacts").as_uri()


def test_root_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve(".", environ={}).root_dir == tmp_path.resolve()


def test_kernel_environment_round_trips_to_the_same_settings(tmp_path, monkeypatch):
    server_side = resolve(tmp_path / "project", artifact_location="file:///srv/art", environ={})
    for key, value in server_side.kernel_environment().items():
        monkeypatch.setenv(key, value)
    kernel_side = settings_mod.from_kernel_environment(cwd=tmp_path / "somewhere-else")
    assert kernel_side.root_dir == server_side.root_dir
    assert kernel_side.tracking_uri == server_side.tracking_uri
    assert kernel_side.artifact_location == "file:///srv/art"
    assert kernel_side.embedded_store


def test_kernel_without_server_variables_uses_its_folder(tmp_path, embedded_uri):
    s = settings_mod.from_kernel_environment(cwd=tmp_path)
    assert s.root_dir == tmp_path.resolve()
    assert s.tracking_uri == embedded_uri(tmp_path)


def test_kernel_environment_omits_an_unset_artifact_location(tmp_path):
    env = resolve(tmp_path, tracking_uri=SERVER, environ={}).kernel_environment()
    assert env == {
        settings_mod.ENV_ROOT: str(tmp_path.resolve()),
        settings_mod.ENV_TRACKING_URI: SERVER,
    }


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("http://alice:s3cret@mlflow.example.com:5000", "http://alice:***@mlflow.example.com:5000"),
        (
            "postgresql://mlflow:pa55word@db.example.com:5432/mlflow",
            "postgresql://mlflow:***@db.example.com:5432/mlflow",
        ),
        # A password holding '@' is still hidden entirely.
        ("https://bob:p@ss@host.example.com/", "https://bob:***@host.example.com/"),
        # A bare token in the user part is a secret too.
        ("https://ghp_abcdef123456@host.example.com", "https://***@host.example.com"),
        (
            "https://host.example.com/api?token=abc123&experiment=7",
            "https://host.example.com/api?token=***&experiment=7",
        ),
        (
            "https://host.example.com/?Access_Token=abc123",
            "https://host.example.com/?Access_Token=***",
        ),
        (
            "https://host.example.com/?sig=abc&password=x",
            "https://host.example.com/?sig=***&password=***",
        ),
    ],
)
def test_mask_uri_hides_credentials(uri, expected):
    assert mask_uri(uri) == expected


@pytest.mark.parametrize(
    "uri",
    [
        "sqlite:////tmp/project/.mlops/mlflow.db",
        "sqlite:////tmp/project/.mlops/mlflow.db?timeout=60",
        "sqlite:///relative/mlflow.db",
        "sqlite:////home/me@work/mlflow.db",
        "file:///tmp/mlruns",
        "http://127.0.0.1:5000",
        "https://mlflow.example.com/path?experiment=3",
        "databricks",
        "/plain/path/mlruns",
        "",
    ],
)
def test_mask_uri_leaves_uris_without_credentials_untouched(uri):
    assert mask_uri(uri) == uri


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("https://user:pw@dvc.example.com/store", "https://dvc.example.com/store"),
        ("ssh://me@host:2222/srv/dvc", "ssh://host:2222/srv/dvc"),
        ("https://host/s?token=abc&region=eu", "https://host/s?region=eu"),
        ("https://u:p@host/s?sig=x&api_key=y#part", "https://host/s#part"),
        ("https://host/s?region=eu&versioned=", "https://host/s?region=eu&versioned="),
        ("s3://bucket/path", "s3://bucket/path"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
        ("/mnt/dvc-remote", "/mnt/dvc-remote"),
    ],
)
def test_without_credentials_is_what_a_job_may_carry(uri, expected):
    """What goes into job.json, the job's README and its lineage: no password, token or
    signature, and the place still named."""
    assert without_credentials(uri) == expected
