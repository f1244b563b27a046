"""The ``argo`` export target: an Argo ``Workflow``, and a ``CronWorkflow`` with ``--schedule``.

Both are built with hera (``hera.workflows``) and written as YAML (``argo/workflow.yaml``,
``argo/cronworkflow.yaml``). The workflow's ``arguments`` are the notebook's parameters,
with their defaults, help text as ``description`` and the allowed values of a ``Literal``
as ``enum``; the one container step passes each as ``-p NAME
{{workflow.parameters.NAME}}`` to the job's entrypoint.

Argo parameters are strings, so the typing happens where it does for every entry point:
the entrypoint parses the text by the schema's type before the notebook starts. A default
is written as the text that parses back to it (a string as it is, anything else as JSON:
``[64, 32]``, ``{"a": 1}``, ``true``, ``null``), so ``argo submit -p layers='[128, 64]'``
arrives as a list of ints and a string with quotes arrives intact (Argo escapes the text it
substitutes). A ``str | None`` parameter whose default is ``None`` is left out of the
arguments, with a warning: its text would always be a string, never None.

The pod is the Kubernetes target's: the image's non-root user, ``--cpu``/``--memory``/
``--gpu`` as requests and limits, Secrets by name (files under ``/etc/secrets/NAME``,
``envFrom``), the image digest for the run's lineage, and one output notebook per run
(``{{workflow.name}}.ipynb`` under ``--output``). A failed step is retried (``--retries``,
else the ``retry_limit`` setting; ``--retry-delay`` and ``--retry-backoff`` as the
``retryStrategy``'s ``backoff``), except when the entrypoint says retrying cannot help (exit
2: invalid parameters, 3: the notebook raised); ``--timeout`` is the workflow's
``activeDeadlineSeconds``, retries included. Notifications are configured by name only
(the variable of ``--notify-from-env``, the Secret of ``--notify-secret``).
"""

from __future__ import annotations

from typing import Any

from hera.workflows import (
    Container,
    CronWorkflow,
    Env,
    Parameter,
    RetryStrategy,
    SecretEnvFrom,
    SecretVolume,
    Workflow,
    models,
)
from traitlets import Int

from .._version import __version__
from ..errors import InvalidInput
from . import cluster, escape, yamltext
from .deploy import Deployment
from .job import ENV_IMAGE_DIGEST, EXIT_FAILED, EXIT_INVALID
from .parameters import Parameter as JobParameter
from .targets import ExportContext

FOLDER = "argo"
WORKFLOW_FILE = f"{FOLDER}/workflow.yaml"
CRON_FILE = f"{FOLDER}/cronworkflow.yaml"
#: Argo Workflows version the YAML is written for (CronWorkflow ``schedules``).
MIN_VERSION = "3.6"
#: Longest ``generateName`` Kubernetes keeps whole (63 minus its 5 random characters).
GENERATE_NAME_MAX = 58
#: Retry unless the entrypoint's exit code says a retry cannot help.
RETRY_EXPRESSION = f'not (lastRetry.exitCode in ["{EXIT_INVALID}", "{EXIT_FAILED}"])'

#: The parameters Argo passes, each with the workflow argument it becomes.
Arguments = list[tuple[JobParameter, Parameter]]


class ArgoTarget(cluster.ScheduledPodTarget):
    """An Argo Workflow (and CronWorkflow) that runs the job's image."""

    name = "argo"
    description = "Argo Workflow (and CronWorkflow with --schedule), built with hera"

    retry_limit = Int(
        1, help="Retries of a failed step (not for invalid parameters or a failing notebook)."
    ).tag(config=True)
    ttl_seconds = Int(
        7 * 24 * 3600, help="Seconds a finished workflow is kept before Argo deletes it."
    ).tag(config=True)

    def write(self, context: ExportContext) -> None:
        for path, text in self.documents(context).items():
            context.write_text(path, self._header(context) + text)

    def documents(self, context: ExportContext) -> dict[str, str]:
        """``{file: YAML}`` of the workflow and, with a schedule, the cron workflow."""
        cluster.check_names(context.schema, "Argo")
        schedule = context.deployment.schedule
        if schedule:
            cluster.check_cron_name(context.name, "CronWorkflow")
        cluster.warn_about_output(context, "Argo", bool(schedule))
        if "{{" in (context.deployment.output or ""):
            raise InvalidInput(
                "--output holds '{{', which Argo reads as the start of a template tag (and "
                "has no way to escape): give a location without it"
            )
        arguments = self.arguments(context)
        found = {WORKFLOW_FILE: _yaml(self.workflow(context, arguments))}
        if schedule:
            found[CRON_FILE] = _yaml(self.cron_workflow(context, schedule, arguments))
        return found

    # -- hera objects -----------------------------------------------------------------------
    def workflow(self, context: ExportContext, arguments: Arguments) -> Workflow:
        return Workflow(generate_name=generate_name(context.name), **self._spec(context, arguments))

    def cron_workflow(
        self, context: ExportContext, schedule: str, arguments: Arguments
    ) -> CronWorkflow:
        return CronWorkflow(
            name=context.name,
            schedules=[cluster.robfig_cron(schedule)],
            timezone=self.time_zone or None,
            concurrency_policy=self.concurrency_policy,
            starting_deadline_seconds=self.starting_deadline_seconds,
            successful_jobs_history_limit=self.history_limit,
            failed_jobs_history_limit=self.history_limit,
            workflow_metadata=models.WorkflowMetadata(labels=cluster.labels(context)),
            **self._spec(context, arguments),
        )

    def arguments(self, context: ExportContext) -> Arguments:
        """Each parameter that Argo can pass, with the workflow argument it becomes."""
        found = []
        for parameter in context.schema:
            text = cluster.cli_text(parameter, parameter.default)
            if text is None:
                context.warn(
                    f"parameter '{parameter.name}' ({parameter.type.python_text()}, default None) "
                    "is not an Argo workflow parameter: Argo passes text, and the text of a "
                    "string is never None; the notebook's default applies"
                )
                continue
            if "{{" in text:
                context.warn(
                    f"parameter '{parameter.name}': its default holds '{{{{', which Argo reads as "
                    "a template tag in the workflow's arguments; submit with -p to set it"
                )
            found.append((parameter, self._argument(parameter, text)))
        return found

    @staticmethod
    def _argument(parameter: JobParameter, text: str) -> Parameter:
        enum = None
        if parameter.type.choices is not None:
            enum = [cluster.cli_text(parameter, c) or "" for c in parameter.type.choices]
            if parameter.type.nullable and parameter.type.kind != "string":
                enum.append("null")
        return Parameter(
            name=parameter.name, value=text, description=parameter.help or None, enum=enum
        )

    def _spec(self, context: ExportContext, arguments: Arguments) -> dict[str, Any]:
        """What the Workflow and the CronWorkflow's workflow spec share."""
        deployment = context.deployment
        uid = cluster.user_id(self)
        return {
            "namespace": deployment.namespace,
            "labels": cluster.labels(context),
            "annotations": cluster.lineage_annotations(context),
            "entrypoint": cluster.CONTAINER,
            "arguments": [argument for _, argument in arguments],
            "service_account_name": deployment.service_account,
            "active_deadline_seconds": deployment.timeout_seconds or self.active_deadline_seconds,
            "ttl_strategy": models.TTLStrategy(seconds_after_completion=self.ttl_seconds),
            "pod_gc": models.PodGC(strategy="OnPodSuccess"),
            "pod_metadata": models.Metadata(
                labels=cluster.labels(context), annotations=cluster.lineage_annotations(context)
            ),
            "security_context": models.PodSecurityContext(
                run_as_non_root=True,
                run_as_user=uid,
                run_as_group=uid,
                fs_group=uid,
                seccomp_profile=models.SeccompProfile(type="RuntimeDefault"),
            ),
            "templates": [self._container(context, [p for p, _ in arguments])],
        }

    def _container(self, context: ExportContext, passed: list[JobParameter]) -> Container:
        deployment = context.deployment
        image = context.image
        values = [
            text
            for parameter in passed
            for text in ("-p", parameter.name, f"{{{{workflow.parameters.{parameter.name}}}}}")
        ]
        output = cluster.output_arguments(deployment, "{{workflow.name}}")
        digest = cluster.image_digest(image)
        env = [Env(name=ENV_IMAGE_DIGEST, value=digest)] if digest else []
        env += [Env(name=k, value=v) for k, v in deployment.environment().items()]
        resources = deployment.resources()
        quantities = {k: models.Quantity(v) for k, v in resources.items()}
        retries = deployment.retries_or(self.retry_limit)
        return Container(
            name=cluster.CONTAINER,
            image=image,
            command=list(cluster.COMMAND),
            args=cluster.entrypoint_arguments(*values, *output),
            env=env or None,
            env_from=[SecretEnvFrom(name=s) for s in deployment.env_from_secrets] or None,
            resources=models.ResourceRequirements(requests=quantities, limits=quantities)
            if resources
            else None,
            volumes=[
                SecretVolume(
                    name=cluster.volume_name("secret", i, secret),
                    secret_name=secret,
                    default_mode=0o440,
                    mount_path=cluster.secret_mount(secret),
                    read_only=True,
                )
                for i, secret in enumerate(deployment.secrets)
            ]
            or None,
            security_context=models.SecurityContext(
                allow_privilege_escalation=False,
                capabilities=models.Capabilities(drop=["ALL"]),
            ),
            retry_strategy=RetryStrategy(
                limit=retries,
                retry_policy="OnFailure",
                expression=RETRY_EXPRESSION,
                backoff=_backoff(deployment),
            )
            if retries > 0
            else None,
        )

    # -- text -------------------------------------------------------------------------------
    def _header(self, context: ExportContext) -> str:
        lines = [
            f"Argo workflow of job '{context.name}' (notebook {context.lineage.source_path}),",
            f"generated by jupyter-mlops {__version__} with hera: re-export instead of editing.",
        ]
        return escape.comment(lines)

    def readme(self, context: ExportContext) -> str:
        folder = context.shown_path
        namespace = context.deployment.namespace
        ns = f" -n {namespace}" if namespace else ""
        passed = [p for p in context.schema if cluster.cli_text(p, p.default) is not None]
        override = ""
        if passed:
            text = cluster.cli_text(passed[0], passed[0].default) or ""
            override = f" -p {passed[0].name}={_shell_quote(text)}"
        lines = [
            "## Run it with Argo Workflows",
            "",
            f"`{WORKFLOW_FILE}` runs the image once (Argo Workflows {MIN_VERSION} or later);"
            " its arguments are the parameters above, with their defaults:",
            "",
            "```sh",
            f"argo submit{ns} --watch {folder}/{WORKFLOW_FILE}{override}",
            f"argo submit{ns} {folder}/{WORKFLOW_FILE} --parameter-file params.yaml",
            "```",
            "",
            "Values are text, read by the parameter's type before the notebook starts: lists"
            " and dicts as JSON (`-p layers='[128, 64]'`), booleans as true/false. A wrong"
            " value fails the workflow at once (exit code 2), without retries.",
            "",
        ]
        if context.deployment.schedule:
            lines += [
                f"`{CRON_FILE}` runs it on the schedule `{context.deployment.schedule}`"
                f" ({self.time_zone or 'the controller time zone'}):",
                "",
                "```sh",
                f"argo cron create{ns} {folder}/{CRON_FILE}",
                f"argo submit{ns} --from cronwf/{context.name}   # a run now",
                "```",
                "",
            ]
        lines += [
            "Secrets are referenced by name (`--secret`, `--env-from-secret`); create them"
            " with `kubectl create secret generic NAME --from-literal=KEY=...` in the"
            " workflow's namespace.",
            "",
        ]
        return "\n".join(lines)


def _backoff(deployment: Deployment) -> models.Backoff | None:
    """``--retry-delay`` and ``--retry-backoff`` as Argo's retry back-off, or None."""
    delay = deployment.retry_delay_seconds
    if delay is None:
        return None
    factor = deployment.backoff_factor
    # Argo's factor is an int or a string it reads as a number.
    shown = int(factor) if factor.is_integer() else f"{factor:g}"
    return models.Backoff(duration=f"{delay}s", factor=models.IntOrString(shown))


def generate_name(name: str) -> str:
    """The workflow's ``generateName``: the job name and '-', cut to what Kubernetes keeps
    of a generated name's prefix (it adds 5 characters to make a name of at most 63)."""
    return name[: GENERATE_NAME_MAX - 1].rstrip("-") + "-"


def _yaml(workflow: Workflow | CronWorkflow) -> str:
    """The workflow as YAML, dumped by PyYAML's safe dumper: hera's ``to_yaml`` rejoins the
    lines of any text holding more '{{' than '}}' (a default, a help text), which breaks
    the document."""
    return yamltext.dump(workflow.to_dict(), width=100)


def _shell_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
