"""The command every exported job starts with: ``python -m jupyter_mlops.job JOB_DIR
[-p NAME VALUE]...`` (the image's ENTRYPOINT, the orchestrators' manifests, ``jupyter mlops
run``). Only the launcher, kept at this short, stable module path that generated files
name; what it runs is the job runner, :mod:`jupyter_mlops.export.job` (parameter checks,
papermill, the output notebook, the job's run). Not the server's jobs slice
(:mod:`jupyter_mlops.jobs`: routes and service that export, build and start jobs)."""

from __future__ import annotations

import sys

from .export.job import main

if __name__ == "__main__":
    sys.exit(main())
