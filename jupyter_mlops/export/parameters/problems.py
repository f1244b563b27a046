"""The mistakes export reports about parameters, and how a message shows a value.

Every other module of the package raises :class:`InvalidParameters` (or the plain
:class:`~jupyter_mlops.errors.InvalidInput` where no parameter is to blame), so the API's
error body and the CLI's lines list each mistake beside the parameter it names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ...errors import InvalidInput

_MAX_SHOWN = 60


@dataclass(frozen=True)
class ParameterProblem:
    """One mistake and the parameter it is about (``None``: no single parameter, such as a
    line of the parameters cell that assigns several names at once)."""

    parameter: str | None
    message: str


class InvalidParameters(InvalidInput):
    """One or more parameter values (or a parameters cell) are wrong. :attr:`details` keeps
    each mistake with the parameter it names, so a caller can show it beside that parameter
    (the API's error body lists them); the message joins them with ``separator``, so the
    user sees every mistake at once instead of fixing them one run at a time."""

    code = "invalid_parameters"

    def __init__(
        self, problems: Iterable[str | ParameterProblem], *, separator: str = "\n"
    ) -> None:
        self.details = [
            p if isinstance(p, ParameterProblem) else ParameterProblem(None, p) for p in problems
        ]
        super().__init__(separator.join(p.message for p in self.details))

    @property
    def problems(self) -> list[str]:
        """One line per mistake (what the CLI prints)."""
        return [p.message for p in self.details]

    def to_json(self) -> dict[str, Any]:
        return {
            **super().to_json(),
            "parameters": [{"parameter": p.parameter, "message": p.message} for p in self.details],
        }


def show(value: Any) -> str:
    """A value as a message shows it: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."
