"""Data snapshots against ``md5sum`` and ``dvc add`` on the same bytes, in the same run.

Figures (issue #6): one large file (2 GiB by default) and a folder of many small files
(10,000 of 10 KiB by default):

- first snapshot with hard links (no second copy of the data), beside ``md5sum`` of the
  same bytes (target: at most 1.5x) and beside ``md5sum`` plus ``cp -al`` (the same hard
  links made by a C tool: the floor of hashing and linking), and with copies (DVC's
  default ``reflink,copy``);
- re-snapshot of unchanged data (target: 0.3 s or less), in the process that made the
  first one (a kernel's second ``%snapshot``) and in a fresh Python process, beside
  ``dvc add`` of the same unchanged data;
- DVC's own first ``dvc add``;
- the disk used by the cache with hard links (target: no second copy).

Sizes: ``python -m bench.bench_data --size-gib 0.5 --files 2000 --file-kib 10``, or the
variables ``BENCH_DATA_SIZE_GIB``, ``BENCH_DATA_FILES``, ``BENCH_DATA_FILE_KIB`` with
``python -m bench data``. The data is written under ``BENCH_DATA_DIR`` (default: the
system's temporary folder), which needs about twice its size free.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SIZE_GIB = float(os.environ.get("BENCH_DATA_SIZE_GIB", "2"))
FILES = int(os.environ.get("BENCH_DATA_FILES", "10000"))
FILE_KIB = int(os.environ.get("BENCH_DATA_FILE_KIB", "10"))
REPEATS = 5


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["DVC_NO_ANALYTICS"] = "1"
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def _run(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr[-2000:]}")
    return took


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _median(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    return statistics.median(_timed(fn) for _ in range(repeats))


def _write_big(path: Path, size: int) -> None:
    block = os.urandom(64 << 20)
    with path.open("wb") as handle:
        written = 0
        while written < size:
            n = min(len(block), size - written)
            handle.write(block[:n])
            # Vary the blocks so the file is not periodic.
            block = block[1:] + block[:1]
            written += n


def _write_small(folder: Path, count: int, size: int) -> None:
    for i in range(count):
        sub = folder / f"part-{i // 1000:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"{i:05d}.bin").write_bytes(os.urandom(size))


def _project(base: Path, name: str, source: Path, cache_type: str | None = None) -> Path:
    """A DVC project (``dvc init --no-scm``, DVC's ``cache.type`` set when given) holding
    ``source`` by hard link: the same bytes, no extra disk. Setting up is not timed, for
    DVC as for us."""
    root = base / name
    root.mkdir()
    target = root / source.name
    if source.is_dir():
        for path in source.rglob("*"):
            dest = target / path.relative_to(source)
            if path.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.link(path, dest)
    else:
        os.link(source, target)
    _run([sys.executable, "-m", "dvc", "init", "--quiet", "--no-scm"], root)
    if cache_type:
        _run([sys.executable, "-m", "dvc", "config", "cache.type", cache_type], root)
    return root


def _allocated(paths: list[Path]) -> int:
    """Bytes allocated on disk to the files below ``paths``, each inode counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for base in paths:
        for path in [base] if base.is_file() else base.rglob("*"):
            st = path.lstat()
            if path.is_file() and not path.is_symlink() and (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


_FRESH = """
import sys, time
start = time.perf_counter()
from jupyter_mlops import settings
from jupyter_mlops.data.service import DataService
r = DataService(settings.resolve(sys.argv[1])).snapshot([sys.argv[2]])
assert not r.paths[0].changed and r.paths[0].hashed_bytes == 0, r
print(time.perf_counter() - start)
"""


def _case(base: Path, label: str, source: Path, baseline: list[str]) -> dict[str, float]:
    from jupyter_mlops import settings
    from jupyter_mlops.data.service import DataService

    name = source.name
    figures: dict[str, float] = {}
    _run(baseline, base)  # page cache warm for everyone
    # The machine is shared: md5sum, cp -al and first snapshots alternate, medians of three.
    # `cp -al` hard-links the same files (what the cache adds to the hashing, done in C).
    md5sums, links, firsts = [], [], []
    for i in range(3):
        md5sums.append(_timed(lambda: _run(baseline, base)))
        links.append(_run(["cp", "-al", str(source), str(base / f"{label}-cp-al-{i}")], base))
        linked = _project(base, f"{label}-hardlink-{i}", source, "hardlink")
        service = DataService(settings.resolve(linked))
        firsts.append(_timed(lambda: service.snapshot([name])))  # noqa: B023
    md5sum, first = statistics.median(md5sums), statistics.median(firsts)
    link = statistics.median(links)
    figures[f"{label}: md5sum of the same bytes (s)"] = md5sum
    figures[f"{label}: cp -al of the same files (s)"] = link
    figures[f"{label}: first snapshot, hardlink (s)"] = first
    figures[f"{label}: first snapshot / md5sum (x)"] = first / md5sum
    figures[f"{label}: first snapshot / (md5sum + cp -al) (x)"] = first / (md5sum + link)
    # The hashing phase on its own (nothing remembered, nothing cached), against md5sum.
    hashing = statistics.median(
        _timed(lambda i=i: _hash_only(source, base / f"{label}-hashes-{i}.db")) for i in range(3)
    )
    figures[f"{label}: hashing alone, DVC's md5s (s)"] = hashing
    figures[f"{label}: hashing alone / md5sum (x)"] = hashing / md5sum
    data_bytes = _allocated([linked / name])
    cache_bytes = _allocated([linked / name, linked / ".dvc" / "cache"])
    figures[f"{label}: disk added by the cache, hardlink (MiB)"] = (cache_bytes - data_bytes) / (
        1 << 20
    )

    def again() -> None:
        result = service.snapshot([name])
        if result.paths[0].changed or result.paths[0].hashed_bytes:
            raise RuntimeError(f"unchanged data was read again: {result}")

    figures[f"{label}: re-snapshot unchanged, same process (s)"] = _median(again)
    fresh = [sys.executable, "-c", _FRESH, str(linked), name]
    figures[f"{label}: re-snapshot unchanged, fresh process (s)"] = statistics.median(
        _run(fresh, base) for _ in range(3)
    )

    copied = _project(base, f"{label}-copy", source)
    figures[f"{label}: first snapshot, copy (s)"] = _timed(
        lambda: DataService(settings.resolve(copied)).snapshot([name])
    )

    theirs = _project(base, f"{label}-dvc", source)
    dvc_add = [sys.executable, "-m", "dvc", "add", "--quiet", name]
    figures[f"{label}: dvc add, first (s)"] = _run(dvc_add, theirs)
    figures[f"{label}: dvc add, unchanged (s)"] = statistics.median(
        _run(dvc_add, theirs) for _ in range(3)
    )
    if (theirs / f"{name}.dvc").read_text() != (linked / f"{name}.dvc").read_text():
        raise RuntimeError(f"{label}: the .dvc files of dvc add and the snapshot differ")
    for project in [*base.glob(f"{label}-*")]:
        if project.is_dir():
            shutil.rmtree(project, onerror=_writable)
        else:
            project.unlink()
    return figures


def _hash_only(source: Path, db: Path) -> None:
    from jupyter_mlops.data.hashing import HashCache, hash_path

    hash_path(source, root=source.parent, cache=HashCache(db))


def _writable(function: Callable[..., object], path: str, _exc: object) -> None:
    os.chmod(os.path.dirname(path), 0o755)
    function(path)


def _import_dvc() -> None:
    import importlib

    for name in ("dvc.config", "dvc.lock", "dvc.utils.serialize", "dvc_data.hashfile.state"):
        importlib.import_module(name)


def run(
    size_gib: float | None = None, files: int | None = None, file_kib: int | None = None
) -> dict[str, float]:
    size = int((size_gib if size_gib is not None else SIZE_GIB) * (1 << 30))
    count = files if files is not None else FILES
    small = (file_kib if file_kib is not None else FILE_KIB) << 10
    figures: dict[str, float] = {
        "large file (GiB)": size / (1 << 30),
        "small files": float(count),
        "small file size (KiB)": small / 1024,
    }
    # DVC's libraries are imported once per process (a kernel's first %snapshot pays it);
    # the first snapshots below are timed without it, and it is shown on its own.
    figures["importing DVC's libraries, once per process (s)"] = _timed(_import_dvc)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DATA_DIR")) as tmp:
        base = Path(tmp)
        source = base / "source"
        source.mkdir()
        big = source / "big.bin"
        _write_big(big, size)
        many = source / "many"
        _write_small(many, count, small)
        time.sleep(0.2)  # the newest files' time stamps settle
        figures.update(_case(base, "large file", big, ["md5sum", str(big)]))
        figures.update(
            _case(
                base,
                "small files",
                many,
                ["find", str(many), "-type", "f", "-exec", "md5sum", "{}", "+"],
            )
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_data")
    parser.add_argument("--size-gib", type=float, default=SIZE_GIB, help="The large file.")
    parser.add_argument("--files", type=int, default=FILES, help="How many small files.")
    parser.add_argument("--file-kib", type=int, default=FILE_KIB, help="Each small file.")
    args = parser.parse_args()
    for label, value in run(args.size_gib, args.files, args.file_kib).items():
        print(f"  {label:<58} {value:10.3f}")


if __name__ == "__main__":
    main()
