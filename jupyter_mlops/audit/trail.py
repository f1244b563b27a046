"""The audit trail's file: an append-only, hash-chained JSON Lines log in the state folder.

Each line is one entry, written as canonical JSON (keys sorted, no spaces, UTF-8): ``seq``,
``time`` (UTC ISO 8601), ``kind``, ``subject``, ``who``, ``what``, ``prev`` (the previous
entry's ``hash``; 64 zeros for the first) and ``hash``, the sha256 of the canonical JSON of
the entry without ``hash``. Since ``hash`` sorts first, the hashed bytes are the line itself
with its ``"hash":"…",`` member cut out: verifying needs no re-serialisation, and any byte
changed in a line, even a space, breaks it.

Several processes append at once (the server, kernels, jobs): each append holds an exclusive
``fcntl.flock`` on the file while it reads the last entry (seeking back from the end, never
reading the whole file) and writes its line in one ``write`` to a file opened ``O_APPEND``.
A file whose end is damaged (a last line cut short, an entry that is not JSON) is refused,
never repaired: :class:`AuditError` says so and ``audit verify`` names the entry.

Stdlib only: the job image's entrypoint imports this module.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import state
from ..errors import MlopsError

FILE_NAME = "audit.jsonl"
GENESIS = "0" * 64
_HEAD = b'{"hash":"'
_HASH_END = len(_HEAD) + 64
_FIELDS = ("seq", "time", "kind", "subject", "who", "what", "prev")
_KIND = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
_CHUNK = 8192


class AuditError(MlopsError):
    """The audit trail cannot be written or read (its file is damaged or unwritable).

    Answered as 503: the action it was recording has happened, but its record has not."""

    status = 503
    code = "audit_unavailable"


@dataclass(frozen=True)
class Entry:
    """One entry of the trail, as stored."""

    seq: int
    time: str
    kind: str
    subject: str
    who: str
    what: dict[str, Any] = field(default_factory=dict)
    prev: str = GENESIS
    hash: str = ""

    def body(self) -> dict[str, Any]:
        """The entry without its hash: what the hash is computed over."""
        return {name: getattr(self, name) for name in _FIELDS}

    def to_json(self) -> dict[str, Any]:
        return {**self.body(), "hash": self.hash}

    @property
    def when(self) -> datetime:
        return parse_time(self.time)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        return cls(**{name: data[name] for name in (*_FIELDS, "hash")})


def canonical(data: Any) -> bytes:
    """The canonical JSON of ``data``: sorted keys, no whitespace, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(body)).hexdigest()


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """An ISO 8601 time; one without a zone is taken as UTC."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def jsonable(what: dict[str, Any]) -> dict[str, Any]:
    """``what`` as JSON gives it back (paths and other objects as strings), so that the
    hash of the stored entry is the hash of what was written."""
    loaded = json.loads(json.dumps(what, default=str, ensure_ascii=False))
    if not isinstance(loaded, dict):
        raise TypeError("an audit entry's 'what' must be a mapping")
    return loaded


def append(path: Path, kind: str, subject: str, who: str, what: dict[str, Any]) -> Entry:
    """Append one entry to the trail at ``path`` (created owner-only if missing)."""
    if not _KIND.match(kind):
        raise AuditError(f"Audit kind {kind!r} is not a lowercase name.", code="audit_kind")
    data = jsonable(what)
    try:
        fd = state.open_fd(path, os.O_RDWR | os.O_APPEND)
    except FileNotFoundError:
        state.ensure(path.parent)
        fd = state.open_fd(path, os.O_RDWR | os.O_APPEND)
    except OSError as exc:
        raise AuditError(f"Cannot open the audit trail {path}: {exc.strerror}.") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        last = _last_entry(fd, path)
        body: dict[str, Any] = {
            "seq": last.seq + 1 if last else 1,
            "time": now(),
            "kind": kind,
            "subject": str(subject),
            "who": who,
            "what": data,
            "prev": last.hash if last else GENESIS,
        }
        digest = entry_hash(body)
        line = canonical({**body, "hash": digest}) + b"\n"
        try:
            written = os.write(fd, line)
        except OSError as exc:
            raise AuditError(f"Cannot write the audit trail {path}: {exc.strerror}.") from exc
        if written != len(line):
            raise AuditError(f"The audit trail {path} took only part of an entry (disk full?).")
        return Entry(**body, hash=digest)
    finally:
        os.close(fd)  # closing releases the lock


def _last_entry(fd: int, path: Path) -> Entry | None:
    """The last entry of the file, read from its end; None for an empty file."""
    size = os.fstat(fd).st_size
    if size == 0:
        return None
    line = next(_reverse_lines(fd, size), b"")
    if not line.endswith(b"\n"):
        raise AuditError(
            f"The audit trail {path} ends with an incomplete entry; nothing is appended to a "
            "damaged trail. Run 'jupyter mlops audit verify' and restore it from a copy.",
            code="audit_damaged",
        )
    try:
        return Entry.from_json(json.loads(line))
    except (ValueError, KeyError, TypeError) as exc:
        raise AuditError(
            f"The last entry of the audit trail {path} is not readable; nothing is appended "
            "to a damaged trail. Run 'jupyter mlops audit verify'.",
            code="audit_damaged",
        ) from exc


def _reverse_lines(fd: int, size: int) -> Iterator[bytes]:
    """The file's lines from the last to the first, each with its newline if it has one
    (only a cut last line has none), read backwards in chunks."""
    end = size
    buf = b""
    while end > 0:
        start = max(0, end - _CHUNK)
        buf = os.pread(fd, end - start, start) + buf
        end = start
        while True:
            # The newline that ends the line before the last one of ``buf``.
            cut = buf.rfind(b"\n", 0, len(buf) - 1)
            if cut < 0:
                break
            yield buf[cut + 1 :]
            buf = buf[: cut + 1]
    if buf:
        yield buf


def read_backwards(path: Path) -> Iterator[Entry]:
    """Every readable entry, newest first (unreadable lines are skipped: ``verify``
    reports them)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    with contextlib.closing(_Closer(fd)):
        for line in _reverse_lines(fd, os.fstat(fd).st_size):
            try:
                yield Entry.from_json(json.loads(line))
            except (ValueError, KeyError, TypeError):
                continue


class _Closer:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def close(self) -> None:
        os.close(self.fd)
