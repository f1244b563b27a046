"""Build (and push) a job's image through the Docker API: Docker, or Podman's
Docker-compatible socket; ``DOCKER_HOST`` is honoured as the ``docker`` CLI honours it.

The build reports its progress as :class:`BuildEvent` objects (``step`` with ``n/total``
and the instruction, ``log`` lines, ``push`` status) to a callback: the CLI draws them, the
server streams them to the export dialog. The whole log is kept in the job folder
(``build.log``) and what was built in ``build.json`` (the image reference, its id, the
pushed digest), which ``jupyter mlops run --in-container`` and the orchestrator targets read.
A failed build names the step that failed and where the log is.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, MlopsError, ServiceUnavailable, reason
from ..services.containers import DEFAULT_DOCKER_HOST
from .deploy import BUILD_RECORD, Deployment
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
) -> BuildResult:
    """Build the job folder's image (tag: ``NAME:latest`` unless given), push it when asked;
    record it in ``build.json``. :class:`BuildFailed` names the failing step."""
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
    with log_path.open("w", encoding="utf-8") as log:
        stream = client.api.build(
            path=str(folder),
            tag=tag,
            rm=True,
            forcerm=True,
            decode=True,
            pull=False,
            nocache=no_cache,
        )
        image_id, steps = _follow_build(stream, log, report, log_path)
    image = client.images.get(image_id or tag)
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
    report(BuildEvent("done", text=f"built {tag}", result=asdict(result)))
    return result


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
