"""Paths given by a client, confined to the server's root folder."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from .errors import Forbidden, InvalidInput, NotFound


def inside_root(root: Path, given: str, what: str = "path", must_exist: bool = True) -> Path:
    """``given`` (relative to ``root``, '/'-separated) as an absolute path inside ``root``,
    symbolic links resolved; :class:`Forbidden` when it reaches outside, :class:`NotFound`
    when it must exist and does not."""
    if not given or "\x00" in given:
        raise InvalidInput(f"the {what} is empty or malformed")
    relative = PurePosixPath(given)
    if relative.is_absolute():
        raise Forbidden(f"the {what} '{given}' must be relative to the server's root")
    root = root.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise Forbidden(f"the {what} '{given}' is outside the server's root")
    if must_exist and not path.exists():
        raise NotFound(f"the {what} '{given}' does not exist")
    return path


def relative_to_root(root: Path, path: Path) -> str:
    """``path`` as the client names it: relative to ``root``, '/'-separated."""
    return path.resolve().relative_to(root.resolve()).as_posix()
