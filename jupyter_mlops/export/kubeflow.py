"""The ``kfp`` export target: a Kubeflow Pipelines v2 pipeline compiled with the kfp SDK.

``kfp/pipeline.yaml`` is the compiled pipeline (KFP's IR, with the Kubernetes platform
spec of the ``kfp-kubernetes`` extension): one container component that runs the job's
image with the entrypoint. Its inputs are the notebook's parameters, typed:

========================  ==========================================================
schema type               KFP parameter
========================  ==========================================================
``int``                   ``int`` (NUMBER_INTEGER)
``float``                 ``float`` (NUMBER_DOUBLE)
``bool``                  ``bool`` (BOOLEAN)
``str``, ``Literal``      ``str`` (STRING); a Literal's values are checked by the job
``list[...]``             ``list`` (LIST)
``dict[...]``             ``dict`` (STRUCT)
``Any`` (untyped None)    ``str`` holding JSON text (``null``, ``[1, 2]``, ``"a"``)
list/dict holding None    ``str`` holding JSON text (KFP defaults cannot hold null)
``X | None = None``       an optional X without default: not given, not passed
========================  ==========================================================

with their defaults and help text (``description``). KFP hands a parameter to the container
as text (numbers without a trailing ``.0``, lists and dicts as JSON), which the entrypoint
reads by the schema's type, so the notebook gets the value typed. A ``X | None`` parameter
with a default other than None cannot be set to None from KFP.

The output notebook is the component's output artifact (``output_notebook``): its path is
passed as ``--output``, and KFP stores it under the pipeline root (``--output`` given as a
URL becomes the pipeline root). Resources are ``--cpu``/``--memory`` (request and limit) and
``--gpu`` (an ``nvidia.com/gpu`` accelerator). ``--secret NAME`` is mounted under
``/etc/secrets/NAME``; KFP cannot expose a whole Secret as environment variables, so
``--env-from-secret NAME`` is mounted under ``/var/run/jupyter-mlops/env/NAME`` and a
launcher exports each of its keys before starting the entrypoint. Caching is off: a
notebook run is not a pure function of its parameters.

Reliability: ``--retries`` (else the ``retries`` setting) is the task's ``set_retry``, with
``--retry-delay`` / ``--retry-backoff`` as its ``backoff_duration`` / ``backoff_factor``;
KFP retries whatever the exit code, so invalid parameters and a failing notebook are tried
again too. ``--timeout`` is the task pod's ``activeDeadlineSeconds`` (``kfp-kubernetes``'
``set_timeout``): each attempt's limit, not the whole run's. The notification settings are
environment variables holding a name or a path, never the URL.

A schedule is not part of a KFP pipeline but a recurring run made through the API:
``--schedule`` writes ``kfp/schedule.py``, which creates it (KFP's cron has a seconds
field, so ``0 3 * * *`` becomes ``0 0 3 * * *``).
"""

from __future__ import annotations

import inspect
import json
from typing import Any, Optional

import yaml
from kfp import compiler, dsl
from kfp import kubernetes as kfp_kubernetes
from traitlets import Int

from .._version import __version__
from ..errors import InvalidInput, MlopsError
from . import cluster, escape
from .job import ENV_IMAGE_DIGEST
from .parameters import Parameter
from .targets import ExportContext, ExportTarget

FOLDER = "kfp"
PIPELINE_FILE = f"{FOLDER}/pipeline.yaml"
SCHEDULE_FILE = f"{FOLDER}/schedule.py"
OUTPUT = "output_notebook"
#: Where ``--env-from-secret`` Secrets are mounted for the launcher to export.
ENV_SECRETS_ROOT = "/var/run/jupyter-mlops/env"
_TYPES: dict[str, type] = {
    "integer": int,
    "number": float,
    "boolean": bool,
    "string": str,
    "array": list,
    "object": dict,
}
_IR_TYPES = {
    int: "NUMBER_INTEGER",
    float: "NUMBER_DOUBLE",
    bool: "BOOLEAN",
    str: "STRING",
    list: "LIST",
    dict: "STRUCT",
}
#: Exports the keys of the Secrets mounted in the folders before ``--`` as environment
#: variables, then runs the command after it (KFP has no ``envFrom``).
ENV_LAUNCHER = (
    "import os, sys\n"
    "cut = sys.argv.index('--')\n"
    "for folder in sys.argv[1:cut]:\n"
    "    for key in sorted(os.listdir(folder)):\n"
    "        path = os.path.join(folder, key)\n"
    "        if not key.startswith('.') and '=' not in key and os.path.isfile(path):\n"
    "            with open(path, encoding='utf-8') as value:\n"
    "                os.environ[key] = value.read()\n"
    "os.execvp(sys.argv[cut + 1], sys.argv[cut + 1:])\n"
)
#: The one name KFP keeps for itself (a component's single output).
_RESERVED = "Output"
#: Largest integer KFP carries exactly (its numbers are doubles).
_EXACT_INT = 2**53


class KubeflowInput:
    """How one notebook parameter is a KFP pipeline input."""

    def __init__(self, parameter: Parameter) -> None:
        self.parameter = parameter
        kind = parameter.type.kind
        #: The Python type KFP reads (``str`` carrying JSON for ``Any``).
        self.type: type = _TYPES.get(kind, str)
        default = parameter.default
        #: Carried as JSON text in a ``str``: ``Any``, and lists and dicts holding None,
        #: which a KFP default cannot (its protobuf values have no null inside a list).
        self.as_json = kind == "any" or (kind in ("array", "object") and _holds_none(default))
        if self.as_json:
            self.type = str
            default = None if default is None else json.dumps(default, ensure_ascii=False)
        self.default = default
        #: No default: given only when set, and then passed (``IfPresent``).
        self.optional = default is None

    @property
    def description(self) -> str | None:
        """The help text as KFP can carry it (one line)."""
        return escape.one_line(self.parameter.help) if self.parameter.help else None

    @property
    def annotation(self) -> Any:
        return Optional[self.type] if self.optional else self.type  # noqa: UP045 (kfp reads typing)

    @property
    def ir_type(self) -> str:
        return _IR_TYPES[self.type]


class KubeflowTarget(ExportTarget):
    """A Kubeflow Pipelines v2 pipeline that runs the job's image."""

    name = "kfp"
    description = "Kubeflow Pipelines v2 pipeline (kfp/pipeline.yaml), compiled with the kfp SDK"
    orchestrator = True

    retries = Int(
        0, help="Retries of a failed run of the job (KFP retries whatever the exit code)."
    ).tag(config=True)

    def write(self, context: ExportContext) -> None:
        cluster.check_names(context.schema, "Kubeflow Pipelines")
        for parameter in context.schema:
            if parameter.name.startswith("_") or parameter.name == _RESERVED:
                raise InvalidInput(
                    f"parameter '{parameter.name}' cannot be a Kubeflow Pipelines input name "
                    f"(it must start with a letter and not be '{_RESERVED}'): rename it in "
                    "the parameters cell"
                )
        inputs = [KubeflowInput(p) for p in context.schema]
        for item in inputs:
            if item.type is int and abs(item.default or 0) > _EXACT_INT:
                context.warn(
                    f"parameter '{item.parameter.name}': KFP carries numbers as doubles, so its "
                    f"default {item.default} is not exact there"
                )
            if item.as_json and item.parameter.type.kind != "any":
                context.warn(
                    f"parameter '{item.parameter.name}': its default holds None, which a KFP "
                    "list or dict default cannot; it is a KFP string input holding JSON text"
                )
        pipeline = self.pipeline(context, inputs)
        path = context.job_dir / PIPELINE_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        compiler.Compiler().compile(pipeline, str(path))
        # KFP's own file starts with a comment of the inputs' defaults written raw (a line
        # break in one would start YAML of its own): the same documents, our comment.
        path.write_text(_pipeline_file(context, pipeline, inputs), encoding="utf-8")
        _check_compiled(path.read_text(encoding="utf-8"), inputs)
        schedule = context.deployment.schedule
        if schedule:
            context.write_text(SCHEDULE_FILE, schedule_script(context, schedule))

    # -- the pipeline -----------------------------------------------------------------------
    def pipeline(self, context: ExportContext, inputs: list[KubeflowInput]) -> Any:
        component = self.component(context, inputs)
        names = [item.parameter.name for item in inputs]

        def run(*values: Any) -> None:
            task = component(**dict(zip(names, values, strict=True)))
            self._configure(context, task)

        run.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [_signature_parameter(item) for item in inputs]
        )
        run.__name__ = context.name.replace("-", "_")
        run.__doc__ = _docstring(f"Run job {context.name}.", inputs)
        return dsl.pipeline(
            name=context.name,
            description=escape.one_line(
                f"Notebook {context.lineage.source_path} run as a jupyter-mlops job"
            ),
            pipeline_root=self._pipeline_root(context),
        )(run)

    def component(self, context: ExportContext, inputs: list[KubeflowInput]) -> Any:
        image = context.image
        output_name = OUTPUT
        while output_name in context.schema:
            output_name += "_"
        env_secrets = context.deployment.env_from_secrets
        command = list(cluster.COMMAND)
        if env_secrets:
            folders = [f"{ENV_SECRETS_ROOT}/{s}" for s in env_secrets]
            command = ["python", "-c", ENV_LAUNCHER, *folders, "--", *command]

        def spec(output: Any, *values: Any) -> dsl.ContainerSpec:
            args: list[Any] = [*cluster.entrypoint_arguments()]
            for item, value in zip(inputs, values, strict=True):
                name = item.parameter.name
                if item.optional:
                    args.append(dsl.IfPresentPlaceholder(input_name=name, then=["-p", name, value]))
                else:
                    args += ["-p", name, value]
            args += ["--output", output.path]
            return dsl.ContainerSpec(image=image, command=command, args=args)

        output = inspect.Parameter(
            output_name,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            annotation=dsl.Output[dsl.Artifact],
        )
        spec.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [output, *(_signature_parameter(item) for item in inputs)]
        )
        spec.__name__ = context.name.replace("-", "_")
        spec.__doc__ = _docstring(f"The notebook of job {context.name}.", inputs)
        return dsl.container_component(spec)

    def _configure(self, context: ExportContext, task: Any) -> None:
        deployment = context.deployment
        task.set_display_name(context.name)
        task.set_caching_options(False)
        retries = deployment.retries_or(self.retries)
        if retries > 0:
            delay = deployment.retry_delay_seconds
            task.set_retry(
                num_retries=retries,
                backoff_duration=f"{delay}s" if delay else None,
                backoff_factor=deployment.backoff_factor if delay else None,
            )
        if deployment.timeout_seconds:
            kfp_kubernetes.set_timeout(task, deployment.timeout_seconds)
        digest = cluster.image_digest(context.image)
        if digest:
            task.set_env_variable(ENV_IMAGE_DIGEST, digest)
        for variable, setting in deployment.environment().items():
            task.set_env_variable(variable, setting)
        for option, value, request, limit in (
            ("--cpu", deployment.cpu, task.set_cpu_request, task.set_cpu_limit),
            ("--memory", deployment.memory, task.set_memory_request, task.set_memory_limit),
        ):
            if not value:
                continue
            try:
                request(value)
                limit(value)
            except ValueError as exc:
                detail = " ".join(str(exc).split())
                raise InvalidInput(
                    f"{option} {value}: Kubeflow Pipelines does not take it: {detail}"
                ) from None
        if deployment.gpu:
            task.set_accelerator_type("nvidia.com/gpu").set_accelerator_limit(deployment.gpu)
        for secret in deployment.secrets:
            kfp_kubernetes.use_secret_as_volume(
                task, secret_name=secret, mount_path=cluster.secret_mount(secret)
            )
        for secret in deployment.env_from_secrets:
            kfp_kubernetes.use_secret_as_volume(
                task, secret_name=secret, mount_path=f"{ENV_SECRETS_ROOT}/{secret}"
            )

    @staticmethod
    def _pipeline_root(context: ExportContext) -> str | None:
        output = context.deployment.output
        if not output:
            return None
        if "://" not in output:
            context.warn(
                f"--output {output}: Kubeflow Pipelines keeps the output notebook as an artifact "
                "under its pipeline root; give a URL (s3://, gs://, minio://) to choose that root",
                code="kfp_output_path",
                field="deployment.output",
                output=output,
            )
            return None
        if output.lower().endswith(".ipynb"):
            root = output.rsplit("/", 1)[0]
            context.warn(
                f"--output {output}: Kubeflow Pipelines names each run's artifacts itself; "
                f"they go under {root}",
                code="kfp_output_notebook",
                field="deployment.output",
                output=output,
                root=root,
            )
            return root
        return output.rstrip("/")

    # -- text -------------------------------------------------------------------------------
    def readme(self, context: ExportContext) -> str:
        folder = context.shown_path
        deployment = context.deployment
        example = next(iter(context.schema), None)
        arguments = ""
        if example is not None:
            arguments = f", arguments={{{example.name!r}: {example.default!r}}}"
        namespace = f", namespace={deployment.namespace!r}" if deployment.namespace else ""
        account = (
            f", service_account={deployment.service_account!r}"
            if deployment.service_account
            else ""
        )
        lines = [
            "## Run it on Kubeflow Pipelines",
            "",
            f"`{PIPELINE_FILE}` is the compiled pipeline (KFP v2); its inputs are the"
            " parameters above, typed, with their defaults. Upload it in the KFP UI, or:",
            "",
            "```sh",
            f"kfp pipeline create -p {context.name} {folder}/{PIPELINE_FILE}",
            "```",
            "",
            "```python",
            "import kfp",
            f"client = kfp.Client(host='https://KFP_HOST'{namespace})",
            "client.create_run_from_pipeline_package(",
            f"    '{folder}/{PIPELINE_FILE}'{arguments}, enable_caching=False{account}",
            ")",
            "```",
            "",
            f"The output notebook is the run's `{OUTPUT}` artifact.",
            "",
        ]
        if deployment.schedule:
            lines += [
                f"KFP schedules are recurring runs made through its API: `{SCHEDULE_FILE}`"
                f" creates one on `{deployment.schedule}` (KFP's cron has a seconds field:"
                f" `{kfp_cron(deployment.schedule)}`), in the time zone of KFP's"
                " scheduled-workflow controller (UTC unless its CRON_SCHEDULE_TIMEZONE says"
                " otherwise):",
                "",
                "```sh",
                f"python {folder}/{SCHEDULE_FILE} --host https://KFP_HOST",
                "```",
                "",
            ]
        lines += [
            "Secrets are referenced by name: `--secret NAME` is mounted under"
            " `/etc/secrets/NAME`; `--env-from-secret NAME` (an MLflow tracking URI and token,"
            " say) is mounted and its keys exported as environment variables before the"
            " job starts. Create them in the run's namespace with"
            " `kubectl create secret generic NAME --from-literal=KEY=...`.",
            "",
        ]
        return "\n".join(lines)


def kfp_cron(schedule: str) -> str:
    """A five-field cron expression (or macro) as KFP reads it: a seconds field first."""
    return "0 " + cluster.robfig_cron(schedule, macros=False)


def _holds_none(value: Any) -> bool:
    if isinstance(value, list):
        return any(v is None or _holds_none(v) for v in value)
    if isinstance(value, dict):
        return any(v is None or _holds_none(v) for v in value.values())
    return False


def _signature_parameter(item: KubeflowInput) -> inspect.Parameter:
    return inspect.Parameter(
        item.parameter.name,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        annotation=item.annotation,
        default=item.default,
    )


def _docstring(summary: str, inputs: list[KubeflowInput]) -> str:
    """KFP reads input descriptions from a Google-style docstring (one line each)."""
    described = [f"    {i.parameter.name}: {i.description}" for i in inputs if i.description]
    return summary + ("\n\nArgs:\n" + "\n".join(described) if described else "")


def _pipeline_file(context: ExportContext, pipeline: Any, inputs: list[KubeflowInput]) -> str:
    """The compiled pipeline (its spec and Kubernetes platform spec) as KFP writes it, after
    a comment that says the same as KFP's (name, description, inputs) with nothing raw."""
    from google.protobuf import json_format

    documents = [json_format.MessageToDict(pipeline.pipeline_spec)]
    if len(pipeline.platform_spec.platforms):
        documents.append(json_format.MessageToDict(pipeline.platform_spec))
    header = [
        "PIPELINE DEFINITION",
        f"Name: {context.name}",
        f"Description: {pipeline.description}",
        f"Generated by jupyter-mlops {__version__}: re-export instead of editing it.",
    ]
    if inputs:
        header.append("Inputs:")
    for item in sorted(inputs, key=lambda i: i.parameter.name):
        default = "" if item.optional else f" [Default: {json.dumps(item.default)}]"
        header.append(f"   {item.parameter.name}: {item.type.__name__}{default}")
    return escape.yaml_documents(documents, header, sort_keys=True)


def _check_compiled(text: str, inputs: list[KubeflowInput]) -> None:
    """The compiled pipeline's inputs are the schema's: type, default and description (so a
    KFP change that drops or alters one fails the export instead of shipping)."""
    document = next(yaml.safe_load_all(text))
    found = document["root"].get("inputDefinitions", {}).get("parameters", {})
    for item in inputs:
        name = item.parameter.name
        spec = found.get(name, {})
        actual = (spec.get("parameterType"), spec.get("description"), spec.get("defaultValue"))
        expected = (item.ir_type, item.description, item.default)
        if actual[:2] != expected[:2] or not _same_numbers(actual[2], expected[2]):
            raise MlopsError(
                f"the compiled pipeline's input '{name}' is {actual}, expected {expected}; "
                "this is a bug in jupyter-mlops or a kfp it does not support"
            )


def _same_numbers(compiled: Any, default: Any) -> bool:
    """KFP stores numbers as doubles: ``3`` compiles to ``3.0``, ``[1, 2]`` to ``[1.0, 2.0]``."""
    if isinstance(default, bool) or isinstance(compiled, bool):
        return compiled is default
    if isinstance(default, int | float) and isinstance(compiled, int | float):
        return float(compiled) == float(default)
    if isinstance(default, list) and isinstance(compiled, list):
        return len(default) == len(compiled) and all(
            _same_numbers(c, d) for c, d in zip(compiled, default, strict=True)
        )
    if isinstance(default, dict) and isinstance(compiled, dict):
        return default.keys() == compiled.keys() and all(
            _same_numbers(compiled[k], default[k]) for k in default
        )
    return bool(compiled == default)


# -- the schedule script ------------------------------------------------------------------
def schedule_script(context: ExportContext, schedule: str) -> str:
    deployment = context.deployment
    constants = {
        "JOB": context.name,
        "SCHEDULE": schedule,
        "CRON": kfp_cron(schedule),
        "NAMESPACE": deployment.namespace,
        "SERVICE_ACCOUNT": deployment.service_account,
    }
    lines = [
        f'"""Create the recurring run of job {context.name!r} on Kubeflow Pipelines.',
        "",
        f"Generated by jupyter-mlops {__version__}: re-export instead of editing it. KFP",
        "schedules are recurring runs made through its API, not part of the compiled",
        "pipeline; this creates one from pipeline.yaml beside it, in an experiment of the",
        "job's name, on the schedule given at export (KFP's cron has a seconds field first).",
        "",
        "    python schedule.py --host https://KFP_HOST [--experiment NAME] [--params-file F]",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "import argparse",
        "import json",
        "from pathlib import Path",
        "from typing import Any",
        "",
        *(f"{name} = {escape.python_literal(value)}" for name, value in constants.items()),
        'PIPELINE = Path(__file__).resolve().with_name("pipeline.yaml")',
        "",
        "",
        "def create_recurring_run(",
        "    client: Any, experiment: str = JOB, params: dict[str, Any] | None = None",
        ") -> Any:",
        '    """The recurring run, made with a ``kfp.Client``: one run at a time, no catch-up',
        '    of runs missed while paused, no caching (a notebook run is not a pure function)."""',
        "    found = client.create_experiment(name=experiment, namespace=NAMESPACE)",
        "    return client.create_recurring_run(",
        "        experiment_id=found.experiment_id,",
        "        job_name=JOB,",
        '        description=f"jupyter-mlops job {JOB} on {SCHEDULE}",',
        "        cron_expression=CRON,",
        "        max_concurrency=1,",
        "        no_catchup=True,",
        "        params=params or {},",
        "        pipeline_package_path=str(PIPELINE),",
        "        enable_caching=False,",
        "        service_account=SERVICE_ACCOUNT,",
        "    )",
        "",
        "",
        "def main(argv: list[str] | None = None) -> int:",
        "    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])",
        '    parser.add_argument("--host", help="KFP API endpoint (default: kfp.Client\'s)")',
        '    parser.add_argument("--experiment", default=JOB, help="Experiment (default: JOB)")',
        "    parser.add_argument(",
        '        "--params-file", help="Parameter values (JSON or YAML) other than the defaults"',
        "    )",
        "    args = parser.parse_args(argv)",
        "    params: dict[str, Any] = {}",
        "    if args.params_file:",
        "        import yaml",
        "",
        '        params = yaml.safe_load(Path(args.params_file).read_text(encoding="utf-8")) or {}',
        "    import kfp",
        "",
        "    client = kfp.Client(host=args.host, namespace=NAMESPACE)",
        "    run = create_recurring_run(client, args.experiment, params)",
        "    print(json.dumps({'recurring_run_id': run.recurring_run_id, 'cron': CRON}))",
        "    return 0",
        "",
        "",
        'if __name__ == "__main__":',
        "    raise SystemExit(main())",
        "",
    ]
    return "\n".join(lines)
