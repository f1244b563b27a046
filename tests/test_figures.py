"""Figures a tracked cell shows are kept with its run, however they are shown: in a real
kernel with the inline backend (``plt.show()`` closes the figures it shows), a figure left
as the cell's value, ``display(fig)``, pandas plotting, seaborn, and Plotly (as HTML)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from conftest import cell_text

from jupyter_mlops import mlflow_store
from jupyter_mlops import settings as settings_mod

pytestmark = pytest.mark.slow

INLINE = "module://matplotlib_inline.backend_inline"
FLUSH = (
    "from jupyter_mlops.tracking.session import default_session\n"
    "print('flushed', default_session().flush(90))"
)
#: Whether the display hook is gone after the tracked cells (the formatter as before).
HOOKS_LEFT = """\
_formatter = get_ipython().display_formatter.mimebundle_formatter
print('hooks left', [c.__name__ for c in _formatter.type_printers if c.__name__ == 'Figure']
      + [n for _, n in _formatter.deferred_printers], len(get_ipython().display_pub._hooks))"""

CELLS = {
    "shown": """\
import matplotlib.pyplot as plt
fig, ax = plt.subplots(num="shown curve")
ax.plot([1, 2, 3])
plt.show()""",
    "value": """\
from matplotlib.figure import Figure
made = Figure()
made.add_subplot().plot([3, 2, 1])
made""",
    "displayed": """\
from IPython.display import display
bars = Figure()
bars.add_subplot().bar([1, 2], [3, 4])
display(bars)""",
    "pandas": """\
import pandas as pd
pd.DataFrame({"y": [1, 3, 2]}).plot(title="pandas")
plt.show()""",
    "loop": """\
for n in range(2):
    plt.figure(num=f"loop {n}")
    plt.plot([n, n + 1])
    plt.show()""",
    "axes": "Figure().subplots(1, 2)",  # an array of axes (not pyplot's) as the value
    "nothing": "import numpy as np\nnp.zeros(1000)",
}


def artifact_files(client: Any, run_id: str, path: str = "figures") -> list[str]:
    return sorted(a.path for a in client.list_artifacts(run_id, path))


def run_figures(run_notebook, tmp_path: Path, cells: dict[str, str]) -> tuple[Any, dict, Any]:
    """Run ``%%track --name NAME`` cells in a kernel with the inline backend; the executed
    notebook, the runs by name, and a client on the embedded store."""
    root = tmp_path / "project"
    root.mkdir()
    sources = ["%load_ext jupyter_mlops"]
    sources += [f"%%track --name {name}\n{body}" for name, body in cells.items()]
    sources += ["import matplotlib\nprint(matplotlib.get_backend())", HOOKS_LEFT, FLUSH]
    nb = run_notebook(
        sources, cwd=root, env={settings_mod.ENV_ROOT: str(root), "MPLBACKEND": INLINE}
    )
    client = mlflow_store.client(settings_mod.embedded_tracking_uri(root.resolve() / ".mlops"))
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = {r.info.run_name: r for r in client.search_runs(experiments)}
    return nb, runs, client


def test_figures_are_kept_however_they_are_shown(run_notebook, tmp_path):
    nb, runs, client = run_figures(run_notebook, tmp_path, CELLS)
    texts = [cell_text(c) for c in nb.cells]
    assert texts[-1].strip() == "flushed True", texts[-1]
    assert "inline" in texts[-3], texts[-3]
    assert texts[-2].strip() == "hooks left [] 0", texts[-2]
    # The cells showed their figures as they would untracked.
    shown = nb.cells[1 + list(CELLS).index("shown")]
    assert any("image/png" in o.get("data", {}) for o in shown.outputs), shown.outputs

    expected = {
        "shown": ["figures/shown-curve.png"],
        "value": ["figures/figure-1.png"],
        "displayed": ["figures/figure-1.png"],
        "pandas": ["figures/figure-1.png"],
        "loop": ["figures/loop-0.png", "figures/loop-1.png"],
        "axes": ["figures/figure-1.png"],
        "nothing": [],
    }
    for name, files in expected.items():
        run = runs[name]
        assert run.info.status == "FINISHED", name
        assert artifact_files(client, run.info.run_id) == files, name
        assert "jupyter_mlops.capture_error" not in run.data.tags, run.data.tags
    shown_id = runs["shown"].info.run_id
    png = client.download_artifacts(shown_id, "figures/shown-curve.png", str(tmp_path))
    assert Path(png).read_bytes().startswith(b"\x89PNG")


@pytest.mark.skipif(importlib.util.find_spec("seaborn") is None, reason="seaborn not installed")
def test_seaborn_figures_are_kept(run_notebook, tmp_path):
    cells = {
        "axes": "import seaborn as sns\nimport matplotlib.pyplot as plt\n"
        "sns.lineplot(x=[1, 2, 3], y=[2, 1, 3])\nplt.show()",
        "grid": "sns.relplot(x=[1, 2, 3], y=[3, 1, 2])",
    }
    _, runs, client = run_figures(run_notebook, tmp_path, cells)
    for name in cells:
        assert artifact_files(client, runs[name].info.run_id) == ["figures/figure-1.png"], name


@pytest.mark.skipif(importlib.util.find_spec("plotly") is None, reason="plotly not installed")
def test_plotly_figures_are_kept_as_interactive_html(run_notebook, tmp_path):
    cells = {
        "shown": "import plotly.graph_objects as go\n"
        "go.Figure(go.Bar(x=[1, 2], y=[3, 4]), layout_title_text='bars').show()",
        "value": "go.Figure(go.Scatter(x=[1, 2], y=[4, 3]))",
    }
    _, runs, client = run_figures(run_notebook, tmp_path, cells)
    for name, file in (("shown", "figures/bars.html"), ("value", "figures/plotly-1.html")):
        run_id = runs[name].info.run_id
        assert artifact_files(client, run_id) == [file], name
        html = Path(client.download_artifacts(run_id, file, str(tmp_path / name))).read_text()
        assert "Plotly.newPlot" in html
        assert "cdn.plot.ly" in html
