"""Run a job in its built image, as production does: the image's own entrypoint, the same
arguments, the job user; only the host's wiring differs.

- Parameters are checked on the host first (a mistake costs no container) and handed to
  the container as a JSON parameters file copied into it.
- The output notebook is written in the container and copied out when the job ends (no
  bind mount, so no ownership clash between the job user and the host, and a remote
  ``DOCKER_HOST`` works); a URL output (``s3://...``) is written by the job itself.
- The container shares the host's network, so a tracking server on loopback answers. With
  the embedded SQLite store the store's folder is mounted at the same path and the job runs
  as the calling user, who owns that store; tracking credentials are passed as environment
  variables at run time, never baked into the image.
- Ctrl-C stops the container with SIGTERM, which the entrypoint turns into a KILLED run.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from .. import settings as settings_mod
from .. import state as state_mod
from ..errors import InvalidInput, ServiceUnavailable
from ..tracking.spool import ENV_HOST
from . import notify
from .build import engine, read_build
from .docker import JOB_ROOT
from .job import (
    ENV_FLUSH_TIMEOUT,
    ENV_IMAGE_DIGEST,
    ENV_OUTPUT_ON_HOST,
    default_output,
    load_job,
    values_for,
)

#: Environment passed through to the job when set on the host (run-time configuration and
#: credentials: never part of the image).
PASSED_ENVIRONMENT = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_INSECURE_TLS",
    "MLFLOW_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "AZURE_STORAGE_CONNECTION_STRING",
    settings_mod.ENV_TRACKING_URI,
    settings_mod.ENV_ARTIFACT_LOCATION,
    "JUPYTER_MLOPS_EXIT_FLUSH",
    "JUPYTER_MLOPS_AUDIT_USER",
)
#: Paths inside the container (not on the host).
_PARAMS_DIR_IN_CONTAINER = "/tmp"  # noqa: S108
_PARAMS_IN_CONTAINER = f"{_PARAMS_DIR_IN_CONTAINER}/jupyter-mlops-params.json"
_OUTPUT_IN_CONTAINER = f"{JOB_ROOT}/output"
STOP_TIMEOUT = 30


def run_in_container(
    job_dir: str | Path,
    pairs: Sequence[tuple[str, str]] = (),
    params_file: str | Path | None = None,
    output: str | None = None,
    image: str | None = None,
    on_output: Callable[[str], None] = print,
    client: Any = None,
) -> int:
    """Run the job in its image; the entrypoint's exit code (0, 2, 3, 130/143)."""
    job = load_job(job_dir)
    values = values_for(job, pairs, params_file)
    built = read_build(job.folder) or {}
    image = image or built.get("image")
    if not image:
        raise InvalidInput(
            f"no image built for {job.folder}; build it first: jupyter mlops build {job_dir}"
        )
    client = client or engine()
    host_output: Path | None = None
    if output is not None and "://" in output:
        in_container = output  # the job writes it there itself
    else:
        host_output = Path(output or default_output(job)).absolute()
        in_container = str(PurePosixPath(_OUTPUT_IN_CONTAINER) / host_output.name)
    environment, volumes, user = _wiring(image_id=built.get("image_id"))
    if host_output is not None:
        # What the job says and records names the notebook where it ends up: on the host.
        environment[ENV_OUTPUT_ON_HOST] = str(host_output)
        on_output = _on_host(on_output, in_container, str(host_output))
    # Names the container's processes in the journal, so the host knows when they are gone.
    environment[ENV_HOST] = f"container-{uuid.uuid4().hex[:12]}"
    container = client.containers.create(
        image,
        command=["--params-file", _PARAMS_IN_CONTAINER, "--output", in_container],
        environment=environment,
        volumes=volumes,
        user=user,
        network_mode="host",
        labels={"io.jupyter-mlops.job": job.name},
    )
    try:
        _put_archive(
            container,
            _PARAMS_DIR_IN_CONTAINER,
            _tar({Path(_PARAMS_IN_CONTAINER).name: json.dumps(values)}),
        )
        container.start()
        try:
            for chunk in container.logs(stream=True, follow=True):
                for line in chunk.decode("utf-8", "replace").splitlines():
                    if line.strip():
                        on_output(line)
            code = int(container.wait().get("StatusCode", 1))
        except KeyboardInterrupt:
            # SIGTERM: the entrypoint shuts its kernel down and marks the run KILLED.
            container.stop(timeout=STOP_TIMEOUT)
            container.wait()
            code = 130
        if host_output is not None:
            _copy_out(container, in_container, host_output)
    finally:
        container.remove(force=True)
    state = embedded_state_dir(environment)
    if state is not None:
        _deliver(state, environment[ENV_HOST], on_output)
    return code


def _put_archive(container: Any, path: str, data: bytes, attempts: int = 3) -> None:
    """Upload ``data`` (a tar) into the created container. Podman's Docker API now and
    then breaks the pipe of an upload under load (a 500, "broken pipe"); the upload is
    idempotent, so it is tried again; an engine that keeps failing is one clear line."""
    from docker.errors import APIError

    for attempt in range(1, attempts + 1):
        try:
            container.put_archive(path, data)
            return
        except APIError as exc:
            if attempt == attempts or not exc.is_server_error():
                detail = " ".join(str(exc.explanation or exc).split())
                raise ServiceUnavailable(
                    f"the container engine did not take the job's parameters: {detail}"
                ) from None
            time.sleep(0.5 * attempt)


def _on_host(on_output: Callable[[str], None], inside: str, host: str) -> Callable[[str], None]:
    """``on_output`` with the output notebook's path in the container replaced by its path
    on the host, where it is copied when the job ends."""
    return lambda line: on_output(line.replace(inside, host))


def _deliver(state: Path, container: str, on_output: Callable[[str], None]) -> None:
    """Deliver what the job journaled into the embedded store (as ``jupyter mlops sync``)."""
    from ..tracking.delivery import sync
    from ..tracking.spool import Spool

    outcomes = sync(Spool(state), timeout=5.0, force=True, ended_hosts={container})
    pending = [o for o in outcomes if o.state == "retry"]
    if pending:
        on_output(
            f"jupyter mlops run: warning: the run is kept in {state} and not delivered yet "
            f"({pending[0].error}); `jupyter mlops sync` delivers it"
        )


def _wiring(image_id: str | None) -> tuple[dict[str, str], dict[str, dict[str, str]], str | None]:
    """Environment, volumes and user for the container."""
    environment = {k: os.environ[k] for k in PASSED_ENVIRONMENT if os.environ.get(k)}
    environment.update(notify.passed_environment(os.environ))
    if image_id:
        environment[ENV_IMAGE_DIGEST] = image_id
    volumes: dict[str, dict[str, str]] = {}
    user = None
    state = embedded_state_dir(environment)
    if state is not None:
        # The project's embedded store: the image carries mlflow-skinny, which has no SQL
        # store, so the job journals its run into the project's state folder (mounted at
        # the same path, written as its owner) and the host delivers it after the job.
        state_mod.ensure(state)
        volumes[str(state)] = {"bind": str(state), "mode": "rw"}
        user = f"{os.getuid()}:{os.getgid()}"
        environment.update(
            {
                settings_mod.ENV_ROOT: str(state.parent),
                "HOME": _PARAMS_DIR_IN_CONTAINER,
                ENV_FLUSH_TIMEOUT: "0",
            }
        )
    return environment, volumes, user


def embedded_state_dir(environment: Mapping[str, str]) -> Path | None:
    """The state folder of a project's embedded store named by the tracking URI, if so."""
    uri = environment.get("MLFLOW_TRACKING_URI") or environment.get(settings_mod.ENV_TRACKING_URI)
    database = settings_mod.sqlite_file(uri or "")
    if database is None:
        return None
    state = Path(database).parent
    if state.name != settings_mod.STATE_DIR_NAME:
        raise InvalidInput(
            f"the tracking store {database} is not a project's embedded store "
            f"(<project>/{settings_mod.STATE_DIR_NAME}/); a job in a container tracks into "
            "a tracking server (MLFLOW_TRACKING_URI=http://...) or the embedded store"
        )
    return state


def _tar(files: Mapping[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, text in files.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _copy_out(container: Any, path: str, target: Path) -> None:
    """Copy one file out of a (stopped) container, if the job wrote it."""
    from docker.errors import NotFound

    try:
        stream, _ = container.get_archive(path)
    except NotFound:
        return  # the job stopped before papermill wrote anything
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
        member = next((m for m in archive.getmembers() if m.isfile()), None)
        if member is None:
            return
        extracted = archive.extractfile(member)
        if extracted is None:
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(extracted.read())
