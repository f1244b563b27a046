"""%%track overhead against untracked cells and against MLflow's fluent API.

Figures (issue: experiment tracking):
- steady state: median added wall time of a tracked cell (10 params, 100 metric values)
  over the same cell untracked;
- first tracked cell in a fresh kernel against the first untracked cell in another;
- the same values logged by hand with MLflow's fluent API into the same store, added time,
  and the ratio between the two.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import textwrap
from pathlib import Path

from .kernel import Kernel

PARAMS = "\n".join(f"p{i} = {i * 0.5}" for i in range(10))
BODY = textwrap.dedent(
    """\
    {params}
    for step in range(100):
        emit(step, loss=1.0 / (step + 1))
    """
).format(params=PARAMS)
SETUP_UNTRACKED = "def emit(step, **m):\n    pass\n"
SETUP_TRACKED = (
    "%load_ext jupyter_mlops\nimport jupyter_mlops\n"
    "emit = lambda step, **m: jupyter_mlops.log(step=step, **m)\n"
)
TRACK = os.environ.get("BENCH_TRACK", "%%track\n")
FLUENT = textwrap.dedent(
    """\
    with mlflow.start_run(experiment_id=exp_id):
        mlflow.log_params({{{names}}})
        for step in range(100):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    """
).format(names=", ".join(f"'p{i}': p{i}" for i in range(10)))


def _env(root: Path) -> dict[str, str]:
    state = root / ".mlops"
    return {
        "JUPYTER_MLOPS_ROOT": str(root),
        "JUPYTER_MLOPS_TRACKING_URI": f"sqlite:///{state / 'mlflow.db'}?timeout=60",
        "JUPYTER_MLOPS_ARTIFACT_LOCATION": (state / "artifacts").as_uri(),
        "MLFLOW_TRACKING_URI": "",
    }


def run(repeats: int = 30) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = _env(root)
        # First cell in a fresh kernel: untracked in one kernel, tracked in another.
        with Kernel(tmp, env) as k:
            k.run(SETUP_UNTRACKED)
            first_plain, _ = k.run(BODY)
        with Kernel(tmp, env) as k:
            k.run(SETUP_TRACKED)
            first_tracked, _ = k.run("%%track --no-card\n" + BODY)

        with Kernel(tmp, env) as k:
            k.run(SETUP_UNTRACKED + SETUP_TRACKED.replace("emit =", "emit_t ="))
            for _ in range(3):  # warm up both paths
                k.run(BODY)
                k.run(TRACK + BODY.replace("emit(", "emit_t("))
            plain, tracked = [], []
            for _ in range(repeats):
                plain.append(k.run(BODY)[0])
                tracked.append(k.run(TRACK + BODY.replace("emit(", "emit_t("))[0])
            _, out = k.run(
                "from jupyter_mlops.tracking.session import default_session\n"
                "print(default_session().flush(100))",
                timeout=130,
            )
            if "True" not in str(out):
                raise RuntimeError(
                    "runs not delivered: " + (root / ".mlops/agent.log").read_text()[-3000:]
                )

            uri = env["JUPYTER_MLOPS_TRACKING_URI"]
            k.run(
                f"import mlflow\nmlflow.set_tracking_uri({uri!r})\n"
                "exp_id = mlflow.set_experiment('fluent-baseline').experiment_id"
            )
            k.run(FLUENT)  # warm
            fluent = [k.run(FLUENT)[0] for _ in range(max(5, repeats // 3))]

    base = statistics.median(plain)
    added = statistics.median(tracked) - base
    added_fluent = statistics.median(fluent) - base
    return {
        "untracked cell, median (ms)": base * 1000,
        "tracked cell, median (ms)": statistics.median(tracked) * 1000,
        "added by %%track, steady state, median (ms)": added * 1000,
        "first cell untracked, fresh kernel (ms)": first_plain * 1000,
        "first cell tracked, fresh kernel (ms)": first_tracked * 1000,
        "added by %%track to the first cell (ms)": (first_tracked - first_plain) * 1000,
        "added by MLflow fluent logging, median (ms)": added_fluent * 1000,
        "fluent added / %%track added (x)": added_fluent / max(added, 1e-4),
    }
