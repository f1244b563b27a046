"""Export targets: plugins that add what one engine needs to run a job.

Export writes the parts every engine shares (the cleaned notebook, ``parameters.schema.json``,
``requirements.txt``, ``job.json``, the local files, a README); each target named on the
command line then adds its own files to the same folder: a Dockerfile, a Kubernetes
manifest, an Argo workflow. A target is a subclass of :class:`ExportTarget` registered in
the entry-point group ``jupyter_mlops.exporters`` of its package::

    [project.entry-points."jupyter_mlops.exporters"]
    docker = "jupyter_mlops.export.docker:DockerTarget"

so a new engine is a new package (or module), not an edit here. Targets are traitlets
``Configurable`` objects: their options are settings (``c.DockerTarget.ca_certificates``),
given by the server extension's configuration when it exports.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, ClassVar

from traitlets.config import Configurable

from ..errors import MlopsError
from ..plugins import Plugins
from .deploy import BUILD_RECORD, Deployment

if TYPE_CHECKING:
    import nbformat

    from .datapins import DataPin
    from .parameters import ParameterSchema
    from .requirements import Requirements

#: The entry-point group export targets are registered in.
GROUP = "jupyter_mlops.exporters"

log = logging.getLogger(__name__)


@dataclass
class JobLineage:
    """Where an exported job came from, as recorded in ``job.json`` and image labels. Not
    what is captured for a run (:class:`jupyter_mlops.tracking.capture.CapturedLineage`)
    nor the API's view of a run's lineage (:class:`jupyter_mlops.runs.models.Lineage`)."""

    #: The notebook's path: relative to its git work tree's top, else to the project root.
    source_path: str
    notebook_sha256: str
    git_commit: str | None = None
    git_dirty: bool | None = None
    git_repository: str | None = None


class ExportNotice(str):
    """A warning of export with its structure: the text is the CLI's wording (``--image``),
    :attr:`code` says which warning it is, :attr:`field` the request field it is about
    (``deployment.image``) and :attr:`values` what the wording quotes, so a UI can word it
    in its own terms. A plain ``str`` everywhere else (job.json, the CLI)."""

    code: str
    field: str | None
    values: dict[str, str]

    def __new__(
        cls, message: str, code: str, field: str | None = None, values: dict[str, str] | None = None
    ) -> ExportNotice:
        notice = super().__new__(cls, message)
        notice.code = code
        notice.field = field
        notice.values = dict(values or {})
        return notice

    def detail(self) -> dict[str, Any]:
        """What the API and job.json say of it besides the text."""
        return {"code": self.code, "field": self.field, "values": self.values}


@dataclass
class ExportContext:
    """Everything a target may use. Targets write into :attr:`job_dir` only (through
    :meth:`write_text` or directly); the folder is a staging copy that replaces the
    previous job folder once every target succeeded."""

    name: str
    experiment: str
    #: The folder being written; it becomes :attr:`destination` at the end.
    job_dir: Path
    destination: Path
    #: The notebook exported, and the file name of its cleaned copy in the job folder.
    source: Path
    notebook_file: str
    notebook: nbformat.NotebookNode
    schema: ParameterSchema
    requirements: Requirements
    lineage: JobLineage
    #: Files copied next to the notebook (local modules, data), relative to the job folder.
    local_files: list[PurePosixPath] = field(default_factory=list)
    base_image: str | None = None
    #: Where and how orchestrators run the job (image, schedule, resources, secrets).
    deployment: Deployment = field(default_factory=Deployment)
    #: Entries of the previous job folder that export did not write (``output/``,
    #: ``certs/``, a user's parameter files): kept in the new one.
    kept: dict[str, Path] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: The DVC-tracked data the notebook reads, pinned to its version (``datapins``).
    data: list[DataPin] = field(default_factory=list)
    #: What paths in the job are relative to (the server's root, the git work tree...).
    project_root: Path | None = None

    @property
    def python_version(self) -> str:
        """The kernel's Python version, ``major.minor``."""
        return ".".join(self.requirements.python.split(".")[:2])

    @property
    def shown_path(self) -> str:
        """The job folder as the README shows it: relative to the project root (else to the
        current folder) if inside, else its name; never an absolute path of this machine."""
        for base in (self.project_root, Path.cwd()):
            if base is not None and self.destination.is_relative_to(base):
                return self.destination.relative_to(base).as_posix() or "."
        return self.destination.name

    @property
    def image(self) -> str:
        """The image orchestrators run: ``--image``, else the one ``jupyter mlops build``
        recorded, else ``NAME:latest`` (with a warning that it is a guess)."""
        image, guessed = self.deployment.image_for(self.kept_path(BUILD_RECORD), self.name)
        if guessed and not any(getattr(w, "code", None) == "image_guessed" for w in self.warnings):
            self.warn(
                f"no --image given and no build recorded: manifests use '{image}'; build and "
                "push the image, then re-export with --image REGISTRY/NAME:TAG (or @sha256:...)",
                code="image_guessed",
                field="deployment.image",
                image=image,
            )
        return image

    def kept_path(self, name: str) -> Path:
        """A file of the previous job folder that export keeps, else its path in the new one."""
        return self.kept.get(name, self.job_dir / name)

    def warn(
        self, message: str, *, code: str | None = None, field: str | None = None, **values: str
    ) -> None:
        """Add a warning. ``message`` is the CLI's wording; a warning that names a
        command-line option gives a ``code`` (and the request ``field`` and ``values`` it is
        about), so the export dialog can say it in its own words (:class:`ExportNotice`)."""
        self.warnings.append(ExportNotice(message, code, field, values) if code else message)

    def write_text(self, relative: str, text: str) -> Path:
        path = self.job_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path


class ExportTarget(Configurable):
    """Base class of export targets.

    Subclasses set :attr:`name` (what ``--target`` says), :attr:`description` (else the
    first line of their docstring is used) and :attr:`orchestrator`, implement :meth:`write`,
    and may add a section to the job's README with :meth:`readme`. A user's mistake is
    raised as :class:`~jupyter_mlops.errors.InvalidInput` (one line); problems that do not
    stop the export go to :meth:`ExportContext.warn`.
    """

    name: ClassVar[str] = ""
    #: One line for people (the export dialog and ``GET jobs/targets`` show it).
    description: ClassVar[str] = ""
    #: Whether the target runs the job on an orchestrator, from the job's image, and so
    #: reads :attr:`ExportContext.deployment` (image, schedule, resources, secrets): the
    #: export dialog asks for those options when one of these targets is chosen.
    orchestrator: ClassVar[bool] = False

    @classmethod
    def summary(cls) -> str:
        """:attr:`description`, else the first line of the class's own docstring."""
        if cls.description:
            return cls.description
        doc = cls.__dict__.get("__doc__") or ""
        return next((line.strip() for line in doc.strip().splitlines() if line.strip()), "")

    def write(self, context: ExportContext) -> None:
        """Add this target's files to ``context.job_dir``."""
        raise NotImplementedError

    def readme(self, context: ExportContext) -> str:
        """Markdown for the job's README (how to build or run it on this engine)."""
        return ""


def _unavailable(message: str) -> MlopsError:
    return MlopsError(message, code="target_unavailable")


TARGETS: Plugins[ExportTarget] = Plugins(
    GROUP, ExportTarget, "export target", "targets", _unavailable
)
#: Make a target available in this process without an entry point (tests, notebooks);
#: usable as a class decorator. It wins over an entry point of the same name.
register = TARGETS.register
known_targets = TARGETS.known
target_class = TARGETS.get


@dataclass(frozen=True)
class TargetInfo:
    """What a target is, for a list of them; ``error`` says why it cannot be loaded."""

    name: str
    description: str = ""
    orchestrator: bool = False
    error: str | None = None


def describe_targets() -> list[TargetInfo]:
    """Every known target, sorted by name. A target that cannot be loaded (a broken plugin)
    is listed with its ``error`` (and logged) rather than hiding the others."""
    found = []
    for name in known_targets():
        try:
            cls = target_class(name)
        except MlopsError as exc:
            log.warning("jupyter-mlops: %s", exc.message)
            found.append(TargetInfo(name, error=exc.message))
            continue
        found.append(TargetInfo(name, cls.summary(), bool(cls.orchestrator)))
    return found


def load_target(name: str, **kwargs: Any) -> ExportTarget:
    """The target called ``name``, made with ``kwargs`` (``parent=``, ``config=``)."""
    return target_class(name)(**kwargs)
