"""The one way to put untrusted text into a generated file.

A notebook's file name, a job's parameter names, defaults and help text, the output
location and the base image come from users; the Dockerfile, manifests, DAGs and pipelines
export writes are read by parsers that give meaning to line breaks, quotes, ``$`` and
``{{``. Every target writes such text only through these functions, so none can forget:

- :func:`one_line` / :func:`comment`: text in a ``#`` comment (Dockerfile, YAML, shell,
  Python) or a line of a README. Control characters and everything a parser may take for a
  line break (``\\r``, ``\\x85``, ``\\u2028``...) are written as visible escapes, so the
  text can never start a new line (a ``RUN``, a second YAML document).
- :func:`dockerfile_string`: a double-quoted Dockerfile value (``LABEL``): JSON's escapes,
  ``$`` kept from variable expansion.
- :func:`yaml_document` / :func:`yaml_flow`: YAML through PyYAML's safe dumper, never by
  hand quoting.
- :func:`python_literal`: a Python literal (``repr``), checked to read back as the value.
- :func:`jinja_literal`: a value of an Airflow templated field that renders as itself
  (nothing in it is a Jinja tag, ``{% endraw %}`` included).
- :func:`kubernetes_literal`: a container argument Kubernetes passes as is (it expands
  ``$(VAR)`` and reduces ``$$`` in ``command``/``args``).
"""

from __future__ import annotations

import ast
import json
import unicodedata
from typing import Any

from . import yamltext

#: Characters written as escapes in a comment or a line: control and format characters,
#: line and paragraph separators, surrogates (unwritable in UTF-8).
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
#: The two code points outside YAML's printable set that no category above covers.
_NOT_YAML = frozenset({"\ufffe", "\uffff"})
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(char: str) -> str:
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def one_line(text: object) -> str:
    """``text`` on one line: every character a parser could read as a line break, and every
    other control or invisible format character, as a visible escape (``\\n``, ``\\x00``,
    ``\\u2028``)."""
    return "".join(_visible(c) if _unsafe(c) else c for c in str(text))


def _unsafe(char: str) -> bool:
    return char in _NOT_YAML or unicodedata.category(char) in _UNSAFE_CATEGORIES


def comment(lines: list[str] | str, prefix: str = "#") -> str:
    """A ``#`` comment block, one comment line per line given (each made :func:`one_line`),
    ending with a newline."""
    given = [lines] if isinstance(lines, str) else lines
    return "".join(f"{prefix} {one_line(line)}".rstrip() + "\n" for line in given)


def dockerfile_string(value: str) -> str:
    """A double-quoted Dockerfile value (``LABEL key=...``): JSON's escaping (so no line
    break or quote ends it), ``$`` escaped so the builder does not expand a variable, and
    the characters :func:`one_line` escapes escaped too."""
    escaped = "".join(
        _json_escape(c) if _unsafe(c) else c
        for c in value.replace("\\", "\\\\").replace('"', '\\"')
    )
    return '"' + escaped.replace("$", "\\$") + '"'


def _json_escape(char: str) -> str:
    code = ord(char)
    if code > 0xFFFF:  # a surrogate pair, as JSON writes one
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return _SHORT.get(char) or f"\\u{code:04x}"


def yaml_document(document: Any, header: list[str] | None = None) -> str:
    """One YAML document (PyYAML's safe dumper; order kept), after a comment header."""
    return yaml_documents([document], header)


def yaml_documents(
    documents: list[Any], header: list[str] | None = None, sort_keys: bool = False
) -> str:
    """YAML documents (PyYAML's safe dumper, strings YAML readers would fold quoted: see
    :mod:`.yamltext`), after a comment header."""
    text = yamltext.dump_all(documents, sort_keys=sort_keys, width=100)
    return comment(header or []) + text


def yaml_flow(value: Any) -> str:
    """A value as one line of YAML flow style, for text that shows YAML: JSON with every
    non-ASCII character escaped (valid YAML, and nothing in it a YAML reader takes for a
    line break)."""
    return json.dumps(value, ensure_ascii=True)


def python_literal(value: Any) -> str:
    """A Python literal of a value made of dicts, lists, tuples, strings, numbers, bools and
    None (``repr``: quotes, backslashes and line breaks escaped); checked to read back as the
    same value."""
    text = repr(value)
    if ast.literal_eval(text) != value:
        raise ValueError(f"{value!r} does not survive as a Python literal")
    return text


def jinja_literal(text: str) -> str:
    """``text`` for a Jinja-templated field (Airflow's ``arguments``, ``command``...) that
    renders as ``text`` itself: as it is when nothing in it can start a tag or lose a
    character (no ``{``, only printable characters), else one ``{{ '...' }}`` expression
    whose string holds every character other than letters, digits and a few safe
    punctuation marks as a ``\\u`` escape (so ``{% endraw %}``, quotes and backslashes
    stay text)."""
    if "{" not in text and text.isprintable():
        return text
    escaped = "".join(
        c if (c.isalnum() and c.isascii()) or c in _JINJA_SAFE else _u(c) for c in text
    )
    return "{{ '" + escaped + "' }}"


_JINJA_SAFE = frozenset(" ./:-_@+=,~")


def _u(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def kubernetes_literal(text: str) -> str:
    """``text`` as a container ``command``/``args`` item that Kubernetes passes as is: it
    expands ``$(VAR)`` and reduces ``$$`` to ``$`` there, so every ``$`` is doubled."""
    return text.replace("$", "$$")
