"""Settings resolution (environment > configuration > embedded default); the URI scrubber
is tested in test_redact.py."""

from __future__ import annotations

import pytest

from jupyter_mlops import settings as settings_mod
from jupyter_mlops.settings import resolve

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
        settings_mod.ENV_AUTOLOG: "false",
    }


@pytest.mark.parametrize(
    ("configured", "variable", "expected"),
    [
        (None, None, False),
        (None, "true", True),
        (None, "1", True),
        (None, "no", False),
        (True, None, True),
        (False, "true", False),  # the server's configuration wins over its environment
    ],
)
def test_autolog_setting_reaches_the_kernel(tmp_path, monkeypatch, configured, variable, expected):
    environ = {} if variable is None else {settings_mod.ENV_AUTOLOG: variable}
    server_side = resolve(tmp_path, autolog=configured, environ=environ)
    assert server_side.autolog is expected
    monkeypatch.delenv(settings_mod.ENV_AUTOLOG, raising=False)
    for key, value in server_side.kernel_environment().items():
        monkeypatch.setenv(key, value)
    assert settings_mod.from_kernel_environment(cwd=tmp_path).autolog is expected
