"""The ``kubernetes`` export target: a ``batch/v1`` Job, and a CronJob with ``--schedule``.

``kubernetes/job.yaml`` runs the job's image once with the entrypoint and the notebook's
default parameters (the schema is in the image; add ``-p NAME VALUE`` pairs to ``args`` to
override them); ``kubernetes/cronjob.yaml`` runs the same pod on the schedule. The
manifests are built with the official client's models (``kubernetes.client.V1Job``...),
which check required fields and types as they are made, and serialised as the API server
reads them. The pod:

- runs as the image's non-root user (``runAsNonRoot``, user 1000), without privilege
  escalation or capabilities, with the RuntimeDefault seccomp profile, and without a
  service-account token unless ``--service-account`` asks for one;
- requests and is limited to ``--cpu``/``--memory``/``--gpu`` (the same for both);
- mounts each ``--secret NAME`` read-only under ``/etc/secrets/NAME`` and exposes each
  ``--env-from-secret NAME``'s keys as environment variables (``MLFLOW_TRACKING_URI``,
  credentials): Secrets by name only, never a value;
- is retried ``backoffLimit`` times (``--retries``, else the ``backoff_limit`` setting),
  except when the entrypoint says retrying cannot help (exit 2: invalid parameters; exit 3:
  the notebook raised); node drains and preemption do not count (``podFailurePolicy``);
  Kubernetes waits between retries itself (10 s, doubling, at most 6 min), so
  ``--retry-delay`` is not taken; the whole run, retries included, is stopped after
  ``--timeout`` (``activeDeadlineSeconds``); a finished Job is deleted after
  ``ttlSecondsAfterFinished``;
- is told where its notification URL is (``--notify-from-env``: a variable's name,
  ``--notify-secret``: the Secret mounted like ``--secret``), never the URL.
"""

from __future__ import annotations

from typing import Any

from traitlets import Int

from .._version import __version__
from . import cluster, escape
from .job import ENV_IMAGE_DIGEST, EXIT_FAILED, EXIT_INVALID
from .targets import ExportContext

FOLDER = "kubernetes"
JOB_FILE = f"{FOLDER}/job.yaml"
CRONJOB_FILE = f"{FOLDER}/cronjob.yaml"
#: Kubernetes version the manifests are written for (podFailurePolicy is GA since 1.31).
MIN_VERSION = "1.31"
#: Environment variable with the pod's name, which names a run's output notebook.
ENV_POD_NAME = "POD_NAME"


class KubernetesTarget(cluster.ScheduledPodTarget):
    """A Kubernetes Job (and CronJob) that runs the job's image."""

    name = "kubernetes"
    description = "Kubernetes Job manifest (and CronJob with --schedule)"

    backoff_limit = Int(
        1, help="Retries of a failed pod (not for invalid parameters or a failing notebook)."
    ).tag(config=True)
    ttl_seconds_after_finished = Int(
        7 * 24 * 3600, help="Seconds a finished Job (and its pod's logs) is kept."
    ).tag(config=True)

    def write(self, context: ExportContext) -> None:
        for path, document in self.manifests(context).items():
            header = self._header(context, document["kind"])
            context.write_text(path, escape.yaml_document(document, header))

    # -- the manifests ----------------------------------------------------------------------
    def manifests(self, context: ExportContext) -> dict[str, dict[str, Any]]:
        """``{file: manifest}`` as plain data, in the API server's field names."""
        from kubernetes.client import ApiClient

        schedule = context.deployment.schedule
        if schedule:
            cluster.check_cron_name(context.name, "CronJob")
        cluster.warn_about_output(context, "Kubernetes", bool(schedule))
        if context.deployment.retry_delay:
            context.warn(
                f"--retry-delay {context.deployment.retry_delay}: a Kubernetes Job waits between "
                "retries itself (10 s, doubling, at most 6 min); the delay is not taken",
                code="retry_delay_ignored",
                field="deployment.retry_delay",
                engine="Kubernetes",
            )
        serialise = ApiClient().sanitize_for_serialization
        found = {JOB_FILE: serialise(self.job(context))}
        if schedule:
            found[CRONJOB_FILE] = serialise(self.cronjob(context, schedule))
        return found

    def job(self, context: ExportContext) -> Any:
        from kubernetes import client

        return client.V1Job(
            api_version="batch/v1",
            kind="Job",
            metadata=self._metadata(context),
            spec=self._job_spec(context),
        )

    def cronjob(self, context: ExportContext, schedule: str) -> Any:
        from kubernetes import client

        return client.V1CronJob(
            api_version="batch/v1",
            kind="CronJob",
            metadata=self._metadata(context),
            spec=client.V1CronJobSpec(
                schedule=cluster.robfig_cron(schedule),
                time_zone=self.time_zone or None,
                concurrency_policy=self.concurrency_policy,
                starting_deadline_seconds=self.starting_deadline_seconds,
                successful_jobs_history_limit=self.history_limit,
                failed_jobs_history_limit=self.history_limit,
                job_template=client.V1JobTemplateSpec(
                    metadata=client.V1ObjectMeta(
                        labels=cluster.labels(context),
                        annotations=cluster.lineage_annotations(context),
                    ),
                    spec=self._job_spec(context),
                ),
            ),
        )

    def _metadata(self, context: ExportContext) -> Any:
        from kubernetes import client

        return client.V1ObjectMeta(
            name=context.name,
            namespace=context.deployment.namespace,
            labels=cluster.labels(context),
            annotations=cluster.lineage_annotations(context),
        )

    def _job_spec(self, context: ExportContext) -> Any:
        from kubernetes import client

        deployment = context.deployment
        return client.V1JobSpec(
            backoff_limit=deployment.retries_or(self.backoff_limit),
            ttl_seconds_after_finished=self.ttl_seconds_after_finished,
            active_deadline_seconds=deployment.timeout_seconds or self.active_deadline_seconds,
            pod_failure_policy=client.V1PodFailurePolicy(
                rules=[
                    client.V1PodFailurePolicyRule(
                        action="FailJob",
                        on_exit_codes=client.V1PodFailurePolicyOnExitCodesRequirement(
                            container_name=cluster.CONTAINER,
                            operator="In",
                            values=[EXIT_INVALID, EXIT_FAILED],
                        ),
                    ),
                    client.V1PodFailurePolicyRule(
                        action="Ignore",
                        on_pod_conditions=[
                            client.V1PodFailurePolicyOnPodConditionsPattern(
                                type="DisruptionTarget", status="True"
                            )
                        ],
                    ),
                ]
            ),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(
                    labels=cluster.labels(context), annotations=cluster.lineage_annotations(context)
                ),
                spec=self._pod_spec(context),
            ),
        )

    def _pod_spec(self, context: ExportContext) -> Any:
        from kubernetes import client

        deployment = context.deployment
        uid = cluster.user_id(self)
        volumes = [
            client.V1Volume(
                name=cluster.volume_name("secret", i, secret),
                secret=client.V1SecretVolumeSource(secret_name=secret, default_mode=0o440),
            )
            for i, secret in enumerate(deployment.secrets)
        ]
        return client.V1PodSpec(
            restart_policy="Never",
            service_account_name=deployment.service_account,
            # The job does not talk to the API server unless given an account to do it with.
            automount_service_account_token=None if deployment.service_account else False,
            security_context=client.V1PodSecurityContext(
                run_as_non_root=True,
                run_as_user=uid,
                run_as_group=uid,
                fs_group=uid,  # group-readable Secret files (mode 0440) for the user
                seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"),
            ),
            containers=[self._container(context)],
            volumes=volumes or None,
        )

    def _container(self, context: ExportContext) -> Any:
        from kubernetes import client

        deployment = context.deployment
        image = context.image
        env = []
        output = cluster.output_arguments(deployment, f"$({ENV_POD_NAME})")
        if output and "$(" in output[-1]:
            env.append(
                client.V1EnvVar(
                    name=ENV_POD_NAME,
                    value_from=client.V1EnvVarSource(
                        field_ref=client.V1ObjectFieldSelector(field_path="metadata.name")
                    ),
                )
            )
        digest = cluster.image_digest(image)
        if digest:
            env.append(client.V1EnvVar(name=ENV_IMAGE_DIGEST, value=digest))
        env += [client.V1EnvVar(name=k, value=v) for k, v in deployment.environment().items()]
        resources = deployment.resources()
        return client.V1Container(
            name=cluster.CONTAINER,
            image=image,
            command=list(cluster.COMMAND),
            args=cluster.entrypoint_arguments(*output),
            env=env or None,
            env_from=[
                client.V1EnvFromSource(secret_ref=client.V1SecretEnvSource(name=secret))
                for secret in deployment.env_from_secrets
            ]
            or None,
            resources=client.V1ResourceRequirements(requests=resources, limits=resources)
            if resources
            else None,
            volume_mounts=[
                client.V1VolumeMount(
                    name=cluster.volume_name("secret", i, secret),
                    mount_path=cluster.secret_mount(secret),
                    read_only=True,
                )
                for i, secret in enumerate(deployment.secrets)
            ]
            or None,
            security_context=client.V1SecurityContext(
                allow_privilege_escalation=False,
                capabilities=client.V1Capabilities(drop=["ALL"]),
            ),
        )

    # -- text -------------------------------------------------------------------------------
    def _header(self, context: ExportContext, kind: str) -> list[str]:
        lines = [
            f"Kubernetes {kind} of job '{context.name}' (notebook {context.lineage.source_path}),",
            f"generated by jupyter-mlops {__version__}: re-export instead of editing it.",
        ]
        if not len(context.schema):
            return [*lines, "The notebook has no parameters."]
        return [
            *lines,
            "It runs the notebook with these parameters' defaults; to override one, add",
            '"-p", "NAME", "VALUE" to the container\'s args (lists and dicts as JSON):',
            *cluster.parameter_comment(context.schema),
        ]

    def readme(self, context: ExportContext) -> str:
        folder = context.shown_path
        namespace = context.deployment.namespace
        ns = f" -n {namespace}" if namespace else ""
        example = next(iter(context.schema), None)
        lines = [
            "## Run it on Kubernetes",
            "",
            f"`{JOB_FILE}` runs the image once with the defaults above (Kubernetes"
            f" {MIN_VERSION} or later):",
            "",
            "```sh",
            f"kubectl apply -f {folder}/{JOB_FILE}",
            f"kubectl logs{ns} -f job/{context.name}",
            f"kubectl replace{ns} --force -f {folder}/{JOB_FILE}   # run it again",
            "```",
            "",
        ]
        if example is not None:
            text = cluster.cli_text(example, example.default)
            shown = text if text is not None else "VALUE"
            lines += [
                "To override a parameter, add `-p NAME VALUE` to the container's `args`"
                " (lists and dicts as JSON; values are checked against the schema before the"
                " notebook starts, and a wrong one fails the Job at once with exit code 2):",
                "",
                "```yaml",
                "args: " + escape.yaml_flow(["/job", "-p", example.name, shown]),
                "```",
                "",
            ]
        if context.deployment.schedule:
            lines += [
                f"`{CRONJOB_FILE}` runs it on the schedule `{context.deployment.schedule}`"
                f" ({self.time_zone or 'the cluster time zone'}); to start a run now:",
                "",
                "```sh",
                f"kubectl apply -f {folder}/{CRONJOB_FILE}",
                f"kubectl create job{ns} --from=cronjob/{context.name} {context.name}-manual",
                "```",
                "",
            ]
        lines += _secrets_readme(context)
        return "\n".join(lines)


def _secrets_readme(context: ExportContext) -> list[str]:
    deployment = context.deployment
    lines = [
        "Secrets are referenced by name and never written into the manifests. With MLflow"
        " tracking, give the job its tracking URI and credentials from a Secret:",
        "",
        "```sh",
        "kubectl create secret generic mlflow --from-literal=MLFLOW_TRACKING_URI=https://..."
        " --from-literal=MLFLOW_TRACKING_TOKEN=...",
        f"jupyter mlops export {context.lineage.source_path} --target kubernetes"
        " --env-from-secret mlflow",
        "```",
        "",
    ]
    if deployment.secrets:
        mounted = ", ".join(f"`{cluster.secret_mount(s)}`" for s in deployment.secrets)
        lines += [f"Mounted read-only: {mounted}.", ""]
    if deployment.env_from_secrets:
        exposed = ", ".join(f"`{s}`" for s in deployment.env_from_secrets)
        lines += [f"Environment variables from the Secrets {exposed}.", ""]
    return lines
