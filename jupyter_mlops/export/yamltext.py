"""YAML text of data, as PyYAML's safe dumper writes it, read back exactly.

PyYAML's emitter (``allow_unicode=True``) leaves U+0085 (NEXT LINE) raw in plain and
single-quoted scalars, where every YAML reader takes it for a line break and folds it into
a space: a default, help text or path holding it would not read back. Strings holding it
are written double-quoted, where it is escaped (``\\N``). Strings a YAML 1.2 reader would
take for numbers (``1e3``) are quoted too.
"""

from __future__ import annotations

import re
from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    pass


#: Plain scalars a YAML 1.2 reader (DVC's ruamel, Go's yaml.v3) takes for a number,
#: where PyYAML (YAML 1.1) sees a string and would leave them unquoted: ``1e3``, ``0o17``.
_YAML12_NUMBER = re.compile(
    r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+"
)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = '"' if "\x85" in value else "'" if _YAML12_NUMBER.fullmatch(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(data: Any, **options: Any) -> str:
    """``yaml.safe_dump(data, allow_unicode=True, sort_keys=False, **options)``, exact."""
    return dump_all([data], **options)


def dump_all(documents: list[Any], **options: Any) -> str:
    """``yaml.safe_dump_all`` of ``documents`` (same defaults as :func:`dump`), exact."""
    options = {"allow_unicode": True, "sort_keys": False, **options}
    return str(yaml.dump_all(documents, Dumper=_Dumper, **options))
