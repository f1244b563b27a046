"""Data snapshots: put data under DVC, list its versions, diff, restore, push and pull.

The one service behind the ``%snapshot`` magic, the Python API and the Data routes. It
knows nothing of tornado or IPython: long calls take a
:class:`~jupyter_mlops.tasks.progress.Progress` (read by the caller's progress bar or polling
route, and its cancel switch).

:class:`DataService` is one class per concern, each in a module of its own:

- :mod:`.core`: the settings, paths inside the project, its DVC repository and git, the
  md5 of the data on disk;
- :mod:`.snapshots`: snapshots (the fast path that writes what ``dvc add`` writes, or
  DVC's own ``dvc add``);
- :mod:`.listing`: the tracked paths and their state;
- :mod:`.versions`: a path's versions, diffs between them, and the runs that read each;
- :mod:`.restores`: restores, and the check for local changes they would lose;
- :mod:`.transfers`: push and pull.
"""

from __future__ import annotations

from .listing import Listing
from .restores import Restores
from .snapshots import Snapshots
from .transfers import Transfers
from .versions import Versions

__all__ = ["DataService"]


class DataService(Snapshots, Transfers, Restores, Versions, Listing):
    """Snapshots, listing, history, diff, restore, push and pull of a project's data."""
