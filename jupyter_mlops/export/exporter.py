"""``export_notebook``: a notebook with tagged cells becomes a job folder.

The job folder (``pipelines/<name>/`` next to the notebook unless told otherwise) holds
what every engine shares: the cleaned notebook, ``parameters.schema.json``, pinned
``requirements.txt``, ``job.json`` (name, experiment, notebook, lineage), the local modules
and files the code uses, and a README; then each export target adds its own files.

The folder is written beside the old one and swapped in at the end, so a failed export
leaves the previous job intact. What the previous export did not write (``output/``,
``certs/``, a user's parameter files) is kept.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import re
import shutil
import tempfile
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from .. import gitfacts
from .._version import __version__
from ..errors import Conflict, InvalidInput, disk_full_is_clear
from ..redact import without_credentials
from . import files, requirements
from .datapins import DataPin, find_pins
from .deploy import Deployment, check_image
from .jobfile import JOB_FILE, InvalidJobFile, JobFile, JobKernel, JobSource, WarningDetail
from .notebook import clean, dependencies, notebook_facts, read_notebook
from .parameters import SCHEMA_FILE, ParameterSchema, infer_schema, write_schema
from .targets import ExportContext, ExportNotice, ExportTarget, JobLineage, load_target

GITIGNORE = ".gitignore"
PIPELINES_DIR = "pipelines"
DEFAULT_TARGETS = ("docker",)
#: Names in a job folder that export owns; a local file of the same name is not copied.
RESERVED = frozenset(
    {JOB_FILE, SCHEMA_FILE, "requirements.txt", "README.md", "Dockerfile", ".dockerignore"}
    | {GITIGNORE}
    | {"runtime", "certs", "output", ".mlops"}
)
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
NAME_MAX = 63


def job_name(name: str) -> str:
    """``name`` if it makes a valid image and Kubernetes name (a DNS-1123 label), else
    :class:`InvalidInput` naming it."""
    if len(name) <= NAME_MAX and _NAME.fullmatch(name):
        return name
    suggestion = derive_name(name)
    raise InvalidInput(
        f"invalid job name '{name}': use lowercase letters, digits and '-', starting and "
        f"ending with a letter or digit, at most {NAME_MAX} characters (e.g. '{suggestion}')"
    )


def derive_name(text: str) -> str:
    """A valid job name made from a notebook's name: ``Train Model (v2)`` -> ``train-model-v2``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    name = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return name[:NAME_MAX].rstrip("-") or "notebook-job"


@disk_full_is_clear("exporting the job", "the previous job folder, if any, is unchanged")
def export_notebook(
    notebook_path: str | Path,
    name: str | None = None,
    out: str | Path | None = None,
    targets: Sequence[str] = DEFAULT_TARGETS,
    base_image: str | None = None,
    requirements: str | Path | None = None,
    include: Iterable[str | Path] = (),
    *,
    kernel_spec_manager: Any = None,
    deployment: Deployment | None = None,
    target_options: dict[str, Any] | None = None,
    on_warning: Callable[[str], None] | None = None,
    project_root: str | Path | None = None,
    audit_root: Any = None,
) -> Path:
    """Write the job folder of a notebook and return its path.

    ``out`` is the job folder itself (default ``pipelines/<name>`` next to the notebook);
    ``include`` adds files or folders (relative to the notebook's folder) to those the code
    names; ``requirements`` replaces the requirements read from the kernel; ``deployment``
    is how orchestrator targets run the job (image, schedule, resources, secrets);
    ``target_options`` are passed to each target (``parent=``, ``config=``). Warnings (a
    secret left out, an import no distribution provides) go to ``on_warning``.
    ``project_root`` (the server's root; default: the git work tree, else the current
    folder) is what the job names its notebook and folder relative to: no absolute path of
    this machine goes into the job. The export is recorded in the audit trail of
    ``audit_root`` (settings or a project folder; default: the project root).
    """
    plugins = [load_target(t, **(target_options or {})) for t in dict.fromkeys(targets)]
    if base_image is not None:
        check_image(base_image, "--base-image")
    source = Path(notebook_path).expanduser().absolute()
    notebook = read_notebook(source)
    source = source.resolve()
    folder = source.parent
    name = job_name(name) if name else derive_name(source.stem)
    destination = Path(out).expanduser().resolve() if out else folder / PIPELINES_DIR / name
    previous = _previous_export(destination, source)

    cleaned = clean(notebook, folder)
    schema = infer_schema(cleaned.notebook)
    facts = notebook_facts(cleaned.code, source)
    found = dependencies(facts, folder, skip=[destination, source])
    local = sorted(found.local | {_included(folder, p) for p in include})
    pinned = _requirements(
        notebook, found, cleaned.pip_requirements, requirements, kernel_spec_manager
    )
    warnings = [*cleaned.warnings, *found.warnings, *pinned.warnings]

    project = _project_root(source, project_root)
    destination.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{name}.export-", dir=destination.parent))
    stage.chmod(0o777 & ~_umask())  # mkdtemp makes it private; a job folder is not
    try:
        copied = _copy_local(folder, local, stage, source.name, warnings)
        pins = _data_pins(folder, local, warnings)
        import nbformat

        nbformat.write(cleaned.notebook, stage / source.name)
        write_schema(schema, stage)
        (stage / "requirements.txt").write_text(pinned.text, encoding="utf-8")
        context = ExportContext(
            name=name,
            experiment=source.stem,
            job_dir=stage,
            destination=destination,
            source=source,
            notebook_file=source.name,
            notebook=cleaned.notebook,
            schema=schema,
            requirements=pinned,
            lineage=_lineage(source, project),
            project_root=project,
            local_files=copied,
            base_image=base_image,
            deployment=deployment or Deployment(),
            kept=dict(previous),
            warnings=warnings,
            data=pins,
        )
        for plugin in plugins:
            plugin.write(context)
        _keep_pins(context)
        context.write_text("README.md", _readme(context, plugins))
        context.write_text(GITIGNORE, gitignore())
        _write_job_file(context, plugins, cleaned.notebook)
        _swap(stage, destination, context.kept)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    from ..audit.jobs import record_export

    record_export(destination, project, audit_root)
    report = on_warning or _warn
    for message in warnings:
        report(message)
    return destination


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _warn(message: str) -> None:
    import warnings

    warnings.warn(message, ExportWarning, stacklevel=3)


class ExportWarning(UserWarning):
    """Export went through, but something needs the user's eye."""


# -- steps ----------------------------------------------------------------------------------
def _previous_export(destination: Path, source: Path) -> dict[str, Path]:
    """The entries of an earlier job folder that its export did not write (to keep); a
    folder that is not a job folder is refused rather than replaced."""
    if source.is_relative_to(destination):
        raise InvalidInput(
            f"the job folder {destination} would hold the notebook itself; choose another --out"
        )
    if not destination.exists():
        return {}
    if not destination.is_dir():
        raise Conflict(f"{destination} exists and is not a folder; choose another --out")
    job_file = destination / JOB_FILE
    if not job_file.is_file():
        if any(destination.iterdir()):
            raise Conflict(
                f"{destination} exists and is not a job folder (no {JOB_FILE}); "
                "export will not replace it: choose another --out or --name"
            )
        return {}
    try:
        written = set(JobFile.read(destination).written)
    except InvalidJobFile:
        written = set()  # unreadable: everything in it is kept
    return {p.name: p for p in destination.iterdir() if p.name not in written}


def _included(folder: Path, path: str | Path) -> PurePosixPath:
    """An ``--include`` path as a path relative to the notebook's folder."""
    given = Path(path).expanduser()
    full = given if given.is_absolute() else folder / given
    if not full.exists():
        raise InvalidInput(f"--include {path}: not found")
    try:
        inside = full.absolute().relative_to(folder)
    except ValueError:
        raise InvalidInput(
            f"--include {path} is outside the notebook's folder {folder}; the job runs in "
            "a copy of that folder, so only what is inside it can travel"
        ) from None
    relative = PurePosixPath(os.path.normpath(inside.as_posix()))
    if relative.parts[:1] == ("..",) or relative == PurePosixPath("."):
        raise InvalidInput(f"--include {path} must name a file or folder inside {folder}")
    return relative


def _data_pins(folder: Path, local: list[PurePosixPath], warnings: list[str]) -> list[DataPin]:
    """The versions of the DVC-tracked data the notebook reads (best effort: a DVC project
    that cannot be read costs the pins, with a warning, not the export)."""
    try:
        return find_pins(folder, local)
    except InvalidInput as exc:
        warnings.append(f"data versions not pinned: {exc.message}")
        return []


def _keep_pins(context: ExportContext) -> None:
    """After the targets wrote: data a target linked to the project's own (the ``dvc``
    target: its stage follows the current version) is not pinned, nor data with changes no
    snapshot holds (the job uses the copy it carries, as the notebook did); pins no remote
    can serve are said."""
    kept = []
    for pin in context.data:
        if (context.job_dir / pin.path).is_symlink():
            continue
        if pin.changed:
            context.warnings.append(
                f"{pin.path} has changes that no DVC version holds: the job carries this "
                "copy and its version is not pinned (snapshot it, then export again, to pin it)"
            )
            continue
        kept.append(pin)
    context.data = kept
    unpullable = [pin.path for pin in context.data if not pin.url]
    if unpullable:
        context.warnings.append(
            f"{', '.join(unpullable)}: DVC-tracked, but the project has no default DVC remote, "
            "so a job started without this exact version cannot fetch it "
            "(`dvc remote add -d NAME URL`, `dvc push`, then export again)"
        )


def _requirements(
    notebook: Any,
    found: Any,
    pip_specs: list[str],
    user_file: str | Path | None,
    manager: Any,
) -> requirements.Requirements:
    kernel_name = requirements.kernel_of(notebook)
    runner = [*requirements.RUNNER, "mlflow"]
    if user_file is not None:
        try:
            kernel = requirements.find_kernel(kernel_name, manager)
            env = requirements.probe(kernel, [], runner)
            python = env.python
        except InvalidInput:
            env, python = None, _notebook_python(notebook)
        return requirements.from_file(Path(user_file).expanduser(), env, python)
    kernel = requirements.find_kernel(kernel_name, manager)
    # Local modules travel with the job; jupyter-mlops' runtime comes with the image.
    skipped = {*found.local_modules, "jupyter_mlops"}
    imports = {m for m in found.imports if m.split(".")[0] not in skipped}
    specs = [*runner, *(_spec_name(s) for s in pip_specs)]
    env = requirements.probe(kernel, imports, [s for s in specs if s])
    return requirements.pin(env, kernel_name, imports, pip_specs)


def _spec_name(spec: str) -> str | None:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", spec)
    return match.group(0) if match else None


def _notebook_python(notebook: Any) -> str:
    """The Python version a notebook last ran with (its metadata), else ours."""
    import platform

    version = notebook.get("metadata", {}).get("language_info", {}).get("version")
    return str(version) if version else platform.python_version()


#: Why a file the job would carry is left behind, as a warning says it.
_NOT_COPIED = {
    "secret": "looks like a secret",
    "outside": "is a symbolic link to a place outside the notebook's folder",
    "invalid": "has a control character in its name",
}


def _copy_local(
    folder: Path, local: list[PurePosixPath], stage: Path, notebook_file: str, notes: list[str]
) -> list[PurePosixPath]:
    """Copy the local files and folders; secrets and caches stay behind. The files copied."""
    copied: list[PurePosixPath] = []
    size = 0
    for entry in local:
        if entry.parts[0] in RESERVED or entry.as_posix() == notebook_file:
            notes.append(f"{entry} has the name of a file export writes: not copied")
            continue
        for relative, reason in files.walk(folder, entry):
            if reason in _NOT_COPIED:
                notes.append(f"{relative} {_NOT_COPIED[reason]}: not copied into the job")
            if reason is not None or relative in copied:
                continue
            files.copy_file(folder / relative, stage / relative)
            size += (stage / relative).stat().st_size
            copied.append(relative)
    if size > files.LARGE_BYTES:
        notes.append(
            f"the job carries {size / 2**20:.0f} MB of local files; keep large data in DVC or "
            "a mounted volume rather than in every image"
        )
    return copied


def _project_root(source: Path, given: str | Path | None) -> Path:
    """The folder the job names paths relative to: ``given`` (the server's root), else the
    notebook's git work tree, else the current folder, else the notebook's own folder (the
    first that holds the notebook)."""
    top = gitfacts.toplevel(source.parent)
    for candidate in (given, top, Path.cwd()):
        if candidate is not None and source.is_relative_to(Path(candidate).resolve()):
            return Path(candidate).resolve()
    return source.parent


def _lineage(source: Path, project: Path) -> JobLineage:
    """The notebook's hash and place: relative to its git work tree (with the commit and
    the remote, without credentials), else to the project; never an absolute path."""
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    git = gitfacts.state(source.parent)
    if git is None:
        return JobLineage(source.relative_to(project).as_posix(), digest)
    return JobLineage(
        source_path=source.relative_to(git.toplevel.resolve()).as_posix(),
        notebook_sha256=digest,
        git_commit=git.commit,
        git_dirty=git.dirty,
        git_repository=_shareable_remote(git.remote),
    )


def _shareable_remote(remote: str | None) -> str | None:
    """A git remote as a job may carry it: a URL (``https://``, ``ssh://``) or ``host:path``
    without credentials; ``None`` for a folder of this machine (``/home/...``, ``file://``),
    which names nothing elsewhere and tells where this machine keeps its files."""
    if not remote:
        return None
    scheme, sep, _ = remote.partition("://")
    if sep:
        return None if scheme.lower() == "file" else without_credentials(remote)
    host, colon, _ = remote.partition(":")
    if colon and host and "/" not in host and "\\" not in host:  # scp-like host:path
        return remote.split("@", 1)[1] if "@" in host else remote
    return None


def _write_job_file(context: ExportContext, plugins: list[ExportTarget], notebook: Any) -> None:
    lineage = context.lineage
    written = sorted({*(p.name for p in context.job_dir.iterdir()), JOB_FILE} - {"certs"})
    job_file = JobFile(
        name=context.name,
        experiment=context.experiment,
        notebook=context.notebook_file,
        parameters=SCHEMA_FILE,
        source=JobSource(
            path=lineage.source_path,
            sha256=lineage.notebook_sha256,
            git_commit=lineage.git_commit,
            git_dirty=lineage.git_dirty,
            git_repository=lineage.git_repository,
        ),
        kernel=JobKernel(name=requirements.kernel_of(notebook), python=context.requirements.python),
        targets=tuple(p.name for p in plugins),
        files=tuple(p.as_posix() for p in context.local_files),
        data=tuple(context.data),
        written=tuple(written),
        exported_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        jupyter_mlops_version=__version__,
        warnings=tuple(context.warnings),
        # Each warning's code, field and values (null: a warning with no code), for a UI.
        warning_details=tuple(
            WarningDetail.from_dict(w.detail()) if isinstance(w, ExportNotice) else None
            for w in context.warnings
        ),
    )
    context.write_text(JOB_FILE, job_file.to_json())


def _swap(stage: Path, destination: Path, kept: dict[str, Path]) -> None:
    """Move what is kept from the old folder into the new one, then replace the old; if
    that fails, what was moved goes back, so the old folder is whole again."""
    moved: list[tuple[Path, Path]] = []
    try:
        for name, path in kept.items():
            if path.exists() and not (stage / name).exists():
                path.rename(stage / name)
                moved.append((stage / name, path))
        if not destination.exists():
            stage.rename(destination)
            return
        old = destination.with_name(f".{destination.name}.old-{uuid.uuid4().hex[:8]}")
        destination.rename(old)
        try:
            stage.rename(destination)
        except OSError:
            old.rename(destination)
            raise
    except BaseException:
        for staged, path in reversed(moved):
            with contextlib.suppress(OSError):
                staged.rename(path)
        raise
    with contextlib.suppress(OSError):
        shutil.rmtree(old)


def gitignore() -> str:
    """The job folder's ``.gitignore``: what running and building the job leave in it (the
    output notebooks and their logs, the build's log and record of a local image, caches)
    and secrets a person may put there; the job itself (notebook, schema, requirements,
    Dockerfile, manifests, ``runtime/`` for the image) is meant to be committed."""
    from .build import BUILD_LOG
    from .deploy import BUILD_RECORD

    lines = [
        "# Generated by jupyter-mlops: what runs and builds leave here; commit the rest.",
        "/output/",
        f"/{BUILD_LOG}",
        f"/{BUILD_RECORD}",
        *(p for p in files.CACHE_PATTERNS if p != ".git"),
        *files.SECRET_PATTERNS,
        "",
    ]
    return "\n".join(lines)


# -- the README -----------------------------------------------------------------------------
def _readme(context: ExportContext, plugins: list[ExportTarget]) -> str:
    shown = context.shown_path
    lineage = context.lineage
    commit = f", git {lineage.git_commit[:12]}" if lineage.git_commit else ""
    parts = [
        f"# Job `{context.name}`",
        "",
        f"Exported by jupyter-mlops {__version__} from `{lineage.source_path}`{commit}"
        f" (notebook sha256 `{lineage.notebook_sha256[:12]}`). Re-export rather than edit.",
        "",
        f"Runs `{context.notebook_file}` with papermill. Parameters are checked against"
        f" `{SCHEMA_FILE}` before the kernel starts; the output notebook is kept; with"
        " `MLFLOW_TRACKING_URI` (or `JUPYTER_MLOPS_TRACKING_URI`) set, the run is recorded in"
        f" MLflow experiment `{context.experiment}`, beside the notebook's interactive runs.",
        "",
        "## Parameters",
        "",
        *_parameter_table(context.schema),
        "",
        "## Run it locally",
        "",
        "```sh",
        f"jupyter mlops run {shown} -p NAME VALUE",
        f"jupyter mlops run {shown} --params-file params.yaml --output result.ipynb",
        "```",
        "",
        "Exit codes: 0 done; 2 invalid parameters or job folder (nothing ran); 3 the notebook"
        " failed (the message names the cell; the output notebook shows it); 4 the pinned"
        " data could not be fetched (nothing ran; worth retrying when a remote was down).",
        "",
    ]
    parts += [text for text in (p.readme(context) for p in plugins) if text]
    if context.data:
        parts += [
            "## Data",
            "",
            "The DVC-tracked data the notebook reads, pinned to the version it was exported"
            " with. Before the notebook runs, the job checks each path and pulls that version"
            " from the DVC remote when it is missing or different (credentials from the"
            " environment, as DVC reads them).",
            "",
            *(
                f"- `{pin.path}`: `{pin.md5}`"
                + (f" from `{pin.url}`" if pin.url else " (no DVC remote: not pullable)")
                for pin in context.data
            ),
            "",
        ]
    parts += [
        "## Files",
        "",
        f"- `{context.notebook_file}`: the notebook, cleaned (no outputs, no `skip-export` cells)",
        f"- `{SCHEMA_FILE}`: the parameters (JSON Schema)",
        "- `requirements.txt`: dependencies pinned from the notebook's kernel",
        f"- `{JOB_FILE}`: name, experiment and lineage",
        *(
            f"- `{p}`: used by the notebook"
            for p in sorted({f.parts[0] for f in context.local_files})
        ),
        "",
    ]
    return "\n".join(parts)


def _parameter_table(schema: ParameterSchema) -> list[str]:
    if not len(schema):
        return ["The notebook has no parameters (no cell tagged `parameters`)."]
    rows = ["| Name | Type | Default | Description |", "|---|---|---|---|"]
    for parameter in schema:
        default = json.dumps(parameter.default, ensure_ascii=False)
        cells = [
            f"`{parameter.name}`",
            f"`{parameter.type.python_text()}`",
            f"`{default}`",
            parameter.help,
        ]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return rows
