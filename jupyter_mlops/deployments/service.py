"""Deployments of a project: put a job onto an engine, keep its record, follow its runs.

Records are ``.mlops/deployments/<name>.json`` (:mod:`~jupyter_mlops.statefiles`): the job,
the engine and where it is (URL, DAG folder, DAG id), schedule, image and digest, the
parameters' defaults, the options, who deployed it and when. Credentials are never in a
record: each engine finds its own in settings or the environment. Runs are asked of the
engines (one request per engine and URL for the runs of all its deployments) and joined
with the job's MLflow runs by the tag ``jupyter_mlops.engine_run_id``. Every action is
recorded in the audit trail once it has happened.
"""

from __future__ import annotations

import datetime
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .. import audit, paths
from ..errors import Conflict, InvalidInput, MlopsError, NotFound, ServiceUnavailable
from ..export.build import read_build
from ..export.deploy import Deployment as DeploymentOptions
from ..export.deploy import deployment as deployment_options
from ..export.job import ENV_DEPLOYMENT, ENV_ENGINE_RUN_ID, Job, load_job
from ..export.parameters import InvalidParameters, parse_cli_values, validate
from ..settings import Settings
from ..statefiles import read_json, records, write_json
from .engine import DeploySpec, Engine, load_engine
from .models import (
    NAME_PATTERN,
    DeploymentInfo,
    DeploymentList,
    DeploymentRun,
    DeploymentWithRuns,
    EngineError,
)

DEPLOYMENTS_DIR = "deployments"
#: Runs shown with each deployment in the list.
LATEST_RUNS = 5
#: Looks at a run that may fail in a row (the engine busy) before waiting gives up.
WAIT_MISSES = 5
#: Options a deployment takes beside the export's (``export.deploy.Deployment``).
ENGINE_OPTIONS = ("docker_url", "network_mode", "tracking_uri")
#: ``the notebook failed in cell [N] (`line`): Error: text; output notebook: path``.
FAILED_CELL = re.compile(
    r"the notebook failed in cell (?P<cell>\[\d+\](?: \(`[^`]*`\))?): (?P<error>.*?)"
    r"(?:; output notebook: (?P<output>\S+))?$"
)
_DOCKER_URL = re.compile(r"(unix|tcp|ssh|http|https|npipe)://[^\s'\"]+")
_NETWORK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    """A deploy request checked in full (nothing sent yet)."""

    spec: DeploySpec
    engine: Engine
    job: str
    options: dict[str, Any]
    who: str


class DeploymentsService:
    def __init__(self, settings: Settings, engine_config: Any = None) -> None:
        self.settings = settings
        self.folder = settings.state_dir / DEPLOYMENTS_DIR
        self.engine_config = engine_config

    # -- records ---------------------------------------------------------------------------
    def _path(self, name: str) -> Path:
        if not re.fullmatch(NAME_PATTERN.strip("^$"), name):
            raise InvalidInput(f"'{name}' is not a deployment name", code="invalid_name")
        return self.folder / f"{name}.json"

    def record(self, name: str) -> DeploymentInfo:
        data = read_json(self._path(name))
        if data is None:
            known = ", ".join(d.name for d in self.records()) or "none"
            raise NotFound(f"no deployment '{name}' (deployments: {known})")
        return DeploymentInfo.model_validate(data)

    def records(self) -> list[DeploymentInfo]:
        found = []
        for path, data in records(self.folder):
            try:
                found.append(DeploymentInfo.model_validate(data))
            except ValueError:
                log.warning("jupyter-mlops: skipping the unreadable deployment record %s", path)
        return found

    def _engine(self, deployment: DeploymentInfo) -> Engine:
        return load_engine(
            deployment.engine,
            url=deployment.url,
            dags_folder=deployment.dags_folder or None,
            config=self.engine_config,
        )

    # -- deploying -------------------------------------------------------------------------
    def prepare(
        self,
        job_dir: str | Path,
        engine: str = "airflow",
        *,
        name: str | None = None,
        paused: bool = False,
        options: Mapping[str, Any] | None = None,
        url: str | None = None,
        dags_folder: str | None = None,
        confined: bool = False,
    ) -> Prepared:
        """Check a deploy request in full: the job, its image, the options, the engine's
        place (``confined``: the job must be inside the project root, as in the server)."""
        if confined:
            folder = paths.inside_root(
                self.settings.root_dir, str(job_dir), "job folder", field="job"
            )
        else:
            folder = Path(job_dir).expanduser().resolve()
        job = load_job(folder)
        name = name or job.name
        self._path(name)
        given = dict(options or {})
        extras = {k: given.pop(k) for k in ENGINE_OPTIONS if k in given}
        chosen: DeploymentOptions = deployment_options(**given)
        image, guessed = chosen.image_for(folder / "build.json", job.name)
        if guessed:
            raise InvalidInput(
                f"no image for job '{job.name}': build it first (jupyter mlops build "
                f"{folder.name}) or give --image",
                code="not_built",
            )
        chosen = chosen.model_copy(update={"image": image})
        existing = read_json(self._path(name))
        if existing is not None and existing.get("job") not in (None, self._shown(folder)):
            raise Conflict(
                f"deployment '{name}' is of job {existing.get('job')}; undeploy it or choose "
                "another name (--name)"
            )
        docker_options = _docker_options(extras)
        tracking = _tracking_uri(extras.get("tracking_uri"), self.settings)
        environment = {ENV_DEPLOYMENT: name, ENV_ENGINE_RUN_ID: "{{ run_id }}"}
        if tracking:
            environment["MLFLOW_TRACKING_URI"] = tracking
        made = load_engine(engine, url=url, dags_folder=dags_folder, config=self.engine_config)
        made.check_place()
        spec = DeploySpec(
            name=name,
            job=job,
            deployment=chosen,
            image=image,
            paused=paused,
            environment=environment,
            docker_options=docker_options,
        )
        recorded = {
            **chosen.model_dump(mode="json", exclude_none=True, exclude_defaults=True),
            **{k: v for k, v in docker_options.items()},
        }
        if tracking:
            recorded["tracking_uri"] = tracking
        return Prepared(spec, made, self._shown(folder), recorded, audit.current_user())

    def deploy(
        self, prepared: Prepared, report: Callable[[str], None] = lambda m: None
    ) -> DeploymentInfo:
        spec = prepared.spec
        placement = prepared.engine.deploy(spec, report)
        record = DeploymentInfo(
            name=spec.name,
            job=prepared.job,
            engine=prepared.engine.name,
            url=placement.url,
            dags_folder=placement.dags_folder,
            dag_id=placement.dag_id,
            dag_file=placement.dag_file,
            schedule=spec.deployment.schedule,
            paused=spec.paused,
            image=spec.image,
            image_digest=_digest(spec.image, spec.job.folder),
            parameters={p.name: p.default for p in spec.job.schema},
            options=prepared.options,
            deployed_by=prepared.who,
            deployed_at=_now(),
        )
        write_json(self._path(spec.name), record.model_dump(mode="json"))
        self._audit(
            audit.DEPLOY,
            record,
            prepared.who,
            job=record.job,
            engine=record.engine,
            url=record.url,
            dag_id=record.dag_id,
            image=record.image,
            image_digest=record.image_digest,
            schedule=record.schedule,
            paused=record.paused,
        )
        return record

    def undeploy(self, name: str) -> DeploymentInfo:
        record = self.record(name)
        self._engine(record).undeploy(record)
        self._path(name).unlink(missing_ok=True)
        self._audit(audit.UNDEPLOY, record, None, engine=record.engine, dag_id=record.dag_id)
        return record

    def set_paused(self, name: str, paused: bool) -> DeploymentInfo:
        record = self.record(name)
        self._engine(record).set_paused(record, paused)
        record = record.model_copy(update={"paused": paused})
        write_json(self._path(name), record.model_dump(mode="json"))
        self._audit("pause" if paused else "resume", record, None, dag_id=record.dag_id)
        return record

    def _audit(self, kind: str, record: DeploymentInfo, who: str | None, **what: Any) -> None:
        audit.record(kind, f"deployment/{record.name}", root=self.settings, who=who, **what)

    # -- runs ------------------------------------------------------------------------------
    def list_deployments(self) -> DeploymentList:
        deployments = self.records()
        latest: dict[str, list[DeploymentRun]] = {}
        errors: list[EngineError] = []
        groups: dict[tuple[str, str], list[DeploymentInfo]] = {}
        for record in deployments:
            groups.setdefault((record.engine, record.url), []).append(record)
        for (engine, url), members in groups.items():
            try:
                latest.update(self._engine(members[0]).runs(members, LATEST_RUNS))
            except MlopsError as exc:
                errors.append(EngineError(engine=engine, url=url, message=exc.message))
        return DeploymentList(
            deployments=[
                DeploymentWithRuns(**d.model_dump(), latest_runs=latest.get(d.name, []))
                for d in deployments
            ],
            engine_errors=errors,
        )

    def runs(self, name: str, limit: int = 25) -> list[DeploymentRun]:
        record = self.record(name)
        engine = self._engine(record)
        found = engine.runs([record], limit).get(name, [])
        tries = getattr(engine, "tries", None)
        numbers = tries(record) if tries is not None and found else {}
        found = [r.model_copy(update={"try_number": numbers.get(r.run_id)}) for r in found]
        return self._with_mlflow(record, found)

    def deployment(self, name: str) -> DeploymentWithRuns:
        record = self.record(name)
        runs = self.runs(name)
        return DeploymentWithRuns(**record.model_dump(), runs=runs, latest_runs=runs[:LATEST_RUNS])

    def run(self, name: str, run_id: str) -> DeploymentRun:
        record = self.record(name)
        return self._with_mlflow(record, [self._engine(record).run(record, run_id)])[0]

    def check_parameters(self, name: str, values: Mapping[str, Any]) -> dict[str, Any]:
        record = self.record(name)
        job = self._job(record)
        try:
            return validate(job.schema, values)
        except InvalidParameters as exc:
            raise InvalidParameters(exc.details, separator="; ") from None

    def trigger(self, name: str, values: Mapping[str, Any]) -> DeploymentRun:
        """Start a run with ``values`` checked against the job's schema first (only the
        values given are sent: the DAG's params hold the defaults)."""
        record = self.record(name)
        self.check_parameters(name, values)
        checked = {
            k: v for k, v in validate(self._job(record).schema, values).items() if k in values
        }
        run = self._engine(record).trigger(record, checked)
        self._audit(audit.TRIGGER, record, None, run_id=run.run_id, parameters=checked)
        return run

    def trigger_texts(self, name: str, pairs: Iterable[tuple[str, str]]) -> DeploymentRun:
        """:meth:`trigger` with values given as text (``-p NAME VALUE``)."""
        record = self.record(name)
        return self.trigger(name, parse_cli_values(self._job(record).schema, pairs))

    def logs(self, name: str, run_id: str) -> str:
        record = self.record(name)
        return self._engine(record).logs(record, run_id)

    def cancel(self, name: str, run_id: str) -> DeploymentRun:
        record = self.record(name)
        run = self._engine(record).cancel(record, run_id)
        self._audit("cancel", record, None, run_id=run_id)
        return run

    def wait(
        self, name: str, run_id: str, timeout: float | None = None, interval: float = 1.0
    ) -> DeploymentRun:
        """The run once it has ended, with its MLflow run and (failed) its failing cell."""
        record = self.record(name)
        engine = self._engine(record)
        deadline = None if timeout is None else time.monotonic() + timeout
        misses = 0
        while True:
            try:
                run = engine.run(record, run_id)
            except ServiceUnavailable:
                misses += 1  # a busy engine: ask again, up to a few times in a row
                if misses > WAIT_MISSES:
                    raise
                time.sleep(interval)
                continue
            misses = 0
            if run.state in ("success", "failed"):
                break
            if deadline is not None and time.monotonic() > deadline:
                raise MlopsError(
                    f"run {run_id} of '{name}' has not ended within {timeout:.0f} s "
                    f"(it is {run.state})",
                    code="timeout",
                )
            time.sleep(interval)
        run = self._with_mlflow(record, [run])[0]
        if run.state == "failed" and run.failed_cell is None:
            run = _failure_from_log(run, engine.logs(record, run_id))
        return run

    # -- helpers ---------------------------------------------------------------------------
    def _job(self, record: DeploymentInfo) -> Job:
        folder = Path(record.job)
        if not folder.is_absolute():
            folder = self.settings.root_dir / folder
        return load_job(folder)

    def _shown(self, folder: Path) -> str:
        root = self.settings.root_dir.resolve()
        return folder.relative_to(root).as_posix() if folder.is_relative_to(root) else str(folder)

    def _with_mlflow(
        self, record: DeploymentInfo, runs: list[DeploymentRun]
    ) -> list[DeploymentRun]:
        """Each run with its MLflow run (tag ``jupyter_mlops.engine_run_id``), output
        notebook and failing cell; best effort: the store may be down."""
        if not runs:
            return runs
        try:
            found = self._mlflow_runs(record)
        except Exception as exc:  # following runs never fails for the store's sake
            log.info("jupyter-mlops: MLflow runs of %s not read: %s", record.name, exc)
            return runs
        out = []
        for run in runs:
            tags = found.get(run.run_id)
            if tags is None:
                out.append(run)
                continue
            update: dict[str, Any] = {
                "mlflow_run_id": tags.get("run_id"),
                "output": tags.get("jupyter_mlops.job.output") or run.output,
            }
            error = tags.get("jupyter_mlops.error") or ""
            match = FAILED_CELL.search(error)
            if match:
                update["failed_cell"] = match["cell"]
                update["error"] = match["error"]
            elif error and run.state == "failed":
                update["error"] = error
            out.append(run.model_copy(update=update))
        return out

    def _mlflow_runs(self, record: DeploymentInfo) -> dict[str, dict[str, str]]:
        from ..mlflow_store import client

        uri = str(record.options.get("tracking_uri") or self.settings.tracking_uri)
        mlflow = client(uri, timeout=self.settings.probe_timeout)
        job = self._job(record)
        experiment = mlflow.get_experiment_by_name(job.experiment)
        if experiment is None:
            return {}
        found: dict[str, dict[str, str]] = {}
        for run in mlflow.search_runs(
            [experiment.experiment_id],
            filter_string=f"tags.`jupyter_mlops.deployment` = '{record.name}'",
            max_results=200,
        ):
            tags = dict(run.data.tags)
            engine_run = tags.get("jupyter_mlops.engine_run_id")
            if engine_run and engine_run not in found:
                found[engine_run] = {**tags, "run_id": run.info.run_id}
        return found


def _failure_from_log(run: DeploymentRun, text: str) -> DeploymentRun:
    for line in reversed(text.splitlines()):
        match = FAILED_CELL.search(line.strip())
        if match:
            return run.model_copy(
                update={
                    "failed_cell": match["cell"],
                    "error": match["error"],
                    "output": run.output or match["output"],
                }
            )
    errors = [line for line in text.splitlines() if "error" in line.lower()]
    if errors and run.error is None:
        return run.model_copy(update={"error": " ".join(errors[-1].split())[:300]})
    return run


def _docker_options(extras: Mapping[str, Any]) -> dict[str, str]:
    """How the DAG's DockerOperator reaches the Docker API: ``docker_url`` (default: this
    process's ``DOCKER_HOST``, the single-host case) and ``network_mode``."""
    found: dict[str, str] = {}
    url = extras.get("docker_url") or os.environ.get("DOCKER_HOST")
    if url:
        if not isinstance(url, str) or not _DOCKER_URL.fullmatch(url):
            raise InvalidInput(
                f"docker_url: '{url}' is not a Docker API URL (unix://..., tcp://...)"
            )
        found["docker_url"] = url
    network = extras.get("network_mode")
    if network:
        if not isinstance(network, str) or not _NETWORK.fullmatch(network):
            raise InvalidInput(f"network_mode: '{network}' is not a Docker network mode")
        found["network_mode"] = network
    return found


def _tracking_uri(given: Any, settings: Settings) -> str | None:
    """Where the deployed job records its runs: ``tracking_uri``, else the project's store
    when it is a server (a container cannot write the embedded SQLite file). Never one that
    carries credentials (they would be written into the DAG)."""
    uri = given if isinstance(given, str) and given else None
    if uri is None and settings.tracking_uri.startswith(("http://", "https://")):
        uri = settings.tracking_uri
    if uri is None:
        return None
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"tracking_uri: '{uri}' is not an http(s) MLflow tracking server")
    if parts.username or parts.password or "token" in parts.query.lower():
        raise InvalidInput(
            "tracking_uri: carries credentials, which would be written into the DAG; give "
            "them to the engine's workers as MLFLOW_TRACKING_USERNAME/PASSWORD instead"
        )
    return uri


def _digest(image: str, folder: Path) -> str | None:
    if "@sha256:" in image:
        return image.rsplit("@", 1)[1]
    built = read_build(folder) or {}
    if built.get("image") == image or built.get("pushed") == image:
        value = built.get("image_id")
        return str(value) if value else None
    return None


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
