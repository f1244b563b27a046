"""Build (and push) a job's image through the Docker API: Docker, or Podman's
Docker-compatible socket; ``DOCKER_HOST`` is honoured as the ``docker`` CLI honours it.

The build reports its progress as :class:`BuildEvent` objects (``step`` with ``n/total``
and the instruction, ``log`` lines, ``push`` status) to a callback: the CLI draws them, the
server streams them to the export dialog. The whole log is kept in the job folder
(``build.log``) and what was built in ``build.json`` (the image reference, its id, the
pushed digest), which ``jupyter mlops run --in-container`` and the orchestrator targets read.
A failed build names the step that failed and where the log is; whatever the engine
answers (an API error, a dropped connection) is a :class:`BuildFailed` too, one line.

The build context is made here, not by the SDK: the SDK sends symbolic links as links, and
one leaving the job folder (the ``dvc`` target links DVC-tracked data to the project's
copy) makes the engine fail. A link that leaves the job folder but stays in the project is
sent as what it points to; one that leaves the project, or points nowhere, is refused.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import InvalidInput, MlopsError, ServiceUnavailable, reason
from ..status.containers import DEFAULT_DOCKER_HOST
from .deploy import BUILD_RECORD, Deployment
from .files import excluded
from .job import load_job

BUILD_LOG = "build.log"
_STEP = re.compile(r"^\s*step\s+(\d+)/(\d+)\s*:\s*(.*)$", re.IGNORECASE)
_BUILT = re.compile(r"^(?:Successfully built |COMMIT\b.*?|--> )([0-9a-f]{12,64})\s*$")


class BuildFailed(MlopsError):
    """The engine refused to build or push the image (the message names the step)."""

    status = 422
    code = "build_failed"


@dataclass
class BuildEvent:
    """One piece of progress: ``step`` (``step``/``total``/``text``), ``log`` (``text``),
    ``push`` (``text``) or ``done`` (``result``)."""

    kind: str
    text: str = ""
    step: int | None = None
    total: int | None = None
    result: dict[str, Any] | None = None


@dataclass
class BuildResult:
    image: str
    image_id: str
    size: int
    seconds: float
    steps: int
    #: ``registry/name@sha256:...`` once pushed.
    pushed: str | None = None
    engine: str = ""
    built_at: str = field(
        default_factory=lambda: datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        )
    )

    @property
    def reference(self) -> str:
        """What to run: the pushed digest reference, else the local tag."""
        return self.pushed or self.image


Progress = Callable[[BuildEvent], None]


def docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def engine(timeout: int = 600) -> Any:
    """A ``docker.DockerClient`` that answers, or :class:`ServiceUnavailable` saying how to
    get one (export itself never needs an engine)."""
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except (DockerException, OSError) as exc:
        first = reason(exc, limit=200)
        raise ServiceUnavailable(
            f"no container engine answers at {docker_host()} ({first}); install Docker, or "
            "Podman and serve its Docker API (`podman system service unix:///PATH.sock`, "
            "see scripts/containers.sh) and set DOCKER_HOST=unix:///PATH.sock; export works "
            "without an engine",
            code="no_container_engine",
        ) from None
    return client


def build_image(
    job_dir: str | Path,
    tag: str | None = None,
    push: bool = False,
    on_progress: Progress | None = None,
    client: Any = None,
    no_cache: bool = False,
    audit_root: Any = None,
) -> BuildResult:
    """Build the job folder's image (tag: ``NAME:latest`` unless given), push it when asked;
    record it in ``build.json`` and in the audit trail of ``audit_root`` (settings or a
    project folder; default: the job's project). :class:`BuildFailed` names the failing
    step."""
    job = load_job(job_dir)
    folder = job.folder
    if not (folder / "Dockerfile").is_file():
        raise InvalidInput(
            f"{folder} has no Dockerfile; export it with the docker target "
            "(`jupyter mlops export NOTEBOOK --target docker`)"
        )
    tag = tag or f"{job.name}:latest"
    Deployment(image=tag)  # an invalid reference is refused before the engine sees it
    report = on_progress or (lambda event: None)
    client = client or engine()
    started = time.monotonic()
    log_path = folder / BUILD_LOG
    with build_context(folder) as context, log_path.open("w", encoding="utf-8") as log:
        try:
            stream = client.api.build(
                fileobj=context,
                custom_context=True,
                tag=tag,
                rm=True,
                forcerm=True,
                decode=True,
                pull=False,
                nocache=no_cache,
            )
            image_id, steps = _follow_build(stream, log, report, log_path)
            image = client.images.get(image_id or tag)
        except MlopsError:
            raise
        except Exception as exc:
            if not _engine_error(exc):
                raise
            log.write(f"ERROR: {exc}\n")
            reason = _engine_reason(exc)
            raise BuildFailed(
                f"the container engine failed the build: {reason}; full log: {log_path}"
            ) from None
    result = BuildResult(
        image=tag,
        image_id=image.id,
        size=int(image.attrs.get("Size") or 0),
        seconds=round(time.monotonic() - started, 2),
        steps=steps,
        engine=_engine_name(client),
    )
    if push:
        result.pushed = _push(client, tag, report, log_path)
    (folder / BUILD_RECORD).write_text(json.dumps(asdict(result), indent=2) + "\n", "utf-8")
    from ..audit.jobs import record_build

    record_build(folder, job.file, result, audit_root)
    report(BuildEvent("done", text=f"built {tag}", result=asdict(result)))
    return result


def build_context(folder: Path) -> IO[bytes]:
    """The job folder as a tar archive for the engine, as ``.dockerignore`` filters it (the
    engine's own rules, from the Docker SDK), links leaving the folder dereferenced when
    they stay in the project. :class:`BuildFailed` names a link that cannot be sent."""
    from docker.utils.build import exclude_paths

    folder = folder.resolve()
    ignore = folder / ".dockerignore"
    patterns: list[str] = []
    if ignore.is_file():
        lines = [line.strip() for line in ignore.read_text(encoding="utf-8").splitlines()]
        patterns = [line for line in lines if line and not line.startswith("#")]
    paths = sorted(exclude_paths(str(folder), patterns, dockerfile="Dockerfile"))
    project = project_of(folder)
    archive = tempfile.NamedTemporaryFile(prefix="jupyter-mlops-context-", suffix=".tar")  # noqa: SIM115
    try:
        with tarfile.open(fileobj=archive, mode="w") as tar:
            for relative in paths:
                path = folder / relative
                target = Path(os.path.realpath(path)) if path.is_symlink() else None
                if target is None or target.is_relative_to(folder):
                    tar.add(path, arcname=relative, recursive=False)
                    continue
                _check_link(relative, target, project)
                tar.add(target, arcname=relative, filter=_travels)
        archive.seek(0)
    except BaseException:
        archive.close()
        raise
    return archive


def project_of(folder: Path) -> Path | None:
    """The project a job folder belongs to: the nearest folder above it with a ``.git`` or
    ``.dvc`` folder."""
    for candidate in folder.parents:
        if (candidate / ".git").exists() or (candidate / ".dvc").is_dir():
            return candidate
    return None


def _check_link(relative: str, target: Path, project: Path | None) -> None:
    if project is None or not target.is_relative_to(project):
        raise BuildFailed(
            f"{relative} in the job folder is a link to a path outside the project, which "
            "the image cannot take; copy what it points to into the job folder"
        )
    if not target.exists():
        raise BuildFailed(
            f"{relative} in the job folder links to {target.relative_to(project).as_posix()}, "
            "which does not exist (`dvc pull` or `dvc checkout` it first)"
        )


def _travels(member: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """Inside a folder sent for a link: what export would copy (no secrets, no caches)."""
    return None if excluded(member.name) else member


def _engine_error(exc: BaseException) -> bool:
    """Whether an exception is the engine's answer (or its silence), not a bug here."""
    from docker.errors import DockerException
    from requests.exceptions import RequestException

    return isinstance(exc, DockerException | RequestException | OSError)


def _engine_reason(exc: BaseException) -> str:
    detail = getattr(exc, "explanation", None) or str(exc) or type(exc).__name__
    return _short(str(detail), 300)


def _follow_build(
    stream: Iterable[dict[str, Any]], log: Any, report: Progress, log_path: Path
) -> tuple[str | None, int]:
    """Read the engine's JSON stream; the image id (if said) and the number of steps."""
    image_id: str | None = None
    current: BuildEvent | None = None
    total = 0
    tail: list[str] = []
    for chunk in stream:
        if "error" in chunk or "errorDetail" in chunk:
            message = chunk.get("error") or (chunk.get("errorDetail") or {}).get("message", "")
            log.write(f"ERROR: {message}\n")
            raise BuildFailed(_failure(current, str(message), tail, log_path))
        if isinstance(chunk.get("aux"), dict) and chunk["aux"].get("ID"):
            image_id = chunk["aux"]["ID"]
        for line in _lines(chunk.get("stream", "")):
            log.write(line + "\n")
            step = _STEP.match(line)
            if step:
                current = BuildEvent(
                    "step", text=step.group(3), step=int(step.group(1)), total=int(step.group(2))
                )
                total = max(total, current.total or 0)
                tail = []
                report(current)
                continue
            built = _BUILT.match(line)
            if built and len(built.group(1)) >= 12:
                image_id = image_id or built.group(1)
            tail = [*tail[-19:], line]
            report(BuildEvent("log", text=line))
    log.flush()
    if image_id is None and total == 0:
        raise BuildFailed(f"the engine built nothing; see {log_path}")
    return image_id, total


def _lines(text: str) -> Iterator[str]:
    for line in text.splitlines():
        if line.strip():
            yield line.rstrip()


def _failure(step: BuildEvent | None, message: str, tail: list[str], log_path: Path) -> str:
    where = f"step {step.step}/{step.total} ({_short(step.text)})" if step else "the start"
    last = next((line for line in reversed(tail) if line.strip()), "")
    detail = " ".join(message.split())[:300]
    if last and last not in detail:
        detail += f"; last output: {_short(last, 200)}"
    return f"the build failed at {where}: {detail}; full log: {log_path}"


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _push(client: Any, tag: str, report: Progress, log_path: Path) -> str:
    repository, _, version = tag.rpartition(":") if ":" in tag.split("/")[-1] else (tag, "", "")
    digest: str | None = None
    with log_path.open("a", encoding="utf-8") as log:
        for chunk in client.api.push(repository, tag=version or None, stream=True, decode=True):
            if "error" in chunk or "errorDetail" in chunk:
                message = chunk.get("error") or (chunk.get("errorDetail") or {}).get("message")
                log.write(f"ERROR: {message}\n")
                raise BuildFailed(f"the push of {tag} failed: {_short(str(message), 300)}")
            aux = chunk.get("aux")
            if isinstance(aux, dict) and aux.get("Digest"):
                digest = aux["Digest"]
            status = chunk.get("status") or chunk.get("stream") or ""
            if status.strip():
                log.write(status.rstrip() + "\n")
                report(BuildEvent("push", text=status.strip()))
                found = re.search(r"digest: (sha256:[0-9a-f]{64})", status)
                digest = digest or (found.group(1) if found else None)
    if digest is None:
        image = client.images.get(tag)
        digests = [d for d in image.attrs.get("RepoDigests") or [] if d.startswith(repository)]
        digest = digests[0].split("@", 1)[1] if digests else None
    if digest is None:
        raise BuildFailed(f"the engine pushed {tag} but did not say its digest; see {log_path}")
    return f"{repository}@{digest}"


def _engine_name(client: Any) -> str:
    try:
        info = client.version()
    except Exception:
        return ""
    components = info.get("Components") or [{}]
    return f"{components[0].get('Name') or 'Docker Engine'} {info.get('Version', '')}".strip()


def read_build(job_dir: str | Path) -> dict[str, Any] | None:
    """What ``jupyter mlops build`` recorded for this job folder, if anything."""
    try:
        record = json.loads((Path(job_dir) / BUILD_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None
