"""The status report shown at the top of the MLOps panel."""

from __future__ import annotations

import platform
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import PackageNotFoundError, version

from .._version import __version__
from ..experiments.service import TrackingService
from .containers import engine_status
from .models import StatusResponse
from .project import project_status

#: Distributions whose versions the status reports (without importing them).
REPORTED_PACKAGES = (
    "jupyterlab",
    "jupyter_server",
    "mlflow",
    "dvc",
    "papermill",
    "nbconvert",
    "ipywidgets",
    "docker",
)


def package_versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in REPORTED_PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def collect_status(tracking: TrackingService) -> StatusResponse:
    """Probe the tracking store, the project and the container engine side by side, so the
    slowest probe (each bounded by the probe timeout) sets the answer time."""
    settings = tracking.settings
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="mlops-status") as pool:
        tracking_future = pool.submit(tracking.status)
        project_future = pool.submit(project_status, settings.root_dir, settings.probe_timeout)
        engine_future = pool.submit(engine_status, settings.probe_timeout)
        return StatusResponse(
            version=__version__,
            python=platform.python_version(),
            packages=package_versions(),
            tracking=tracking_future.result(),
            project=project_future.result(),
            container_engine=engine_future.result(),
        )
