"""A model version's card in the Hugging Face format (YAML metadata, then Markdown), made
with ``huggingface_hub``'s ``ModelCard`` and ``ModelCardData`` from what the version's run
recorded: intended use, training data, parameters, metrics, environment, drift status,
approvals, and the EU AI Act's Annex IV headings. What is not known is marked
"To be completed", never invented.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from . import gate as gate_mod
from .models import VersionDetail

TO_BE_COMPLETED = "_To be completed._"
#: The packages an environment section names when the run recorded them.
KEY_PACKAGES = (
    "mlflow", "scikit-learn", "xgboost", "lightgbm", "torch", "tensorflow", "keras",
    "catboost", "numpy", "pandas", "scipy", "jupyter-mlops",
)  # fmt: skip
_FLAVOURS = {
    "sklearn": "sklearn", "xgboost": "xgboost", "lightgbm": "lightgbm", "pytorch": "pytorch",
    "tensorflow": "tensorflow", "keras": "keras", "catboost": "catboost",
    "transformers": "transformers",
}  # fmt: skip


def build_card(
    version: VersionDetail,
    *,
    description: str | None,
    approvals: list[dict[str, Any]],
    requirements: str | None,
    root: Path,
) -> str:
    from huggingface_hub import ModelCard, ModelCardData

    tags = version.lineage
    flavour = _flavour(version.source, version.tags)
    data = ModelCardData(
        model_name=f"{version.name} v{version.version}",
        library_name=_FLAVOURS.get(flavour or ""),
        tags=["jupyter-mlops", "mlflow"],
        mlflow={
            "registered_model": version.name,
            "version": version.version,
            "run_id": version.run_id,
            "model_id": version.model_id,
            "aliases": version.aliases,
        },
    )
    intended = description or _notebook_text(root, tags.get("jupyter_mlops.notebook"))
    packages = _packages(requirements)
    sections = [
        f"# {version.name}, version {version.version}",
        _section("Intended use", intended or TO_BE_COMPLETED),
        _section("Training data", _data(root, tags)),
        _section("Training procedure", _source(version)),
        _section("Parameters", _table(version.params) or "None recorded."),
        _section("Metrics", _table(_metrics(version.metrics)) or TO_BE_COMPLETED),
        _section("Environment", _environment(tags, packages)),
        _section("Drift status", _drift(version)),
        _section("Approvals", _approvals(approvals)),
        _annex_iv(version, intended, tags, approvals),
    ]
    content = "---\n" + data.to_yaml() + "\n---\n\n" + "\n\n".join(sections) + "\n"
    return str(ModelCard(content, ignore_metadata_errors=True))


def _section(title: str, body: str, level: int = 2) -> str:
    return f"{'#' * level} {title}\n\n{body.strip()}"


def _flavour(source: str | None, tags: dict[str, str]) -> str | None:
    return tags.get("jupyter_mlops.flavor") or None


def _notebook_text(root: Path, notebook: str | None) -> str | None:
    """The notebook's own words: its first markdown cells (up to the first code cell)."""
    if not notebook:
        return None
    path = Path(notebook) if Path(notebook).is_absolute() else root / notebook
    try:
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return None
    texts: list[str] = []
    for cell in cells:
        if cell.get("cell_type") == "code" and texts:
            break
        if cell.get("cell_type") == "markdown":
            source = cell.get("source", "")
            texts.append("".join(source) if isinstance(source, list) else str(source))
    text = "\n\n".join(t.strip() for t in texts if t.strip())
    # The notebook's headings become the card's lower headings.
    lines = [("###" + line[1:]) if line.startswith("#") else line for line in text.splitlines()]
    return "\n".join(lines) or None


def _data(root: Path, tags: dict[str, str]) -> str:
    rows = []
    for key, md5 in sorted(tags.items()):
        if not key.startswith(gate_mod.DATA_TAG_PREFIX):
            continue
        path = key[len(gate_mod.DATA_TAG_PREFIX) :]
        size = _dvc_size(root, path, md5)
        rows.append(f"| {path} | DVC md5 `{md5}` | {size or TO_BE_COMPLETED} |")
    if not rows:
        return "No DVC-tracked training data was recorded with the run. " + TO_BE_COMPLETED
    return "| Path | Version | Size (bytes) |\n| --- | --- | --- |\n" + "\n".join(rows)


def _dvc_size(root: Path, path: str, md5: str) -> str | None:
    """The size the ``.dvc`` file records, when it still names this version."""
    try:
        raw = yaml.safe_load((root / f"{path}.dvc").read_text(encoding="utf-8"))
        out = raw["outs"][0]
    except (OSError, yaml.YAMLError, KeyError, IndexError, TypeError):
        return None
    return str(out.get("size")) if out.get("md5") == md5 and out.get("size") else None


def _source(version: VersionDetail) -> str:
    tags = version.lineage
    named = f" ({version.run_name})" if version.run_name else ""
    lines = [f"- MLflow run: `{version.run_id}`{named}"]
    if tags.get("jupyter_mlops.notebook"):
        lines.append(f"- Notebook: `{tags['jupyter_mlops.notebook']}`")
    if tags.get("jupyter_mlops.job"):
        lines.append(f"- Job: `{tags['jupyter_mlops.job']}`")
    commit = tags.get("mlflow.source.git.commit")
    if commit:
        dirty = tags.get(gate_mod.DIRTY_TAG)
        state = {"true": " with uncommitted changes", "false": ", clean tree"}.get(dirty or "", "")
        lines.append(f"- Code: git commit `{commit}`{state}")
        if tags.get("mlflow.source.git.repoURL"):
            lines.append(f"- Repository: {tags['mlflow.source.git.repoURL']}")
    else:
        lines.append(f"- Code version: {TO_BE_COMPLETED}")
    if version.model_id:
        lines.append(f"- Logged model: `{version.model_id}`")
    return "\n".join(lines)


def _metrics(metrics: dict[str, float]) -> dict[str, str]:
    return {k: f"{v:g}" for k, v in metrics.items() if not k.startswith("jupyter_mlops.")}


def _table(values: dict[str, Any]) -> str:
    if not values:
        return ""
    rows = "\n".join(f"| {k} | {str(v).replace('|', '/')} |" for k, v in sorted(values.items()))
    return "| Name | Value |\n| --- | --- |\n" + rows


def _packages(requirements: str | None) -> dict[str, str]:
    found = {}
    for line in (requirements or "").splitlines():
        name, _, ver = line.strip().partition("==")
        if name.lower() in KEY_PACKAGES:
            found[name] = ver
    return found


def _environment(tags: dict[str, str], packages: dict[str, str]) -> str:
    lines = [f"- Python: {tags.get('jupyter_mlops.python') or TO_BE_COMPLETED}"]
    if packages:
        lines += [f"- {name} {ver}" for name, ver in sorted(packages.items())]
        lines.append("- Every package: the run's artifact `lineage/requirements.txt`")
    else:
        lines.append(f"- Packages: {TO_BE_COMPLETED}")
    digest = tags.get("jupyter_mlops.image.digest")
    image = f"`{digest}`" if digest else "none recorded (trained in a notebook)"
    lines.append(f"- Container image: {image}")
    return "\n".join(lines)


def _drift(version: VersionDetail) -> str:
    tags = version.lineage
    candidate = gate_mod.Candidate(
        version=version.version,
        version_tags=version.tags,
        run_tags=tags,
        run_metrics=version.metrics,
    )
    result, reason = gate_mod._drift(gate_mod.GateConfig(), candidate)
    if result == "cannot_evaluate":
        return f"{reason} {TO_BE_COMPLETED}"
    return f"{result}: {reason}"


def _approvals(approvals: Iterable[dict[str, Any]]) -> str:
    rows = []
    for a in sorted(approvals, key=lambda a: a.get("when", 0)):
        when = datetime.datetime.fromtimestamp(a.get("when", 0) / 1000, datetime.timezone.utc)
        forced = " (gate overridden)" if a.get("forced") else ""
        reason = str(a.get("reason") or "").replace("|", "/") or "-"
        rows.append(
            f"| {a.get('action')} @{a.get('alias')}{forced} | {a.get('who')} | "
            f"{when:%Y-%m-%d %H:%M} UTC | {reason} |"
        )
    if not rows:
        return "No promotion recorded yet."
    return "| Change | By | When | Why |\n| --- | --- | --- | --- |\n" + "\n".join(rows)


def _annex_iv(
    version: VersionDetail,
    intended: str | None,
    tags: dict[str, str],
    approvals: list[dict[str, Any]],
) -> str:
    """The EU AI Act Annex IV headings: filled where the lineage says, else marked."""
    tbc = TO_BE_COMPLETED
    commit = tags.get("mlflow.source.git.commit")
    prefix = gate_mod.DATA_TAG_PREFIX
    data = [k[len(prefix) :] for k in tags if k.startswith(prefix)]
    headings = [
        (
            "1. General description of the AI system",
            f"Intended purpose: {'see Intended use above' if intended else tbc} "
            f"Version: {version.name} v{version.version} (MLflow run `{version.run_id}`). "
            f"Provider, hardware and the forms in which it is placed on the market: {tbc}",
        ),
        (
            "2. Detailed description of the elements and of the development process",
            f"Code: {f'git commit `{commit}`' if commit else tbc} "
            f"Training data: {', '.join(f'`{d}`' for d in sorted(data)) if data else tbc} "
            f"(versions in Training data above). Parameters and metrics: above. "
            f"Design choices, data governance and labelling, human oversight measures, "
            f"cybersecurity: {tbc}",
        ),
        (
            "3. Monitoring, functioning and control",
            f"Capabilities, limitations and foreseeable unintended outcomes: {tbc}",
        ),
        (
            "4. Appropriateness of the performance metrics",
            f"Metrics recorded: {', '.join(sorted(_metrics(version.metrics))) or 'none'}. "
            f"Why they are appropriate: {tbc}",
        ),
        ("5. Risk management system", tbc),
        (
            "6. Relevant changes through the lifecycle",
            "See Approvals above; the project's audit trail (`.mlops/audit.jsonl`) holds "
            "every change."
            if approvals
            else tbc,
        ),
        ("7. Harmonised standards applied", tbc),
        ("8. EU declaration of conformity", tbc),
        ("9. Post-market monitoring plan", f"Drift status: see above. Plan: {tbc}"),
    ]
    body = "\n\n".join(_section(title, text, level=3) for title, text in headings)
    return _section("EU AI Act Annex IV technical documentation", body)
