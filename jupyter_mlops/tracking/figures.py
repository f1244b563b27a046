"""The figures a tracked cell shows, kept with its run however they were shown.

While the cell runs (on the kernel's main thread):

- a matplotlib figure that is *displayed* (``plt.show()`` with the inline backend, which
  displays each figure and then closes it; ``display(fig)``) is seen by IPython's display
  formatter: a hook on the ``Figure`` type keeps a reference and lets the display go on
  unchanged;
- a Plotly figure that is displayed (``fig.show()``, ``display(fig)``) is published with
  Plotly's MIME type: a hook on the kernel's display publisher keeps its JSON;
- the cell's value (``fig``, an ``Axes`` from pandas plotting, a seaborn grid, a Plotly
  figure) is handed over by ``%%track``;
- matplotlib figures still open when the cell ends (the inline backend shows them after
  it) are kept as before.

seaborn and pandas plotting draw matplotlib figures, so they are caught the same ways.
Rendering happens once, when the cell ends: matplotlib figures as PNG, Plotly figures as
interactive HTML (plotly.js from its CDN, as ``mlflow.log_figure`` writes them). Nothing
imports matplotlib or Plotly here: a kernel that never plots pays nothing.
"""

from __future__ import annotations

import io
import json
import re
import sys
from typing import Any

PLOTLY_MIME = "application/vnd.plotly.v1+json"
_FIGURE = ("matplotlib.figure", "Figure")
_FIGURE_NAME = ".".join(_FIGURE)
PNG_DPI = 100
#: Items of a list or array value looked at for figures (``plt.subplots(2, 2)``'s axes).
MAX_ITEMS = 100


def open_figure_numbers() -> set[int]:
    """The numbers of pyplot's open figures (none when pyplot was never imported)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    return set(pyplot.get_fignums()) if pyplot is not None else set()


class FigureCapture:
    """Collects the figures of one tracked cell: :meth:`start` when it starts, :meth:`add`
    for its value, :meth:`stop` when it ends, then :meth:`render`."""

    def __init__(self) -> None:
        self._before: set[int] = set()
        #: matplotlib figures in the order they were shown, by identity
        self._matplotlib: dict[int, Any] = {}
        #: Plotly figures: JSON text of those displayed, or figure objects (the cell's value)
        self._plotly: list[Any] = []
        self._shell: Any = None
        self._previous: Any = None

    # -- while the cell runs ----------------------------------------------------------------
    def start(self) -> None:
        self._before = open_figure_numbers()
        shell = _shell()
        if shell is None:
            return
        formatter = shell.display_formatter.mimebundle_formatter
        self._previous = formatter.pop(_FIGURE_NAME, None)
        formatter.for_type_by_name(*_FIGURE, self._on_display)
        publisher = shell.display_pub
        if hasattr(publisher, "register_hook"):  # ipykernel's publisher
            publisher.register_hook(self._on_publish)
        self._shell = shell

    def stop(self) -> None:
        """Remove the hooks; keep the figures the cell left open."""
        self.unhook()
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            for number in pyplot.get_fignums():
                if number not in self._before:
                    self._keep(pyplot.figure(number))

    def unhook(self) -> None:
        """Remove the hooks (again: does nothing)."""
        shell, self._shell = self._shell, None
        if shell is not None:
            formatter = shell.display_formatter.mimebundle_formatter
            formatter.pop(_FIGURE_NAME, None)
            if self._previous is not None:
                formatter.for_type_by_name(*_FIGURE, self._previous)
            if hasattr(shell.display_pub, "unregister_hook"):
                shell.display_pub.unregister_hook(self._on_publish)

    def add(self, value: Any) -> None:
        """The cell's value: kept if it is (or holds) a figure."""
        if value is None:
            return
        plotly = sys.modules.get("plotly.basedatatypes")
        if plotly is not None and isinstance(value, plotly.BaseFigure):
            if not any(value is kept for kept in self._plotly):
                self._plotly.append(value)
            return
        for figure in _matplotlib_figures(value):
            self._keep(figure)

    def _on_display(self, figure: Any) -> Any:
        """IPython's mime-bundle formatter for ``Figure``: keep the figure, display it as
        it would have been displayed."""
        self._keep(figure)
        if self._previous is not None:
            return self._previous(figure)
        method = getattr(type(figure), "_repr_mimebundle_", None)
        return method(figure) if method is not None else None

    def _on_publish(self, message: Any) -> Any:
        """ipykernel's display hook: keep Plotly's figure JSON, send the message on."""
        try:
            data = message["content"]["data"]
            if PLOTLY_MIME in data:
                text = json.dumps(data[PLOTLY_MIME], sort_keys=True)
                if text not in self._plotly:
                    self._plotly.append(text)
        except (KeyError, TypeError, ValueError):
            pass
        return message

    def _keep(self, figure: Any) -> None:
        self._matplotlib.setdefault(id(figure), figure)

    # -- when the cell has ended -----------------------------------------------------------
    def render(self) -> tuple[dict[str, bytes], list[BaseException]]:
        """Files ``figures/NAME.png`` and ``figures/NAME.html``, and what could not be
        rendered (one figure failing does not cost the others)."""
        files: dict[str, bytes] = {}
        problems: list[BaseException] = []
        for index, figure in enumerate(self._matplotlib.values(), 1):
            try:
                buffer = io.BytesIO()
                figure.savefig(buffer, format="png", dpi=PNG_DPI, bbox_inches="tight")
                name = _unique(files, _safe(figure.get_label()) or f"figure-{index}", "png")
                files[name] = buffer.getvalue()
            except Exception as exc:
                problems.append(exc)
        for index, figure in enumerate(self._plotly, 1):
            try:
                html = _plotly_html(figure)
                files[_unique(files, _plotly_title(figure) or f"plotly-{index}", "html")] = html
            except Exception as exc:
                problems.append(exc)
        return files, problems


def _shell() -> Any:
    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython

    shell = get_ipython()
    return shell if getattr(shell, "display_formatter", None) is not None else None


def _matplotlib_figures(value: Any) -> list[Any]:
    """The matplotlib figures a value shows: a figure, an ``Axes`` (pandas plotting), a
    seaborn grid (``.figure``), or a list or array of axes (``subplots=True``)."""
    module = sys.modules.get(_FIGURE[0])
    if module is None:
        return []
    figure_type = module.Figure
    if isinstance(value, figure_type):
        return [value]
    items: list[Any] | None = None
    if isinstance(value, list | tuple):
        items = list(value[:MAX_ITEMS])
    elif type(value).__name__ == "ndarray" and getattr(value.dtype, "kind", "") == "O":
        items = value.ravel()[:MAX_ITEMS].tolist()  # axes, not numbers: never a big copy
    if items is not None:
        found: list[Any] = []
        for item in items:
            found += [f for f in _matplotlib_figures(item) if f not in found]
        return found
    getter = getattr(value, "get_figure", None)
    try:
        if callable(getter):
            try:
                candidate = getter(root=True)  # the figure itself, not a subfigure
            except TypeError:  # matplotlib before 3.10
                candidate = getter()
        else:
            candidate = getattr(value, "figure", None)  # seaborn's grids
    except Exception:
        return []
    return [candidate] if isinstance(candidate, figure_type) else []


def _plotly_html(figure: Any) -> bytes:
    import plotly.io

    if isinstance(figure, str):  # displayed: Plotly's own JSON, already checked
        text = plotly.io.to_html(
            json.loads(figure), include_plotlyjs="cdn", full_html=True, validate=False
        )
    else:
        text = plotly.io.to_html(figure, include_plotlyjs="cdn", full_html=True)
    return str(text).encode("utf-8")


def _plotly_title(figure: Any) -> str:
    try:
        layout = json.loads(figure)["layout"] if isinstance(figure, str) else figure.layout
        title = layout["title"]
        return _safe(title.get("text") if isinstance(title, dict) else title.text)
    except Exception:
        return ""


def _safe(label: Any) -> str:
    text = re.sub(r"[^A-Za-z0-9_-]", "-", str(label or "")).strip("-")
    return text[:60]


def _unique(files: dict[str, bytes], stem: str, suffix: str) -> str:
    name, count = f"{stem}.{suffix}", 1
    while name in files:
        count += 1
        name = f"{stem}-{count}.{suffix}"
    return name
