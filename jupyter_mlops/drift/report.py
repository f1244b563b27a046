"""Evidently's report of a drift check: one ``ValueDrift`` per column, each run on that
column alone, joined into one snapshot.

Why one column at a time: ``ValueDrift`` works on the whole frame it is given, and for its
"current over the index" plot it copies the whole current frame once per numerical column.
One report over N columns copies the batch N times. Run on one column each, the work grows
with the number of columns rather than with its square. The snapshots are joined through
Evidently's own serialization model (``SnapshotModel``), with its test summary made again
over all the columns. The page is one report: each column's drift and distributions, and a
Tests tab with a pass or fail per column.
"""

from __future__ import annotations

from typing import Any

from . import stattests

#: Every kind but these two is said to be absent, so Evidently infers nothing.
_NONE_OF = ("datetime_columns", "text_columns", "unknown_columns", "list_columns")


def datasets(frame: Any, numerical: list[str], categorical: list[str]) -> dict[str, Any]:
    """An Evidently ``Dataset`` per column."""
    from evidently import Dataset

    return {
        name: Dataset.from_pandas(frame[[name]], data_definition=_definition(name, numerical))
        for name in numerical + categorical
    }


def run(
    reference: dict[str, Any],
    kept: dict[str, stattests.ReferenceColumn],
    frame: Any,
    numerical: list[str],
    categorical: list[str],
) -> Any:
    """Evidently's snapshot of ``frame`` (the current data) against the reference's
    per-column datasets, each column with the test :func:`stattests.choose` names (or
    Evidently's own choice on small data)."""
    from evidently import Report
    from evidently.metrics import ValueDrift

    tests = stattests.choose(kept, frame, numerical)
    current = datasets(frame, numerical, categorical)
    snapshots = []
    with stattests.kept(kept):
        for name in numerical + categorical:
            metric = ValueDrift(column=name, method=tests.get(name))
            snapshots.append(
                Report([metric], include_tests=True).run(current[name], reference[name])
            )
    return _join(snapshots)


def _definition(name: str, numerical: list[str]) -> Any:
    from evidently import DataDefinition

    number = name in numerical
    return DataDefinition(
        numerical_columns=[name] if number else [],
        categorical_columns=[] if number else [name],
        **{kind: [] for kind in _NONE_OF},
    )


def _join(snapshots: list[Any]) -> Any:
    """One snapshot holding the metrics, widgets and tests of all of them."""
    from evidently.core.metric_types import metric_tests_widget
    from evidently.core.report import Snapshot, metric_tests_stats

    models = [snapshot.to_snapshot_model() for snapshot in snapshots]
    results = {key: value for model in models for key, value in model.metric_results.items()}
    top = [key for model in models for key in model.top_level_metrics]
    tests = [test for key in top for test in results[key].tests]
    joined = models[0].copy(
        update={
            "metric_results": results,
            "top_level_metrics": top,
            "widgets": [widget for model in models for widget in model.widgets],
            "tests_widgets": [metric_tests_stats(tests), metric_tests_widget(tests)]
            if tests
            else [],
        }
    )
    return Snapshot.load_model(joined)
