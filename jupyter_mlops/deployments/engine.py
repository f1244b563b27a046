"""Engines are plugins: the base class an orchestrator's engine implements, and the
``jupyter_mlops.engines`` entry-point group that finds them (Airflow first), in the shape
of the export targets (:mod:`jupyter_mlops.export.targets`).

An engine puts a job onto its orchestrator and follows its runs there. It is made for one
place (its API's ``url`` and, for Airflow, the DAG folder), takes its credentials from
settings or the environment (never from a request), and raises
:class:`~jupyter_mlops.errors.MlopsError` subclasses with one line for what a user can
get wrong (an unreachable engine, wrong credentials, a DAG with import errors).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from traitlets.config import Configurable

from ..errors import MlopsError
from ..export.job import Job
from ..plugins import Plugins
from .models import DeploymentInfo, DeploymentRun

#: The entry-point group of engines (``name = "module:EngineClass"``).
GROUP = "jupyter_mlops.engines"
log = logging.getLogger(__name__)


class EngineUnavailable(MlopsError):
    """An engine's plugin cannot be loaded."""

    status = 503
    code = "engine_unavailable"


@dataclass(frozen=True)
class DeploySpec:
    """What a deployment puts onto its engine."""

    name: str
    job: Job
    #: The deployment options (``export.deploy.Deployment``), image resolved.
    deployment: Any
    image: str
    paused: bool
    #: Environment of every run (values may be the engine's templates).
    environment: Mapping[str, str]
    #: How a Docker-based engine reaches the Docker API (``docker_url``, ``network_mode``).
    docker_options: Mapping[str, Any]


@dataclass(frozen=True)
class Placement:
    """Where a deployment landed on its engine."""

    url: str
    dag_id: str
    dags_folder: str = ""
    dag_file: str = ""


class Engine(Configurable):
    """Base class of engines. Subclasses set :attr:`name` and implement every method."""

    name: str = ""
    description: str = ""

    def __init__(
        self, url: str | None = None, dags_folder: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.given_url = url
        self.given_dags_folder = dags_folder

    # -- putting a job there -------------------------------------------------------------
    def check_place(self) -> None:
        """Refuse at once what a deploy here would fail on before anything is sent (a DAG
        folder that does not exist or cannot be written): a request answers it as a 4xx."""

    def deploy(self, spec: DeploySpec, report: Callable[[str], None]) -> Placement:
        """Put the job there and wait until the engine has taken it (or refused it: then
        nothing is left half-deployed); paused or not as asked."""
        raise NotImplementedError

    def undeploy(self, deployment: DeploymentInfo) -> None:
        raise NotImplementedError

    def set_paused(self, deployment: DeploymentInfo, paused: bool) -> None:
        raise NotImplementedError

    # -- its runs ------------------------------------------------------------------------
    def trigger(self, deployment: DeploymentInfo, conf: Mapping[str, Any]) -> DeploymentRun:
        raise NotImplementedError

    def runs(
        self, deployments: Sequence[DeploymentInfo], limit: int = 25
    ) -> dict[str, list[DeploymentRun]]:
        """The newest runs of each deployment (by name), newest first, in ONE request to
        the engine however many deployments there are."""
        raise NotImplementedError

    def run(self, deployment: DeploymentInfo, run_id: str) -> DeploymentRun:
        raise NotImplementedError

    def logs(self, deployment: DeploymentInfo, run_id: str) -> str:
        raise NotImplementedError

    def cancel(self, deployment: DeploymentInfo, run_id: str) -> DeploymentRun:
        raise NotImplementedError


ENGINES: Plugins[Engine] = Plugins(GROUP, Engine, "engine", "engines", EngineUnavailable)
#: Make an engine available without an entry point (tests); it wins over one.
register = ENGINES.register
known_engines = ENGINES.known
engine_class = ENGINES.get


def load_engine(
    name: str, url: str | None = None, dags_folder: str | None = None, **kwargs: Any
) -> Engine:
    """The engine called ``name`` for ``url`` (and ``dags_folder``), made with ``kwargs``
    (``config=``, ``parent=``)."""
    return engine_class(name)(url=url, dags_folder=dags_folder, **kwargs)
