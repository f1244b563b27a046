"""Drift checks: current data against a reference, by default the very DVC version a
model's training run read.

::

    result = jupyter_mlops.drift("run:3f2a...", "data/new_batch.csv", threshold=0.3)
    if result.drifted:
        ...

``reference``: ``"run:<id>"`` (``"run:<id>:<path>"`` when the run read several paths),
``"path@version"`` (a git revision of the path's ``.dvc`` file, or a DVC md5), a path (csv,
tsv, parquet, feather, json, jsonl, or a folder of them) or a DataFrame; ``current``
likewise. ``threshold``: the share of drifted columns at which the data counts as drifted.
Evidently (the ``drift`` extra) runs the tests; see :mod:`.check`, :mod:`.sources` for the
caching of reference versions and :mod:`.record` for what a tracked run and a job get.

This package is callable (``jupyter_mlops.drift(...)`` works whether the name is still the
package's lazy function or already this module).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .check import DEFAULT_THRESHOLD, ColumnDrift, DriftResult, drift
from .errors import DriftInputError, DriftUnavailable, NeedsEvidently

__all__ = [
    "DEFAULT_THRESHOLD",
    "ColumnDrift",
    "DriftInputError",
    "DriftResult",
    "DriftUnavailable",
    "NeedsEvidently",
    "drift",
]


class _CallableModule(types.ModuleType):
    """Importing this package replaces the attribute ``jupyter_mlops.drift`` (the lazy
    function) with the module: calling the module calls :func:`drift`."""

    def __call__(self, reference: Any, current: Any, **options: Any) -> DriftResult:
        return drift(reference, current, **options)


sys.modules[__name__].__class__ = _CallableModule
