"""The lineage graph of a model version, served from a store of a realistic size.

Figure (issue #17, Speed): the lineage graph of a model version is served in at most
200 ms. An embedded SQLite store (the server's default) holds ``RUNS`` runs over four
experiments: interactive runs of a notebook, each reading a DVC data version at a commit,
and runs of an exported job (``jupyter mlops export``: a real job folder), each with the
run of its tracked cell under it, naming the job, its output notebook and image digest;
one model has ``VERSIONS`` versions registered from the runs, ``champion`` on one. The
median over ``REPEATS`` calls of the service the route calls (``LineageService.graph``)
for the champion version, and for a run; baseline in the same run: one
``MlflowClient.get_run`` of the same store (one round trip), which the ratio is against.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

RUNS = int(os.environ.get("BENCH_LINEAGE_RUNS", "200"))
VERSIONS = 20
REPEATS = int(os.environ.get("BENCH_LINEAGE_REPEATS", "30"))
MODEL = "churn"


def _ms(call, repeats: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _project(root: Path) -> None:
    """A notebook exported as a job folder (``pipelines/train``)."""
    nbformat.write(
        new_notebook(
            cells=[
                new_code_cell("lr = 0.1", metadata={"tags": ["parameters"]}),
                new_code_cell("score = lr * 2"),
            ],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        ),
        root / "train.ipynb",
    )
    subprocess.run(
        [sys.executable, "-m", "jupyter_mlops", "export", str(root / "train.ipynb")],
        check=True,
        capture_output=True,
        timeout=300,
    )


def _populate(client, root: Path) -> str:  # type: ignore[no-untyped-def]
    """``RUNS`` runs; the champion version's number."""
    experiments = [client.create_experiment(f"exp-{i}") for i in range(3)]
    job_experiment = client.create_experiment("train")
    notebook = str(root / "train.ipynb")
    interactive = RUNS // 2
    run_ids = []
    for i in range(interactive):
        tags = {
            "jupyter_mlops.source": "cell",
            "jupyter_mlops.notebook": notebook,
            "mlflow.source.git.commit": f"{i % 7:040x}",
            "jupyter_mlops.data.data/train.csv": f"{i % 5:032x}",
        }
        run = client.create_run(experiments[i % 3], tags=tags, run_name=f"fit-{i}")
        client.set_terminated(run.info.run_id)
        run_ids.append(run.info.run_id)
    for i in range((RUNS - interactive) // 2):
        job_tags = {
            "jupyter_mlops.source": "job",
            "jupyter_mlops.job": "train",
            "jupyter_mlops.job.output": str(root / "pipelines/train/output" / f"train-{i}.ipynb"),
            "jupyter_mlops.image.digest": f"sha256:{i % 3:064x}",
            "mlflow.source.git.commit": f"{i % 7:040x}",
        }
        job_run = client.create_run(job_experiment, tags=job_tags, run_name=f"train-{i}")
        cell_tags = {
            "jupyter_mlops.source": "cell",
            "jupyter_mlops.job": "train",
            "mlflow.parentRunId": job_run.info.run_id,
            "jupyter_mlops.data.data/train.csv": f"{i % 5:032x}",
        }
        cell = client.create_run(job_experiment, tags=cell_tags, run_name=f"cell-{i}")
        client.set_terminated(cell.info.run_id)
        client.set_terminated(job_run.info.run_id)
    client.create_registered_model(MODEL)
    versions = [
        client.create_model_version(MODEL, f"runs:/{r}/model", run_id=r) for r in run_ids[:VERSIONS]
    ]
    champion = str(versions[-1].version)
    client.set_registered_model_alias(MODEL, "champion", champion)
    return run_ids[VERSIONS - 1]


def run() -> dict[str, float]:
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    from jupyter_mlops import settings as settings_mod
    from jupyter_mlops.experiments.service import TrackingService
    from jupyter_mlops.lineage.models import LineageQuery
    from jupyter_mlops.lineage.service import LineageService

    with tempfile.TemporaryDirectory(prefix="bench-lineage-") as folder:
        root = Path(folder)
        _project(root)
        settings = settings_mod.resolve(root, environ={})
        tracking = TrackingService(settings)
        client = tracking.client()
        champion_run = _populate(client, root)
        service = LineageService(settings, tracking)
        by_version = LineageQuery(model=MODEL, version=str(VERSIONS))
        by_run = LineageQuery(run=champion_run)
        start = time.perf_counter()
        graph = service.graph(by_version)
        first = (time.perf_counter() - start) * 1000
        kinds = {node.kind for node in graph.nodes}
        assert {"model_version", "run", "data", "commit", "notebook", "job"} <= kinds, kinds
        baseline = statistics.median(_ms(lambda: client.get_run(champion_run), REPEATS))
        version_ms = _ms(lambda: service.graph(by_version), REPEATS)
        run_ms = _ms(lambda: service.graph(by_run), REPEATS)
        median = statistics.median(version_ms)
        return {
            f"model version's graph, median of {REPEATS} (ms; target <= 200)": median,
            "model version's graph, slowest (ms)": max(version_ms),
            "model version's graph, first call (ms)": first,
            "a run's graph, median (ms)": statistics.median(run_ms),
            "nodes in the model version's graph": float(len(graph.nodes)),
            "baseline: one MlflowClient.get_run (ms)": baseline,
            "ratio graph / get_run": median / baseline,
        }
