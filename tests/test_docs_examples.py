"""Every Python example of README.md and docs/*.md runs as written, in a real kernel, in a
fresh project (git, sample data, a DVC remote in a local folder, the embedded store).

A file's examples run in one kernel, in the order a reader meets them. An example that
needs what no test can give (a Kubeflow server) is marked in the page itself, on the line
before its fence: ``<!-- example: skip (the reason) -->``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SKIP = re.compile(r"<!--\s*example:\s*skip\b.*-->")
FENCE = re.compile(r"^```python\s*$")


def examples(page: Path) -> list[str]:
    """The page's ```python blocks, without those marked to skip."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found, block, skip, previous = [], None, False, ""
    for line in lines:
        if block is None:
            if FENCE.match(line):
                block, skip = [], bool(SKIP.search(previous))
            elif line.strip():
                previous = line
        elif line.startswith("```"):
            if not skip:
                found.append("\n".join(block))
            block, previous = None, ""
        else:
            block.append(line)
    return found


def test_examples_are_found_and_skips_are_marked():
    """The extraction sees the examples people read (a test that ran none passes nothing)."""
    readme = examples(ROOT / "README.md")
    assert any(text.startswith("%%track") for text in readme)
    assert not any("import kfp" in text for page in PAGES for text in examples(page))


def _project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    project = tmp_path / "project"
    (project / "data" / "images").mkdir(parents=True)
    rows = ["x1,x2,label"] + [f"{i % 7},{(i * 3) % 5},{int(i % 7 > 3)}" for i in range(40)]
    (project / "data" / "train.csv").write_text("\n".join(rows) + "\n")
    for name in ("cat.png", "dog.png", "owl.png"):
        (project / "data" / "images" / name).write_bytes(name.encode() * 64)
    env = {
        "GIT_AUTHOR_NAME": "Docs",
        "GIT_AUTHOR_EMAIL": "docs@example.org",
        "GIT_COMMITTER_NAME": "Docs",
        "GIT_COMMITTER_EMAIL": "docs@example.org",
    }
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    # The DVC remote the examples push to: a folder, made the default in DVC's global
    # configuration (the project's own is created by the first snapshot).
    remote = tmp_path / "remote"
    remote.mkdir()
    dvc_global = tmp_path / "dvc-global"
    dvc_global.mkdir()
    (dvc_global / "config").write_text(
        f"[core]\n    remote = local\n['remote \"local\"']\n    url = {remote}\n"
    )
    env["DVC_GLOBAL_CONFIG_DIR"] = str(dvc_global)
    return project, env


@pytest.mark.parametrize("page", [p for p in PAGES if examples(p)], ids=lambda p: p.name)
def test_the_examples_of_a_page_run_as_written(page, run_notebook, output_of, tmp_path):
    project, env = _project(tmp_path)
    blocks = examples(page)
    nb = run_notebook(blocks, cwd=project, env=env, timeout=300, allow_errors=True)
    for text, cell in zip(blocks, nb.cells, strict=True):
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        assert not errors, f"{page.name}: this example fails:\n{text}\n\n{output_of(cell)}"
