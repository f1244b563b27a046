"""The audit trail as the API answers it (pydantic only)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ..api.models import ApiModel

Reason = Literal["unreadable", "edited", "removed", "inserted", "reordered"]


class AuditQuery(ApiModel):
    kind: str | None = Field(
        default=None,
        description="Only entries of these kinds, comma-separated ('export,build').",
        max_length=500,
    )
    subject: str | None = Field(
        default=None,
        description="Only entries about this subject: a name or a shell-style pattern ('churn/*').",
        max_length=500,
    )
    since: str | None = Field(
        default=None, description="From this time on (ISO 8601; UTC unless a zone is given)."
    )
    until: str | None = Field(default=None, description="Before this time (ISO 8601).")
    limit: int = Field(default=100, ge=1, le=1000, description="At most this many entries.")
    cursor: int | None = Field(
        default=None,
        ge=1,
        description="The previous page's next_cursor: entries older than those already seen.",
    )


class AuditEntry(ApiModel):
    """One action, as the trail recorded it."""

    seq: int = Field(description="Its place in the trail, from 1.")
    time: str = Field(description="When it was recorded (UTC, ISO 8601).")
    kind: str = Field(
        description="export, build, push, deploy, undeploy, trigger, job-run-start, "
        "job-run-end, snapshot, restore, model-log, register, promote, demote."
    )
    subject: str = Field(description="What the action was about: a job, a data path, a model.")
    who: str = Field(description="The server's user, or the OS user outside the server.")
    what: dict[str, Any] = Field(
        description="The facts of the action: notebook sha256, commit and dirty state, "
        "parameters, DVC versions, image digest, manifest hashes, MLflow run, model version."
    )
    prev: str = Field(description="The previous entry's hash (64 zeros for the first).")
    hash: str = Field(description="sha256 of the canonical JSON of this entry without 'hash'.")


class AuditList(ApiModel):
    entries: list[AuditEntry] = Field(description="Newest first.")
    next_cursor: int | None = Field(
        description="Give it as 'cursor' for the next (older) page; null on the last page."
    )


class BadEntry(ApiModel):
    seq: int | None = Field(description="Its sequence number; null when it is unreadable.")
    line: int = Field(description="Its line in audit.jsonl, from 1.")
    reason: Reason
    message: str = Field(description="What is wrong, naming the entry.")


class AuditVerification(ApiModel):
    intact: bool
    entries: int = Field(description="How many lines the trail has.")
    first_bad: BadEntry | None = Field(description="The first entry that breaks the chain.")
    head: str | None = Field(
        description="The last entry's hash when the chain is intact: keep it elsewhere to "
        "detect a cut-off end later."
    )
