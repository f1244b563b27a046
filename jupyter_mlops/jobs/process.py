"""The process that watches one job execution started by the server and records its end.

``python -m jupyter_mlops.jobs.process RECORD -- COMMAND...`` runs ``COMMAND``
(``jupyter mlops run ...``) once the server has closed its stdin (the record then names
this process), in the same process group, and writes the outcome into the
execution's record (``<state>/jobs/executions/<id>.json``) when it exits. It lives in
that process group, not in the server, so a job that outlives its server (the server
killed, restarted) still gets its true outcome recorded; the server only reads records.
Signals for the group (Stop sends SIGINT) reach the job; this process waits for it.
"""

from __future__ import annotations

import datetime
import signal
import subprocess
import sys
from pathlib import Path

from ..statefiles import read_json, write_json

#: The job entrypoint's exit codes (``export/job.py``) as execution states.
EXIT_STATUS = {
    0: "succeeded",
    2: "invalid",
    130: "killed",
    143: "killed",
    -2: "killed",
    -15: "killed",
}


def status_of(code: int) -> str:
    return EXIT_STATUS.get(code, "failed")


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def finish(record: Path, code: int) -> None:
    """Write the outcome into the record, and drop the parameters file it names."""
    data = read_json(record) or {}
    data.update(status=status_of(code), exit_code=code, ended_at=now())
    write_json(record, data)
    params = data.get("params_file")
    if isinstance(params, str):
        (record.parent / params).unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m jupyter_mlops.jobs.process RECORD -- COMMAND...")
        return 2
    record, command = Path(argv[0]), argv[2:]
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        # For the job: this process outlasts it. (A handler, not SIG_IGN: the job starts
        # with the default action, as a handler does not survive exec.)
        signal.signal(sig, _ignore)
    sys.stdin.buffer.read()  # the server closes it once the record names this process
    try:
        job = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
        )
    except OSError as exc:
        print(f"jupyter-mlops: cannot start the job: {exc}", flush=True)
        finish(record, 1)
        return 1
    code = job.wait()
    finish(record, code)
    return code if code >= 0 else 128 - code


def _ignore(signum: int, frame: object) -> None:
    pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
