"""The promotion gate: what a model version must show before it may hold an alias.

The project chooses its conditions in its ``pyproject.toml`` (committed, so a change of
the rules is reviewed like code)::

    [tool.jupyter-mlops.gate]
    conditions = ["metric", "drift", "data_pushed", "clean_git", "card"]  # the default
    metric = "accuracy"          # compared with the alias's current holder
    greater_is_better = true
    max_drift_share = 0.5        # a run's drift_share above it fails the drift check

Each condition ends ``passed``, ``failed`` or ``cannot_evaluate`` with a reason; the gate
passes only when every one passed (what cannot be evaluated is not evidence).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from .models import ConditionResult, GateCondition

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONDITIONS = ("metric", "drift", "data_pushed", "clean_git", "card")
TITLES = {
    "metric": "Metric at least as good as the current holder's",
    "drift": "A passing drift check",
    "data_pushed": "Training data pushed to the DVC remote",
    "clean_git": "A clean git tree at training",
    "card": "A model card present",
}
#: The version tag naming the run artifact that holds its model card.
CARD_TAG = "jupyter_mlops.card"
DIRTY_TAG = "jupyter_mlops.git.dirty"
DATA_TAG_PREFIX = "jupyter_mlops.data."
DRIFT_TAGS = ("jupyter_mlops.drift", "drift")
DRIFT_SHARE = ("jupyter_mlops.drift_share", "drift_share")
#: A drift tag says whether the check passed, or whether drift was found ("true").
_PASSING = {"passed", "pass", "ok", "no_drift", "none", "false"}
_FAILING = {"failed", "fail", "drift", "drifted", "detected", "true"}


@dataclass(frozen=True)
class GateConfig:
    conditions: tuple[str, ...] = CONDITIONS
    metric: str | None = None
    greater_is_better: bool = True
    max_drift_share: float = 0.5

    @classmethod
    def load(cls, root: Path) -> GateConfig:
        """The gate of the project at ``root``: its pyproject's section, else the default."""
        path = root / "pyproject.toml"
        try:
            with open(path, "rb") as handle:
                raw = tomllib.load(handle)
        except FileNotFoundError:
            return cls()
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InvalidInput(f"The gate's settings in {path} cannot be read: {exc}") from exc
        section = raw.get("tool", {}).get("jupyter-mlops", {}).get("gate", {})
        return cls.from_mapping(section, str(path))

    @classmethod
    def from_mapping(cls, section: Mapping[str, Any], where: str = "the gate") -> GateConfig:
        unknown = set(section) - {"conditions", "metric", "greater_is_better", "max_drift_share"}
        if unknown:
            raise InvalidInput(f"Unknown gate setting(s) in {where}: {', '.join(sorted(unknown))}.")
        conditions = section.get("conditions", list(CONDITIONS))
        if not isinstance(conditions, list) or any(c not in CONDITIONS for c in conditions):
            raise InvalidInput(
                f"The gate's conditions in {where} must be a list of {', '.join(CONDITIONS)}."
            )
        metric = section.get("metric")
        share = section.get("max_drift_share", 0.5)
        if metric is not None and not isinstance(metric, str):
            raise InvalidInput(f"The gate's metric in {where} must be a metric's name.")
        if not isinstance(share, int | float) or not 0 <= share <= 1:
            raise InvalidInput(f"The gate's max_drift_share in {where} must be between 0 and 1.")
        return cls(
            conditions=tuple(conditions),
            metric=metric,
            greater_is_better=bool(section.get("greater_is_better", True)),
            max_drift_share=float(share),
        )


@dataclass
class Candidate:
    """What the gate looks at: the version's tags, its run's tags and metrics, and the
    current holder of the alias (its version and metrics), if any."""

    version: str
    version_tags: dict[str, str]
    run_tags: dict[str, str] | None
    run_metrics: dict[str, float] | None
    holder_version: str | None = None
    holder_metrics: dict[str, float] | None = None
    #: md5 -> whether a push of that DVC version worked (None: none recorded).
    pushed: Callable[[str], bool | None] = field(default=lambda md5: None)


def evaluate(config: GateConfig, alias: str, candidate: Candidate) -> list[GateCondition]:
    checks = {
        "metric": lambda: _metric(config, alias, candidate),
        "drift": lambda: _drift(config, candidate),
        "data_pushed": lambda: _data_pushed(candidate),
        "clean_git": lambda: _clean_git(candidate),
        "card": lambda: _card(candidate),
    }
    out = []
    for name in config.conditions:
        result, reason = checks[name]()
        out.append(GateCondition(name=name, title=TITLES[name], result=result, reason=reason))
    return out


def _no_run(candidate: Candidate) -> tuple[ConditionResult, str] | None:
    if candidate.run_tags is None:
        return "cannot_evaluate", f"Version {candidate.version} has no run to read it from."
    return None


def _metric(config: GateConfig, alias: str, c: Candidate) -> tuple[ConditionResult, str]:
    name = config.metric
    if not name:
        return "cannot_evaluate", (
            'No gate metric is set: add metric = "NAME" to [tool.jupyter-mlops.gate] '
            "in pyproject.toml."
        )
    if (missing := _no_run(c)) is not None:
        return missing
    mine = (c.run_metrics or {}).get(name)
    if mine is None or math.isnan(mine):
        return "cannot_evaluate", f"Version {c.version}'s run has no metric '{name}'."
    if c.holder_version is None:
        return "passed", f"{name} = {mine:g}; nobody holds @{alias} yet."
    if c.holder_version == c.version:
        return "passed", f"Version {c.version} already holds @{alias}."
    theirs = (c.holder_metrics or {}).get(name)
    if theirs is None or math.isnan(theirs):
        return "passed", (
            f"{name} = {mine:g}; the current holder (version {c.holder_version}) "
            "recorded none to compare."
        )
    better = mine >= theirs if config.greater_is_better else mine <= theirs
    word = "at least" if config.greater_is_better else "at most"
    if better:
        return "passed", f"{name} = {mine:g}, {word} version {c.holder_version}'s {theirs:g}."
    return "failed", (
        f"{name} = {mine:g} is worse than version {c.holder_version}'s {theirs:g} "
        f"(the current @{alias})."
    )


def _drift(config: GateConfig, c: Candidate) -> tuple[ConditionResult, str]:
    if (missing := _no_run(c)) is not None:
        return missing
    tags, metrics = c.run_tags or {}, c.run_metrics or {}
    # The check's own verdict (its threshold, jupyter_mlops.drift = "drifted") fails the
    # gate even when the share is below the gate's maximum.
    for key in DRIFT_TAGS:
        value = tags.get(key)
        if value is not None and value.strip().lower() in _FAILING:
            return "failed", f"The run's drift check failed ({key} = {value})."
    share: float | None = None
    for key in DRIFT_SHARE:
        raw = metrics.get(key, tags.get(key))
        if raw is not None:
            try:
                share = float(raw)
            except (TypeError, ValueError):
                return "cannot_evaluate", f"The run's {key} '{raw}' is not a number."
            break
    if share is not None:
        if share <= config.max_drift_share:
            return "passed", f"drift_share {share:g} <= {config.max_drift_share:g}."
        return "failed", f"drift_share {share:g} > {config.max_drift_share:g}: the data drifted."
    for key in DRIFT_TAGS:
        value = tags.get(key)
        if value is None:
            continue
        word = value.strip().lower()
        if word in _PASSING:
            return "passed", f"The run's drift check passed ({key} = {value})."
        if word in _FAILING:
            return "failed", f"The run's drift check failed ({key} = {value})."
        return "cannot_evaluate", f"The run's {key} '{value}' is not a drift result."
    return "cannot_evaluate", "The run recorded no drift check (drift_share or drift)."


def _data_pushed(c: Candidate) -> tuple[ConditionResult, str]:
    if (missing := _no_run(c)) is not None:
        return missing
    versions = {
        key[len(DATA_TAG_PREFIX) :]: value
        for key, value in (c.run_tags or {}).items()
        if key.startswith(DATA_TAG_PREFIX) and value
    }
    if not versions:
        return "cannot_evaluate", "The run recorded no DVC-tracked training data."
    missing_pushes = [
        f"{path} ({md5[:12]})"
        for path, md5 in sorted(versions.items())
        if c.pushed(md5) is not True
    ]
    if missing_pushes:
        return "failed", "Not pushed to the DVC remote: " + ", ".join(missing_pushes) + "."
    return "passed", f"{len(versions)} data version(s) pushed to the DVC remote."


def _clean_git(c: Candidate) -> tuple[ConditionResult, str]:
    if (missing := _no_run(c)) is not None:
        return missing
    tags = c.run_tags or {}
    dirty = tags.get(DIRTY_TAG)
    commit = tags.get("mlflow.source.git.commit", "")
    if dirty is None:
        return "cannot_evaluate", "The run recorded no git state (not trained in a git repo?)."
    if dirty == "false":
        return "passed", f"Trained at commit {commit[:12]} with no uncommitted change."
    return "failed", f"Trained with uncommitted changes on top of commit {commit[:12]}."


def _card(c: Candidate) -> tuple[ConditionResult, str]:
    card = c.version_tags.get(CARD_TAG)
    if card:
        return "passed", f"Model card logged ({card})."
    return "failed", f"No model card: write one with `jupyter mlops card NAME/{c.version}`."


def summary_json(conditions: list[GateCondition], limit: int = 4000) -> str:
    """The gate's results as a tag value (MLflow keeps at most 5000 characters)."""
    items = [c.model_dump() for c in conditions]
    text = json.dumps(items, separators=(",", ":"))
    while len(text) > limit and any(len(i["reason"]) > 40 for i in items):
        for item in items:
            item["reason"] = item["reason"][: max(40, len(item["reason"]) // 2)]
        text = json.dumps(items, separators=(",", ":"))
    return text
