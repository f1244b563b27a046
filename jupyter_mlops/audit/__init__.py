"""The audit trail: who did what, when, in a tamper-evident, hash-chained log.

Every action that matters calls :func:`record` once it has happened::

    from jupyter_mlops import audit
    audit.record(audit.PROMOTE, "churn/3", root=settings, alias="champion", reason="...")

``subject`` names what the action was about (a job, a data path, ``model/version``);
keyword arguments are the ``what`` of the entry (notebook sha256, commit and dirty state,
parameters, DVC versions, image digest, manifest hashes, MLflow run, model version...):
anything JSON can hold, paths and other objects as strings. Never a secret.

Failure policy, as a regulated team needs it: **recording failures are loud**. When the
entry cannot be written (the disk is full, the file is not writable, the trail is damaged)
:func:`record` raises :class:`AuditError` (an ``MlopsError`` answered as 503, one line in
the CLI) rather than letting the action pass unrecorded. Call it right *after* the action
succeeds (an action that failed is not recorded as done) and let the error propagate: the
user learns that the action happened but its record did not, and no trail is repaired
behind anyone's back. The one exception is the job entrypoint, whose finishers never fail
the job: there a recording failure becomes a warning line in the job's log and outcome.

``who`` is the Jupyter server's current user inside a request (:func:`acting_as`, set by
the API's base handler), otherwise the operating system's user. Stdlib only.
"""

from __future__ import annotations

import contextlib
import getpass
import os
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .trail import FILE_NAME, GENESIS, AuditError, Entry

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = [
    "GENESIS",
    "KINDS",
    "AuditError",
    "Entry",
    "acting_as",
    "current_user",
    "record",
    "trail_path",
]

# The kinds of action recorded. Other kinds are accepted (lowercase names), these are the
# ones the product records.
EXPORT = "export"
BUILD = "build"
PUSH = "push"
DEPLOY = "deploy"
UNDEPLOY = "undeploy"
TRIGGER = "trigger"
JOB_RUN_START = "job-run-start"
JOB_RUN_END = "job-run-end"
SNAPSHOT = "snapshot"
RESTORE = "restore"
MODEL_LOG = "model-log"
REGISTER = "register"
PROMOTE = "promote"
DEMOTE = "demote"
KINDS = (
    EXPORT,
    BUILD,
    PUSH,
    DEPLOY,
    UNDEPLOY,
    TRIGGER,
    JOB_RUN_START,
    JOB_RUN_END,
    SNAPSHOT,
    RESTORE,
    MODEL_LOG,
    REGISTER,
    PROMOTE,
    DEMOTE,
)

#: Who a job's entries name when its runner knows better than the OS (the server sets it
#: for the runs it starts: its current user).
ENV_USER = "JUPYTER_MLOPS_AUDIT_USER"

_acting: ContextVar[str | None] = ContextVar("jupyter_mlops_audit_user", default=None)


@contextlib.contextmanager
def acting_as(user: str | None) -> Iterator[None]:
    """Within the block (and the threads started with its context), entries are recorded
    as done by ``user``."""
    token = _acting.set(user or None)
    try:
        yield
    finally:
        _acting.reset(token)


def set_acting_user(user: str | None) -> None:
    """Record entries of the current context as done by ``user`` (the server's handlers
    call this once per request; each request runs in its own context)."""
    _acting.set(user or None)


def current_user() -> str:
    """Who is acting: the server's current user in a request, else ``JUPYTER_MLOPS_AUDIT_USER``
    (a job the server started), else the OS user."""
    user = _acting.get() or os.environ.get(ENV_USER)
    if user:
        return user
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def trail_path(root: Settings | str | Path | None = None) -> Path:
    """The trail's file: in the settings' state folder; for a path, in ``<path>/.mlops``;
    for None, the project of the kernel or job (``JUPYTER_MLOPS_ROOT`` or the current
    folder)."""
    from .. import settings as settings_module

    if root is None:
        resolved = settings_module.from_kernel_environment()
    elif isinstance(root, settings_module.Settings):
        resolved = root
    else:
        resolved = settings_module.resolve(root)
    return resolved.state_dir / FILE_NAME


def record(
    kind: str,
    subject: str,
    *,
    root: Settings | str | Path | None = None,
    who: str | None = None,
    **what: Any,
) -> Entry:
    """Append an entry for an action that has just happened; the entry as written.

    Raises :class:`AuditError` when it cannot be written (see the module's docstring)."""
    from .trail import append

    return append(trail_path(root), kind, subject, who or current_user(), what)
