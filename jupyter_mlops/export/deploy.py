"""How an exported job is deployed: the options every orchestrator target shares.

``jupyter mlops export --target kubernetes|argo|kfp|airflow|dvc`` takes one set of options
(``--image``, ``--schedule``, ``--cpu``/``--memory``/``--gpu``, ``--secret``,
``--env-from-secret``, ``--output``, ``--namespace``, ``--service-account``) and each target
renders them in its engine's terms. They are checked here, once, before anything is
written: a mistake is refused with one line naming the offending value.

Secrets are referenced by name only (a Kubernetes Secret, an Airflow/KFP reference to it):
``--secret NAME`` mounts the Secret's keys as files under ``/etc/secrets/NAME``;
``--env-from-secret NAME`` exposes its keys as environment variables (``MLFLOW_TRACKING_
USERNAME``, ``AWS_ACCESS_KEY_ID`` for DVC remotes...). Something that looks like a secret's
value rather than a name is refused, so a token never lands in a manifest.

Reliability options, the same on every engine (see docs/orchestrators.md, "Reliability
options", for what each becomes): ``--retries N`` (a run that fails for a reason a retry
can fix: not invalid parameters, exit 2, nor a notebook that raised, exit 3, where the
engine can tell), ``--retry-delay 1m`` and ``--retry-backoff 2`` (the first wait and its
factor), ``--timeout 2h`` for the whole run, and notifications sent by the job itself
through Apprise: ``--notify-from-env VAR`` (the URL is read at run time from the variable
VAR; its *name* goes into the manifest), ``--notify-secret NAME`` (the Secret NAME, mounted
like ``--secret``, whose key ``url`` holds it) and ``--notify-on failure|always``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..errors import InvalidInput, option_errors
from ..monitoring.push import url_problem
from ..redact import mask
from ..settings import ENV_PUSHGATEWAY
from . import escape
from .notify import ENV_NOTIFY_ENV, ENV_NOTIFY_FILE, ENV_NOTIFY_ON

#: Where ``--secret NAME`` is mounted in the job's container.
SECRETS_ROOT = "/etc/secrets"
#: The image reference ``jupyter mlops build`` recorded (kept across re-exports).
BUILD_RECORD = "build.json"

# A DNS-1123 label (namespaces) and subdomain (Secret and service-account names).
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# Kubernetes resource quantities (resource.Quantity): 500m, 1.5, 2Gi, 1e3, 128974848.
_QUANTITY = re.compile(r"(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+|[numkMGTPE]|[KMGTPE]i)?")
# An image reference: [registry[:port]/]path[:tag][@sha256:digest], lowercase path.
_IMAGE = re.compile(
    r"(?:(?P<registry>[a-zA-Z0-9.-]+(?::\d+)?)/)?"
    r"(?P<path>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?"
)
#: Longest image reference taken (Docker's limit on a name is 255 characters, a tag and a
#: digest come on top).
IMAGE_MAX = 512
#: Longest --output taken.
OUTPUT_MAX = 1024
#: Longest --schedule taken (before its spaces are normalised).
SCHEDULE_MAX = 256
#: Most GPUs a job may ask for.
GPU_MAX = 64
_CRON_MACROS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@hourly"})
# What a secret's value tends to look like, as opposed to a Secret's name.
_TOKEN_PREFIXES = ("sk-", "ghp_", "gho_", "github_pat_", "xox", "akia", "asia", "eyj")
#: Most retries a job may ask for.
RETRIES_MAX = 100
#: Longest --timeout or --retry-delay taken (a year).
DURATION_MAX = 365 * 24 * 3600
#: Largest --retry-backoff factor.
BACKOFF_MAX = 10.0
#: The back-off factor when --retry-delay is given without --retry-backoff.
DEFAULT_BACKOFF = 2.0
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
#: The key of a --notify-secret Secret that holds the Apprise URL.
NOTIFY_SECRET_KEY = "url"  # noqa: S105 (a key's name)


def _one_of(pattern: re.Pattern[str], value: str) -> bool:
    return pattern.fullmatch(value) is not None


class Deployment(BaseModel):
    """Where and how the job runs on an orchestrator. Every field is optional; targets
    use what applies to their engine (the DVC stage needs no image, for instance)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image: str | None = Field(
        default=None,
        description="The job's image reference (with @sha256 digest when known). "
        "Default: the one `jupyter mlops build` recorded, else NAME:latest.",
    )
    schedule: str | None = Field(
        default=None, description="Cron expression (5 fields, or @daily, @hourly...) to run on."
    )
    cpu: str | None = Field(
        default=None, description="CPU request and limit (Kubernetes quantity)."
    )
    memory: str | None = Field(default=None, description="Memory request and limit (e.g. 2Gi).")
    gpu: int | None = Field(
        default=None, ge=0, le=GPU_MAX, description="Number of NVIDIA GPUs (nvidia.com/gpu)."
    )
    secrets: tuple[str, ...] = Field(
        default=(), description=f"Secrets mounted as files under {SECRETS_ROOT}/NAME, by name."
    )
    env_from_secrets: tuple[str, ...] = Field(
        default=(), description="Secrets whose keys become environment variables, by name."
    )
    output: str | None = Field(
        default=None,
        description="Where output notebooks go: a path in the container (a volume) or any "
        "URL papermill writes to (s3://, gs://, abfs://...).",
    )
    namespace: str | None = Field(default=None, description="Kubernetes namespace.")
    service_account: str | None = Field(default=None, description="Kubernetes service account.")
    retries: int | None = Field(
        default=None,
        description="Retries of a failed run (not of invalid parameters or a notebook that "
        "raised, where the engine can tell). Default: the target's setting.",
    )
    retry_delay: str | None = Field(
        default=None, description="Wait before the first retry (90s, 5m, 1h); then backed off."
    )
    retry_backoff: float | None = Field(
        default=None,
        description=f"Factor of each further wait (1: constant; default {DEFAULT_BACKOFF:g}).",
    )
    timeout: str | None = Field(
        default=None, description="Longest a run may take before it is stopped (2h, 30m, 90s)."
    )
    notify_from_env: str | None = Field(
        default=None,
        description="Name of the environment variable holding the Apprise URL at run time.",
    )
    notify_secret: str | None = Field(
        default=None,
        description=f"Secret (by name) whose key '{NOTIFY_SECRET_KEY}' holds the Apprise URL; "
        f"mounted under {SECRETS_ROOT}/NAME.",
    )
    notify_on: Literal["failure", "always"] | None = Field(
        default=None, description="Notify on failure only (default) or after every run."
    )
    pushgateway: str | None = Field(
        default=None,
        description="Prometheus Pushgateway URL each run pushes its outcome and metrics to "
        f"(the job's {ENV_PUSHGATEWAY}); no credentials in it.",
    )

    fail_on_drift: bool | None = Field(
        default=None,
        description="A run whose notebook's drift check found the data drifted ends with exit "
        "code 5 (the job's JUPYTER_MLOPS_FAIL_ON_DRIFT).",
    )
    retrain_deployment: str | None = Field(
        default=None,
        description="With fail_on_drift: the training deployment a drifted run triggers "
        "where the deployments slice is at hand (the job's JUPYTER_MLOPS_RETRAIN_DEPLOYMENT).",
    )

    @field_validator("retrain_deployment")
    @classmethod
    def _retrain_deployment(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not _DEPLOYMENT_NAME.fullmatch(value):
            raise ValueError(f"'{escape.one_line(value)[:80]}' is not a deployment name")
        if value is not None and not info.data.get("fail_on_drift"):
            raise ValueError("needs --fail-on-drift (it triggers on a drifted run)")
        return value

    @field_validator("pushgateway")
    @classmethod
    def _pushgateway(cls, value: str | None) -> str | None:
        problem = None if value is None else url_problem(value)
        if problem:
            shown = escape.one_line(mask(value or ""))  # never a password back in a message
            raise ValueError(f"'{shown}' is not a Pushgateway URL: {problem}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _mount_notify_secret(cls, data: Any) -> Any:
        # The notification Secret is mounted like any --secret, so every target has it.
        name = data.get("notify_secret") if isinstance(data, dict) else None
        if isinstance(name, str) and "://" not in name and not secret_name_problem(name):
            secrets = tuple(data.get("secrets") or ())
            if data["notify_secret"] not in secrets:
                data = {**data, "secrets": (*secrets, data["notify_secret"])}
        return data

    @field_validator("notify_on")
    @classmethod
    def _notify_on(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value and not (info.data.get("notify_from_env") or info.data.get("notify_secret")):
            raise ValueError(
                "needs where the URL comes from: --notify-from-env VAR or --notify-secret NAME"
            )
        return value

    @field_validator("retries", mode="before")
    @classmethod
    def _retries(cls, value: Any) -> Any:
        if isinstance(value, bool) or (isinstance(value, int) and not 0 <= value <= RETRIES_MAX):
            raise ValueError(f"'{value}' is not a number of retries (0 to {RETRIES_MAX})")
        return value

    @field_validator("retry_delay", "timeout")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            duration_seconds(value)  # raises ValueError naming the value
        return value

    @field_validator("retry_backoff", mode="before")
    @classmethod
    def _backoff(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and not info.data.get("retry_delay"):
            raise ValueError("needs --retry-delay (the first wait)")
        if isinstance(value, bool) or (
            isinstance(value, int | float) and not 1 <= value <= BACKOFF_MAX
        ):
            raise ValueError(
                f"'{value}' is not a back-off factor (1 for a constant wait, up to {BACKOFF_MAX:g})"
            )
        return value

    @field_validator("notify_from_env")
    @classmethod
    def _notify_env(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "://" in value or "@" in value or "=" in value or "/" in value:
            raise ValueError(
                "the value given looks like a URL or a secret itself, not the name of an "
                "environment variable; set the variable (e.g. ALERTS_URL=slack://...) where the "
                "job runs and pass its name"
            )
        if not _one_of(_ENV_NAME, value):
            raise ValueError(
                f"'{value}' is not an environment variable name (letters, digits and '_', "
                "not starting with a digit)"
            )
        return value

    @field_validator("notify_secret")
    @classmethod
    def _notify_secret(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "://" in value:
            raise ValueError(
                "the value given looks like a URL itself, not a Secret's name; create a Secret "
                f"holding it (kubectl create secret generic NAME --from-literal="
                f"{NOTIFY_SECRET_KEY}=...) and pass NAME"
            )
        problem = secret_name_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        problem = None if value is None else image_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("output")
    @classmethod
    def _output(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if len(value) > OUTPUT_MAX:
            raise ValueError(f"{len(value)} characters; at most {OUTPUT_MAX}")
        if escape.one_line(value) != value:
            raise ValueError(
                "holds a line break or another control character; give a path in the "
                "container or a URL"
            )
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if len(value) > SCHEDULE_MAX:
            raise ValueError(f"{len(value)} characters; a cron expression has at most 256")
        text = " ".join(value.split())
        if text.lower() in _CRON_MACROS:
            return text.lower()
        problem = cron_problem(text)
        if problem:
            raise ValueError(f"'{value}' is not a valid cron expression: {problem}")
        return text

    @field_validator("gpu", mode="before")
    @classmethod
    def _gpu(cls, value: Any) -> Any:
        # Checked here rather than by the bounds alone, so the message names the value.
        if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= GPU_MAX:
            raise ValueError(f"'{value}' is not a number of GPUs (0 to {GPU_MAX})")
        return value

    @field_validator("cpu", "memory")
    @classmethod
    def _quantity(cls, value: str | None) -> str | None:
        if value is not None and (not _one_of(_QUANTITY, value) or _is_zero(value)):
            raise ValueError(
                f"'{value}' is not a positive Kubernetes quantity (e.g. 500m or 2 for CPU, "
                "512Mi or 4Gi for memory)"
            )
        return value

    @field_validator("secrets", "env_from_secrets")
    @classmethod
    def _secret_names(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            problem = secret_name_problem(value)
            if problem:
                raise ValueError(problem)
        return tuple(dict.fromkeys(values))

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > 63 or not _one_of(_LABEL, value)):
            raise ValueError(
                f"'{value}' is not a valid namespace (lowercase letters, digits and '-', "
                "at most 63 characters)"
            )
        return value

    @field_validator("service_account")
    @classmethod
    def _service_account(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > 253 or not _one_of(_SUBDOMAIN, value)):
            raise ValueError(
                f"'{value}' is not a valid service account name (lowercase letters, digits, "
                "'-' and '.')"
            )
        return value

    # -- what targets use -------------------------------------------------------------------
    def image_for(self, record: Path, name: str) -> tuple[str, bool]:
        """The image reference to run and whether it is a guess: ``--image``, else what
        ``jupyter mlops build`` recorded (``record``, the job folder's ``build.json``),
        else ``NAME:latest``."""
        if self.image:
            return self.image, False
        try:
            built = json.loads(record.read_text(encoding="utf-8"))
            reference = built.get("pushed") or built.get("image")
            if isinstance(reference, str) and _one_of(_IMAGE, reference):
                return reference, False
        except (OSError, ValueError, AttributeError):
            pass
        return f"{name}:latest", True

    @property
    def timeout_seconds(self) -> int | None:
        """``--timeout`` in seconds, or ``None``."""
        return duration_seconds(self.timeout) if self.timeout else None

    @property
    def retry_delay_seconds(self) -> int | None:
        """``--retry-delay`` in seconds, or ``None`` (the engine's default wait)."""
        return duration_seconds(self.retry_delay) if self.retry_delay else None

    @property
    def backoff_factor(self) -> float:
        """The factor of each further wait (with ``--retry-delay``)."""
        return DEFAULT_BACKOFF if self.retry_backoff is None else float(self.retry_backoff)

    def retries_or(self, default: int) -> int:
        """``--retries``, else ``default`` (the target's setting)."""
        return default if self.retries is None else self.retries

    def notify_environment(self) -> dict[str, str]:
        """What the job's environment needs for notifications: names and paths, never a URL."""
        found: dict[str, str] = {}
        if self.notify_from_env:
            found[ENV_NOTIFY_ENV] = self.notify_from_env
        if self.notify_secret:
            found[ENV_NOTIFY_FILE] = f"{SECRETS_ROOT}/{self.notify_secret}/{NOTIFY_SECRET_KEY}"
        if found and self.notify_on:
            found[ENV_NOTIFY_ON] = self.notify_on
        return found

    def environment(self) -> dict[str, str]:
        """The plain variables every target sets in the job's container: where to notify
        (:meth:`notify_environment`) and the Pushgateway to push to. Never a secret."""
        found = self.notify_environment()
        if self.pushgateway:
            found[ENV_PUSHGATEWAY] = self.pushgateway
        if self.fail_on_drift:
            found["JUPYTER_MLOPS_FAIL_ON_DRIFT"] = "1"
        if self.retrain_deployment:
            found["JUPYTER_MLOPS_RETRAIN_DEPLOYMENT"] = self.retrain_deployment
        return found

    @property
    def digest(self) -> str | None:
        """The ``sha256:...`` digest in :attr:`image`, if it carries one."""
        match = _IMAGE.fullmatch(self.image or "")
        return match.group("digest") if match else None

    def resources(self) -> dict[str, str]:
        """Requests and limits in Kubernetes' terms (the same for both: a job is a batch
        workload, and a limit above the request only invites eviction)."""
        found = {"cpu": self.cpu, "memory": self.memory}
        if self.gpu:
            found["nvidia.com/gpu"] = str(self.gpu)
        return {k: v for k, v in found.items() if v}


#: A deployment's name, as the deployments slice accepts it (its ``NAME_PATTERN``).
_DEPLOYMENT_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def deployment(**options: Any) -> Deployment:
    """A :class:`Deployment` from option values (``None`` and empty ones left out), or
    :class:`InvalidInput` naming each offending option and value."""
    given = {k: (tuple(v) if isinstance(v, list) else v) for k, v in options.items()}
    given = {k: v for k, v in given.items() if v not in (None, (), "")}
    try:
        return Deployment.model_validate(given)
    except ValidationError as exc:
        raise InvalidInput(option_errors(exc, _OPTION_NAMES)) from None


_OPTION_NAMES = {"secrets": "secret", "env_from_secrets": "env_from_secret"}


def duration_seconds(text: str) -> int:
    """Seconds of a duration such as ``90s``, ``30m``, ``2h``, ``1h30m``, ``1d`` (a bare
    number is seconds); :class:`ValueError` naming the text otherwise."""
    value = text.strip().lower()
    match = _DURATION.fullmatch(value) if value else None
    if value.isdigit():
        seconds = int(value)
    elif match is None or not any(match.groups()):
        shown = text if text.isprintable() and len(text) <= 40 else repr(text[:40])
        raise ValueError(f"'{shown}' is not a duration (e.g. 90s, 30m, 2h, 1h30m, 1d)")
    else:
        days, hours, minutes, secs = (int(g or 0) for g in match.groups())
        seconds = ((days * 24 + hours) * 60 + minutes) * 60 + secs
    if not 0 < seconds <= DURATION_MAX:
        raise ValueError(f"'{text}' is not a duration between 1s and 365d")
    return seconds


def add_deployment_options(group: Any) -> None:
    """The deployment options' command-line flags, on a parser or an argument group: one
    definition for ``jupyter mlops export`` and ``jupyter mlops deploy``."""
    group.add_argument(
        "--image", help="Image reference (default: the one `build` recorded, else NAME:latest)."
    )
    group.add_argument("--schedule", metavar="CRON", help="Run on a schedule (cron, @daily...).")
    group.add_argument("--cpu", help="CPU request and limit (e.g. 500m, 2).")
    group.add_argument("--memory", help="Memory request and limit (e.g. 2Gi).")
    group.add_argument("--gpu", type=int, metavar="N", help="NVIDIA GPUs.")
    group.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="NAME",
        help="Mount this Secret (by name) under /etc/secrets/NAME, repeatable.",
    )
    group.add_argument(
        "--env-from-secret",
        action="append",
        default=[],
        metavar="NAME",
        help="Expose this Secret's keys (by name) as environment variables, repeatable.",
    )
    group.add_argument(
        "--output", metavar="URL", help="Where output notebooks go (volume path or s3://...)."
    )
    group.add_argument("--namespace", help="Kubernetes namespace.")
    group.add_argument("--service-account", help="Kubernetes service account.")
    group.add_argument(
        "--retries",
        type=int,
        metavar="N",
        help="Retries of a failed run (not of invalid parameters or a notebook that raised, "
        "where the engine can tell).",
    )
    group.add_argument(
        "--retry-delay", metavar="DURATION", help="Wait before the first retry (90s, 5m, 1h)."
    )
    group.add_argument(
        "--retry-backoff",
        type=float,
        metavar="FACTOR",
        help=f"Factor of each further wait (1: constant; default {DEFAULT_BACKOFF:g}).",
    )
    group.add_argument(
        "--timeout", metavar="DURATION", help="Stop a run that takes longer (2h, 30m, 90s)."
    )
    group.add_argument(
        "--notify-from-env",
        metavar="VAR",
        help="Notify through Apprise at the URL the job finds in its environment variable VAR "
        "(the name goes into the manifests, never the URL).",
    )
    group.add_argument(
        "--notify-secret",
        metavar="NAME",
        help=f"Notify at the Apprise URL in the Secret NAME's key '{NOTIFY_SECRET_KEY}' "
        f"(mounted under {SECRETS_ROOT}/NAME).",
    )
    group.add_argument(
        "--notify-on",
        choices=("failure", "always"),
        help="Notify when a run failed (default) or after every run.",
    )
    group.add_argument(
        "--fail-on-drift",
        action="store_true",
        default=None,
        help="A run whose notebook found its data drifted (jupyter_mlops.drift) ends with "
        "exit code 5.",
    )
    group.add_argument(
        "--retrain-deployment",
        metavar="NAME",
        help="With --fail-on-drift: trigger this training deployment on a drifted run.",
    )
    group.add_argument(
        "--pushgateway",
        metavar="URL",
        help="Each run pushes its outcome and metrics to this Prometheus Pushgateway "
        "(see the monitoring target).",
    )


def deployment_values(args: Any) -> dict[str, Any]:
    """The values of :func:`add_deployment_options`' flags, by :class:`Deployment` field."""
    return {
        "image": args.image,
        "schedule": args.schedule,
        "cpu": args.cpu,
        "memory": args.memory,
        "gpu": args.gpu,
        "secrets": args.secret,
        "env_from_secrets": args.env_from_secret,
        "output": args.output,
        "namespace": args.namespace,
        "service_account": args.service_account,
        "retries": args.retries,
        "retry_delay": args.retry_delay,
        "retry_backoff": args.retry_backoff,
        "timeout": args.timeout,
        "notify_from_env": args.notify_from_env,
        "notify_secret": args.notify_secret,
        "notify_on": args.notify_on,
        "pushgateway": args.pushgateway,
        "fail_on_drift": getattr(args, "fail_on_drift", None),
        "retrain_deployment": getattr(args, "retrain_deployment", None),
    }


def deployment_from_args(args: Any) -> Deployment:
    """The checked :class:`Deployment` of parsed :func:`add_deployment_options` flags."""
    return deployment(**deployment_values(args))


def image_problem(value: str) -> str | None:
    """Why ``value`` is not an image reference (``[registry/]path[:tag][@sha256:digest]``,
    at most :data:`IMAGE_MAX` characters), or ``None``."""
    if len(value) > IMAGE_MAX:
        return f"an image reference of {len(value)} characters; at most {IMAGE_MAX}"
    if not _one_of(_IMAGE, value):
        shown = value if value.isprintable() and len(value) <= 80 else repr(value[:80])
        return (
            f"'{shown}' is not an image reference (e.g. registry.example.com/team/job:1.0 "
            "or job@sha256:<64 hex digits>; the path part is lowercase)"
        )
    return None


def check_image(value: str, option: str) -> None:
    """:class:`InvalidInput` naming ``option`` when ``value`` is not an image reference."""
    problem = image_problem(value)
    if problem:
        raise InvalidInput(f"{option}: {problem}")


def secret_name_problem(value: str) -> str | None:
    """Why ``value`` is not a Secret's name (it may be the secret itself), or ``None``."""
    looks_like_value = (
        "=" in value
        or any(value.lower().startswith(p) for p in _TOKEN_PREFIXES)
        or (len(value) >= 32 and not _one_of(re.compile(r"[a-z]+(-[a-z]+)*"), value))
    )
    if looks_like_value:
        return (
            "the value given looks like a secret itself, not a Secret's name; create a "
            "Kubernetes Secret holding it (kubectl create secret generic NAME "
            "--from-literal=KEY=...) and pass NAME"
        )
    if len(value) > 253 or not _one_of(_SUBDOMAIN, value):
        return (
            f"'{value}' is not a Secret name (lowercase letters, digits, '-' and '.'); "
            "secrets are referenced by name, never by value"
        )
    return None


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_CRON_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    (
        "month",
        1,
        12,
        {m: i + 1 for i, m in enumerate(_MONTHS)},
    ),
    ("day of week", 0, 7, {d: i for i, d in enumerate(_DAYS)}),
)


def cron_problem(expression: str) -> str | None:
    """Why a five-field cron expression is invalid (as Kubernetes CronJobs, Argo, Airflow
    and KFP all read one), or ``None``. Fields take ``*``, numbers, names, ``a-b``, ``/step``
    and comma lists."""
    fields = expression.split()
    if len(fields) != 5:
        return f"{len(fields)} fields, expected 5 (minute hour day-of-month month day-of-week)"
    for text, (label, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for part in text.split(","):
            problem = _cron_part(part.lower(), low, high, names)
            if problem:
                return f"{label} field '{text}': {problem}"
    return None


def _cron_part(part: str, low: int, high: int, names: dict[str, int]) -> str | None:
    base, _, step = part.partition("/")
    if step and (not step.isdigit() or int(step) == 0):
        return f"step '{step}' must be a positive number"
    if base == "*" or (base == "?" and high in (7, 31)):
        return None
    bounds = base.split("-")
    if len(bounds) > 2 or not all(bounds):
        return f"'{part}' is not a value or range"
    numbers = []
    for bound in bounds:
        value = names.get(bound, int(bound) if bound.isdigit() else None)
        if value is None or not low <= value <= high:
            return f"'{bound}' is outside {low}-{high}"
        numbers.append(value)
    if len(numbers) == 2 and numbers[0] > numbers[1]:
        return f"range '{base}' runs backwards"
    return None


def _is_zero(quantity: str) -> bool:
    digits = re.match(r"[\d.]+", quantity)
    return digits is not None and float(digits.group(0) or 0) == 0
