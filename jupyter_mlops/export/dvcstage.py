"""The ``dvc`` export target: a DVC pipeline stage, so ``dvc repro`` reruns the job when its
code, data or parameters change, and only then.

The job folder gets:

- ``dvc.yaml`` with one stage named after the job (other stages a user added to that file
  are kept; the stage of the job's name is replaced). Its ``cmd`` runs the job's entrypoint
  in the job folder (``python -m jupyter_mlops.job . --params-file params.yaml --output
  output/<name>.ipynb --metrics metrics.json``); its ``deps`` are the notebook, the schema,
  the local modules and files the notebook uses and the DVC-tracked data it reads; its
  ``params`` are every parameter in ``params.yaml``; its ``outs`` the output notebook and
  ``metrics.json`` (kept in git, ``cache: false``: the metrics the notebook recorded with
  :func:`jupyter_mlops.export.metrics.record`).
- ``params.yaml`` with the parameters' defaults, each with its type and help as a comment.
  It is the place to change a parameter: a re-export keeps the values set there (a value
  that no longer fits its parameter's type goes back to the default, with a warning).
- For every local file the notebook reads that DVC tracks (``dvc add``, or an output of
  another stage), a relative symbolic link to it instead of a copy: the job reads the
  data's current version, the stage depends on the tracked path itself (and so follows
  the stage that makes it), and the data is neither duplicated nor committed to git.

The ``dvc.yaml`` lives in the job folder, so it is written, checked and swapped in with the
rest of the folder: a failed export leaves nothing half-written, and nothing outside the
job folder is touched (the repository's own ``dvc.yaml`` stays the user's). ``dvc.lock``
and the outputs are kept across re-exports. Run ``dvc repro pipelines/<name>/dvc.yaml``
from anywhere in the repository (or ``dvc repro`` in the job folder, or ``dvc repro -P``).
"""

from __future__ import annotations

import io
import json
import os
import shlex
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from traitlets import Unicode

from ..data.dvcrepo import find_root
from ..errors import InvalidInput
from . import yamltext
from .parameters import (
    SCHEMA_FILE,
    InvalidParameters,
    ParameterSchema,
    parse_params_file,
    validate,
)
from .targets import ExportContext, ExportTarget

DVC_FILE = "dvc.yaml"
PARAMS_FILE = "params.yaml"
METRICS_FILE = "metrics.json"
OUTPUT_DIR = "output"
#: Names in the job folder the target writes (or the stage makes, or DVC keeps).
_OWN = (DVC_FILE, PARAMS_FILE, METRICS_FILE, "dvc.lock")


class DvcTarget(ExportTarget):
    """A DVC pipeline stage (``dvc.yaml``, ``params.yaml``) that runs the job."""

    name = "dvc"
    description = "DVC pipeline stage: dvc repro reruns the job when code, data or params change"

    python = Unicode(
        "python",
        help="The Python command the stage runs the job with; the environment it finds "
        "needs jupyter-mlops and the notebook's dependencies (and a 'python3' kernel).",
    ).tag(config=True)

    def write(self, context: ExportContext) -> None:
        root = dvc_root(context.source.parent)
        if not context.destination.is_relative_to(root):
            raise InvalidInput(
                f"the job folder {context.destination} is outside the DVC repository {root}; "
                "choose an --out inside it for the dvc target"
            )
        clash = [p for p in context.local_files if p.as_posix() in _OWN]
        if clash:
            raise InvalidInput(
                f"the notebook's local file {clash[0]} has the name of a file the dvc target "
                "writes; rename it"
            )
        document = self.previous_document(context)
        params_text = self.params_text(context)
        tracked = tracked_files(root, context.source.parent, context.local_files)
        document["stages"][_quoted(context.name)] = _quoted(self.stage(context, tracked))
        # Everything is known and checked: now write (into the staging folder only).
        for relative in tracked:
            _link(context, relative)
        if params_text is not None:
            context.write_text(PARAMS_FILE, params_text)
        context.write_text(DVC_FILE, _dump(document))
        _check_stage_file(root, context.job_dir / DVC_FILE, context.name)
        if tracked and (context.job_dir / "Dockerfile").exists():
            context.warn(
                f"{tracked[0]} is tracked by DVC: the job folder links it instead of copying "
                "it, so an image built from the folder carries the version checked out when "
                "it is built"
            )

    # -- the stage --------------------------------------------------------------------------
    def stage(self, context: ExportContext, tracked: list[PurePosixPath]) -> dict[str, Any]:
        """The stage of the job, paths relative to the job folder."""
        output = f"{OUTPUT_DIR}/{context.name}.ipynb"
        command = [self.python, "-m", "jupyter_mlops.job", "."]
        if len(context.schema):
            command += ["--params-file", PARAMS_FILE]
        command += ["--output", output, "--metrics", METRICS_FILE]
        source_folder = context.source.parent
        linked = {p.as_posix() for p in tracked}
        deps = [context.notebook_file, SCHEMA_FILE]
        deps += sorted(p.as_posix() for p in context.local_files if p.as_posix() not in linked)
        deps += [
            Path(os.path.relpath(source_folder / p, context.destination)).as_posix()
            for p in tracked
        ]
        stage: dict[str, Any] = {
            "desc": f"jupyter-mlops job {context.name} (notebook {context.lineage.source_path})",
            "cmd": " ".join(shlex.quote(part) for part in command),
            "deps": deps,
        }
        if len(context.schema):
            stage["params"] = [{PARAMS_FILE: context.schema.names}]
        stage["outs"] = [output]
        stage["metrics"] = [{METRICS_FILE: {"cache": False}}]
        return stage

    @staticmethod
    def previous_document(context: ExportContext) -> Any:
        """The previous ``dvc.yaml`` of the job folder (its other stages, comments and order
        are kept; the job's stage is replaced), else an empty one."""
        previous = context.destination / DVC_FILE
        document: Any = {"stages": {}}
        if previous.is_file():
            document = _load(previous)
            if document is None:
                document = {"stages": {}}
            if not isinstance(document, dict) or not isinstance(
                document.setdefault("stages", {}), dict
            ):
                raise InvalidInput(
                    f"{previous} is not a DVC pipeline file (no 'stages' mapping); fix or delete it"
                )
        return document

    # -- parameters -------------------------------------------------------------------------
    def params_text(self, context: ExportContext) -> str | None:
        """``params.yaml``: the values a previous one set that still fit, else the defaults;
        the previous text unchanged when it already holds exactly the parameters."""
        schema = context.schema
        if not len(schema):
            return None
        previous = context.destination / PARAMS_FILE
        given: dict[str, Any] = {}
        if previous.is_file():
            given = parse_params_file(previous)
        values = schema.defaults()
        for name, value in given.items():
            if name not in schema:
                context.warn(f"{PARAMS_FILE}: '{name}' is no longer a parameter; left out")
                continue
            try:
                values[name] = validate(ParameterSchema((schema.get(name),)), {name: value})[name]
            except InvalidParameters as exc:
                context.warn(f"{PARAMS_FILE}: {exc.problems[0]}; set back to the default")
        if set(given) == set(schema.names) and all(
            _same(given[n], values[n]) for n in schema.names
        ):
            return previous.read_text(encoding="utf-8")
        return render_params(context.name, schema, values)

    def readme(self, context: ExportContext) -> str:
        folder = context.shown_path
        return "\n".join(
            [
                "## Run it as a DVC pipeline stage",
                "",
                f"`{DVC_FILE}` holds the stage `{context.name}`: `dvc repro` runs the job when"
                " the notebook, its local files, the DVC-tracked data it reads or a value in"
                f" `{PARAMS_FILE}` changed since the last run, and skips it otherwise:",
                "",
                "```sh",
                f"dvc repro {folder}/{DVC_FILE}",
                f"dvc metrics show {folder}/{METRICS_FILE}",
                "```",
                "",
                f"Change parameters in `{PARAMS_FILE}` (a re-export keeps them). The output"
                f" notebook is `{OUTPUT_DIR}/{context.name}.ipynb`; `{METRICS_FILE}` holds the"
                " final value of each metric the notebook recorded with"
                " `jupyter_mlops.export.metrics.record(name=value)`. DVC-tracked data is linked"
                " into this folder, not copied: the job always reads its current version.",
                "",
            ]
        )


# -- helpers ----------------------------------------------------------------------------------
def dvc_root(folder: Path) -> Path:
    """The DVC repository holding ``folder``; :class:`InvalidInput` when there is none."""
    root = find_root(folder.resolve())
    if root is None:
        raise InvalidInput(
            f"the notebook's folder {folder} is not in a DVC repository (no .dvc folder above "
            "it): run `dvc init` at the top of the project, or leave out --target dvc"
        )
    return root


def tracked_files(root: Path, folder: Path, files: list[PurePosixPath]) -> list[PurePosixPath]:
    """The ``files`` (relative to ``folder``) that DVC tracks: added with ``dvc add``, in a
    tracked folder, or made by a pipeline stage."""
    if not files:
        return []
    from dvc.exceptions import DvcException, OutputNotFoundError
    from dvc.repo import Repo

    found = []
    try:
        with Repo(str(root)) as repo:
            outs = repo.index.outs
            for relative in files:
                try:
                    repo.find_outs_by_path(str(folder / relative), outs=outs, strict=False)
                except OutputNotFoundError:
                    continue
                found.append(relative)
    except DvcException as exc:
        detail = " ".join(str(exc).split())
        raise InvalidInput(f"cannot read the DVC repository {root}: {detail}") from None
    return found


def _link(context: ExportContext, relative: PurePosixPath) -> None:
    """Replace the copy of a tracked file by a relative link to the file itself (relative
    to where the job folder ends up, a sibling of the staging folder)."""
    copy_path = context.job_dir / relative
    target = os.path.relpath(
        context.source.parent / relative, (context.destination / relative).parent
    )
    copy_path.unlink(missing_ok=True)
    copy_path.parent.mkdir(parents=True, exist_ok=True)
    copy_path.symlink_to(target)


def render_params(job: str, schema: ParameterSchema, values: dict[str, Any]) -> str:
    """``params.yaml``: each parameter's value, with its type and help as a comment above."""
    lines = [
        f"# Parameters of job {json.dumps(job)} (types and help: {SCHEMA_FILE}).",
        "# `dvc repro` reruns the job when one of them changes; a re-export keeps them.",
    ]
    for parameter in schema:
        help_text = _visible(" ".join(parameter.help.split()))
        comment = f"# {parameter.name} ({parameter.type.python_text()})"
        lines.append(comment + (f": {help_text}" if help_text else ""))
        lines.append(
            yamltext.dump(
                {parameter.name: values[parameter.name]}, default_flow_style=False, width=2**31
            ).rstrip("\n")
        )
    return "\n".join(lines) + "\n"


def _visible(text: str) -> str:
    """``text`` for a YAML comment: every character that is not printable (control, format
    and unassigned ones such as U+008D or U+FFFF, which YAML readers refuse even in a
    comment) as its escape."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _quoted(value: Any) -> Any:
    """Strings that YAML 1.1 readers (PyYAML) would take for something else (``no``,
    ``on``, ``1e3``) double-quoted; DVC reads YAML 1.2, where they are strings anyway."""
    if isinstance(value, dict):
        return {_quoted(k): _quoted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_quoted(v) for v in value]
    if isinstance(value, str):
        try:
            plain = yaml.safe_load(value) == value
        except yaml.YAMLError:
            plain = False
        if not plain:
            from ruamel.yaml.scalarstring import DoubleQuotedScalarString

            return DoubleQuotedScalarString(value)
    return value


def _yaml() -> Any:
    from ruamel.yaml import YAML

    handler = YAML()  # round-trip: a user's comments and order survive
    handler.indent(mapping=2, sequence=4, offset=2)
    handler.width = 4096
    return handler


def _load(path: Path) -> Any:
    from ruamel.yaml import YAMLError

    try:
        return _yaml().load(path.read_text(encoding="utf-8"))
    except YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise InvalidInput(f"{path} is not valid YAML: {detail}; fix or delete it") from None


def _dump(document: Any) -> str:
    stream = io.StringIO()
    _yaml().dump(document, stream)
    return stream.getvalue()


def _check_stage_file(root: Path, path: Path, stage: str) -> None:
    """Load the written ``dvc.yaml`` with DVC itself (schema, stage name): a failure is a
    bug in this target, not the user's."""
    from dvc.dvcfile import load_file
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        stages = load_file(repo, str(path)).stages
        if stage not in stages:
            raise RuntimeError(f"the stage '{stage}' is missing from {path}")
