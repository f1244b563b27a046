"""``jupyter mlops models list|show|promote|demote`` and ``jupyter mlops card``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def _service(args: argparse.Namespace) -> Any:
    from ..cli import _settings
    from .service import ModelsService

    return ModelsService(_settings(args))


def _list(args: argparse.Namespace) -> int:
    answer = _service(args).list_models()
    if args.json:
        print(answer.model_dump_json(indent=2))
        return 0
    for model in answer.models:
        aliases = " ".join(f"@{a}=v{v}" for a, v in sorted(model.aliases.items()))
        print(f"{model.name}  latest v{model.latest_version or '-'}  {aliases}".rstrip())
    return 0


def _show(args: argparse.Namespace) -> int:
    detail = _service(args).show(args.name)
    if args.json:
        print(detail.model_dump_json(indent=2))
        return 0
    print(detail.name + (f": {detail.description}" if detail.description else ""))
    for v in detail.versions:
        aliases = " ".join(f"@{a}" for a in v.aliases)
        card = " card" if v.tags.get("jupyter_mlops.card") else ""
        print(f"  v{v.version:<4} run {v.run_id or '-'} {aliases}{card}".rstrip())
    return 0


def _promote(args: argparse.Namespace) -> int:
    from .. import audit
    from .models import PromoteBody
    from .service import GateRefused

    service = _service(args)
    body = PromoteBody(version=args.version, reason=args.reason or "", force=args.force)
    try:
        change = service.promote(args.name, args.alias, body, audit.current_user())
    except GateRefused as refused:
        print(f"jupyter mlops: the gate refuses version {args.version} as @{args.alias}:",
              file=sys.stderr)  # fmt: skip
        for c in refused.result.conditions:
            print(f"  {c.result.upper():<16} {c.name}: {c.reason}", file=sys.stderr)
        print("Fix them, or --force with --reason to override.", file=sys.stderr)
        return 1
    if args.json:
        print(change.model_dump_json(indent=2))
        return 0
    assert change.gate is not None
    for c in change.gate.conditions:
        print(f"  {c.result.upper():<16} {c.name}: {c.reason}")
    forced = " (gate overridden)" if change.forced else ""
    print(f"{change.name} @{change.alias} -> version {change.version}{forced}")
    return 0


def _demote(args: argparse.Namespace) -> int:
    from .. import audit

    change = _service(args).demote(args.name, args.alias, args.reason or "", audit.current_user())
    if args.json:
        print(change.model_dump_json(indent=2))
    else:
        print(f"{change.name} @{change.alias} removed from version {change.version}")
    return 0


def _card(args: argparse.Namespace) -> int:
    service = _service(args)
    name, version = service.resolve(args.ref)
    text = service.card(name, version)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"Model card of {name} version {version} written to {args.output}")
    else:
        print(text)
    return 0


def add_commands(sub: Any) -> None:
    def common(p: argparse.ArgumentParser, json: bool = True) -> None:
        p.add_argument("--root", default=".", help="Project root folder (default: here).")
        p.add_argument("--tracking-uri", help="MLflow tracking URI (default: the embedded store).")
        if json:
            p.add_argument("--json", action="store_true", help="Print JSON.")

    models = sub.add_parser("models", help="Registered models: versions, aliases, promotion.")
    msub = models.add_subparsers(dest="models_command", required=True)
    p = msub.add_parser("list", help="Registered models and their aliases.")
    common(p)
    p.set_defaults(func=_list)
    p = msub.add_parser("show", help="A model's versions and aliases.")
    p.add_argument("name")
    common(p)
    p.set_defaults(func=_show)
    p = msub.add_parser(
        "promote",
        help="Point an alias at a version if the project's gate passes "
        "(exit 1 naming each condition that did not).",
    )
    p.add_argument("name")
    p.add_argument("version")
    p.add_argument("--alias", required=True, help="For example champion or challenger.")
    p.add_argument("--reason", help="Why (required with --force).")
    p.add_argument("--force", action="store_true", help="Override a refusing gate.")
    common(p)
    p.set_defaults(func=_promote)
    p = msub.add_parser("demote", help="Remove an alias from the version holding it.")
    p.add_argument("name")
    p.add_argument("--alias", required=True)
    p.add_argument("--reason", help="Why.")
    common(p)
    p.set_defaults(func=_demote)

    card = sub.add_parser(
        "card", help="Write a model version's card (Hugging Face format) and log it."
    )
    card.add_argument("ref", help="NAME@ALIAS or NAME/VERSION.")
    card.add_argument("-o", "--output", help="Write it to this file (default: print it).")
    common(card, json=False)
    card.set_defaults(func=_card)
