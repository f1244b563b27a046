"""A notebook renamed or moved while its kernel runs.

Jupyter Server tells a kernel its notebook once, at start (``JPY_SESSION_NAME``, an
absolute path); a rename in JupyterLab (every "Untitled.ipynb" becomes a real name) only
updates the server's session. JupyterLab's side of jupyter-mlops calls
:func:`notebook_moved` in kernels that use jupyter-mlops, so the runs of the renamed
notebook go to the experiment of its new name, and its source is read from its new path.
"""

from __future__ import annotations

import os
import posixpath


def notebook_moved(old: str, new: str) -> str | None:
    """The notebook at ``old`` (relative to the server's root, '/'-separated) is now at
    ``new``: point ``JPY_SESSION_NAME`` at the new file and return it; None (and nothing
    changed) when this kernel does not run the notebook at ``old``."""
    current = os.environ.get("JPY_SESSION_NAME")
    if not current or not old or not new:
        return None
    current_posix = current.replace(os.sep, "/")
    old_posix = posixpath.normpath(old.lstrip("/"))
    new_posix = posixpath.normpath(new.lstrip("/"))
    if current_posix == old_posix:
        # A session path the server gave as it is (relative to the root).
        moved = new_posix
    elif current_posix.endswith("/" + old_posix):
        root = current_posix[: -len(old_posix)]
        moved = root + new_posix
    else:
        return None
    if new_posix.startswith("../") or new_posix == "..":
        return None
    os.environ["JPY_SESSION_NAME"] = moved.replace("/", os.sep)
    return os.environ["JPY_SESSION_NAME"]
