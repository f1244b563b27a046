"""The audit trail: its hash chain, each kind of tampering named, several processes writing
at once, the CLI's exit codes and the routes through the server."""

from __future__ import annotations

import hashlib
import itertools
import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_mlops import audit
from jupyter_mlops.audit import service
from jupyter_mlops.audit.trail import GENESIS, canonical


def _trail(root: Path) -> Path:
    return root / ".mlops" / "audit.jsonl"


def _write(root: Path, n: int) -> list[audit.Entry]:
    return [
        audit.record(
            audit.EXPORT if i % 2 else audit.SNAPSHOT,
            f"job{i % 3}",
            root=root,
            notebook_sha256="ab" * 32,
            parameters={"alpha": i / 10, "n": i},
            path=root / f"f{i}",
        )
        for i in range(n)
    ]


def _lines(root: Path) -> list[str]:
    return _trail(root).read_text(encoding="utf-8").splitlines(keepends=True)


def _save(root: Path, lines: list[str]) -> None:
    _trail(root).write_text("".join(lines), encoding="utf-8")


def _rehash(line: str, **change: object) -> str:
    """``line`` changed and given a correct hash of its own (a forger's edit)."""
    data = json.loads(line)
    data.update(change)
    data.pop("hash")
    data["hash"] = hashlib.sha256(canonical(data)).hexdigest()
    return canonical(data).decode() + "\n"


def test_entries_chain_and_verify(tmp_path: Path) -> None:
    entries = _write(tmp_path, 5)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev == GENESIS
    assert all(b.prev == a.hash for a, b in itertools.pairwise(entries))
    lines = _lines(tmp_path)
    stored = json.loads(lines[2])
    assert stored == entries[2].to_json()
    assert stored["what"]["path"] == str(tmp_path / "f2")  # paths kept as text
    body = {k: v for k, v in stored.items() if k != "hash"}
    assert hashlib.sha256(canonical(body)).hexdigest() == stored["hash"]
    assert stored["who"] == audit.current_user()
    assert stored["time"].endswith("Z")
    result = service.verify(_trail(tmp_path))
    assert (result.intact, result.entries, result.head) == (True, 5, entries[-1].hash)
    assert (tmp_path / ".mlops" / ".gitignore").is_file()
    assert _trail(tmp_path).stat().st_mode & 0o077 == 0


def test_an_empty_or_missing_trail_is_intact(tmp_path: Path) -> None:
    assert service.verify(_trail(tmp_path)).intact
    assert list(service.entries(_trail(tmp_path))) == []


def _tampered(tmp_path: Path, change) -> service.BadEntry:  # type: ignore[no-untyped-def]
    _write(tmp_path, 6)
    lines = _lines(tmp_path)
    _save(tmp_path, change(lines))
    result = service.verify(_trail(tmp_path))
    assert not result.intact
    assert result.first_bad is not None
    return result.first_bad


def test_an_edited_entry_is_named(tmp_path: Path) -> None:
    bad = _tampered(tmp_path, lambda ls: [*ls[:2], ls[2].replace('"n":2', '"n":7'), *ls[3:]])
    assert (bad.seq, bad.line, bad.reason) == (3, 3, "edited")
    assert "entry 3" in bad.message


def test_an_edited_entry_with_a_recomputed_hash_is_named(tmp_path: Path) -> None:
    bad = _tampered(tmp_path, lambda ls: [*ls[:2], _rehash(ls[2], who="mallory"), *ls[3:]])
    assert (bad.seq, bad.reason) == (3, "edited")
    assert "entry 4" in bad.message  # the entry that recorded its true hash


def test_a_space_added_is_an_edit(tmp_path: Path) -> None:
    bad = _tampered(tmp_path, lambda ls: [ls[0], ls[1].replace(",", ", ", 1), *ls[2:]])
    assert (bad.seq, bad.reason) == (2, "edited")


def test_a_removed_entry_is_named(tmp_path: Path) -> None:
    bad = _tampered(tmp_path, lambda ls: [*ls[:3], *ls[4:]])
    assert (bad.seq, bad.line, bad.reason) == (5, 4, "removed")
    assert "entry 4" in bad.message


def test_removed_entries_at_the_start_are_named(tmp_path: Path) -> None:
    bad = _tampered(tmp_path, lambda ls: ls[2:])
    assert (bad.seq, bad.line, bad.reason) == (3, 1, "removed")
    assert "entries 1 to 2" in bad.message


def test_an_inserted_entry_is_named(tmp_path: Path) -> None:
    def insert(ls: list[str]) -> list[str]:
        forged = _rehash(ls[2], subject="forged", seq=3, prev=json.loads(ls[1])["hash"])
        return [*ls[:2], forged, *ls[2:]]

    bad = _tampered(tmp_path, insert)
    assert (bad.seq, bad.line, bad.reason) == (3, 3, "inserted")


def test_an_inserted_line_without_a_hash_is_named(tmp_path: Path) -> None:
    bad = _tampered(tmp_path, lambda ls: [*ls[:2], ls[1].replace("job", "JOB"), *ls[2:]])
    assert (bad.line, bad.reason) == (3, "edited")


def test_reordered_entries_are_named(tmp_path: Path) -> None:
    bad = _tampered(tmp_path, lambda ls: [*ls[:2], ls[3], ls[2], *ls[4:]])
    assert (bad.seq, bad.line, bad.reason) == (4, 3, "reordered")
    assert "entry 3" in bad.message


def test_a_truncated_last_line_is_named_and_nothing_is_appended(tmp_path: Path) -> None:
    bad = _tampered(tmp_path, lambda ls: [*ls[:5], ls[5][:40]])
    assert (bad.line, bad.reason) == (6, "unreadable")
    assert "cut short" in bad.message
    before = _trail(tmp_path).read_bytes()
    with pytest.raises(audit.AuditError, match="incomplete entry"):
        audit.record(audit.EXPORT, "x", root=tmp_path)
    assert _trail(tmp_path).read_bytes() == before  # never repaired


def test_a_garbage_line_is_named(tmp_path: Path) -> None:
    bad = _tampered(tmp_path, lambda ls: [*ls[:1], "not json\n", *ls[1:]])
    assert (bad.seq, bad.line, bad.reason) == (None, 2, "unreadable")


def test_a_cut_off_end_is_found_with_the_hash_kept_elsewhere(tmp_path: Path) -> None:
    entries = _write(tmp_path, 4)
    assert service.verify(_trail(tmp_path), expect=entries[-1].hash).intact
    _save(tmp_path, _lines(tmp_path)[:3])
    result = service.verify(_trail(tmp_path), expect=entries[-1].hash)
    assert result.first_bad is not None
    assert (result.first_bad.seq, result.first_bad.reason) == (4, "removed")


def test_bad_kind_and_unwritable_trail_are_loud(tmp_path: Path) -> None:
    with pytest.raises(audit.AuditError, match="lowercase"):
        audit.record("Export Now", "x", root=tmp_path)
    (tmp_path / ".mlops").mkdir()
    _trail(tmp_path).mkdir()  # a folder where the file should be
    with pytest.raises(audit.AuditError, match="Cannot open the audit trail"):
        audit.record(audit.EXPORT, "x", root=tmp_path)


def test_who_is_the_acting_user_within_acting_as(tmp_path: Path) -> None:
    with audit.acting_as("alice"):
        inner = audit.record(audit.EXPORT, "x", root=tmp_path)
    outer = audit.record(audit.EXPORT, "x", root=tmp_path, who="bob")
    assert (inner.who, outer.who) == ("alice", "bob")


def test_filters_newest_first(tmp_path: Path) -> None:
    entries = _write(tmp_path, 9)
    path = _trail(tmp_path)
    assert [e.seq for e in service.entries(path)] == list(range(9, 0, -1))
    assert [e.seq for e in service.entries(path, kind="export")] == [8, 6, 4, 2]
    assert [e.seq for e in service.entries(path, kind="export,snapshot", limit=3)] == [9, 8, 7]
    assert [e.seq for e in service.entries(path, subject="job1")] == [8, 5, 2]
    assert [e.seq for e in service.entries(path, subject="job[12]", before=5)] == [3, 2]
    since = entries[6].when
    assert [e.seq for e in service.entries(path, since=since)] == [9, 8, 7]
    assert [e.seq for e in service.entries(path, until=since)] == [6, 5, 4, 3, 2, 1]


def test_entries_longer_than_a_read_chunk_are_read_back(tmp_path: Path) -> None:
    written = [
        audit.record(audit.BUILD, f"s{i}", root=tmp_path, pad="y" * i * 1500) for i in range(20)
    ]
    assert [e.seq for e in service.entries(_trail(tmp_path))] == list(range(20, 0, -1))
    assert next(service.entries(_trail(tmp_path))) == written[-1]
    assert audit.record(audit.BUILD, "next", root=tmp_path).prev == written[-1].hash


def _append_many(root: str, worker: int, count: int) -> None:
    for i in range(count):
        audit.record(audit.JOB_RUN_END, f"w{worker}", root=root, i=i, pad="x" * (i * 37 % 900))


def test_several_processes_append_at_once(tmp_path: Path) -> None:
    workers, count = 6, 150
    context = multiprocessing.get_context("spawn")
    procs = [
        context.Process(target=_append_many, args=(str(tmp_path), w, count)) for w in range(workers)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    result = service.verify(_trail(tmp_path))
    assert result.intact, result.first_bad
    assert result.entries == workers * count
    seen = {(e.subject, e.what["i"]) for e in service.entries(_trail(tmp_path))}
    assert seen == {(f"w{w}", i) for w in range(workers) for i in range(count)}


# -- the CLI -------------------------------------------------------------------------------
def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_MLOPS_")}
    return subprocess.run(
        [sys.executable, "-m", "jupyter_mlops", "audit", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_verify_and_show(tmp_path: Path) -> None:
    entries = _write(tmp_path, 5)
    done = _cli("verify", "--root", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "intact: 5 entries" in done.stdout
    assert entries[-1].hash in done.stdout

    done = _cli("show", "--kind", "export", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [e["seq"] for e in json.loads(done.stdout)] == [4, 2]
    done = _cli("show", "--subject", "job0", "--since", entries[2].time, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [line.split()[0] for line in done.stdout.splitlines()] == ["4"]

    lines = _lines(tmp_path)
    _save(tmp_path, [*lines[:1], *lines[2:]])
    done = _cli("verify", cwd=tmp_path)
    assert done.returncode == 1
    assert "BROKEN" in done.stdout
    assert "removed" in done.stdout
    assert "entry 3" in done.stdout
    done = _cli("verify", "--json", cwd=tmp_path)
    assert done.returncode == 1
    answer = json.loads(done.stdout)
    assert answer["intact"] is False
    assert answer["first_bad"]["seq"] == 3
    assert answer["first_bad"]["reason"] == "removed"
    assert _lines(tmp_path) == [*lines[:1], *lines[2:]]  # verify changed nothing


def test_cli_refuses_bad_input(tmp_path: Path) -> None:
    done = _cli("show", "--since", "yesterday", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("jupyter mlops: error: --since 'yesterday'")
    done = _cli("show", "--limit", "0", cwd=tmp_path)
    assert done.returncode == 2
    done = _cli("verify", "--root", str(tmp_path / "missing"), cwd=tmp_path)
    assert done.returncode == 2
    assert "not an existing folder" in done.stderr


# -- the routes ----------------------------------------------------------------------------
async def test_routes_list_page_and_verify(fetch_json, jp_root_dir: Path) -> None:
    root = Path(jp_root_dir)
    _write(root, 7)
    status, body = await fetch_json("audit", params={"limit": "3"})
    assert status == 200, body
    assert [e["seq"] for e in body["entries"]] == [7, 6, 5]
    assert body["next_cursor"] == 5
    status, body = await fetch_json("audit", params={"limit": "3", "cursor": "5"})
    assert [e["seq"] for e in body["entries"]] == [4, 3, 2]
    assert body["next_cursor"] == 2
    status, body = await fetch_json("audit", params={"cursor": "2"})
    assert [e["seq"] for e in body["entries"]] == [1]
    assert body["next_cursor"] is None
    status, body = await fetch_json("audit", params={"kind": "snapshot", "subject": "job0"})
    assert [e["seq"] for e in body["entries"]] == [7, 1]

    status, body = await fetch_json("audit/verify")
    assert status == 200
    assert body["intact"] is True
    assert body["entries"] == 7
    assert body["first_bad"] is None

    lines = _lines(root)
    _save(root, [*lines[:4], lines[4].replace("job", "JOB"), *lines[5:]])
    status, body = await fetch_json("audit/verify")
    assert status == 200
    assert body["intact"] is False
    assert body["first_bad"]["seq"] == 5
    assert body["first_bad"]["reason"] == "edited"


async def test_routes_refuse_bad_queries(fetch_json) -> None:
    for params in ({"since": "soon"}, {"limit": "0"}, {"cursor": "x"}, {"what": "1"}):
        status, body = await fetch_json("audit", params=params)
        assert status == 400, (params, body)
        assert body["code"] == "invalid_query"
    status, body = await fetch_json("audit/verify", params={"fix": "1"})
    assert status == 400
