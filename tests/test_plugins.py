"""Export targets and deployment engines are found the same way (jupyter_mlops.plugins):
a class registered in the process, else an installed entry point; each kind says what it
is in its errors."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from jupyter_mlops.deployments import engine as engine_module
from jupyter_mlops.deployments.airflow import AirflowEngine
from jupyter_mlops.errors import InvalidInput, MlopsError
from jupyter_mlops.export import targets as targets_module
from jupyter_mlops.export.docker import DockerTarget


@pytest.fixture
def broken(monkeypatch: pytest.MonkeyPatch) -> None:
    """In each group, an entry point whose module is not installed and one that names a
    class of the wrong kind."""
    for plugins, wrong in (
        (engine_module.ENGINES, "jupyter_mlops.export.docker:DockerTarget"),
        (targets_module.TARGETS, "jupyter_mlops.deployments.airflow:AirflowEngine"),
    ):
        installed = plugins.entry_points()
        extra = {
            "missing": EntryPoint("missing", "jupyter_mlops_no_such_plugin:Thing", plugins.group),
            "wrong": EntryPoint("wrong", wrong, plugins.group),
        }
        monkeypatch.setattr(plugins, "entry_points", lambda i=installed, e=extra: {**i, **e})
        monkeypatch.setattr(plugins, "registered", dict(plugins.registered))


def test_installed_plugins_load_by_name() -> None:
    assert engine_module.engine_class("airflow") is AirflowEngine
    assert targets_module.target_class("docker") is DockerTarget
    assert "airflow" in engine_module.known_engines()
    assert {"docker", "airflow", "monitoring"} <= set(targets_module.known_targets())


@pytest.mark.usefixtures("broken")
def test_unknown_broken_and_wrong_plugins_are_one_clear_error() -> None:
    with pytest.raises(InvalidInput, match="unknown engine 'nope'; known engines: airflow"):
        engine_module.engine_class("nope")
    with pytest.raises(InvalidInput, match="unknown export target 'nope'; known targets: "):
        targets_module.target_class("nope")

    with pytest.raises(engine_module.EngineUnavailable) as caught:
        engine_module.engine_class("missing")
    assert caught.value.status == 503
    assert "engine 'missing' (jupyter_mlops_no_such_plugin:Thing) cannot be loaded" in str(
        caught.value
    )
    with pytest.raises(MlopsError) as caught_target:
        targets_module.target_class("missing")
    assert caught_target.value.code == "target_unavailable"

    with pytest.raises(engine_module.EngineUnavailable, match="not an Engine subclass"):
        engine_module.engine_class("wrong")
    with pytest.raises(MlopsError, match="not an ExportTarget subclass"):
        targets_module.target_class("wrong")


@pytest.mark.usefixtures("broken")
def test_a_registered_class_wins_over_an_entry_point() -> None:
    @engine_module.register
    class Missing(AirflowEngine):
        name = "missing"

    assert engine_module.engine_class("missing") is Missing
    with pytest.raises(ValueError, match="has no name"):
        targets_module.register(type("Nameless", (DockerTarget,), {"name": ""}))
