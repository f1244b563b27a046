"""Run names that tell reruns apart: the second run of "sgd baseline" in an experiment is
"sgd baseline #2", the third "sgd baseline #3".

The name is settled where the run is created in the store (by the deliverer, or by the
kernel when the cell uses MLflow's fluent API), from the names the experiment's runs have
there: unique across kernels and kernel restarts, with no counter to keep in sync. A file
lock in the project's state folder makes "choose a name, create the run" one step for all
the project's processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow import MlflowClient

#: MLflow keeps run names of up to 250 characters; room is left for " #NNNN".
MAX_BASE = 240
#: Characters that end the prefix given to MLflow's LIKE (wildcards and quotes).
_LIKE_SPECIAL = re.compile(r"[%_'\"\\]")
#: Runs fetched per page when reading the names already taken.
PAGE = 1000


def next_name(base: str, taken: Iterable[str]) -> str:
    """``base`` if no run has it, else ``base #N`` with N one more than the highest number
    taken (the unnumbered name counts as 1)."""
    base = base[:MAX_BASE]
    numbered = re.compile(re.escape(base) + r" #([1-9][0-9]*)")
    highest = 0
    for name in taken:
        if name == base:
            highest = max(highest, 1)
        elif match := numbered.fullmatch(name):
            highest = max(highest, int(match.group(1)))
    return base if highest == 0 else f"{base} #{highest + 1}"


def taken_names(client: MlflowClient, experiment_id: str, base: str) -> set[str]:
    """Names of the experiment's runs (deleted ones too: they can be restored) that start
    like ``base``, asked of the store."""
    from mlflow.entities import ViewType

    prefix = _LIKE_SPECIAL.split(base[:MAX_BASE], maxsplit=1)[0]
    query = f"attributes.run_name LIKE '{prefix}%'" if prefix else ""
    names: set[str] = set()
    token = None
    while True:
        page = client.search_runs(
            [experiment_id],
            filter_string=query,
            run_view_type=ViewType.ALL,
            max_results=PAGE,
            page_token=token,
        )
        names.update(run.info.run_name for run in page if run.info.run_name)
        token = page.token
        if not token:
            return names


def unique_name(client: MlflowClient, experiment_id: str, base: str) -> str:
    """The name a new run called ``base`` gets in this experiment (hold
    :func:`naming_lock` until the run is created)."""
    return next_name(base, taken_names(client, experiment_id, base))


@contextlib.contextmanager
def naming_lock(state_dir: Path | None) -> Iterator[None]:
    """Held from choosing a run's name to creating the run, by every process of the
    project (kernels, their agents, the server's sync)."""
    if state_dir is None:
        yield
        return
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / "run-names.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
