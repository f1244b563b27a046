"""Routes of the audit trail: ``GET audit`` (entries, newest first, filtered and paged) and
``GET audit/verify`` (the chain checked). Reading only: entries are written by the actions
themselves (:func:`jupyter_mlops.audit.record`)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

import tornado.web
from jupyter_server.auth.decorator import authorized

from ..api.handler import MlopsHandler, Operation
from ..api.models import NoQuery
from ..errors import InvalidInput
from . import trail_path
from .models import AuditEntry, AuditList, AuditQuery, AuditVerification, BadEntry
from .service import entries, verify
from .trail import parse_time

_TAGS = ("audit",)


def _time(text: str | None, name: str) -> datetime | None:
    if not text:
        return None
    try:
        return parse_time(text)
    except ValueError:
        raise InvalidInput(
            f"Query parameter '{name}': {text!r} is not an ISO 8601 time.", code="invalid_query"
        ) from None


class AuditHandler(MlopsHandler):
    operations = {
        "get": Operation(
            summary="Entries of the audit trail, newest first, filtered by kind, subject and "
            "time, a page at a time.",
            response=AuditList,
            query=AuditQuery,
            tags=_TAGS,
        )
    }

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(AuditQuery)
        since, until = _time(query.since, "since"), _time(query.until, "until")
        path = trail_path(self.mlops.settings_resolved)

        def page() -> AuditList:
            found = list(
                entries(
                    path,
                    kind=query.kind,
                    subject=query.subject,
                    since=since,
                    until=until,
                    limit=query.limit + 1,
                    before=query.cursor,
                )
            )
            shown = found[: query.limit]
            more = len(found) > query.limit
            return AuditList(
                entries=[AuditEntry.model_validate(e.to_json()) for e in shown],
                next_cursor=shown[-1].seq if more and shown else None,
            )

        self.send_model(await self.call(page))


class AuditVerifyHandler(MlopsHandler):
    operations = {
        "get": Operation(
            summary="Check the audit trail's hash chain: intact, or the first bad entry and "
            "why (edited, removed, inserted, reordered, unreadable). Never repairs it.",
            response=AuditVerification,
            query=NoQuery,
            tags=_TAGS,
        )
    }

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.parse_query(NoQuery)
        result = await self.call(verify, trail_path(self.mlops.settings_resolved))
        bad = result.first_bad
        self.send_model(
            AuditVerification(
                intact=result.intact,
                entries=result.entries,
                head=result.head,
                first_bad=None if bad is None else BadEntry.model_validate(asdict(bad)),
            )
        )


ROUTES: list[tuple[str, type[MlopsHandler]]] = [
    ("audit", AuditHandler),
    ("audit/verify", AuditVerifyHandler),
]
