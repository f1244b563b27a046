"""jupyter-mlops: from notebook experiment to production job without leaving JupyterLab."""

from __future__ import annotations

from typing import Any

try:
    from ._version import __version__
except ImportError:  # pragma: no cover - only in a checkout that was never built
    import warnings

    warnings.warn(
        "Importing 'jupyter_mlops' outside a proper installation; run `pip install -e .`.",
        stacklevel=2,
    )
    __version__ = "dev"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-mlops"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import MlopsApp

    return [{"module": "jupyter_mlops", "app": MlopsApp}]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_mlops``: register the magics in this kernel and make the name
    ``jupyter_mlops`` available to the notebook (``jupyter_mlops.log(...)`` in a tracked
    cell needs no import), unless the notebook already uses that name."""
    import sys

    from .magics import register

    register(ipython)
    if "jupyter_mlops" not in ipython.user_ns:
        # Like the names %pylab adds: available, but not listed by %who.
        ipython.push({"jupyter_mlops": sys.modules[__name__]}, interactive=False)


def unload_ipython_extension(ipython: Any) -> None:
    from .magics import unregister

    unregister(ipython)


def track(**kwargs: Any) -> Any:
    """Track a block of plain Python as one MLflow run (see ``jupyter_mlops.tracking``)."""
    import sys

    from .tracking.tracker import Tracker

    kwargs.setdefault("namespace", sys._getframe(1).f_globals)
    return Tracker(**kwargs)


def log(step: int | None = None, **metrics: Any) -> None:
    """Log metrics to the run of the ``%%track`` cell or ``track()`` block running now."""
    from .tracking.tracker import log as _log

    _log(step=step, **metrics)


def snapshot(*paths: str, **options: Any) -> Any:
    """Snapshot data with DVC, as ``%snapshot`` does (see ``jupyter_mlops.data.snapshot``
    for the options: message, push, commit, remote, link, progress)."""
    from .data import snapshot as _snapshot

    return _snapshot(*paths, **options)


def log_model(model: Any, name: str, *, register: bool = True, **kwargs: Any) -> Any:
    """Log ``model`` (scikit-learn, XGBoost, LightGBM, PyTorch...) into the ``%%track``
    cell's run and register it as a new version of the model ``name``."""
    from .models.notebook import log_model as _log_model

    return _log_model(model, name, register=register, **kwargs)


def load_model(ref: str, **kwargs: Any) -> Any:
    """Load ``NAME@ALIAS`` or ``NAME/VERSION``, recording the version it resolved on the
    tracked run (a job records which model it ran with)."""
    from .models.notebook import load_model as _load_model

    return _load_model(ref, **kwargs)


def drift(reference: Any, current: Any, *, threshold: float = 0.5) -> Any:
    """Compare ``current`` data with ``reference`` (``"run:<id>"``, ``"path@version"``, a
    path or a DataFrame) for drift; inside a tracked cell the result is logged into its run.
    See :mod:`jupyter_mlops.drift` (the ``drift`` extra: Evidently)."""
    from .drift.check import drift as _drift

    return _drift(reference, current, threshold=threshold)
