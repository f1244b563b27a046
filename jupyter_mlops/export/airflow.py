"""The ``airflow`` export target: Airflow DAG files that run the job's image.

Two DAG files go into the job folder's ``airflow/``; copy the one that fits into the DAGs
folder (or both: their DAG ids differ):

- ``<name>_dag.py`` (DAG id ``<name>``): a ``KubernetesPodOperator`` runs the image on
  Kubernetes, with the deployment options in Kubernetes' terms: resources (requests equal
  limits), Secrets by name (``--secret`` as files under ``/etc/secrets/NAME``,
  ``--env-from-secret`` as environment variables), namespace and service account;
- ``<name>_docker_dag.py`` (DAG id ``<name>-docker``): a ``DockerOperator`` runs it on the
  Airflow worker's Docker host, for single-host setups. Docker has no Secrets: ``--secret
  NAME`` mounts the host folder ``<docker_secrets_dir>/NAME`` read-only at the same path,
  and output notebooks go to a named volume unless ``--output`` says otherwise.

Both run the image's entrypoint (``python -m jupyter_mlops.job /job``) with the DAG run's
parameters as one JSON object (``--params-json '{{ params | tojson }}'``, its ``$``
doubled in a pod's args, which Kubernetes expands): an int stays an
int, a list a list, a string with quotes and a null arrive intact. The DAG's ``params``
are Airflow ``Param`` objects made from ``parameters.schema.json`` (type, default,
description, enum, items), so Airflow's trigger form shows and checks them, and the job
checks them again before its kernel starts. ``--schedule`` becomes ``schedule=`` (no
catch-up), and an image pinned by digest is passed to the run as
``JUPYTER_MLOPS_IMAGE_DIGEST``.

Reliability: ``--retries`` (default: the ``c.AirflowTarget.retries`` setting) is the task's
``retries``; ``--retry-delay`` its ``retry_delay`` (default: ``retry_delay_minutes``) and
``--retry-backoff`` its ``retry_exponential_backoff`` factor; ``--timeout`` its
``execution_timeout`` (each try's limit). The operator is a subclass of the provider's that
fails the task at once (``AirflowFailException``: no retry) when the job exits with 2
(invalid parameters) or 3 (the notebook raised). Notifications are configured by name only
(``JUPYTER_MLOPS_NOTIFY_ENV``, ``JUPYTER_MLOPS_NOTIFY_FILE`` in the environment).

The files are made from a template with every value written as a Python literal
(``repr``), never pasted as text, and are parsed (``ast``) before they are written.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from string import Template
from typing import Any

from traitlets import Int, Unicode

from .._version import __version__
from ..errors import InvalidInput
from . import escape
from .deploy import SECRETS_ROOT
from .escape import python_literal
from .job import ENV_IMAGE_DIGEST, EXIT_FAILED, EXIT_INVALID
from .parameters import SCHEMA_FILE, ParameterSchema
from .targets import ExportContext, ExportTarget

#: The folder of the job folder the DAG files go to.
AIRFLOW_DIR = "airflow"
#: Where the job's image keeps its files (see the docker target).
JOB_ROOT = "/job"
#: What the DAG passes to the job entrypoint: the run's parameters as one JSON object.
PARAMS_ARGUMENTS = ("--params-json", "{{ params | tojson }}")
#: The same in a pod's args, where Kubernetes reduces '$$' to '$' and expands '$(VAR)': every
#: '$' of the JSON doubled, so a value such as 'a$$b' or '$(HOME)' arrives as itself.
POD_PARAMS_ARGUMENTS = ("--params-json", "{{ params | tojson | replace('$', '$$') }}")
#: JSON Schema keywords a parameter's Airflow Param carries (the rest is ours or Param's own
#: arguments: default, description).
_PARAM_KEYWORDS = (
    "type",
    "enum",
    "items",
    "additionalProperties",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
)
_DIGEST = re.compile(r"@(sha256:[a-f0-9]{64})$")
# Kubernetes quantities (already validated by Deployment): a number and a suffix.
_QUANTITY = re.compile(r"(?P<number>[0-9.]+(?:[eE][-+]?\d+)?)(?P<suffix>[a-zA-Z]*)")
_SUFFIXES = {
    "": 1.0,
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
    "Ei": 2.0**60,
}


class AirflowTarget(ExportTarget):
    """Airflow DAGs: a KubernetesPodOperator one and a DockerOperator one."""

    name = "airflow"
    description = "Airflow DAGs running the job's image (KubernetesPodOperator, DockerOperator)"
    orchestrator = True

    retries = Int(2, help="How often Airflow retries a failed run of the job.").tag(config=True)
    retry_delay_minutes = Int(5, help="Minutes between retries.").tag(config=True)
    start_date = Unicode(
        "2024-01-01",
        help="The DAGs' start_date (YYYY-MM-DD, UTC); with catchup off only the latest "
        "interval of a schedule runs.",
    ).tag(config=True)
    docker_secrets_dir = Unicode(
        "/etc/jupyter-mlops/secrets",
        help="Folder on the Docker host holding one folder per secret: --secret NAME mounts "
        f"<this>/NAME read-only at {SECRETS_ROOT}/NAME in the Docker DAG's container.",
    ).tag(config=True)

    def write(self, context: ExportContext) -> None:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", self.start_date):
            raise InvalidInput(
                f"AirflowTarget.start_date '{self.start_date}' is not a date (YYYY-MM-DD)"
            )
        clash = [p for p in context.local_files if p.parts[0] == AIRFLOW_DIR]
        if clash:
            raise InvalidInput(
                f"the notebook's local file {clash[0]} is in '{AIRFLOW_DIR}/', where the airflow "
                "target writes its DAGs; rename that folder"
            )
        if context.deployment.env_from_secrets:
            names = ", ".join(context.deployment.env_from_secrets)
            context.warn(
                f"the Docker DAG does not expose --env-from-secret {names}: Docker has no "
                "Secrets; the Kubernetes DAG does (or use --secret, mounted as files)",
                code="docker_dag_env_from_secrets",
                field="deployment.env_from_secrets",
                names=names,
            )
        for path, source in self.dags(context).items():
            context.write_text(path, source)

    # -- the DAG files ----------------------------------------------------------------------
    def dags(self, context: ExportContext) -> dict[str, str]:
        """File (relative to the job folder) -> checked Python source."""
        module = context.name.replace("-", "_")
        files = {
            f"{AIRFLOW_DIR}/{module}_dag.py": self.kubernetes_dag(context),
            f"{AIRFLOW_DIR}/{module}_docker_dag.py": self.docker_dag(context),
        }
        for path, source in files.items():
            _check_python(path, source)
        return files

    def kubernetes_dag(self, context: ExportContext) -> str:
        deployment = context.deployment
        secrets = [
            *(("volume", f"{SECRETS_ROOT}/{s}", s) for s in deployment.secrets),
            *(("env", None, s) for s in deployment.env_from_secrets),
        ]
        resources = deployment.resources()
        options: list[tuple[str, str]] = [("name", "JOB"), ("image", "IMAGE")]
        if deployment.namespace:
            options.append(("namespace", python_literal(deployment.namespace)))
        if deployment.service_account:
            options.append(("service_account_name", python_literal(deployment.service_account)))
        options.append(("arguments", "ARGUMENTS"))
        if resources:
            options.append(
                (
                    "container_resources",
                    "k8s.V1ResourceRequirements(requests=RESOURCES, limits=RESOURCES)",
                )
            )
        if secrets:
            options.append(("secrets", "[Secret(*secret) for secret in SECRETS]"))
        options.append(("env_vars", "ENVIRONMENT"))
        options += [("get_logs", "True"), ("on_finish_action", python_literal("delete_pod"))]
        constants = [
            *self._common_constants(
                context,
                dag_id=context.name,
                output=self._output(context, pod=True),
                params=POD_PARAMS_ARGUMENTS,
            ),
            (
                "RESOURCES",
                python_literal(resources),
                "requests and limits (--cpu, --memory, --gpu)",
            ),
            (
                "SECRETS",
                python_literal(secrets),
                f"(how, where, Secret name): --secret as files under {SECRETS_ROOT}/NAME, "
                "--env-from-secret as environment variables",
            ),
        ]
        return _render(
            title="Kubernetes (KubernetesPodOperator)",
            imports=[
                "from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator",
                "from airflow.providers.cncf.kubernetes.secret import Secret",
                "from kubernetes.client import models as k8s",
            ],
            constants=constants,
            operator=POD_JOB_OPERATOR,
            options=options,
        )

    def docker_dag(
        self,
        context: ExportContext,
        *,
        dag_id: str | None = None,
        environment: Mapping[str, str] | None = None,
        extra_options: Sequence[tuple[str, str]] = (),
    ) -> str:
        """The DockerOperator DAG; a deployment (``jupyter mlops deploy``) names its own
        ``dag_id``, adds ``environment`` (values may be Airflow templates) and operator
        options (``docker_url``, ``network_mode``), each value a Python expression."""
        deployment = context.deployment
        output = self._output(context)
        mounts = [
            {
                "source": f"{self.docker_secrets_dir.rstrip('/')}/{s}",
                "target": f"{SECRETS_ROOT}/{s}",
                "type": "bind",
                "read_only": True,
            }
            for s in deployment.secrets
        ]
        if output is None:
            # The default output folder, kept in a named volume across runs.
            mounts.append(
                {
                    "source": f"{context.name}-output",
                    "target": f"{JOB_ROOT}/output",
                    "type": "volume",
                }
            )
        options: list[tuple[str, str]] = [
            ("image", "IMAGE"),
            ("command", "ARGUMENTS"),
            ("environment", "ENVIRONMENT"),
            ("mounts", "[Mount(**mount) for mount in MOUNTS]"),
        ]
        if deployment.cpu:
            options.append(("cpus", python_literal(_quantity(deployment.cpu))))
        if deployment.memory:
            options.append(("mem_limit", python_literal(int(_quantity(deployment.memory)))))
        if deployment.gpu:
            options.append(
                (
                    "device_requests",
                    f"[DeviceRequest(count={deployment.gpu!r}, capabilities=[['gpu']])]",
                )
            )
        options += [("mount_tmp_dir", "False"), ("auto_remove", python_literal("success"))]
        options += list(extra_options)
        constants = [
            *self._common_constants(
                context,
                dag_id=dag_id or f"{context.name}-docker",
                output=output,
                extra_environment=environment,
            ),
            (
                "MOUNTS",
                python_literal(mounts),
                f"--secret NAME: the Docker host's {self.docker_secrets_dir}/NAME, read-only",
            ),
        ]
        imports = [
            "from airflow.providers.docker.exceptions import DockerContainerFailedException",
            "from airflow.providers.docker.operators.docker import DockerOperator",
            "from docker.types import " + ("DeviceRequest, Mount" if deployment.gpu else "Mount"),
        ]
        return _render(
            title="Docker (DockerOperator), for single-host setups",
            imports=imports,
            constants=constants,
            operator=DOCKER_JOB_OPERATOR,
            options=options,
        )

    def _common_constants(
        self,
        context: ExportContext,
        dag_id: str,
        output: str | None,
        params: tuple[str, str] = PARAMS_ARGUMENTS,
        extra_environment: Mapping[str, str] | None = None,
    ) -> list[tuple[str, str, str]]:
        image = context.image
        deployment = context.deployment
        environment: dict[str, str] = dict(extra_environment or {})
        digest = _DIGEST.search(image)
        if digest:
            environment[ENV_IMAGE_DIGEST] = digest.group(1)
        environment.update(deployment.environment())
        delay = deployment.retry_delay_seconds
        timeout = deployment.timeout_seconds
        arguments = [*params]
        if output is not None:
            arguments += ["--output", output]
        year, month, day = (int(p) for p in self.start_date.split("-"))
        return [
            ("JOB", python_literal(context.name), "the job's name"),
            ("DAG_ID", python_literal(dag_id), ""),
            ("NOTEBOOK", python_literal(context.lineage.source_path), "where the job comes from"),
            ("IMAGE", python_literal(image), "the job's image (jupyter mlops build, or --image)"),
            (
                "SCHEDULE",
                python_literal(context.deployment.schedule),
                "cron expression, or None: runs when triggered",
            ),
            (
                "START_DATE",
                f"datetime.datetime({year}, {month}, {day}, tzinfo=datetime.timezone.utc)",
                "",
            ),
            ("RETRIES", python_literal(deployment.retries_or(self.retries)), ""),
            (
                "RETRY_DELAY",
                f"datetime.timedelta(seconds={delay!r})"
                if delay
                else f"datetime.timedelta(minutes={self.retry_delay_minutes!r})",
                "",
            ),
            (
                "RETRY_BACKOFF",
                python_literal(deployment.backoff_factor if delay else 0),
                "retry_exponential_backoff: each wait multiplied by this (0: constant)",
            ),
            (
                "TIMEOUT",
                f"datetime.timedelta(seconds={timeout!r})" if timeout else "None",
                "execution_timeout of each try (--timeout), or None",
            ),
            (
                "FINAL_EXIT_CODES",
                python_literal((EXIT_INVALID, EXIT_FAILED)),
                "the job's exit codes a retry cannot fix: invalid parameters, the notebook raised",
            ),
            (
                "PARAMS",
                _params_literal(context.schema),
                f"the job's parameters, from {SCHEMA_FILE}",
            ),
            (
                "ARGUMENTS",
                python_literal(arguments),
                "after the image's entrypoint (python -m jupyter_mlops.job /job): the run's "
                "parameters as one JSON object",
            ),
            ("ENVIRONMENT", python_literal(environment), ""),
        ]

    @staticmethod
    def _output(context: ExportContext, pod: bool = False) -> str | None:
        """``--output`` for the entrypoint: the deployment's output as a folder (or URL
        prefix) with one notebook per run, named after the run's logical date; None for the
        entrypoint's default (``/job/output/<name>-<time>.ipynb``). The given location is
        rendered literally by Airflow's templating (and, in a pod's arguments, by
        Kubernetes' ``$(VAR)`` expansion)."""
        given = context.deployment.output
        if not given:
            return None
        folder = given if given.endswith(".ipynb") else given.rstrip("/")
        literal = escape.jinja_literal(escape.kubernetes_literal(folder) if pod else folder)
        if given.endswith(".ipynb"):
            return literal
        return f"{literal}/{context.name}-{{{{ ts_nodash }}}}.ipynb"

    def readme(self, context: ExportContext) -> str:
        module = context.name.replace("-", "_")
        folder = context.shown_path
        return "\n".join(
            [
                "## Run it with Airflow",
                "",
                f"`{AIRFLOW_DIR}/{module}_dag.py` (DAG `{context.name}`) runs the image on"
                " Kubernetes with a `KubernetesPodOperator`;"
                f" `{AIRFLOW_DIR}/{module}_docker_dag.py` (DAG `{context.name}-docker`) runs it"
                " with a `DockerOperator` on the worker's Docker host. Copy one (or both) into"
                " your DAGs folder; the Airflow environment needs the provider"
                " (`apache-airflow-providers-cncf-kubernetes` or"
                " `apache-airflow-providers-docker`):",
                "",
                "```sh",
                f'cp {folder}/{AIRFLOW_DIR}/{module}_dag.py "$AIRFLOW_HOME/dags/"',
                f"airflow dags trigger {context.name} --conf '{{\"NAME\": VALUE}}'",
                "```",
                "",
                "The DAG's params are the job's parameters (type, default and description from"
                f" `{SCHEMA_FILE}`): the trigger form checks them, and the job checks them again"
                " before its kernel starts (a wrong value fails the run with exit code 2, and"
                " retrying will not help). The image runs as built: push it where the cluster"
                " or host can pull it, and re-export with `--image` when it changes.",
                "",
            ]
        )


# -- rendering --------------------------------------------------------------------------------
_HEADER = Template(
    '''\
"""Airflow DAG of the jupyter-mlops job $job: $title.

Generated by jupyter-mlops $version; re-export rather than edit. The task runs the job's
image with its entrypoint (python -m jupyter_mlops.job /job), passing the DAG run's
params as one JSON object; the job checks them against its schema before its kernel
starts and exits with 2 (invalid parameters) or 3 (the notebook failed).
"""

from __future__ import annotations

import datetime
import re

$imports

try:  # Airflow 3
    from airflow.sdk import DAG, Param
    from airflow.sdk.exceptions import AirflowException, AirflowFailException
except ImportError:  # Airflow 2
    from airflow.exceptions import AirflowException, AirflowFailException
    from airflow.models.dag import DAG
    from airflow.models.param import Param

'''
)

_FOOTER = Template(
    """
with DAG(
    dag_id=DAG_ID,
    description=f"jupyter-mlops job {JOB} (notebook {NOTEBOOK})",
    schedule=SCHEDULE,
    start_date=START_DATE,
    catchup=False,
    params=PARAMS,
    tags=["jupyter-mlops"],
    default_args={
        "retries": RETRIES,
        "retry_delay": RETRY_DELAY,
        "retry_exponential_backoff": RETRY_BACKOFF,
        "execution_timeout": TIMEOUT,
    },
) as dag:
    JobOperator(
        task_id="run",
$options
    )
"""
)


_FINAL = (
    "the job exited with code {code}: "
    "invalid parameters or a failing notebook, which a retry cannot fix"
)
#: The operator classes a DAG file defines: fixed code, the same in every job's DAG (no
#: value of the job's in them; the tests check it).
DOCKER_JOB_OPERATOR = f'''
class JobOperator(DockerOperator):
    """DockerOperator that fails the task at once, without retries, when the job's exit
    code says a retry cannot help (FINAL_EXIT_CODES)."""

    def execute(self, context):
        try:
            return super().execute(context)
        except DockerContainerFailedException as exc:
            # The provider's message holds the container's wait result: {{'StatusCode': N}}.
            found = re.search(r"'StatusCode': (\\d+)", str(exc))
            code = int(found.group(1)) if found else None
            if code in FINAL_EXIT_CODES:
                raise AirflowFailException(f"{_FINAL}") from exc
            raise
'''
POD_JOB_OPERATOR = f'''
class JobOperator(KubernetesPodOperator):
    """KubernetesPodOperator that fails the task at once, without retries, when the job's
    exit code says a retry cannot help (FINAL_EXIT_CODES)."""

    def cleanup(self, pod, remote_pod, *args, **kwargs):
        try:
            return super().cleanup(pod, remote_pod, *args, **kwargs)
        except AirflowException as exc:
            statuses = (remote_pod.status.container_statuses or []) if remote_pod else []
            code = next(
                (
                    s.state.terminated.exit_code
                    for s in statuses
                    if s.name == self.base_container_name and s.state and s.state.terminated
                ),
                None,
            )
            if code in FINAL_EXIT_CODES:
                raise AirflowFailException(f"{_FINAL}") from exc
            raise
'''


def _render(
    *,
    title: str,
    imports: list[str],
    constants: list[tuple[str, str, str]],
    operator: str,
    options: list[tuple[str, str]],
) -> str:
    lines = []
    for name, value, comment in constants:
        if comment:
            lines.append(escape.comment(comment).rstrip("\n"))
        lines.append(f"{name} = {value}")
    header = _HEADER.substitute(
        job=_job_of(constants), title=title, version=__version__, imports="\n".join(imports)
    )
    body = _FOOTER.substitute(
        options="\n".join(f"        {key}={value}," for key, value in options),
    )
    return header + "\n".join(lines) + "\n\n" + operator + "\n" + body


def _job_of(constants: list[tuple[str, str, str]]) -> str:
    """The job name for the docstring: a validated DNS label, so safe in text."""
    value = next(v for name, v, _ in constants if name == "JOB")
    job = ast.literal_eval(value)
    if not re.fullmatch(r"[a-z0-9-]+", job):
        raise ValueError(f"unexpected job name {job!r}")
    return str(job)


def _params_literal(schema: ParameterSchema) -> str:
    """``{"name": Param(default, description=..., type=...), ...}`` for the DAG."""
    if not len(schema):
        return "{}"
    lines = ["{"]
    for parameter in schema:
        prop = parameter.to_json_schema()
        arguments = [python_literal(prop["default"])]
        if parameter.help:
            arguments.append(f"description={python_literal(parameter.help)}")
        arguments += [f"{k}={python_literal(v)}" for k, v in param_schema(prop).items()]
        lines.append(f"    {python_literal(parameter.name)}: Param({', '.join(arguments)}),")
    lines.append("}")
    return "\n".join(lines)


def param_schema(prop: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema keywords of a parameter's property an Airflow ``Param`` validates
    with; a nullable type is written ``["null", T]`` as Airflow's trigger form expects."""
    out: dict[str, Any] = {}
    for key in _PARAM_KEYWORDS:
        if key not in prop:
            continue
        value = prop[key]
        if key == "type" and isinstance(value, list):
            value = sorted(value, key=lambda t: t != "null")
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            value = param_schema(value)
        out[key] = value
    return out


def _check_python(path: str, source: str) -> None:
    try:
        ast.parse(source, filename=path)
    except SyntaxError as exc:  # a bug here, never the user's input
        raise RuntimeError(f"generated {path} is not valid Python: {exc}") from exc


def _quantity(text: str) -> float:
    """A Kubernetes quantity as a number (``500m`` -> 0.5, ``2Gi`` -> 2147483648)."""
    match = _QUANTITY.fullmatch(text)
    if match is None or match["suffix"] not in _SUFFIXES:
        raise InvalidInput(f"'{text}' is not a Kubernetes quantity")
    return float(match["number"]) * _SUFFIXES[match["suffix"]]
