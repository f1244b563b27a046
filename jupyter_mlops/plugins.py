"""Classes found by name: one registered in this process, else an installed entry point.

Export targets (entry-point group ``jupyter_mlops.exporters``) and deployment engines
(``jupyter_mlops.engines``) are both found this way. A package adds one through an entry
point in its metadata; :meth:`Plugins.register` adds one in a process (tests, a notebook)
and wins over an entry point of the same name.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

from .errors import InvalidInput, MlopsError

T = TypeVar("T")


class Plugins(Generic[T]):
    """The ``base`` subclasses of entry-point ``group``; ``what`` and ``plural`` name them
    in messages; ``unavailable`` makes the error for one that cannot be loaded."""

    def __init__(
        self,
        group: str,
        base: type[T],
        what: str,
        plural: str,
        unavailable: Callable[[str], MlopsError],
    ) -> None:
        self.group = group
        self.base = base
        self.what = what
        self.plural = plural
        self.unavailable = unavailable
        self.registered: dict[str, type[T]] = {}

    def register(self, cls: type[T]) -> type[T]:
        """Make ``cls`` available under its ``name``; usable as a class decorator."""
        name = getattr(cls, "name", "")
        if not name:
            raise ValueError(f"{cls.__name__} has no name")
        self.registered[name] = cls
        return cls

    def entry_points(self) -> dict[str, EntryPoint]:
        return {ep.name: ep for ep in entry_points(group=self.group)}

    def known(self) -> list[str]:
        return sorted({*self.entry_points(), *self.registered})

    def get(self, name: str) -> type[T]:
        """The class called ``name``: a registered one, else its entry point's."""
        cls: Any = self.registered.get(name)
        if cls is None:
            found = self.entry_points().get(name)
            if found is None:
                known = ", ".join(self.known()) or "none (is jupyter-mlops installed?)"
                raise InvalidInput(f"unknown {self.what} '{name}'; known {self.plural}: {known}")
            try:
                cls = found.load()
            except Exception as exc:
                raise self.unavailable(
                    f"{self.what} '{name}' ({found.value}) cannot be loaded: {exc}; is the "
                    "package that provides it installed in full?"
                ) from exc
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise self.unavailable(
                f"{self.what} '{name}' is {cls!r}, not an {self.base.__name__} subclass"
            )
        return cls
