"""The drift check itself: Evidently's ``ValueDrift`` on each column of two frames, read
back as one result code can branch on.

Evidently chooses each column's test from its type and size (K-S or chi-square on small
data, Wasserstein or Jensen-Shannon distance on large); we say the type explicitly in the
data definition (numbers are numerical, everything else categorical; dates are left out),
so a numeric code column is never guessed categorical in one batch and numerical in the
next. On large data the two tests are Evidently's, computed with the reference's half kept
(see :mod:`.stattests`).

The report holds one ``ValueDrift`` per column (see :mod:`.report`), the metrics
Evidently's data drift preset is made of. The preset itself is not used: on top of them it
computes every column's drift twice more (once to count the drifted columns, once for its
summary table), each time with everything but the test itself done again for reference and
current. At a million rows that is two thirds of its time. The share is the same count the
preset's ``DriftedColumnsCount`` makes: drifted columns over columns, drifted at or above
the threshold.

Evidently's profile of a reference version (its ``Dataset`` of each column, and each
column's part of the tests) is kept in this process beside the frame, keyed by the
version's md5 and the columns compared.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from . import report, stattests
from .errors import DriftInputError, NeedsEvidently
from .sources import MEMORY_ENTRIES, Source, load

#: Evidently's own default: the data drifted when at least half its columns did.
DEFAULT_THRESHOLD = 0.5
_profiles: OrderedDict[tuple[str, tuple[str, ...], tuple[str, ...]], Any] = OrderedDict()
stats = {"profiles": 0, "profile_hits": 0}


@dataclass
class ColumnDrift:
    score: float
    drifted: bool
    test: str
    test_threshold: float | None
    kind: str  # 'numerical' or 'categorical'

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "drifted": self.drifted,
            "test": self.test,
            "test_threshold": self.test_threshold,
            "kind": self.kind,
        }


@dataclass
class DriftResult:
    """What :func:`drift` found: ``drifted`` (the share of drifted columns reached
    ``threshold``), ``share``, and per column the score, the verdict and the test used."""

    drifted: bool
    share: float
    threshold: float
    columns: dict[str, ColumnDrift]
    reference: str
    current: str
    #: The DVC md5 of the reference and of the current data, when they are DVC versions.
    reference_version: str | None = None
    current_version: str | None = None
    _snapshot: Any = field(default=None, repr=False, compare=False)
    _html: str | None = field(default=None, repr=False, compare=False)

    @property
    def drifted_columns(self) -> list[str]:
        return [name for name, column in self.columns.items() if column.drifted]

    @property
    def report_html(self) -> str:
        """Evidently's own report, as one HTML page (rendered on first use)."""
        if self._html is None:
            self._html = self._snapshot.get_html_str(as_iframe=False) if self._snapshot else ""
        return self._html

    def to_dict(self) -> dict[str, Any]:
        return {
            "drifted": self.drifted,
            "share": self.share,
            "threshold": self.threshold,
            "reference": self.reference,
            "current": self.current,
            "reference_version": self.reference_version,
            "current_version": self.current_version,
            "drifted_columns": self.drifted_columns,
            "columns": {name: column.to_dict() for name, column in self.columns.items()},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def __bool__(self) -> bool:  # `if drift(...):` reads as "if it drifted"
        return self.drifted

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(
            f"<tr><td>{escape(name)}</td><td>{escape(c.test)}</td><td>{c.score:.4g}</td>"
            f"<td>{'drifted' if c.drifted else 'ok'}</td></tr>"
            for name, c in self.columns.items()
        )
        verdict = "drifted" if self.drifted else "no drift"
        return (
            f"<p><b>{verdict}</b>: {self.share:.0%} of columns drifted (threshold "
            f"{self.threshold:.0%}), {escape(self.current)} against {escape(self.reference)}"
            "</p><table><tr><th>column</th><th>test</th><th>score</th><th>verdict</th></tr>"
            f"{rows}</table>"
        )


def drift(reference: Any, current: Any, *, threshold: float = DEFAULT_THRESHOLD) -> DriftResult:
    """Compare ``current`` data with ``reference``; see :mod:`jupyter_mlops.drift`."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise DriftInputError(f"The threshold must be a share from 0 to 1, not {threshold!r}.")
    if not 0 < float(threshold) <= 1:
        raise DriftInputError(
            f"The threshold must be a share above 0 and up to 1, not {threshold}."
        )
    _evidently_quiet()
    ref = load(reference, "reference")
    cur = load(current, "current")
    numerical, categorical = _columns(ref, cur)
    result = _run(ref, cur, numerical, categorical, float(threshold))
    from .record import record

    record(result)
    return result


def _columns(ref: Source, cur: Source) -> tuple[list[str], list[str]]:
    """The columns to compare, split by type; errors name what does not fit."""
    import pandas as pd

    for source, role in ((ref, "reference"), (cur, "current")):
        if len(source.frame) == 0 or len(source.frame.columns) == 0:
            raise DriftInputError(f"The {role} data ({source.label}) is empty.")
    a, b = [str(c) for c in ref.frame.columns], [str(c) for c in cur.frame.columns]
    if set(a) != set(b):
        missing = sorted(set(a) - set(b))
        extra = sorted(set(b) - set(a))
        parts = []
        if missing:
            parts.append(f"missing in the current data: {', '.join(missing)}")
        if extra:
            parts.append(f"not in the reference: {', '.join(extra)}")
        raise DriftInputError("The columns differ: " + "; ".join(parts) + ".")
    numerical, categorical = [], []
    for name in a:
        kinds = {_kind(frame[name], pd) for frame in (ref.frame, cur.frame)}
        if len(kinds) > 1:
            raise DriftInputError(
                f"Column {name} is {_kind(ref.frame[name], pd)} in the reference but "
                f"{_kind(cur.frame[name], pd)} in the current data."
            )
        kind = kinds.pop()
        for frame, role in ((ref.frame, "reference"), (cur.frame, "current data")):
            if kind != "datetime" and not _has_values(frame[name], kind == "numerical"):
                raise DriftInputError(
                    f"Column {name} has no values in the {role} (all missing or infinite)."
                )
        if kind == "numerical":
            numerical.append(name)
        elif kind == "categorical":
            categorical.append(name)
    if not numerical and not categorical:
        raise DriftInputError("No column to compare (only dates or empty columns).")
    return numerical, categorical


def _has_values(series: Any, numerical: bool) -> bool:
    """Anything left once Evidently drops missing and infinite values."""
    import numpy as np

    if numerical:
        return bool(np.isfinite(series.to_numpy(dtype=float, na_value=np.nan)).any())
    return bool(series.notna().any())


def _kind(series: Any, pd: Any) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "categorical"
    if pd.api.types.is_numeric_dtype(series):
        return "numerical"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    return "categorical"


def _run(
    ref: Source, cur: Source, numerical: list[str], categorical: list[str], threshold: float
) -> DriftResult:
    try:
        import evidently  # noqa: F401
    except ImportError as exc:
        raise NeedsEvidently(
            f"Drift checks need Evidently: pip install 'jupyter-mlops[drift]' ({exc})."
        ) from None
    columns = numerical + categorical
    reference, kept = _profile(ref, numerical, categorical)
    snapshot = report.run(reference, kept, cur.frame, numerical, categorical)
    configs = {m["id"]: m.get("config", {}) for m in snapshot.dict().get("metrics", [])}
    found: dict[str, ColumnDrift] = {}
    for metric_id, value in snapshot.metric_results.items():
        config = configs.get(metric_id, {})
        column = config.get("column")
        if not str(config.get("type", "")).endswith(":ValueDrift") or column is None:
            continue
        statuses = [str(getattr(t.status, "value", t.status)) for t in (value.tests or [])]
        found[column] = ColumnDrift(
            score=float(value.value),
            drifted="FAIL" in statuses,
            test=stattests.display_name(str(config.get("method") or "")),
            test_threshold=config.get("threshold"),
            kind="numerical" if column in numerical else "categorical",
        )
    ordered = {name: found[name] for name in columns if name in found}
    drifted = sum(1 for c in ordered.values() if c.drifted)
    share = drifted / len(ordered) if ordered else 0.0
    return DriftResult(
        drifted=share >= threshold,
        share=share,
        threshold=threshold,
        columns=ordered,
        reference=ref.label,
        current=cur.label,
        reference_version=ref.version,
        current_version=cur.version,
        _snapshot=snapshot,
    )


def _profile(ref: Source, numerical: list[str], categorical: list[str]) -> Any:
    """Evidently's datasets of the reference's columns, and what the tests keep of them (see
    :mod:`.stattests`), kept for a DVC version."""
    key = None if ref.key is None else (ref.key, tuple(numerical), tuple(categorical))
    if key is not None and key in _profiles:
        stats["profile_hits"] += 1
        _profiles.move_to_end(key)
        return _profiles[key]
    stats["profiles"] += 1
    made = (
        report.datasets(ref.frame, numerical, categorical),
        stattests.reference_columns(ref.frame, numerical, categorical),
    )
    if key is not None:
        _profiles[key] = made
        while len(_profiles) > MEMORY_ENTRIES:
            _profiles.popitem(last=False)
    return made


def forget() -> None:
    """Forget the reference versions and profiles this process keeps (the disk stays)."""
    from . import sources

    sources.forget()
    _profiles.clear()


def _evidently_quiet() -> None:
    """Evidently's usage telemetry off, before it is imported."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
