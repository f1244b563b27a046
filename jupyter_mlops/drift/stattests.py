"""Evidently's large-data drift tests, with the reference's half computed once per version.

On a reference of more than 1,000 rows, Evidently tests each column with the normed
Wasserstein distance (numbers with more than five distinct values) or the Jensen-Shannon
distance (categories, and numbers with five values or fewer). Its own functions start from
both samples whole every time: they count the distinct values of both to choose the test,
then sort (or count) both. Checked batch after batch against one reference version, the
reference's half (its values sorted, its standard deviation, its value counts, how many
distinct values it has) never changes.

These are the same two tests, under Evidently's display names and default thresholds,
registered through its own extension point (``StatTest`` and ``register_stattest``) and
named per column in Evidently's ``ValueDrift`` metrics (see :mod:`.report`). They compute from a
:class:`ReferenceColumn` made once per reference version (kept with the profile, see
:mod:`.check`); :func:`choose` gives each column the test Evidently's own rule would give it.
Their scores equal Evidently's own functions' to rounding; ``tests/test_drift.py`` checks
this on generated data, ties, duplicates and infinities included.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

#: Evidently picks these tests when the reference has more rows than this.
LARGE = 1000
#: ... and Wasserstein for numbers with more distinct values than this (else Jensen-Shannon).
FEW_VALUES = 5

WASSERSTEIN = "jupyter_mlops.wasserstein"
JENSEN_SHANNON = "jupyter_mlops.jensenshannon"
DISPLAY = {
    WASSERSTEIN: "Wasserstein distance (normed)",
    JENSEN_SHANNON: "Jensen-Shannon distance",
}


@dataclass
class ReferenceColumn:
    """What the tests need of one reference column, after Evidently's own cleaning
    (infinities and missing values dropped)."""

    size: int
    distinct: int
    #: Numbers: the values sorted, and their standard deviation.
    ordered: Any = None
    std: float = 0.0
    #: Value counts (categories, and numbers with few values).
    counts: dict[Any, int] | None = None

    @classmethod
    def of(cls, series: Any, numerical: bool) -> ReferenceColumn:
        import numpy as np

        clean = _clean(series)
        if not numerical:
            counts = {k: int(v) for k, v in clean.value_counts().items()}
            return cls(size=len(clean), distinct=len(counts), counts=counts)
        ordered = np.sort(clean.to_numpy(dtype=float, copy=True))
        distinct = int(np.count_nonzero(np.diff(ordered))) + 1 if len(ordered) else 0
        made = cls(size=len(clean), distinct=distinct, ordered=ordered, std=float(np.std(clean)))
        if distinct <= FEW_VALUES:
            made.counts = {k: int(v) for k, v in clean.value_counts().items()}
        return made


_active: contextvars.ContextVar[dict[str, ReferenceColumn] | None] = contextvars.ContextVar(
    "jupyter_mlops_drift_reference", default=None
)


def reference_columns(
    frame: Any, numerical: list[str], categorical: list[str]
) -> dict[str, ReferenceColumn]:
    """Each column's :class:`ReferenceColumn`, for a reference frame."""
    made = {name: ReferenceColumn.of(frame[name], True) for name in numerical}
    made.update({name: ReferenceColumn.of(frame[name], False) for name in categorical})
    return made


def choose(
    reference: dict[str, ReferenceColumn], current: Any, numerical: list[str]
) -> dict[str, str]:
    """The name of the test Evidently's default rule picks per column (Wasserstein or
    Jensen-Shannon), as our tests; none on a reference of 1,000 rows or fewer, where
    Evidently's small-data tests (K-S, chi-square, Z) run as they are."""
    _register()
    chosen: dict[str, str] = {}
    for name, column in reference.items():
        if column.size <= LARGE:
            continue
        if name in numerical and _distinct_with(column, current[name]) > FEW_VALUES:
            chosen[name] = WASSERSTEIN
        else:
            chosen[name] = JENSEN_SHANNON
    return chosen


def display_name(test: str) -> str:
    """Evidently's name for a test, ours included."""
    return DISPLAY.get(test, test)


@contextlib.contextmanager
def kept(columns: dict[str, ReferenceColumn]) -> Iterator[None]:
    """Run Evidently's reports inside this so the tests find the reference's columns."""
    token = _active.set(columns)
    try:
        yield
    finally:
        _active.reset(token)


def _distinct_with(column: ReferenceColumn, current: Any) -> int:
    """Distinct values in reference and current together, as Evidently counts them to
    choose (only needed exactly when the reference alone has few)."""
    if column.distinct > FEW_VALUES:
        return column.distinct
    assert column.counts is not None
    return len(set(column.counts) | set(_clean(current).unique()))


def _clean(series: Any) -> Any:
    import numpy as np

    return series.replace([-np.inf, np.inf], np.nan).dropna()


def _reference(series: Any, numerical: bool) -> ReferenceColumn:
    """The reference column kept for the running report; made here when there is none, or when
    Evidently passes other values than it was made from."""
    column = (_active.get() or {}).get(str(series.name))
    if (
        column is None
        or column.size != len(series)
        or (column.ordered if numerical else column.counts) is None
    ):
        return ReferenceColumn.of(series, numerical)
    return column


def _wasserstein(reference: Any, current: Any, feature_type: Any, threshold: float):
    """Evidently's ``wasserstein``: the first Wasserstein distance over the reference's
    standard deviation (at least 0.001); drifted at or above the threshold.

    The distance is the area between the two empirical distribution functions (as in
    ``scipy.stats.wasserstein_distance``): both samples sorted and merged, the functions'
    gap times the width of each step. A stable merge counts each sample's values up to a
    point; where values tie the step is zero wide, so ties need no care."""
    import numpy as np

    column = _reference(reference, True)
    values = np.concatenate([column.ordered, np.sort(current.to_numpy(dtype=float))])
    order = np.argsort(values, kind="stable")
    from_reference = order < column.size
    gap = np.cumsum(from_reference)[:-1] / column.size - np.cumsum(~from_reference)[:-1] / (
        len(values) - column.size
    )
    score = float(np.sum(np.abs(gap) * np.diff(values[order]))) / max(column.std, 0.001)
    return score, score >= threshold


def _jensen_shannon(reference: Any, current: Any, feature_type: Any, threshold: float):
    """Evidently's ``jensenshannon`` on values (not bins): each value's share in either
    sample, compared by ``scipy.spatial.distance.jensenshannon``."""
    import numpy as np
    from scipy.spatial import distance as scipy_distance

    column = _reference(reference, False)
    counts = column.counts or {}
    now = {k: int(v) for k, v in current.value_counts().items()}
    keys = list(set(counts) | set(now))
    ours = np.array([counts.get(k, 0) / column.size for k in keys])
    theirs = np.array([now.get(k, 0) / len(current) for k in keys])
    score = float(scipy_distance.jensenshannon(ours, theirs))
    return score, score >= threshold


_registered: list[str] = []


def _register() -> None:
    """Our two tests, registered with Evidently once per process."""
    if _registered:
        return
    from evidently.legacy.calculations.stattests import StatTest, register_stattest
    from evidently.legacy.core import ColumnType

    numbers, categories = [ColumnType.Numerical], [ColumnType.Categorical, ColumnType.Numerical]
    for name, types, func in (
        (WASSERSTEIN, numbers, _wasserstein),
        (JENSEN_SHANNON, categories, _jensen_shannon),
    ):
        test = StatTest(
            name=name,
            display_name=DISPLAY[name],
            allowed_feature_types=types,
            default_threshold=0.1,  # Evidently's, for both
        )
        register_stattest(test, func)
        _registered.append(name)
