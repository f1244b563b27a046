"""The model registry as the project sees it: registered models, versions and aliases
(never MLflow's deprecated stages), the promotion gate, promotions and demotions recorded
on the model version (and in the audit trail when there is one), model cards.

Every method blocks on MLflow: the server runs them on its worker threads.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from .. import mlflow_store
from ..errors import Conflict, InvalidInput, MlopsError, NotFound
from ..settings import Settings
from . import gate as gate_mod
from .models import (
    ALIAS_PATTERN,
    VERSION_PATTERN,
    AliasChange,
    GateResult,
    ModelDetail,
    ModelsResponse,
    ModelSummary,
    PromoteBody,
    VersionDetail,
    VersionSummary,
    reserved_alias,
)

#: The version tag recording the last promotion or demotion for an alias.
ALIAS_TAG_PREFIX = "jupyter_mlops.alias."
#: Run tags that tell where a model came from (shown with the version, read by the card).
LINEAGE_TAGS = (
    "mlflow.source.git.commit",
    "mlflow.source.git.branch",
    "mlflow.source.git.repoURL",
    "jupyter_mlops.git.dirty",
    "jupyter_mlops.notebook",
    "jupyter_mlops.python",
    "jupyter_mlops.job",
    "jupyter_mlops.image.digest",
    "jupyter_mlops.drift",
    "jupyter_mlops.drift_share",
    "drift",
    "drift_share",
)


_WORDS = {"passed": "passed", "failed": "failed", "cannot_evaluate": "cannot be evaluated"}


class GateRefused(Conflict):
    code = "gate_refused"

    def __init__(self, result: GateResult) -> None:
        failed = [c for c in result.conditions if c.result != "passed"]
        lines = "; ".join(f"{c.name} {_WORDS[c.result]}: {c.reason}" for c in failed)
        super().__init__(
            f"The gate refuses version {result.version} of '{result.name}' as "
            f"@{result.alias}: {lines} (--force with a reason overrides)."
        )
        self.result = result


def check_alias(alias: str) -> str:
    if not re.fullmatch(ALIAS_PATTERN, alias) or reserved_alias(alias):
        raise InvalidInput(
            f"'{alias}' is not a valid alias: letters, digits, '_' and '-', starting with a "
            "letter or '_', not 'latest' nor 'v<digits>'."
        )
    return alias


def parse_ref(ref: str) -> tuple[str, str | None, str | None]:
    """``NAME@ALIAS`` or ``NAME/VERSION`` (``models:/`` in front allowed) -> (name,
    version, alias)."""
    text = ref.removeprefix("models:/")
    if "@" in text:
        name, alias = text.rsplit("@", 1)
        if name:
            return name, None, check_alias(alias)
    elif "/" in text:
        name, version = text.rsplit("/", 1)
        if name and re.fullmatch(VERSION_PATTERN, version):
            return name, version, None
    raise InvalidInput(f"'{ref}' names no model version: write NAME@ALIAS or NAME/VERSION.")


class ModelsService(mlflow_store.Store):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)

    # -- reading ----------------------------------------------------------------------------
    def list_models(self) -> ModelsResponse:
        with mlflow_store.mlflow_errors():
            client = self.client()
            found, token = [], None
            while True:
                page = client.search_registered_models(max_results=200, page_token=token)
                found += [_summary(m) for m in page]
                token = page.token
                if not token:
                    break
        found.sort(key=lambda m: m.name.lower())
        return ModelsResponse(models=found)

    def show(self, name: str) -> ModelDetail:
        with mlflow_store.mlflow_errors():
            model = self._model(name)
            versions = self.client().search_model_versions(f"name = '{_quote(name)}'")
        summary = _summary(model)
        summaries = sorted((_version_summary(v) for v in versions), key=lambda v: -int(v.version))
        for version in summaries:
            # A search's versions do not carry their aliases: the model has them all.
            version.aliases = sorted(a for a, v in summary.aliases.items() if v == version.version)
        return ModelDetail(**summary.model_dump(), versions=summaries)

    def version(self, name: str, version: str) -> VersionDetail:
        with mlflow_store.mlflow_errors():
            found = self._version(name, version)
            run = self._run(found.run_id)
        detail = VersionDetail(name=name, **_version_summary(found).model_dump())
        if run is not None:
            tags = dict(run.data.tags)
            detail.run_name = run.info.run_name
            detail.experiment_id = run.info.experiment_id
            detail.params = dict(run.data.params)
            detail.metrics = dict(run.data.metrics)
            detail.lineage = {
                k: v
                for k, v in tags.items()
                if k in LINEAGE_TAGS or k.startswith(gate_mod.DATA_TAG_PREFIX)
            }
        detail.card = detail.tags.get(gate_mod.CARD_TAG)
        return detail

    def resolve(self, ref: str) -> tuple[str, str]:
        """(name, version) of ``NAME@ALIAS`` or ``NAME/VERSION``."""
        name, version, alias = parse_ref(ref)
        if alias is not None:
            with mlflow_store.mlflow_errors():
                self._model(name)
                version = self._holder(name, alias)
            if version is None:
                raise NotFound(f"No version of model '{name}' holds the alias @{alias}.")
        assert version is not None
        return name, version

    # -- the gate ---------------------------------------------------------------------------
    def gate(self, name: str, version: str, alias: str) -> GateResult:
        check_alias(alias)
        config = gate_mod.GateConfig.load(self.settings.root_dir)
        with mlflow_store.mlflow_errors():
            found = self._version(name, version)
            run = self._run(found.run_id)
            holder = self._holder(name, alias)
            holder_metrics = None
            if holder is not None and holder != version:
                held = self._run(self._version(name, holder).run_id)
                holder_metrics = dict(held.data.metrics) if held is not None else None
        candidate = gate_mod.Candidate(
            version=version,
            version_tags=dict(found.tags or {}),
            run_tags=dict(run.data.tags) if run is not None else None,
            run_metrics=dict(run.data.metrics) if run is not None else None,
            holder_version=holder,
            holder_metrics=holder_metrics,
            pushed=self._pushed,
        )
        conditions = gate_mod.evaluate(config, alias, candidate)
        return GateResult(
            name=name,
            version=version,
            alias=alias,
            passed=all(c.result == "passed" for c in conditions),
            conditions=conditions,
        )

    def _pushed(self, md5: str) -> bool | None:
        from ..data.core import _pushed
        from ..data.journal import Journal

        return _pushed(Journal(self.settings.state_dir).entries(), md5)

    # -- promotion and demotion -------------------------------------------------------------
    def promote(self, name: str, alias: str, body: PromoteBody, who: str) -> AliasChange:
        """Point ``alias`` at ``body.version`` if the gate passes (or ``force`` with a
        reason); record who, when, why and the gate's results on the version."""
        check_alias(alias)
        reason = body.reason.strip()
        if body.force and not reason:
            raise InvalidInput("An override (force) needs a reason: say why with --reason.")
        result = self.gate(name, body.version, alias)
        if not result.passed and not body.force:
            raise GateRefused(result)
        with mlflow_store.mlflow_errors():
            previous = self._holder(name, alias)
            change = AliasChange(
                action="promote",
                name=name,
                alias=alias,
                version=body.version,
                previous_version=previous,
                who=who,
                when=int(time.time() * 1000),
                reason=reason,
                forced=not result.passed,
                gate=result,
            )
            client = self.client()
            client.set_registered_model_alias(name, alias, body.version)
            client.set_model_version_tag(name, body.version, ALIAS_TAG_PREFIX + alias, _tag(change))
        _audit("promote", change, self.settings)
        return change

    def demote(self, name: str, alias: str, reason: str, who: str) -> AliasChange:
        check_alias(alias)
        with mlflow_store.mlflow_errors():
            self._model(name)
            holder = self._holder(name, alias)
            if holder is None:
                raise NotFound(f"No version of model '{name}' holds the alias @{alias}.")
            change = AliasChange(
                action="demote",
                name=name,
                alias=alias,
                version=holder,
                previous_version=holder,
                who=who,
                when=int(time.time() * 1000),
                reason=reason.strip(),
            )
            client = self.client()
            client.delete_registered_model_alias(name, alias)
            client.set_model_version_tag(name, holder, ALIAS_TAG_PREFIX + alias, _tag(change))
        _audit("demote", change, self.settings)
        return change

    # -- model cards ------------------------------------------------------------------------
    def card(self, name: str, version: str, *, log: bool = True) -> str:
        """The version's model card (markdown with YAML metadata), logged as an artifact
        of its run and linked from the version's ``jupyter_mlops.card`` tag."""
        from .card import build_card

        detail = self.version(name, version)
        with mlflow_store.mlflow_errors():
            model = self._model(name)
            versions = self.client().search_model_versions(f"name = '{_quote(name)}'")
            requirements = self._requirements(detail.run_id)
        approvals = [
            json.loads(v.tags[k])
            for v in versions
            for k in sorted(v.tags or {})
            if k.startswith(ALIAS_TAG_PREFIX) and _is_json(v.tags[k])
        ]
        text = build_card(
            detail,
            description=model.description or None,
            approvals=[a for a in approvals if str(a.get("version")) == version],
            requirements=requirements,
            root=self.settings.root_dir,
        )
        if log and detail.run_id:
            path = f"model_cards/{name}-v{version}.md"
            with mlflow_store.mlflow_errors():
                client = self.client()
                client.log_text(detail.run_id, text, path)
                client.set_model_version_tag(name, version, gate_mod.CARD_TAG, path)
        return text

    def _requirements(self, run_id: str | None) -> str | None:
        if not run_id:
            return None
        import tempfile

        try:
            with tempfile.TemporaryDirectory() as tmp:
                path = self.client().download_artifacts(run_id, "lineage/requirements.txt", tmp)
                return Path(path).read_text(encoding="utf-8")
        except Exception:  # a run with no lineage: the card says what is missing
            return None

    # -- helpers ----------------------------------------------------------------------------
    def _model(self, name: str) -> Any:
        try:
            return self.client().get_registered_model(name)
        except MlopsError as exc:
            if isinstance(exc, NotFound):
                raise NotFound(f"No registered model '{name}'.", code="no_model") from exc
            raise
        except Exception as exc:
            if getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
                raise NotFound(f"No registered model '{name}'.", code="no_model") from exc
            raise

    def _version(self, name: str, version: str) -> Any:
        if not re.fullmatch(VERSION_PATTERN, str(version)):
            raise InvalidInput(f"'{version}' is not a model version (1, 2...).")
        self._model(name)
        try:
            return self.client().get_model_version(name, version)
        except Exception as exc:
            if getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
                raise NotFound(
                    f"Model '{name}' has no version {version}.", code="no_version"
                ) from exc
            raise

    def _holder(self, name: str, alias: str) -> str | None:
        aliases = getattr(self.client().get_registered_model(name), "aliases", {}) or {}
        held = aliases.get(alias)
        return str(held) if held is not None else None

    def _run(self, run_id: str | None) -> Any:
        if not run_id:
            return None
        try:
            return self.client().get_run(run_id)
        except Exception as exc:
            if getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise


def _quote(name: str) -> str:
    return name.replace("\\", "\\\\").replace("'", "\\'")


def _is_json(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _tag(change: AliasChange) -> str:
    """The change as a version tag (MLflow keeps at most 5000 characters)."""
    raw = change.model_dump(exclude={"gate"})
    if change.gate is not None:
        raw["gate"] = json.loads(gate_mod.summary_json(change.gate.conditions, 3500))
        raw["gate_passed"] = change.gate.passed
    raw["reason"] = raw["reason"][:500]
    return json.dumps(raw, separators=(",", ":"))


def _summary(model: Any) -> ModelSummary:
    aliases = {str(k): str(v) for k, v in (getattr(model, "aliases", None) or {}).items()}
    latest = [str(v.version) for v in (model.latest_versions or [])]
    return ModelSummary(
        name=model.name,
        description=model.description or None,
        aliases=aliases,
        latest_version=max(latest, key=int) if latest else None,
        updated=model.last_updated_timestamp,
    )


def _version_summary(version: Any) -> VersionSummary:
    return VersionSummary(
        version=str(version.version),
        run_id=version.run_id or None,
        model_id=getattr(version, "model_id", None) or None,
        source=version.source or None,
        status=str(version.status) if version.status else None,
        created=version.creation_timestamp,
        aliases=sorted(str(a) for a in (version.aliases or [])),
        tags={str(k): str(v) for k, v in (version.tags or {}).items()},
    )


def _audit(kind: str, change: AliasChange, settings: Settings) -> None:
    """The change in the project's audit trail (after it happened; a failure to record is
    loud, see ``jupyter_mlops.audit``)."""
    from .. import audit

    audit.record(
        kind,
        f"{change.name}/{change.version}",
        root=settings,
        who=change.who,
        alias=change.alias,
        previous_version=change.previous_version,
        reason=change.reason,
        forced=change.forced,
        gate=[c.model_dump() for c in change.gate.conditions] if change.gate else None,
    )
