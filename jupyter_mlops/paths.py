"""Paths confined to a root folder: the one check every path a client gives, and every
path a walk meets, goes through.

:func:`inside_root` refuses, with a 4xx that names the request's field and never an
absolute server path, what the file system cannot hold (a part over 255 bytes, a path over
4096, control characters) and what leads out of the root (``..``, an absolute path
elsewhere, a symbolic link at any level). The routes (jobs, data, artifacts' names), the
export's walks and the data service all call it; a walk that must skip rather than fail
catches :class:`~.errors.Forbidden`.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path, PurePosixPath

from .errors import Forbidden, InvalidInput, NotFound

#: The longest name of one path part, in bytes of UTF-8 (Linux's NAME_MAX).
PART_MAX_BYTES = 255
#: The longest whole path, in bytes of UTF-8 (Linux's PATH_MAX).
PATH_MAX_BYTES = 4096
#: How much of a refused path a message quotes.
_SHOWN_CHARS = 80


def inside_root(
    root: Path,
    given: str,
    what: str = "path",
    must_exist: bool = True,
    field: str | None = None,
    *,
    base: Path | None = None,
    resolve_last: bool = True,
) -> Path:
    """``given`` ('/'-separated, relative to ``root``) as an absolute path inside ``root``,
    symbolic links resolved at every level.

    :class:`InvalidInput` when it is empty or malformed (see :func:`checked_name`),
    :class:`Forbidden` when it leads outside ``root``, :class:`NotFound` when it must exist
    and does not. Messages start with ``Field '<field>':`` when ``field`` is given.

    ``base``: the folder a relative ``given`` starts from (a kernel's working folder); with
    it, an absolute ``given`` inside ``root`` is accepted too. ``resolve_last=False``
    resolves every part but the last, so a symbolic link named by the path is returned as
    itself for the caller to judge (data: DVC links into its cache).
    """
    label = _label(what, field)
    relative = checked_name(given, what, field)
    root = Path(os.path.realpath(root))
    if relative.is_absolute() and base is None:
        raise Forbidden(f"{label} must be relative to the project folder, not absolute.")
    lexical = Path(os.path.normpath((base or root) / relative))
    if len(os.fsencode(lexical)) >= PATH_MAX_BYTES:
        raise _invalid(f"{label} is longer than the file system accepts.")
    if resolve_last:
        path = Path(os.path.realpath(lexical))
    else:
        path = Path(os.path.realpath(lexical.parent)) / lexical.name
        if lexical.name in ("", ".", "..") or path == root:
            raise _invalid(f"{label} '{_shown(given)}' names no file or folder in the project.")
    if not path.is_relative_to(root):
        how = " through a symbolic link" if lexical.is_relative_to(root) else ""
        raise Forbidden(f"{label} '{_shown(given)}' leads outside the project{how}.")
    if must_exist and not (os.path.exists if resolve_last else os.path.lexists)(path):
        raise NotFound(f"{label} '{_shown(given)}' does not exist.")
    return path


def checked_name(given: str, what: str = "path", field: str | None = None) -> PurePosixPath:
    """``given`` as a '/'-separated path if a file system can hold it: not empty, no control
    character, no part over :data:`PART_MAX_BYTES` bytes, at most :data:`PATH_MAX_BYTES`
    in all; else :class:`InvalidInput` naming ``field``. Nothing is resolved (artifact
    paths, which name files in a store rather than on disk, use this alone)."""
    label = _label(what, field)
    if not isinstance(given, str) or not given.strip():
        raise _invalid(f"{label} is empty.")
    if any(unicodedata.category(c) == "Cc" for c in given):
        raise _invalid(f"{label} '{_shown(given)}' contains a control character.")
    try:
        size = len(given.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: no file system name
        raise _invalid(f"{label} is not valid UTF-8 text.") from None
    if size > PATH_MAX_BYTES:
        raise _invalid(f"{label} is {size} bytes long; at most {PATH_MAX_BYTES} are accepted.")
    for part in given.split("/"):
        if len(part.encode("utf-8")) > PART_MAX_BYTES:
            raise _invalid(
                f"{label} has a name of {len(part.encode('utf-8'))} bytes "
                f"('{_shown(part)}'); a file or folder name has at most {PART_MAX_BYTES}."
            )
    return PurePosixPath(given)


def _invalid(message: str) -> InvalidInput:
    """A path the file system cannot hold or that names nothing (400 ``invalid_path``)."""
    return InvalidInput(message, code="invalid_path")


def relative_to_root(root: Path, path: Path) -> str:
    """``path`` as the client names it: relative to ``root``, '/'-separated."""
    return path.resolve().relative_to(root.resolve()).as_posix()


def _label(what: str, field: str | None) -> str:
    return f"Field '{field}': the {what}" if field else f"The {what}"


def _shown(text: str) -> str:
    """``text`` as a message quotes it: control characters escaped, long text cut."""
    shown = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    if len(shown) > _SHOWN_CHARS:
        shown = shown[: _SHOWN_CHARS // 2] + "…" + shown[-_SHOWN_CHARS // 4 :]
    return shown
