"""The data journal's entries as one typed model (``data/journal.py``): each event writes the
line earlier versions wrote, lines of earlier versions (and hand-edited or cut ones) still
read, and the history and listing built from them with real DVC stay as they were."""

from __future__ import annotations

import json
import os
from pathlib import Path

from jupyter_mlops import settings as settings_mod
from jupyter_mlops.data.journal import Journal, JournalEntry
from jupyter_mlops.data.service import DataService

OLD = 1_600_000_000


def lines(state_dir: Path) -> list[dict[str, object]]:
    text = (state_dir / "data" / "journal.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_each_event_writes_the_line_earlier_versions_wrote(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    written = [
        journal.append(JournalEntry.snapshot("data", "a" * 32, size=4, nfiles=None)),
        journal.append(JournalEntry.committed("data", "a" * 32, "f" * 40)),
        journal.append(JournalEntry.push("data", "a" * 32, "storage", ok=True)),
        journal.append(JournalEntry.push("data", "a" * 32, None, ok=False, error="down")),
        journal.append(JournalEntry.restore("data", "a" * 32, "b" * 32, run_id=None)),
    ]
    found = lines(tmp_path)
    times = [line.pop("time") for line in found]
    assert all(isinstance(t, int) for t in times)
    assert [e.time for e in written] == times
    data = {"path": "data", "md5": "a" * 32}
    assert found == [
        {"event": "snapshot", **data, "size": 4, "nfiles": None, "message": None,
         "previous": None},
        {"event": "commit", **data, "commit": "f" * 40},
        {"event": "push", **data, "remote": "storage", "ok": True},
        {"event": "push", **data, "remote": None, "ok": False, "error": "down"},
        {"event": "restore", **data, "previous": "b" * 32, "run_id": None},
    ]  # fmt: skip
    assert journal.entries() == written
    assert journal.entries("other") == []
    assert [e.event for e in journal.entries("data")] == [
        "snapshot",
        "commit",
        "push",
        "push",
        "restore",
    ]


def test_lines_of_earlier_versions_and_broken_ones_still_read(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.file.write_text(
        "\n".join(
            [
                # As version 0.1 wrote them (sorted keys, nulls kept).
                '{"event": "snapshot", "md5": "1", "message": null, "nfiles": 2, '
                '"path": "data", "previous": null, "size": 10, "time": 5}',
                '{"event": "push", "md5": "1", "ok": true, "path": "data", "remote": "r", '
                '"time": 6}',
                # Hand-edited: fields of the wrong type read as absent; a later event as is.
                '{"event": "snapshot", "md5": 7, "path": "data", "size": "big", "time": "x"}',
                '{"event": "archived", "path": "data", "md5": "1", "where": "tape", "time": 8}',
                "[1, 2]",
                '{"event": "snapshot", "path": "da',  # an interrupted last write
            ]
        )
    )
    entries = journal.entries()
    assert entries == [
        JournalEntry("snapshot", "data", "1", time=5, size=10, nfiles=2),
        JournalEntry("push", "data", "1", time=6, remote="r", ok=True),
        JournalEntry("snapshot", "data"),
        JournalEntry("archived", "data", "1", time=8),
    ]
    # An event this version does not know is written back with what it has.
    assert entries[3].to_dict() == {"event": "archived", "time": 8, "path": "data", "md5": "1"}


def write(path: Path, text: str, when: int = OLD) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (when, when))
    return path


def test_history_and_listing_merge_an_earlier_journal_with_dvc(tmp_path: Path) -> None:
    """A journal with lines as earlier versions wrote them, a broken line and a push that
    failed, beside snapshots made now (real DVC, no git): the history merges them by
    version, the listing counts them."""
    root = tmp_path / "project"
    write(root / "data" / "a.csv", "x\n1\n")
    svc = DataService(settings_mod.resolve(root, tracking_uri=""))
    first = svc.snapshot(["data"], message="first").paths[0]
    write(root / "data" / "b.csv", "y\n2\n", OLD + 10)
    second = svc.snapshot(["data"], message="second").paths[0]
    state_dir = settings_mod.resolve(root, tracking_uri="").state_dir
    journal = state_dir / "data" / "journal.jsonl"
    failed = {"event": "push", "md5": first.md5, "ok": False, "path": "data", "remote": "r"}
    with journal.open("a") as f:
        f.write(json.dumps({**failed, "time": 1, "error": "down"}) + "\n")
        f.write('{"event": "push", "md5": "' + second.md5 + '", "ok": "yes", "path": "data"}\n')
        f.write("not json\n")

    history = svc.history("data")
    assert [(v.md5, v.message, v.nfiles, v.current) for v in history.versions] == [
        (second.md5, "second", 2, True),
        (first.md5, "first", 1, False),
    ]
    # A push that failed says so; one whose outcome cannot be read is not a success.
    assert [v.pushed for v in history.versions] == [False, False]
    listed = {p.path: p for p in svc.list_paths().paths}
    assert listed["data"].versions == 2
    assert listed["data"].md5 == second.md5
    assert listed["data"].pushed is False
    assert listed["data"].last_snapshot is not None
