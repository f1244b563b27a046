"""What the Kubernetes, Argo and Kubeflow Pipelines targets share: how a pod starts the job.

Every orchestrator runs the job's image with the one entrypoint, ``python -m
jupyter_mlops.job /job``, so a pod checks its parameters exactly as ``jupyter mlops run``
does. This module says, once for the three targets:

- how a parameter's value is written as ``-p NAME TEXT`` so that the entrypoint, which
  parses the text by the schema's type, gets the value back (:func:`cli_text`): a string as
  it is (quotes and all), anything else as JSON;
- where the output notebook goes (:func:`output_arguments`): ``--output`` ending in
  ``.ipynb`` is one file, anything else a folder (or URL prefix) that gets one notebook per
  run, named by something unique to the run that the engine fills in;
- the labels and annotations that tie a pod to its notebook, the non-root user of the
  image, and the checks on names that Kubernetes and the engines impose (CronJob names of
  at most 52 characters, ASCII parameter names, cron as robfig/cron reads it).
"""

from __future__ import annotations

import json
import re
from typing import Any

from traitlets import Enum, Int, Unicode

from .._version import __version__
from ..errors import InvalidInput, MlopsError
from . import escape
from .deploy import SECRETS_ROOT, Deployment
from .docker import JOB_ROOT, LABEL_PREFIX, DockerTarget
from .parameters import Parameter, ParameterSchema, parse_cli_value
from .targets import ExportContext, ExportTarget

#: The job's entrypoint in the image (the Dockerfile's ENTRYPOINT, said explicitly so the
#: manifests do not depend on it).
COMMAND = ["python", "-m", "jupyter_mlops.job"]
#: The container's name in every pod.
CONTAINER = "job"
#: ``app.kubernetes.io/managed-by`` of everything the targets generate.
MANAGED_BY = "jupyter-mlops"
#: A CronJob's (and a CronWorkflow's) name leaves 11 characters for the run's suffix.
CRON_NAME_MAX = 52
#: Time zone of schedules unless a target's ``time_zone`` setting says otherwise.
DEFAULT_TIME_ZONE = "Etc/UTC"


class ScheduledPodTarget(ExportTarget):
    """Base of the targets that run the job as a pod on a schedule (Kubernetes, Argo): the
    settings they share, also settable for both at once (``c.ScheduledPodTarget.time_zone``)."""

    orchestrator = True

    active_deadline_seconds = Int(
        None, allow_none=True, help="Seconds a run may take before it is stopped (none: no limit)."
    ).tag(config=True)
    time_zone = Unicode(DEFAULT_TIME_ZONE, help="Time zone of --schedule (an IANA name).").tag(
        config=True
    )
    concurrency_policy = Enum(
        ["Forbid", "Allow", "Replace"],
        "Forbid",
        help="What the schedule does when a run is due while the last one still runs.",
    ).tag(config=True)
    starting_deadline_seconds = Int(
        3600, help="Seconds a scheduled run may start late (after downtime) before it is skipped."
    ).tag(config=True)
    history_limit = Int(
        3, help="Finished runs the schedule keeps, successful and failed each."
    ).tag(config=True)


_ENGINE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CRON_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@hourly": "0 * * * *",
}


# -- parameters -----------------------------------------------------------------------------
def cli_text(parameter: Parameter, value: Any) -> str | None:
    """The text of ``-p NAME TEXT`` that the entrypoint reads back as ``value``; ``None``
    when there is none: the text of a ``str | None`` parameter is always a string, so its
    ``None`` can only be had by not passing it."""
    if parameter.type.kind == "string":
        if value is None:
            return None
        text = str(value)
    else:
        text = json.dumps(value, ensure_ascii=False)
    back = parse_cli_value(ParameterSchema((parameter,)), parameter.name, text)
    if json.dumps(back, sort_keys=True) != json.dumps(value, sort_keys=True):
        raise MlopsError(
            f"parameter '{parameter.name}': {value!r} written as {text!r} reads back as "
            f"{back!r}; this is a bug in jupyter-mlops"
        )
    return text


def check_names(schema: ParameterSchema, engine: str) -> None:
    """Refuse parameter names the engine cannot carry (Argo: ASCII letters, digits, '_')."""
    bad = [p.name for p in schema if not _ENGINE_NAME.fullmatch(p.name)]
    if bad:
        raise InvalidInput(
            f"parameter '{bad[0]}' cannot be a {engine} parameter name (ASCII letters, digits "
            "and '_'): rename it in the parameters cell"
        )


def parameter_comment(schema: ParameterSchema) -> list[str]:
    """The parameters as lines of a comment: name, type, default and help."""
    lines = []
    for parameter in schema:
        default = json.dumps(parameter.default, ensure_ascii=False)
        help_text = f"  # {parameter.help}" if parameter.help else ""
        lines.append(f"  {parameter.name}: {parameter.type.python_text()} = {default}{help_text}")
    return lines


# -- output ---------------------------------------------------------------------------------
def output_arguments(deployment: Deployment, run_id: str) -> list[str]:
    """``--output`` for the entrypoint: a ``.ipynb`` location as given, else one notebook per
    run named ``run_id`` (an engine variable, such as ``{{workflow.name}}``) under the given
    folder or URL prefix; nothing without ``--output`` (the entrypoint's default then). The
    given location is passed literally (``$`` doubled: Kubernetes expands ``$(VAR)``)."""
    if not deployment.output:
        return []
    output = escape.kubernetes_literal(deployment.output)  # a pod's args expand $(VAR)
    if output.lower().endswith(".ipynb"):
        return ["--output", output]
    return ["--output", f"{output.rstrip('/')}/{run_id}.ipynb"]


def warn_about_output(context: ExportContext, engine: str, scheduled: bool) -> None:
    output = context.deployment.output
    if not output:
        return
    if "://" not in output:
        context.warn(
            f"--output {output} is a path in the container: mount a volume there in the "
            f"{engine} manifest, or the output notebooks end with the pod",
            code="output_in_container",
            field="deployment.output",
            output=output,
            engine=engine,
        )
    if scheduled and output.lower().endswith(".ipynb"):
        context.warn(
            f"--output {output} names one notebook: every scheduled run overwrites it; give a "
            "folder or URL prefix to keep one per run",
            code="output_overwritten",
            field="deployment.output",
            output=output,
        )


# -- pods -----------------------------------------------------------------------------------
def labels(context: ExportContext) -> dict[str, str]:
    """Kubernetes labels of every object and pod of the job."""
    return {
        "app.kubernetes.io/name": context.name,
        "app.kubernetes.io/component": "notebook-job",
        "app.kubernetes.io/managed-by": MANAGED_BY,
        f"{LABEL_PREFIX}/job": context.name,
    }


def lineage_annotations(context: ExportContext) -> dict[str, str]:
    """Where the job came from (notebook, hash, commit), as annotations."""
    lineage = context.lineage
    found = {
        "notebook.path": lineage.source_path,
        "notebook.sha256": lineage.notebook_sha256,
        "git.commit": lineage.git_commit or "",
        "version": __version__,
    }
    return {f"{LABEL_PREFIX}/{k}": v for k, v in found.items() if v}


def image_digest(image: str) -> str | None:
    """The ``sha256:...`` digest of an image reference, if it carries one."""
    return Deployment(image=image).digest


def user_id(target: ExportTarget) -> int:
    """The image's non-root user: ``c.DockerTarget.user_id`` as the image was built with."""
    return int(DockerTarget(parent=target).user_id)


def secret_mount(secret: str) -> str:
    return f"{SECRETS_ROOT}/{secret}"


def volume_name(prefix: str, index: int, secret: str) -> str:
    """A DNS-1123 label for the volume of a Secret (whose name may hold dots)."""
    return f"{prefix}-{index}-{secret.replace('.', '-')}"[:63].rstrip("-")


def entrypoint_arguments(*extra: str) -> list[str]:
    return [JOB_ROOT, *extra]


# -- names and schedules ------------------------------------------------------------------
def check_cron_name(name: str, kind: str) -> None:
    if len(name) > CRON_NAME_MAX:
        raise InvalidInput(
            f"job name '{name}' has {len(name)} characters; a {kind} name has at most "
            f"{CRON_NAME_MAX} (its runs add a suffix): give a shorter --name"
        )


def robfig_cron(expression: str, macros: bool = True) -> str:
    """A valid cron expression (see :func:`.deploy.cron_problem`) as robfig/cron, which
    Kubernetes, Argo and Kubeflow Pipelines use, reads it: day of week 7 (Sunday, which
    the five-field standard allows) becomes 0; macros such as ``@daily`` are spelled out
    unless ``macros`` says the engine reads them."""
    if expression in _CRON_MACROS:
        return expression if macros else _CRON_MACROS[expression]
    *fields, day_of_week = expression.split()
    return " ".join([*fields, _sunday_as_zero(day_of_week)])


def _sunday_as_zero(field: str) -> str:
    parts: list[str] = []
    for part in field.split(","):
        base, slash, step = part.partition("/")
        low, dash, high = base.partition("-")
        if base == "7":
            parts.append("0" + slash + step)
        elif dash and high == "7" and not slash:
            parts += {"7": ["0"], "6": ["6", "0"]}.get(low, [f"{low}-6", "0"])
        elif dash and high == "7":
            raise InvalidInput(
                f"day of week '{part}' in --schedule: Kubernetes, Argo and Kubeflow read days "
                "of week 0-6 (0 is Sunday); write the range with 0-6"
            )
        else:
            parts.append(part)
    return ",".join(dict.fromkeys(parts))
