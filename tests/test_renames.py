"""A notebook renamed while its kernel runs: the kernel learns the new path from
JupyterLab (src/runs/renames.ts), so runs go to the experiment of the new name."""

from __future__ import annotations

import json

import pytest

from jupyter_mlops.tracking.renames import notebook_moved

#: What src/runs/renames.ts `renameCode('Untitled.ipynb', 'models/My model.ipynb')` sends
#: (its jest test pins the same text).
RENAME_CODE = (
    "(lambda util: util.find_spec('jupyter_mlops') and "
    "__import__('jupyter_mlops.tracking.renames', fromlist=['notebook_moved'])"
    '.notebook_moved("Untitled.ipynb", "models/My model.ipynb"))'
    "(__import__('importlib.util', fromlist=['find_spec']))"
)


def rename_code(old: str, new: str) -> str:
    """renameCode of src/runs/renames.ts, for other paths."""
    return RENAME_CODE.replace(
        '("Untitled.ipynb", "models/My model.ipynb")', f"({json.dumps(old)}, {json.dumps(new)})"
    )


SHOW_PATH = (
    "import os\n"
    "from jupyter_mlops.tracking.capture import notebook_path\n"
    "print(os.environ.get('JPY_SESSION_NAME'), notebook_path(globals()), sep='|')"
)


@pytest.mark.parametrize(
    ("session", "old", "new", "expected"),
    [
        ("/srv/root/Untitled.ipynb", "Untitled.ipynb", "train.ipynb", "/srv/root/train.ipynb"),
        ("/srv/root/a/Untitled.ipynb", "a/Untitled.ipynb", "b/x.ipynb", "/srv/root/b/x.ipynb"),
        ("a/Untitled.ipynb", "a/Untitled.ipynb", "a/x.ipynb", "a/x.ipynb"),
    ],
)
def test_the_session_path_follows_the_notebook(monkeypatch, session, old, new, expected):
    monkeypatch.setenv("JPY_SESSION_NAME", session)
    assert notebook_moved(old, new) == expected
    assert __import__("os").environ["JPY_SESSION_NAME"] == expected


@pytest.mark.parametrize(
    ("session", "old", "new"),
    [
        ("/srv/root/other.ipynb", "Untitled.ipynb", "train.ipynb"),  # not this kernel's
        ("/srv/root/xUntitled.ipynb", "Untitled.ipynb", "train.ipynb"),  # only a suffix
        ("/srv/root/Untitled.ipynb", "Untitled.ipynb", "../escape.ipynb"),
        ("/srv/root/Untitled.ipynb", "Untitled.ipynb", ""),
    ],
)
def test_other_kernels_and_odd_paths_change_nothing(monkeypatch, session, old, new):
    monkeypatch.setenv("JPY_SESSION_NAME", session)
    assert notebook_moved(old, new) is None
    assert __import__("os").environ["JPY_SESSION_NAME"] == session


def test_no_session_name_changes_nothing(monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert notebook_moved("a.ipynb", "b.ipynb") is None


def test_a_kernel_learns_the_new_path_before_and_after_load_ext(run_notebook, output_of, tmp_path):
    started_as = str(tmp_path / "Untitled.ipynb")
    nb = run_notebook(
        [
            # Renamed right after it was created, before anything ran (the usual case).
            RENAME_CODE,
            "%load_ext jupyter_mlops",
            SHOW_PATH,
            rename_code("models/My model.ipynb", "final.ipynb"),
            SHOW_PATH,
            "print(sorted(globals()))",
        ],
        cwd=tmp_path,
        env={"JPY_SESSION_NAME": started_as},
    )
    moved = str(tmp_path / "models" / "My model.ipynb")
    assert output_of(nb.cells[2]).strip() == f"{moved}|{moved}"
    final = str(tmp_path / "final.ipynb")
    assert output_of(nb.cells[4]).strip() == f"{final}|{final}"
    # The silent calls leave no names behind in the notebook.
    names = output_of(nb.cells[5])
    assert "'util'" not in names
    assert "'notebook_moved'" not in names
