"""``jupyter mlops audit verify`` and ``jupyter mlops audit show``.

``verify`` exits 0 when the chain is intact, 1 naming the first bad entry when it is not
(2, as every command, for a usage error). ``show`` lists entries newest first.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

#: Exit code of ``audit verify`` on a broken chain.
BROKEN = 1


def _path(args: argparse.Namespace) -> Any:
    from ..cli import _settings
    from . import trail_path

    return trail_path(_settings(args))


def _time(text: str | None, option: str) -> datetime | None:
    from ..errors import InvalidInput
    from .trail import parse_time

    if not text:
        return None
    try:
        return parse_time(text)
    except ValueError:
        raise InvalidInput(
            f"{option} {text!r} is not a time: give an ISO 8601 date or time, "
            "such as 2026-12-06 or 2026-12-06T09:30Z."
        ) from None


def _verify(args: argparse.Namespace) -> int:
    from .service import verify

    path = _path(args)
    result = verify(path, expect=args.expect)
    if args.json:
        print(
            json.dumps(
                {
                    "intact": result.intact,
                    "entries": result.entries,
                    "head": result.head,
                    "first_bad": None
                    if result.first_bad is None
                    else {
                        "seq": result.first_bad.seq,
                        "line": result.first_bad.line,
                        "reason": result.first_bad.reason,
                        "message": result.first_bad.message,
                    },
                },
                indent=2,
            )
        )
    elif result.first_bad is None:
        print(f"Audit trail intact: {result.entries} entries ({path}).")
        if result.head:
            print(f"Last entry's hash: {result.head}")
    else:
        bad = result.first_bad
        print(f"Audit trail BROKEN ({path}): {bad.reason}: {bad.message}")
    return 0 if result.intact else BROKEN


def _show(args: argparse.Namespace) -> int:
    from ..errors import InvalidInput
    from .service import entries

    if args.limit is not None and args.limit < 1:
        raise InvalidInput("--limit must be at least 1.")
    found = entries(
        _path(args),
        kind=args.kind,
        subject=args.subject,
        since=_time(args.since, "--since"),
        until=_time(args.until, "--until"),
        limit=args.limit,
    )
    if args.json:
        print(json.dumps([e.to_json() for e in found], indent=2, ensure_ascii=False))
        return 0
    for entry in found:
        what = " ".join(f"{k}={_short(v)}" for k, v in sorted(entry.what.items()))
        print(f"{entry.seq:>6} {entry.time} {entry.who} {entry.kind} {entry.subject} {what}")
    return 0


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def add_commands(sub: Any) -> None:
    audit = sub.add_parser("audit", help="The audit trail: verify its chain, show its entries.")
    asub = audit.add_subparsers(dest="audit_command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--root", default=".", help="Project root folder (default: here).")
        p.add_argument("--tracking-uri", help=argparse.SUPPRESS)
        p.add_argument("--json", action="store_true", help="Print JSON.")

    p = asub.add_parser(
        "verify",
        help="Check the hash chain: exit 0 when intact, 1 naming the first bad entry.",
    )
    p.add_argument(
        "--expect",
        metavar="HASH",
        help="The hash of an entry kept elsewhere: fail if it is gone (a cut-off end).",
    )
    common(p)
    p.set_defaults(func=_verify)

    p = asub.add_parser("show", help="Entries, newest first, filtered.")
    p.add_argument("--kind", help="Only these kinds (comma-separated), e.g. export,build.")
    p.add_argument("--subject", help="Only this subject (shell pattern: 'churn/*').")
    p.add_argument("--since", help="From this time on (ISO 8601; UTC unless a zone is given).")
    p.add_argument("--until", help="Before this time (ISO 8601).")
    p.add_argument("--limit", type=int, help="At most this many entries.")
    common(p)
    p.set_defaults(func=_show)
