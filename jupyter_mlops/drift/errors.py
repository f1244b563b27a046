"""The drift check's user errors: one line naming the problem, nothing logged."""

from __future__ import annotations

from ..errors import InvalidInput


class DriftInputError(InvalidInput):
    """The reference or the current data cannot be compared (400)."""

    code = "drift_input"


class DriftUnavailable(DriftInputError):
    """A reference version cannot be fetched (not in the DVC cache, no remote has it)."""

    code = "drift_version_unavailable"


class NeedsEvidently(DriftInputError):
    """The ``drift`` extra is not installed."""

    code = "drift_extra_missing"
