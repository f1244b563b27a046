"""Export to pipeline: export speed, job run time, rebuilds and image size.

Figures (issue: export, part 1), each beside a baseline measured in the same run:

- export (no build) of a 200-cell notebook, median of ``REPEATS``; baseline: reading and
  writing the same notebook with nbformat (the least any export does);
- job run time: ``jupyter mlops run`` (parameters checked, papermill, output kept; no
  tracking URI) against a plain ``papermill`` run of the same notebook, alternated, medians;
- with a container engine (Docker, or Podman through ``scripts/containers.sh start``): the
  cold build, the rebuild after an edit of the notebook only (layer cache), and the image's
  size against an image of the same base with the same pinned requirements and nothing else.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = 200
REPEATS = int(os.environ.get("BENCH_EXPORT_REPEATS", "5"))
RUN_REPEATS = int(os.environ.get("BENCH_EXPORT_RUN_REPEATS", "3"))
CA_CERTS = Path("/usr/local/share/ca-certificates")


def _notebook(path: Path, cells: int) -> Path:
    """A notebook of ``cells`` cells: parameters, imports, functions, loops, markdown, an
    exploration cell tagged skip-export, some %magics."""
    made = [
        new_code_cell(
            "rows = 1000  # rows to make\nseed = 7  # random seed\nname = 'bench'",
            metadata={"tags": ["parameters"]},
        ),
        new_code_cell("import json\nimport math\nimport random\nimport statistics"),
    ]
    for i in range(cells - len(made)):
        if i % 10 == 0:
            made.append(new_markdown_cell(f"## Step {i}\nWhat this step does."))
        elif i % 25 == 1:
            made.append(new_code_cell("%time x = 1", metadata={"tags": ["skip-export"]}))
        else:
            made.append(
                new_code_cell(
                    f"def step_{i}(values):\n    return [math.sqrt(abs(v)) + {i} for v in values]"
                    f"\n\nrandom.seed(seed + {i})\nvalues_{i} = step_{i}(range(rows // 100))"
                    f"\nsummary_{i} = statistics.fmean(values_{i})"
                )
            )
    made.append(new_code_cell("print(json.dumps({'name': name, 'rows': rows}))"))
    document = new_notebook(
        cells=made,
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    nbformat.write(document, path)
    return path


def _median_time(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _export_figures(folder: Path) -> dict[str, float]:
    from jupyter_mlops.export.exporter import export_notebook

    source = _notebook(folder / "big.ipynb", CELLS)
    export_notebook(source, on_warning=lambda _: None)  # warm: imports, kernel spec lookup
    exported = _median_time(lambda: export_notebook(source, on_warning=lambda _: None), REPEATS)

    def baseline() -> None:
        nbformat.write(nbformat.read(source, as_version=4), folder / "copy.ipynb")

    copied = _median_time(baseline, REPEATS)
    return {
        f"export of a {CELLS}-cell notebook, median (s; target <= 1)": exported,
        "baseline: nbformat read + write of it (s)": copied,
        "ratio export / read + write": exported / copied,
    }


def _run_figures(folder: Path) -> dict[str, float]:
    from jupyter_mlops.export.exporter import export_notebook

    source = _notebook(folder / "job.ipynb", 30)
    job = export_notebook(source, on_warning=lambda _: None)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "JUPYTER_MLOPS_"))}
    ours, plain = [], []
    for i in range(RUN_REPEATS):
        for command, times in (
            ([sys.executable, "-m", "jupyter_mlops", "run", str(job), "-p", "rows", "2000",
              "--output", str(folder / f"ours-{i}.ipynb")], ours),
            ([sys.executable, "-m", "papermill", str(source), str(folder / f"plain-{i}.ipynb"),
              "-p", "rows", "2000", "--no-progress-bar"], plain),
        ):  # fmt: skip
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env=env, cwd=folder)
            times.append(time.perf_counter() - start)
    ours_median, plain_median = statistics.median(ours), statistics.median(plain)
    return {
        "job run, jupyter mlops run, median (s)": ours_median,
        "baseline: plain papermill run, median (s)": plain_median,
        "ratio job / papermill (target <= 1.1)": ours_median / plain_median,
    }


def _engine() -> Any:
    try:
        import docker

        client = docker.from_env(timeout=900)
        client.ping()
        return client
    except Exception:
        return None


def _container_figures(folder: Path) -> dict[str, float]:
    client = _engine()
    if client is None:
        print("  (no container engine: build figures skipped; see scripts/containers.sh)")
        return {}
    from jupyter_mlops.export.build import build_image
    from jupyter_mlops.export.exporter import export_notebook

    if CA_CERTS.is_dir() and any(CA_CERTS.glob("*.crt")):
        os.environ.setdefault("JUPYTER_MLOPS_CA_CERTS", str(CA_CERTS))
    source = _notebook(folder / "image.ipynb", 20)
    job = export_notebook(source, name="bench-image", on_warning=lambda _: None)
    for image in ("bench-image:latest", "bench-baseline:latest"):
        with contextlib.suppress(Exception):
            client.images.remove(image, force=True)
    cold = build_image(job, client=client, no_cache=True)

    edited = nbformat.read(source, as_version=4)
    edited.cells[-1].source += "\nprint('edited')"
    nbformat.write(edited, source)
    job = export_notebook(source, name="bench-image", on_warning=lambda _: None)
    rebuild = build_image(job, client=client)

    # The baseline image: the same base and certificates with the same pinned requirements.
    dockerfile = (job / "Dockerfile").read_text()
    base_part = dockerfile.split("# The job runs as user", 1)[0]
    baseline = folder / "baseline"
    baseline.mkdir()
    (baseline / "requirements.txt").write_text((job / "requirements.txt").read_text())
    if (job / "certs").is_dir():
        import shutil

        shutil.copytree(job / "certs", baseline / "certs")
    (baseline / "Dockerfile").write_text(
        base_part
        + "COPY requirements.txt /tmp/requirements.txt\n"
        + "RUN python -m pip install --no-cache-dir -r /tmp/requirements.txt"
        + " && rm /tmp/requirements.txt\n"
    )
    image, _ = client.images.build(path=str(baseline), tag="bench-baseline:latest", rm=True)
    baseline_size = int(image.attrs["Size"])
    return {
        "cold build of the job image (s)": cold.seconds,
        "rebuild after a notebook edit (s; target <= 3)": rebuild.seconds,
        "ratio rebuild / cold build": rebuild.seconds / cold.seconds,
        "job image size (MB)": rebuild.size / 1e6,
        "baseline: base + pinned requirements only (MB)": baseline_size / 1e6,
        "ratio image / baseline (target <= 1.05)": rebuild.size / baseline_size,
    }


def run() -> dict[str, float]:
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        folder = Path(tmp)
        figures.update(_export_figures(folder))
        figures.update(_run_figures(folder))
        figures.update(_container_figures(folder))
    return figures
