"""Request and response models of the models slice: registered models, their versions and
aliases, the promotion gate's conditions and a promotion's record."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from ..api.models import ApiModel

#: An MLflow alias: letters, digits, '_' and '-', and (:func:`reserved_alias`) not 'latest'
#: nor 'v<digits>', which MLflow reserves for versions.
ALIAS_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"
#: A registered model's name, as one path segment.
NAME_PATTERN = r"^[^/\x00-\x1f]{1,256}$"
VERSION_PATTERN = r"^[1-9][0-9]{0,9}$"


def reserved_alias(alias: str) -> bool:
    return alias == "latest" or re.fullmatch(r"v\d+", alias) is not None


def _alias(value: str) -> str:
    if reserved_alias(value):
        raise ValueError(f"'{value}' is reserved by MLflow for versions; choose another alias")
    return value


ConditionResult = Literal["passed", "failed", "cannot_evaluate"]


class ModelPath(ApiModel):
    name: str = Field(pattern=NAME_PATTERN, description="The registered model's name.")


class VersionPath(ModelPath):
    version: str = Field(pattern=VERSION_PATTERN, description="The model version (1, 2...).")


class AliasPath(ModelPath):
    alias: str = Field(
        pattern=ALIAS_PATTERN,
        description="An alias such as 'champion' (letters, digits, '_', '-'; not 'latest' "
        "nor 'v<digits>').",
    )

    _check_alias = field_validator("alias")(_alias)


class VersionSummary(ApiModel):
    version: str
    run_id: str | None = Field(description="The run that logged it.")
    model_id: str | None = Field(default=None, description="MLflow 3's logged model id.")
    source: str | None = None
    status: str | None = None
    created: int | None = Field(default=None, description="Milliseconds since the epoch.")
    aliases: list[str] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)


class ModelSummary(ApiModel):
    name: str
    description: str | None = None
    aliases: dict[str, str] = Field(
        default_factory=dict, description="Alias -> the version it points at."
    )
    latest_version: str | None = None
    updated: int | None = Field(default=None, description="Milliseconds since the epoch.")


class ModelsResponse(ApiModel):
    models: list[ModelSummary]


class ModelDetail(ModelSummary):
    versions: list[VersionSummary] = Field(description="Newest first.")


class VersionDetail(VersionSummary):
    name: str
    run_name: str | None = None
    experiment_id: str | None = None
    params: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    lineage: dict[str, str] = Field(
        default_factory=dict,
        description="What the run recorded of its origin: git commit and dirty state, "
        "notebook, data versions (jupyter_mlops.data.*), image digest.",
    )
    card: str | None = Field(
        default=None, description="The run artifact holding the version's model card, if any."
    )


class GateCondition(ApiModel):
    name: str = Field(description="metric, drift, data_pushed, clean_git or card.")
    title: str = Field(description="What the condition asks, for people.")
    result: ConditionResult
    reason: str = Field(description="Why it has this result, one sentence.")


class GateResult(ApiModel):
    name: str
    version: str
    alias: str | None = None
    passed: bool = Field(description="True when every condition passed.")
    conditions: list[GateCondition]


class GateBody(ApiModel):
    alias: str = Field(
        default="champion", pattern=ALIAS_PATTERN, description="The alias to evaluate for."
    )

    _check_alias = field_validator("alias")(_alias)


class PromoteBody(ApiModel):
    version: str = Field(pattern=VERSION_PATTERN)
    reason: str = Field(default="", max_length=2000, description="Why; required with force.")
    force: bool = Field(default=False, description="Promote although the gate refuses.")


class AliasChange(ApiModel):
    """What a promotion or demotion did, as recorded on the model version."""

    action: Literal["promote", "demote"]
    name: str
    alias: str
    version: str
    previous_version: str | None = Field(description="Who held the alias before.")
    who: str
    when: int = Field(description="Milliseconds since the epoch.")
    reason: str = ""
    forced: bool = False
    gate: GateResult | None = None


class DemoteQuery(ApiModel):
    reason: str = Field(default="", max_length=2000)
