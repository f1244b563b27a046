"""YAML text of data, as PyYAML's safe dumper writes it, read back exactly.

PyYAML's emitter (``allow_unicode=True``) leaves U+0085 (NEXT LINE) raw in plain and
single-quoted scalars, where every YAML reader takes it for a line break and folds it into
a space: a default, help text or path holding it would not read back. Strings holding it
are written double-quoted, where it is escaped (``\\N``).
"""

from __future__ import annotations

from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = '"' if "\x85" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(data: Any, **options: Any) -> str:
    """``yaml.safe_dump(data, allow_unicode=True, sort_keys=False, **options)``, exact."""
    options = {"allow_unicode": True, "sort_keys": False, **options}
    return str(yaml.dump(data, Dumper=_Dumper, **options))
