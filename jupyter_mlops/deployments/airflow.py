"""The Airflow engine: Airflow 3's REST API (``/api/v2``) and its DAG folder.

Deploying renders the job's DockerOperator DAG (the ``airflow`` export target's, with the
deployment's DAG id, image, schedule and the run's environment), writes it atomically into
the DAG folder (a path: a shared volume, a git-synced folder), waits until Airflow has
parsed it (``GET /dags/{id}``, parsed after the write) or reports an import error for it
(``GET /importErrors``: the file is then taken back, the previous version restored, and the
error said), then pauses or unpauses it. Runs of every deployment are listed in one request
(``POST /dags/~/dagRuns/list``); cancelling sets a run's state to failed.

Where: ``--url`` / ``JUPYTER_MLOPS_AIRFLOW_URL`` / ``c.AirflowEngine.url``; the DAG folder
``--dags-folder`` / ``JUPYTER_MLOPS_AIRFLOW_DAGS_FOLDER`` / ``c.AirflowEngine.dags_folder``.
Credentials: ``JUPYTER_MLOPS_AIRFLOW_TOKEN``, or ``JUPYTER_MLOPS_AIRFLOW_USERNAME`` and
``_PASSWORD`` exchanged for a token at ``/auth/token`` (the same names as settings).
"""

from __future__ import annotations

import datetime
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, cast
from urllib.parse import quote

from traitlets import Float, Unicode

from ..errors import Conflict, Forbidden, InvalidInput, MlopsError, NotFound, ServiceUnavailable
from ..errors import reason as error_reason
from ..export.airflow import AirflowTarget
from ..export.escape import python_literal
from ..export.targets import ExportContext, JobLineage
from .engine import DeploySpec, Engine, Placement
from .models import DeploymentInfo, DeploymentRun

ENV_URL = "JUPYTER_MLOPS_AIRFLOW_URL"
ENV_DAGS_FOLDER = "JUPYTER_MLOPS_AIRFLOW_DAGS_FOLDER"
ENV_USERNAME = "JUPYTER_MLOPS_AIRFLOW_USERNAME"
ENV_PASSWORD = "JUPYTER_MLOPS_AIRFLOW_PASSWORD"  # noqa: S105 (a variable's name)
ENV_TOKEN = "JUPYTER_MLOPS_AIRFLOW_TOKEN"  # noqa: S105 (a variable's name)
#: The one task of a deployment's DAG (the airflow target's).
TASK_ID = "run"
#: Most runs one list request asks for (Airflow's default maximum page size).
PAGE_LIMIT = 100
_STATES = {"queued": "queued", "running": "running", "success": "success", "failed": "failed"}


class EngineCredentials(Forbidden):
    code = "engine_credentials"


class AirflowEngine(Engine):
    """Airflow 3, through its REST API and its DAG folder."""

    name = "airflow"
    description = "Airflow 3 (REST API v2): a DockerOperator DAG in its DAG folder"

    url = Unicode("", help=f"Airflow's base URL (else ${ENV_URL}).").tag(config=True)
    dags_folder = Unicode("", help=f"Airflow's DAG folder (else ${ENV_DAGS_FOLDER}).").tag(
        config=True
    )
    username = Unicode("", help=f"User exchanged for a token (else ${ENV_USERNAME}).").tag(
        config=True
    )
    password = Unicode("", help=f"Its password (else ${ENV_PASSWORD}).").tag(config=True)
    token = Unicode("", help=f"A bearer token (else ${ENV_TOKEN}).").tag(config=True)
    request_timeout = Float(30.0, help="Seconds one API request may take.").tag(config=True)
    parse_timeout = Float(
        300.0, help="Seconds deploy waits for Airflow to parse the DAG file."
    ).tag(config=True)
    poll_interval = Float(1.0, help="Seconds between looks while waiting.").tag(config=True)
    #: Runs asked for in one request (Airflow's own maximum page is 100 by default).
    page_limit = PAGE_LIMIT

    def __init__(self, url: str | None = None, dags_folder: str | None = None, **kwargs: Any):
        super().__init__(url=url, dags_folder=dags_folder, **kwargs)
        self.base = (url or self.url or os.environ.get(ENV_URL, "")).rstrip("/")
        if not self.base:
            raise InvalidInput(
                f"no Airflow URL: give --url or set {ENV_URL} (e.g. http://airflow:8080)"
            )
        if not re.match(r"https?://[^/\s]+", self.base):
            raise InvalidInput(f"'{self.base}' is not an http(s) URL of Airflow")
        self.folder = dags_folder or self.dags_folder or os.environ.get(ENV_DAGS_FOLDER, "")
        self._bearer: str | None = None
        import requests

        self._http = requests.Session()

    # -- HTTP ----------------------------------------------------------------------------
    def _credentials(self) -> tuple[str, str, str]:
        return (
            self.token or os.environ.get(ENV_TOKEN, ""),
            self.username or os.environ.get(ENV_USERNAME, ""),
            self.password or os.environ.get(ENV_PASSWORD, ""),
        )

    def _auth(self) -> dict[str, str]:
        if self._bearer is None:
            token, username, password = self._credentials()
            if not token and username:
                answer = self._send(
                    "POST",
                    "/auth/token",
                    auth=False,
                    json={"username": username, "password": password},
                )
                if answer.status_code in (400, 401, 403, 422):
                    raise EngineCredentials(
                        f"Airflow at {self.base} refused the credentials of '{username}' "
                        f"({ENV_USERNAME}/{ENV_PASSWORD})"
                    )
                self._check(answer, "/auth/token")
                token = str(answer.json().get("access_token") or "")
            self._bearer = token
        return {"Authorization": f"Bearer {self._bearer}"} if self._bearer else {}

    def _send(self, method: str, path: str, auth: bool = True, **kwargs: Any) -> Any:
        import requests

        headers = {"Accept": "application/json", **(self._auth() if auth else {})}
        try:
            return self._http.request(
                method, self.base + path, headers=headers, timeout=self.request_timeout, **kwargs
            )
        except requests.RequestException as exc:
            raise ServiceUnavailable(
                f"Airflow at {self.base} does not answer: {_short(exc)}", code="engine_unreachable"
            ) from None

    def _api(self, method: str, path: str, ok404: bool = False, **kwargs: Any) -> Any:
        """JSON of ``/api/v2{path}``; None for a 404 when ``ok404``."""
        answer = self._send(method, "/api/v2" + path, **kwargs)
        if answer.status_code == 404 and ok404:
            return None
        self._check(answer, path)
        return answer.json() if answer.content else {}

    def _check(self, answer: Any, path: str) -> None:
        status = answer.status_code
        if status < 400:
            return
        detail = _detail(answer)
        if status == 401:
            raise EngineCredentials(
                f"Airflow at {self.base} wants credentials: set {ENV_TOKEN}, or "
                f"{ENV_USERNAME} and {ENV_PASSWORD} ({detail})"
            )
        if status == 403:
            raise EngineCredentials(f"Airflow at {self.base} refused {path}: {detail}")
        if status == 404:
            raise NotFound(f"Airflow at {self.base} has no {path}: {detail}")
        if status in (400, 409, 422):
            raise InvalidInput(f"Airflow refused {path}: {detail}", code="engine_refused")
        raise ServiceUnavailable(
            f"Airflow at {self.base} answered {status} to {path}: {detail}", code="engine_error"
        )

    # -- deploying -----------------------------------------------------------------------
    def _dags_folder(self) -> Path:
        if not self.folder:
            raise InvalidInput(
                f"no DAG folder: give --dags-folder or set {ENV_DAGS_FOLDER} (the folder "
                "Airflow reads DAG files from)"
            )
        folder = Path(self.folder).expanduser()
        if not folder.is_dir():
            raise InvalidInput(f"the DAG folder {folder} does not exist (see --dags-folder)")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise InvalidInput(f"the DAG folder {folder} cannot be written (permissions)")
        return folder

    def check_place(self) -> None:
        self._dags_folder()

    def render(self, spec: DeploySpec, dag_id: str) -> str:
        """The DAG file of a deployment: the airflow target's DockerOperator DAG."""
        job = spec.job
        context = ExportContext(
            name=job.name,
            experiment=job.experiment,
            job_dir=job.folder,
            destination=job.folder,
            source=job.notebook_path,
            notebook_file=job.notebook,
            notebook=cast(Any, None),
            schema=job.schema,
            requirements=cast(Any, None),
            lineage=JobLineage(
                source_path=job.file.source.path or job.notebook,
                notebook_sha256=job.file.source.sha256 or "",
            ),
            deployment=spec.deployment,
        )
        options = [(k, python_literal(v)) for k, v in spec.docker_options.items()]
        target = AirflowTarget(parent=self)
        retries = getattr(spec.deployment, "retries", None)  # --retries, where given
        if isinstance(retries, int):
            target.retries = retries
        return target.docker_dag(
            context, dag_id=dag_id, environment=spec.environment, extra_options=options
        )

    def deploy(self, spec: DeploySpec, report: Callable[[str], None]) -> Placement:
        folder = self._dags_folder()
        self._api("GET", "/dags?limit=1")  # reachable, and the credentials work
        dag_id = spec.name
        source = self.render(spec, dag_id)
        path = folder / dag_file_name(spec.name)
        previous = path.read_bytes() if path.exists() else None
        temporary = folder / f".{path.name}.tmp"
        report(f"writing {path.name} into the DAG folder")
        written = time.time()
        try:
            temporary.write_text(source, encoding="utf-8")
            os.replace(temporary, path)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise InvalidInput(
                f"the DAG file cannot be written to {folder}: {_short(exc)}"
            ) from None
        try:
            report("waiting for Airflow to parse it")
            self._wait_parsed(dag_id, path.name, written)
            report("paused" if spec.paused else "unpausing it")
            self._api("PATCH", f"/dags/{quote(dag_id)}", json={"is_paused": spec.paused})
        except BaseException:
            if previous is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(previous)
            raise
        return Placement(self.base, dag_id, str(folder), path.name)

    def _wait_parsed(self, dag_id: str, file_name: str, written: float) -> None:
        deadline = time.monotonic() + self.parse_timeout
        since = written - 1.0
        while True:
            dag = self._api("GET", f"/dags/{quote(dag_id)}", ok404=True)
            if dag is not None and _epoch(dag.get("last_parsed_time")) >= since:
                return
            errors = self._api("GET", "/importErrors?limit=100&order_by=-timestamp")
            for error in errors.get("import_errors", []):
                name = PurePosixPath(str(error.get("filename") or "")).name
                if name == file_name and _epoch(error.get("timestamp")) >= since:
                    raise InvalidInput(
                        f"Airflow cannot import the DAG: {_last_line(error.get('stack_trace'))}",
                        code="dag_import_error",
                    )
            if time.monotonic() > deadline:
                raise ServiceUnavailable(
                    f"Airflow did not parse {file_name} within {self.parse_timeout:.0f} s; is "
                    "its DAG processor running, and does it read this DAG folder?",
                    code="engine_timeout",
                )
            time.sleep(self.poll_interval)

    def undeploy(self, deployment: DeploymentInfo) -> None:
        if deployment.dags_folder and deployment.dag_file:
            path = Path(deployment.dags_folder) / deployment.dag_file
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise InvalidInput(
                    f"the DAG file {path} cannot be removed: {_short(exc)}"
                ) from None
        self._api("DELETE", f"/dags/{quote(deployment.dag_id)}", ok404=True)

    def set_paused(self, deployment: DeploymentInfo, paused: bool) -> None:
        self._dag(deployment)
        self._api("PATCH", f"/dags/{quote(deployment.dag_id)}", json={"is_paused": paused})

    def _dag(self, deployment: DeploymentInfo) -> dict[str, Any]:
        dag = self._api("GET", f"/dags/{quote(deployment.dag_id)}", ok404=True)
        if dag is None:
            raise NotFound(
                f"Airflow at {self.base} has no DAG '{deployment.dag_id}' (removed from its "
                "DAG folder?); deploy it again",
                code="engine_not_found",
            )
        return dict(dag)

    # -- runs ----------------------------------------------------------------------------
    def trigger(self, deployment: DeploymentInfo, conf: Mapping[str, Any]) -> DeploymentRun:
        dag = self._dag(deployment)
        if dag.get("is_paused"):
            raise Conflict(
                f"deployment '{deployment.name}' is paused: its runs would wait; resume it "
                f"first (jupyter mlops resume {deployment.name})",
                code="paused",
            )
        run = self._api(
            "POST",
            f"/dags/{quote(deployment.dag_id)}/dagRuns",
            json={"logical_date": None, "conf": dict(conf)},
        )
        return _run(run)

    def runs(
        self, deployments: Sequence[DeploymentInfo], limit: int = 25
    ) -> dict[str, list[DeploymentRun]]:
        if not deployments:
            return {}
        by_dag = {d.dag_id: d.name for d in deployments}
        found: dict[str, list[DeploymentRun]] = {d.name: [] for d in deployments}
        seen: set[tuple[str, str]] = set()
        # One request for every deployment, newest runs first; usually the page holds them
        # all. When it is full, a deployment that runs often may have crowded out another's
        # runs: those that have their `limit` are left out and the rest asked again (or,
        # when none has, the next page), so each deployment shows its own latest runs.
        pending, offset, page = set(by_dag), 0, self.page_limit
        while pending:
            answer = self._api(
                "POST",
                "/dags/~/dagRuns/list",
                json={
                    "dag_ids": sorted(pending),
                    "order_by": "-run_after",
                    "page_limit": page,
                    "page_offset": offset,
                },
            )
            raws = answer.get("dag_runs", [])
            for raw in raws:
                dag_id, run_id = str(raw.get("dag_id")), str(raw.get("dag_run_id"))
                name = by_dag.get(dag_id)
                if name is None or (dag_id, run_id) in seen or len(found[name]) >= limit:
                    continue
                seen.add((dag_id, run_id))
                found[name].append(_run(raw))
            if len(raws) < page:
                break
            served = {dag for dag in pending if len(found[by_dag[dag]]) >= limit}
            if served:
                pending, offset = pending - served, 0
            else:
                offset += page
        return found

    def tries(self, deployment: DeploymentInfo) -> dict[str, int]:
        """The task's try number of each run of ``deployment``, in one request."""
        answer = self._api(
            "POST",
            "/dags/~/dagRuns/~/taskInstances/list",
            json={"dag_ids": [deployment.dag_id], "task_ids": [TASK_ID], "page_limit": PAGE_LIMIT},
        )
        return {
            str(ti.get("dag_run_id")): int(ti.get("try_number") or 0)
            for ti in answer.get("task_instances", [])
        }

    def run(self, deployment: DeploymentInfo, run_id: str) -> DeploymentRun:
        raw = self._api(
            "GET", f"/dags/{quote(deployment.dag_id)}/dagRuns/{quote(run_id, safe='')}", ok404=True
        )
        if raw is None:
            raise NotFound(f"deployment '{deployment.name}' has no run '{run_id}'")
        return _run(raw)

    def logs(self, deployment: DeploymentInfo, run_id: str) -> str:
        self.run(deployment, run_id)  # a clear 404 for an unknown run
        base = f"/dags/{quote(deployment.dag_id)}/dagRuns/{quote(run_id, safe='')}"
        instance = self._api("GET", f"{base}/taskInstances/{TASK_ID}", ok404=True)
        tries = int((instance or {}).get("try_number") or 0)
        if tries < 1:
            return ""
        texts = []
        for number in range(1, tries + 1):
            answer = self._api(
                "GET",
                f"{base}/taskInstances/{TASK_ID}/logs/{number}?full_content=true",
                ok404=True,
            )
            lines = [_log_line(item) for item in (answer or {}).get("content", [])]
            if tries > 1:
                texts.append(f"--- try {number} ---")
            texts.extend(line for line in lines if line)
        return "\n".join(texts)

    def cancel(self, deployment: DeploymentInfo, run_id: str) -> DeploymentRun:
        current = self.run(deployment, run_id)
        if current.state not in ("queued", "running"):
            raise Conflict(f"run '{run_id}' has ended ({current.state}); nothing to cancel")
        raw = self._api(
            "PATCH",
            f"/dags/{quote(deployment.dag_id)}/dagRuns/{quote(run_id, safe='')}",
            json={"state": "failed"},
        )
        return _run(raw)


def dag_file_name(name: str) -> str:
    return f"jupyter_mlops_{name.replace('-', '_')}.py"


def _run(raw: Mapping[str, Any]) -> DeploymentRun:
    start, end = raw.get("start_date"), raw.get("end_date")
    duration = raw.get("duration")
    if duration is None and start and end:
        duration = max(0.0, _epoch(end) - _epoch(start))
    conf = raw.get("conf")
    return DeploymentRun(
        run_id=str(raw.get("dag_run_id")),
        state=_STATES.get(str(raw.get("state")), "unknown"),  # type: ignore[arg-type]
        start=start,
        end=end,
        duration=float(duration) if duration is not None else None,
        parameters=dict(conf) if isinstance(conf, dict) else {},
    )


def _epoch(text: Any) -> float:
    if not isinstance(text, str) or not text:
        return 0.0
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


def _log_line(item: Any) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        event = str(item.get("event") or "")
        when = str(item.get("timestamp") or "")
        return f"{when} {event}".strip() if event else ""
    return ""


def _last_line(text: Any) -> str:
    lines = [line.strip() for line in str(text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no detail)"


def _detail(answer: Any) -> str:
    try:
        body = answer.json()
    except ValueError:
        return " ".join(str(answer.text).split())[:200] or str(answer.status_code)
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):  # FastAPI's validation errors
        detail = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
    return " ".join(str(detail).split())[:300]


def _short(exc: BaseException) -> str:
    if isinstance(exc, MlopsError):
        return exc.message
    inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    reason = getattr(inner, "reason", None)  # urllib3's wrapped cause: "connection refused"
    return error_reason(reason if isinstance(reason, BaseException) else inner, 200)
