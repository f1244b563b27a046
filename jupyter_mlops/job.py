"""``python -m jupyter_mlops.job``: the entrypoint of every exported job (see
:mod:`jupyter_mlops.export.job`)."""

from __future__ import annotations

import sys

from .export.job import main

if __name__ == "__main__":
    sys.exit(main())
