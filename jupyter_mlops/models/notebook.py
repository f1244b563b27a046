"""Models from a notebook: ``jupyter_mlops.log_model`` in a tracked cell, and
``jupyter_mlops.load_model("NAME@champion")`` that records which version it resolved.

``log_model`` logs an MLflow 3 model (the flavour chosen by the model's class module) into
the cell's run and registers it as a version of the named model. The run must be active
in MLflow while the cell runs: a cell that calls ``log_model`` gets the tracker's fluent
run (``Tracker._start_fluent_run``), started when the cell starts.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, MlopsError, ServiceUnavailable

#: The model class's top-level module -> MLflow's flavour module.
FLAVOURS = {
    "sklearn": "sklearn",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "torch": "pytorch",
    "lightning": "pytorch",
    "pytorch_lightning": "pytorch",
    "catboost": "catboost",
    "keras": "keras",
    "tensorflow": "tensorflow",
    "statsmodels": "statsmodels",
    "prophet": "prophet",
    "transformers": "transformers",
    "sentence_transformers": "sentence_transformers",
    "spacy": "spacy",
    "onnx": "onnx",
    "pyspark": "spark",
}
#: The run tag naming the version a cell or job loaded: ``jupyter_mlops.model_used.NAME``.
USED_TAG_PREFIX = "jupyter_mlops.model_used."
#: In a job's kernel: the file ``load_model`` notes the versions it resolved in, which the
#: job's runner turns into tags of the job's run (:func:`models_used`).
ENV_MODELS_USED = "JUPYTER_MLOPS_MODELS_USED"


def flavour_of(model: Any) -> str:
    """MLflow's flavour for ``model``, from the module its class (or a base) comes from."""
    for cls in type(model).__mro__:
        top = cls.__module__.split(".", 1)[0]
        if top in FLAVOURS:
            return FLAVOURS[top]
        if top == "mlflow" and cls.__name__ == "PythonModel":
            return "pyfunc"
    raise InvalidInput(
        f"No MLflow flavour known for a {type(model).__module__}.{type(model).__name__}; "
        "pass flavor='...' (an mlflow module such as 'sklearn' or 'pyfunc')."
    )


def log_model(
    model: Any,
    name: str,
    *,
    register: bool = True,
    flavor: str | None = None,
    **kwargs: Any,
) -> Any:
    """Log ``model`` into the tracked cell's run and (``register``) register it as a new
    version of the model ``name``; returns MLflow's ``ModelInfo``."""
    from ..tracking.session import default_session

    tracker = default_session().active
    if tracker is None:
        raise MlopsError(
            "jupyter_mlops.log_model() needs a run: call it inside a %%track cell or a "
            "track() block.",
            code="no_active_run",
        )
    if not name or "/" in name or "@" in name:
        raise InvalidInput(f"'{name}' is not a model name: no '/', no '@', not empty.")
    flavour = flavor or flavour_of(model)
    try:
        module = importlib.import_module(f"mlflow.{flavour}")
    except ImportError as exc:
        raise InvalidInput(f"MLflow has no flavour '{flavour}' here: {exc}") from exc
    if not tracker._fluent:
        tracker._start_fluent_run()
    if tracker.record.outbox_uri:
        raise ServiceUnavailable(
            "The tracking store did not answer when the cell started, so the model was not "
            "logged nor registered; run the cell again once the store answers."
        )
    info = module.log_model(
        model, name=name, registered_model_name=name if register else None, **kwargs
    )
    version = getattr(info, "registered_model_version", None)
    tags = {f"jupyter_mlops.model.{name}": str(version or info.model_id)}
    tracker.set_tags(**tags)
    if version is not None:
        import mlflow

        mlflow.MlflowClient().set_model_version_tag(
            name, str(version), "jupyter_mlops.flavor", flavour
        )
    _audit(tracker, name, str(version) if version is not None else None, info)
    return info


def load_model(ref: str, **kwargs: Any) -> Any:
    """Load ``NAME@ALIAS`` or ``NAME/VERSION`` (``models:/`` optional) as a pyfunc model,
    resolving an alias to its version first, and record that version on the tracked run
    (``jupyter_mlops.model_used.NAME``): a job records which model it ran with."""
    import mlflow

    from .. import mlflow_store
    from ..tracking.session import default_session
    from .service import ModelsService

    session = default_session()
    service = ModelsService(session.settings)
    name, version = service.resolve(ref)
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    # The project's store, whether or not a tracked cell set MLflow's (restored after).
    uri = mlflow_store.mlflow_uri(session.settings.tracking_uri)
    with mlflow_store.mlflow_errors(), _use_tracking_uri(uri):
        model = mlflow.pyfunc.load_model(f"models:/{name}/{version}", **kwargs)
    tracker = session.active
    if tracker is not None:
        tracker.set_tags(**{USED_TAG_PREFIX + name: version})
    noted = os.environ.get(ENV_MODELS_USED)
    if noted:
        with contextlib.suppress(OSError), open(noted, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"name": name, "version": version}) + "\n")
    return model


@contextlib.contextmanager
def models_used(tracker: Any) -> Iterator[None]:
    """In a job's runner, around the notebook's execution: the versions its kernel loaded
    with :func:`load_model` become tags of the job's run (``tracker``)."""
    with tempfile.TemporaryDirectory(prefix="mlops-models-") as folder:
        path = Path(folder) / "used.jsonl"
        previous = os.environ.get(ENV_MODELS_USED)
        os.environ[ENV_MODELS_USED] = str(path)
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(ENV_MODELS_USED, None)
            else:
                os.environ[ENV_MODELS_USED] = previous
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except OSError:
                lines = []  # the notebook loaded no model
            for line in lines:
                try:
                    used = json.loads(line)
                    tracker.set_tags(**{USED_TAG_PREFIX + str(used["name"]): str(used["version"])})
                except (ValueError, KeyError, TypeError):
                    continue


def _audit(tracker: Any, name: str, version: str | None, info: Any) -> None:
    """The log (and the registration) in the project's audit trail."""
    from .. import audit

    settings = tracker.session.settings
    what = {"model_id": info.model_id, "run_id": info.run_id, "model_uri": info.model_uri}
    audit.record(audit.MODEL_LOG, name, root=settings, **what)
    if version is not None:
        audit.record(audit.REGISTER, f"{name}/{version}", root=settings, **what)
