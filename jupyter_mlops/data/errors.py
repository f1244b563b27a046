"""Errors of data snapshots: each a one-line message a user can act on."""

from __future__ import annotations

from ..errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    MlopsError,
    NotFound,
    ServiceUnavailable,
)


class OutsideProject(Forbidden):
    """A path that is not inside the project root (symbolic links resolved)."""

    code = "outside_project"


class NoSuchData(NotFound):
    code = "no_such_data"


class NotTracked(NotFound):
    """A path that has no snapshot (no ``.dvc`` file)."""

    code = "not_tracked"


class NoSuchVersion(NotFound):
    code = "no_such_version"


class GitTracked(Conflict):
    """Git already tracks the path: DVC cannot take it over."""

    code = "git_tracked"


class Overlap(Conflict):
    """The path is inside, or contains, data that another ``.dvc`` file tracks."""

    code = "overlapping_outputs"


class SnapshotBusy(Conflict):
    """Another snapshot (or DVC command) holds the project's lock."""

    code = "data_busy"


class LocalChanges(Conflict):
    """Restoring would overwrite changes that no snapshot holds."""

    code = "local_changes"


class ChangedWhileReading(Conflict):
    code = "changed_while_reading"


class BadData(InvalidInput):
    code = "invalid_data_path"


class DvcError(MlopsError):
    """DVC refused or failed; the message is DVC's own, on one line."""

    status = 409
    code = "dvc_error"


class RemoteUnavailable(ServiceUnavailable):
    code = "remote_unavailable"
