"""Reading the audit trail: checking its chain and finding entries.

:func:`verify` reads the whole file once and names the first entry that breaks the chain,
with why: ``unreadable`` (not an entry, or a last line cut short), ``edited`` (its content
does not match its hash, or an entry after it recorded another hash for it), ``removed``
(entries are missing before it), ``inserted`` (it was slipped in between two entries) or
``reordered`` (it stands where another entry should). A trail is never repaired here.

What a hash chain cannot show by itself: entries cut off the end of the file, or a whole
tail rewritten with fresh hashes. Keep the last entry's hash somewhere else (``audit show
--json | head -1``, a ticket, a backup) and compare it, for that.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from pathlib import Path

from .trail import _HASH_END, _HEAD, GENESIS, Entry, read_backwards

REASONS = ("unreadable", "edited", "removed", "inserted", "reordered")


@dataclass(frozen=True)
class BadEntry:
    """The first entry that breaks the chain."""

    line: int
    seq: int | None
    reason: str
    message: str


@dataclass(frozen=True)
class Verification:
    intact: bool
    entries: int
    first_bad: BadEntry | None = None
    #: The hash of the last entry when the chain is intact (to keep elsewhere).
    head: str | None = None


@dataclass(slots=True)
class _Line:
    number: int
    seq: int | None = None
    prev: str | None = None
    hash: str | None = None
    sound: bool = False  # its hash matches its content
    error: str | None = None


#: The first members of a line as :func:`~.trail.append` writes it (keys sorted: hash, kind,
#: prev, seq, subject...; a kind has no character JSON escapes), read without parsing the
#: rest. A line that matches and whose hash holds is taken on this fast path; any other
#: is parsed in full (:func:`_read`), to say what is wrong with it.
_FAST = re.compile(
    rb'\{"hash":"([0-9a-f]{64})","kind":"[a-z][a-z0-9_.-]{0,63}",'
    rb'"prev":"([0-9a-f]{64})","seq":([1-9][0-9]{0,17}),"subject":"'
)


_OPEN = hashlib.sha256(b"{")


def _fast(raw: bytes, number: int) -> _Line | None:
    found = _FAST.match(raw)
    if found is None or not raw.endswith(b'"}\n'):
        return None
    hasher = _OPEN.copy()
    hasher.update(memoryview(raw)[_HASH_END + 2 : -1])
    digest = hasher.hexdigest()
    if digest.encode() != found[1]:
        return None
    return _Line(number, int(found[3]), found[2].decode(), digest, True)


def _read(raw: bytes, number: int, last: bool) -> _Line:
    line = _Line(number)
    if not raw.endswith(b"\n"):
        line.error = "its line is cut short (no end of line)" if last else "it is not JSON"
    body = raw.rstrip(b"\n")
    try:
        data = json.loads(body)
        seq, prev, digest = data["seq"], data["prev"], data["hash"]
        if not (isinstance(seq, int) and isinstance(prev, str) and isinstance(digest, str)):
            raise TypeError
        for name in ("time", "kind", "subject", "who"):
            if not isinstance(data[name], str):
                raise TypeError
        if not isinstance(data["what"], dict) or len(data) != 8:
            raise TypeError
    except (ValueError, KeyError, TypeError):
        line.error = line.error or "it is not an audit entry"
        return line
    line.seq, line.prev, line.hash = seq, prev, digest
    line.sound = (
        body.startswith(_HEAD)
        and body[_HASH_END : _HASH_END + 2] == b'",'
        and body[len(_HEAD) : _HASH_END].decode("ascii", "replace") == digest
        and hashlib.sha256(b"{" + body[_HASH_END + 2 :]).hexdigest() == digest
    )
    return line


def verify(path: Path, expect: str | None = None) -> Verification:
    """Check the chain of the trail at ``path`` (a missing file is an empty, intact trail).
    ``expect``: the hash of an entry known to have been written (kept elsewhere); its
    absence means entries were cut off the end."""
    try:
        raw_lines = Path(path).read_bytes().splitlines(keepends=True)
    except FileNotFoundError:
        raw_lines = []
    total = len(raw_lines)
    lines = [
        _fast(raw, i + 1) or _read(raw, i + 1, i + 1 == total) for i, raw in enumerate(raw_lines)
    ]
    last_at: dict[int, int] = {}
    for index, line in enumerate(lines):
        if line.seq is not None:
            last_at[line.seq] = index

    def bad(line: _Line, reason: str, message: str) -> Verification:
        where = f"entry {line.seq} (line {line.number})" if line.seq else f"line {line.number}"
        return Verification(
            intact=False,
            entries=total,
            first_bad=BadEntry(line.number, line.seq, reason, f"{where}: {message}"),
        )

    want_prev, want_seq = GENESIS, 1
    before: _Line | None = None  # the last sound entry
    before_prev = GENESIS  # what that entry followed
    for index, line in enumerate(lines):
        if line.error:
            return bad(line, "unreadable", line.error)
        assert line.seq is not None
        assert line.hash is not None
        if not line.sound:
            return bad(line, "edited", "its content does not match its hash")
        if line.prev == want_prev:
            if line.seq != want_seq:
                return bad(line, "edited", f"it is numbered {line.seq}, not {want_seq}")
        elif before is not None and line.prev == before_prev and line.seq == want_seq - 1:
            return bad(
                before,
                "inserted",
                f"it was slipped in: entry {line.seq} (line {line.number}) follows the entry "
                "before it",
            )
        elif line.seq > want_seq:
            if last_at.get(want_seq, -1) > index:
                return bad(line, "reordered", f"it stands where entry {want_seq} should")
            missing = (
                f"entry {want_seq}"
                if line.seq == want_seq + 1
                else f"entries {want_seq} to {line.seq - 1}"
            )
            return bad(
                line,
                "removed",
                f"{missing} before it {'is' if line.seq == want_seq + 1 else 'are'} missing",
            )
        elif line.seq < want_seq:
            return bad(line, "reordered", f"it comes after entry {want_seq - 1}")
        elif before is None:
            return bad(
                line, "removed", "it does not start the chain: entries before it are missing"
            )
        else:
            return bad(
                before,
                "edited",
                f"entry {line.seq} (line {line.number}) recorded another hash for it",
            )
        before, before_prev = line, line.prev
        want_prev, want_seq = line.hash, line.seq + 1
        if line.hash == expect:
            expect = None
    if expect:
        return Verification(
            intact=False,
            entries=total,
            first_bad=BadEntry(
                total + 1,
                want_seq,
                "removed",
                f"entry {want_seq} (line {total + 1}): no entry has the hash {expect}: "
                "entries were cut off the end of the trail",
            ),
        )
    return Verification(intact=True, entries=total, head=want_prev if total else None)


def entries(
    path: Path,
    *,
    kind: str | None = None,
    subject: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    before: int | None = None,
) -> Iterator[Entry]:
    """Entries newest first, filtered: ``kind`` (comma-separated kinds), ``subject`` (a
    name or a shell-style pattern such as ``churn/*``), a time range (``since`` included,
    ``until`` excluded), ``before`` a sequence number (the cursor of the next page)."""
    kinds = {k.strip() for k in kind.split(",") if k.strip()} if kind else None
    found = 0
    for entry in read_backwards(path):
        if limit is not None and found >= limit:
            return
        if before is not None and entry.seq >= before:
            continue
        if kinds and entry.kind not in kinds:
            continue
        if subject and not fnmatchcase(entry.subject, subject):
            continue
        if since is not None or until is not None:
            try:
                when = entry.when
            except ValueError:
                continue
            if since is not None and when < since:
                continue
            if until is not None and when >= until:
                continue
        found += 1
        yield entry
