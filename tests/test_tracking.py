"""Experiment tracking end to end: ``%%track`` in real kernels, a real embedded store and a
real MLflow tracking server, including the failure cases (exceptions, interrupts, a
killed kernel, a tracking server that is down, several kernels at once) and plain
Python scripts.

Kernels, stores and servers are shared where tests can share them: one notebook run feeds
all the embedded-store checks, and the session's ``mlflow_server`` serves the fluent-API
test. Every wait is bounded."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
from conftest import MLFLOW_START_TIMEOUT, start_process, stop_process_group, subprocess_env

from jupyter_mlops import settings as settings_mod
from jupyter_mlops.tracking import delivery
from jupyter_mlops.tracking.spool import Spool

pytestmark = pytest.mark.slow

RUN_KEY_TAG = "jupyter_mlops.run_key"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
KERNEL_NAME = "mlops-test-python"


# -- helpers ------------------------------------------------------------------------------
def wait_until(
    predicate: Callable[[], Any], *, timeout: float, interval: float = 0.1, what: str = ""
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what or predicate}")
        time.sleep(interval)


def run_command(args: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None) -> str:
    done = subprocess.run(
        list(args), cwd=cwd, env=dict(env or subprocess_env()), capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr}"
    return done.stdout


def make_git_dvc_repo(repo: Path) -> Path:
    """What the ``git_dvc_repo`` fixture makes, for module-scoped fixtures."""
    repo.mkdir(parents=True)
    env = subprocess_env({"GIT_CONFIG_NOSYSTEM": "1"})
    run_command(["git", "-c", "init.defaultBranch=main", "init", "--quiet"], repo, env)
    for key, value in (
        ("user.name", "jupyter-mlops tests"),
        ("user.email", "tests@jupyter-mlops.invalid"),
        ("commit.gpgsign", "false"),
    ):
        run_command(["git", "config", key, value], repo, env)
    (repo / "README.md").write_text("# test project\n")
    run_command(["git", "add", "README.md"], repo, env)
    run_command(["git", "commit", "--quiet", "-m", "first commit"], repo, env)
    run_command([sys.executable, "-m", "dvc", "init", "--quiet"], repo, env)
    run_command(["git", "add", "-A"], repo, env)
    run_command(["git", "commit", "--quiet", "-m", "dvc init"], repo, env)
    return repo


def state_dir(root: Path) -> Path:
    return root.resolve() / settings_mod.STATE_DIR_NAME


def embedded_client(root: Path) -> Any:
    """An MLflow client on the project's embedded store, which must exist already. Opened
    the supported way (``mlflow_store.client``): a plain ``MlflowClient`` opening the store while
    an agent still creates it would run MLflow's migrations a second time, concurrently."""
    from jupyter_mlops import mlflow_store

    state = state_dir(root)
    assert (state / "mlflow.db").is_file(), "the embedded store was never created"
    return mlflow_store.client(settings_mod.embedded_tracking_uri(state))


def all_runs(client: Any) -> list[Any]:
    ids = [e.experiment_id for e in client.search_experiments()]
    return list(client.search_runs(ids, max_results=5000)) if ids else []


def runs_with_key(client: Any, key: str) -> list[Any]:
    ids = [e.experiment_id for e in client.search_experiments()]
    return list(client.search_runs(ids, filter_string=f"tags.`{RUN_KEY_TAG}` = '{key}'"))


def artifact_paths(client: Any, run_id: str, path: str | None = None) -> set[str]:
    found: set[str] = set()
    for item in client.list_artifacts(run_id, path):
        if item.is_dir:
            found |= artifact_paths(client, run_id, item.path)
        else:
            found.add(item.path)
    return found


def read_artifact(run: Any, path: str) -> str:
    """A run's artifact from a ``file://`` artifact store."""
    uri = run.info.artifact_uri
    assert uri.startswith("file://"), uri
    return (Path(unquote(urlsplit(uri).path)) / path).read_text()


def metric_history(client: Any, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def spooled(root: Path) -> list[dict[str, Any]]:
    """The run records waiting in the project's journal."""
    spool = state_dir(root) / "spool"
    if not spool.is_dir():
        return []
    records = []
    for path in spool.glob("*/record.json"):
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return records


def agent_pids(state: Path) -> list[int]:
    """PIDs of the delivery agents serving ``state`` (started by the kernels under test)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"jupyter_mlops.tracking.agent" in argv and str(state).encode() in argv:
            pids.append(int(proc.name))
    return pids


def stop_agents(state: Path) -> None:
    """End the delivery agents the tests' kernels left behind (they exit by themselves once
    their runs are delivered; a failed test may leave one waiting)."""
    for pid in agent_pids(state):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue


def strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def widget_ids(outputs: Sequence[Mapping[str, Any]]) -> list[str]:
    return [
        o["data"][WIDGET_MIME]["model_id"]
        for o in outputs
        if o["output_type"] == "display_data" and WIDGET_MIME in o.get("data", {})
    ]


def without_widgets(outputs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Outputs minus run cards, reduced to what the user sees."""
    seen = []
    for o in outputs:
        if o["output_type"] == "display_data" and WIDGET_MIME in o.get("data", {}):
            continue
        if o["output_type"] == "stream":
            # The kernel may split one print into several stream messages: join them.
            if seen and seen[-1].get("stream") == o["name"]:
                seen[-1]["text"] += o["text"]
            else:
                seen.append({"stream": o["name"], "text": o["text"]})
        elif o["output_type"] in ("execute_result", "display_data"):
            seen.append({o["output_type"]: dict(o["data"])})
        elif o["output_type"] == "error":
            seen.append({"error": o["ename"], "evalue": o["evalue"]})
    return seen


#: In-kernel code printing the HTML of every run card, once their deliveries settled.
CARDS_CODE = """\
import json as _json, time as _time
from ipywidgets.widgets.widget import _instances as _widgets
def _cards():
    return {k: w.value for k, w in list(_widgets.items())
            if "jp-mlops-RunCard" in str(getattr(w, "value", ""))}
_deadline = _time.monotonic() + {timeout}
while _time.monotonic() < _deadline and not all({settled!r} in v for v in _cards().values()):
    _time.sleep(0.1)
print(_json.dumps(_cards()))
"""


def cards_code(settled: str = "saved to MLflow", timeout: float = 10.0) -> str:
    return CARDS_CODE.replace("{timeout}", str(timeout)).replace("{settled!r}", repr(settled))


FLUSH_CODE = (
    "from jupyter_mlops.tracking.session import default_session\n"
    "print('flushed', default_session().flush({timeout}))"
)


def flush_code(timeout: float = 60) -> str:
    return FLUSH_CODE.replace("{timeout}", str(timeout))


# -- a kernel driven through jupyter_client -----------------------------------------------
@dataclass
class Execution:
    reply: dict[str, Any]
    outputs: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def status(self) -> str:
        return str(self.reply.get("status"))

    @property
    def text(self) -> str:
        parts = []
        for o in self.outputs:
            if o["output_type"] == "stream":
                parts.append(o["text"])
            elif o["output_type"] in ("execute_result", "display_data"):
                parts.append(o["data"].get("text/plain", ""))
            elif o["output_type"] == "error":
                parts.append("\n".join(o["traceback"]))
        return "".join(parts)


class Kernel:
    """A real ipykernel with this venv's Python, started with its own environment."""

    def __init__(self, spec_dir: Path, cwd: Path, env: Mapping[str, str]) -> None:
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import KernelManager

        self.manager = KernelManager(
            kernel_name=KERNEL_NAME,
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec_dir)]),
        )
        self.manager.start_kernel(cwd=str(cwd), env=dict(env))
        self.client = self.manager.client()
        self.client.start_channels()
        try:
            self.client.wait_for_ready(timeout=60)
        except BaseException:
            self.close()
            raise
        self._started: dict[str, float] = {}

    @property
    def pid(self) -> int:
        return int(self.manager.provisioner.pid)  # type: ignore[union-attr]

    def submit(self, code: str) -> str:
        msg_id = str(self.client.execute(code, allow_stdin=False, stop_on_error=False))
        self._started[msg_id] = time.perf_counter()
        return msg_id

    def collect(self, msg_id: str, timeout: float = 120) -> Execution:
        """The outputs and reply of an execution submitted before."""
        deadline = time.monotonic() + timeout
        outputs: list[dict[str, Any]] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"no idle status from the kernel within {timeout} s")
            try:
                msg = self.client.get_iopub_msg(timeout=remaining)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind in ("stream", "display_data", "execute_result", "error"):
                outputs.append({"output_type": kind, **content})
            elif kind == "status" and content["execution_state"] == "idle":
                break
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"no execute_reply from the kernel within {timeout} s")
            try:
                reply = self.client.get_shell_msg(timeout=remaining)
            except queue.Empty:
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        seconds = time.perf_counter() - self._started.pop(msg_id, time.perf_counter())
        return Execution(reply["content"], outputs, seconds)

    def run(self, code: str, timeout: float = 120) -> Execution:
        return self.collect(self.submit(code), timeout)

    def ok(self, code: str, timeout: float = 120) -> Execution:
        done = self.run(code, timeout)
        assert done.status == "ok", f"cell failed: {done.reply}\n{strip_ansi(done.text)}"
        return done

    def close(self) -> None:
        self.client.stop_channels()
        if self.manager.has_kernel:
            self.manager.shutdown_kernel(now=True)


def kernel_env(root: Path, ipython_dir: Path, **extra: str | None) -> dict[str, str]:
    return subprocess_env(
        {
            settings_mod.ENV_ROOT: str(root),
            "IPYTHONDIR": str(ipython_dir),
            "MPLBACKEND": "Agg",
            **extra,
        }
    )


@pytest.fixture
def start_kernel(kernel_spec_dir: Path, tmp_path: Path) -> Iterator[Callable[..., Kernel]]:
    """``start_kernel(root, **env)``: a kernel in ``root`` tracking into ``root``'s project
    (plus ``env``); shut down, with the agents it started, after the test."""
    kernels: list[Kernel] = []
    roots: set[Path] = set()

    def start(root: Path, **env: str | None) -> Kernel:
        roots.add(root)
        kernel = Kernel(kernel_spec_dir, root, kernel_env(root, tmp_path / "ipython", **env))
        kernels.append(kernel)
        return kernel

    yield start
    for kernel in kernels:
        kernel.close()
    for root in roots:
        # Agents exit once their owner is gone and its runs are delivered; give them a
        # moment, then end whatever a failed test left behind.
        state = state_dir(root)
        deadline = time.monotonic() + 5
        while agent_pids(state) and time.monotonic() < deadline:
            time.sleep(0.1)
        stop_agents(state)


# -- 1, 2, 7: one notebook against the embedded store ---------------------------------------
TRAIN_BODY = """\
# train the model
import jupyter_mlops
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
batch_size = 32
optimizer = "adam"
layers = [64, 32]
use_bias = True
for step in range(epochs):
    loss = 1.0 / (step + 1)
    jupyter_mlops.log(step=step, loss=loss)
acc = 0.5 + 0.125 * epochs
fig, ax = plt.subplots(num="loss curve")
ax.plot([1.0 / (s + 1) for s in range(epochs)])
print("trained", epochs, "epochs")
acc * 100"""

BAD_OPTIONS = ["--bogus", "--params 1x", "--tags novalue"]

#: A figure that cannot be saved: what the run records fails, the cell must not.
UNSAVEABLE = """\
%%track --name unsaveable
import matplotlib.pyplot as plt
bad = plt.figure(num="unsaveable")
bad.savefig = lambda *args, **kwargs: 1 / 0
'shown'"""


def notebook_cells() -> list[tuple[str, list[str]]]:
    cells: list[tuple[str, list[str]]] = [
        ("%load_ext jupyter_mlops", []),
        ('epochs = 3\nlearning_rate = 0.05\nmodel_name = "ridge"', ["parameters"]),
        ("%%track --metrics acc --data data.csv --data raw.txt\n" + TRAIN_BODY, []),
        # The same cell untracked (log() belongs to tracked cells).
        (
            TRAIN_BODY.replace("jupyter_mlops.log(step=step, loss=loss)", "pass").replace(
                'num="loss curve"', 'num="untracked"'
            ),
            [],
        ),
        ('%%track --name failing\nvalue = 1\nraise ValueError("bad value 42")', []),
        ('value = 1\nraise ValueError("bad value 42")', []),
        ("%%track --name interrupted\nraise KeyboardInterrupt", []),
        *[(f"%%track {bad}\nbody_ran = True\nprint('body ran')", []) for bad in BAD_OPTIONS],
        ("print('body_ran' in globals())", []),
        ("%%track --name quiet\nhalf = 21\nhalf * 2;", []),
        (UNSAVEABLE, []),
        ("%%track --name broken\nvalue = (", []),
        (flush_code(90), []),
        (cards_code(), []),
    ]
    return cells


@dataclass
class NotebookRun:
    root: Path
    path: Path
    nb: Any
    client: Any
    runs: dict[str, Any]

    def cell(self, start: str) -> Any:
        found = [c for c in self.nb.cells if c.source.startswith(start)]
        assert len(found) == 1, f"{len(found)} cells start with {start!r}"
        return found[0]

    @property
    def cards(self) -> dict[str, str]:
        return dict(json.loads(self.nb.cells[-1].outputs[-1]["text"]))


@pytest.fixture(scope="module")
def notebook_run(
    tmp_path_factory: pytest.TempPathFactory, kernel_spec_dir: Path
) -> Iterator[NotebookRun]:
    """``analysis.ipynb`` in a git + DVC project with a dirty tree, executed once in a real
    kernel (the notebook path given the way Jupyter Server gives it: JPY_SESSION_NAME)."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    base = tmp_path_factory.mktemp("tracked-notebook")
    root = make_git_dvc_repo(base / "project").resolve()
    git_env = subprocess_env({"GIT_CONFIG_NOSYSTEM": "1"})
    (root / "data.csv").write_text("x,y\n1,2\n3,4\n")
    run_command([sys.executable, "-m", "dvc", "add", "--quiet", "data.csv"], root, git_env)
    run_command(["git", "add", "data.csv.dvc", ".gitignore"], root, git_env)
    run_command(["git", "commit", "--quiet", "-m", "data"], root, git_env)
    (root / "raw.txt").write_text("raw, not under DVC\n")
    (root / "README.md").write_text("# test project\n\nchanged, not committed\n")

    nb = nbformat.v4.new_notebook()
    for source, tags in notebook_cells():
        cell = nbformat.v4.new_code_cell(source)
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nb.metadata["kernelspec"] = {
        "name": KERNEL_NAME,
        "display_name": "Python",
        "language": "python",
    }
    path = root / "analysis.ipynb"
    nbformat.write(nb, path)

    km = KernelManager(
        kernel_name=KERNEL_NAME,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_spec_dir)]),
    )
    runner = NotebookClient(
        nb, km=km, timeout=120, startup_timeout=60, allow_errors=True, kernel_name=KERNEL_NAME
    )
    env = kernel_env(root, base / "ipython", JPY_SESSION_NAME=str(path))
    env.pop(settings_mod.ENV_ROOT)  # the kernel's folder is the project root
    try:
        runner.execute(cwd=str(root), env=env)
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    client = embedded_client(root)
    runs = {r.info.run_name: r for r in all_runs(client)}
    try:
        yield NotebookRun(root, path, nb, client, runs)
    finally:
        stop_agents(state_dir(root))


def test_tracked_cell_shows_what_it_would_show_untracked_plus_a_run_card(notebook_run):
    tracked = notebook_run.cell("%%track --metrics acc")
    untracked = notebook_run.cell("# train the model")
    assert without_widgets(tracked.outputs) == without_widgets(untracked.outputs)
    assert without_widgets(tracked.outputs) == [
        {"stream": "stdout", "text": "trained 3 epochs\n"},
        {"execute_result": {"text/plain": "87.5"}},
    ]
    assert len(widget_ids(tracked.outputs)) == 1
    # The card comes after what the cell itself shows.
    assert WIDGET_MIME in tracked.outputs[-1].get("data", {})


def test_run_records_params_metrics_and_artifacts(notebook_run):
    run = notebook_run.runs["train the model"]
    client = notebook_run.client
    assert run.info.status == "FINISHED"
    params = run.data.params
    # Literals the cell assigned and the notebook parameter it reads.
    for name, value in {
        "batch_size": "32",
        "optimizer": "adam",
        "layers": "[64, 32]",
        "use_bias": "True",
        "epochs": "3",
    }.items():
        assert params.get(name) == value, (name, params)
    # Not loop variables, not values that are metrics, not objects, not the notebook
    # parameters the cell does not read.
    for name in ("step", "loss", "acc", "fig", "ax", "plt", "matplotlib", "s"):
        assert name not in params, (name, params)
    for name in ("learning_rate", "model_name"):
        assert name not in params, (name, params)
    assert run.data.metrics["acc"] == pytest.approx(0.875)
    assert metric_history(client, run.info.run_id, "loss") == [
        (0, pytest.approx(1.0)),
        (1, pytest.approx(0.5)),
        (2, pytest.approx(1 / 3)),
    ]
    assert run.data.metrics["jupyter_mlops.duration_s"] > 0
    files = artifact_paths(client, run.info.run_id)
    for expected in (
        "source/cell.py",
        "source/history.py",
        "lineage/requirements.txt",
        "lineage/git.diff",
        "lineage/data.json",
    ):
        assert expected in files, (expected, files)
    figures = [f for f in files if f.startswith("figures/") and f.endswith(".png")]
    assert len(figures) == 1, files
    assert read_artifact(run, "source/cell.py").rstrip("\n") == TRAIN_BODY
    history = read_artifact(run, "source/history.py")
    assert "learning_rate = 0.05" in history
    assert "matplotlib" in read_artifact(run, "lineage/requirements.txt").lower()
    assert "changed, not committed" in read_artifact(run, "lineage/git.diff")


def test_run_records_git_notebook_and_experiment(notebook_run):
    run = notebook_run.runs["train the model"]
    root, tags = notebook_run.root, run.data.tags
    head = run_command(["git", "rev-parse", "HEAD"], root).strip()
    assert tags["mlflow.source.git.commit"] == head
    assert tags["mlflow.source.git.branch"] == "main"
    assert tags["jupyter_mlops.git.dirty"] == "true"
    assert tags["mlflow.source.name"] == str(notebook_run.path)
    assert tags["jupyter_mlops.python"] == ".".join(map(str, sys.version_info[:3]))
    assert tags[RUN_KEY_TAG]
    experiment = notebook_run.client.get_experiment(run.info.experiment_id)
    assert experiment.name == "analysis"
    artifacts_root = (root / ".mlops" / "artifacts").as_uri()
    assert experiment.artifact_location.startswith(artifacts_root + "/")
    assert run.info.artifact_uri.startswith(experiment.artifact_location)


def test_data_versions_are_dvc_md5_or_sha256(notebook_run):
    import yaml

    run = notebook_run.runs["train the model"]
    data = json.loads(run.data.tags["jupyter_mlops.data"])
    dvc_md5 = yaml.safe_load((notebook_run.root / "data.csv.dvc").read_text())["outs"][0]["md5"]
    raw_sha = hashlib.sha256((notebook_run.root / "raw.txt").read_bytes()).hexdigest()
    assert data == {
        "data.csv": {"kind": "dvc", "hash": dvc_md5},
        "raw.txt": {"kind": "sha256", "hash": raw_sha},
    }
    assert run.data.params["data.data.csv"] == f"dvc:{dvc_md5[:12]}"
    assert run.data.params["data.raw.txt"] == f"sha256:{raw_sha[:12]}"


def test_failing_cell_raises_as_untracked_and_its_run_failed(notebook_run):
    tracked = notebook_run.cell("%%track --name failing")
    untracked = notebook_run.cell("value = 1\nraise")
    assert without_widgets(tracked.outputs) == without_widgets(untracked.outputs)
    [error] = [o for o in tracked.outputs if o.output_type == "error"]
    assert (error.ename, error.evalue) == ("ValueError", "bad value 42")
    [untracked_error] = [o for o in untracked.outputs if o.output_type == "error"]
    assert strip_ansi(error.traceback[-1]) == strip_ansi(untracked_error.traceback[-1])
    run = notebook_run.runs["failing"]
    assert run.info.status == "FAILED"
    assert run.data.tags["jupyter_mlops.error"] == "ValueError: bad value 42"
    assert "error.txt" in artifact_paths(notebook_run.client, run.info.run_id)
    assert "ValueError: bad value 42" in read_artifact(run, "error.txt")
    # The cell's code is named as IPython names it, by the cell's own execution count.
    assert f"Cell In[{tracked.execution_count}], line 2" in strip_ansi("\n".join(error.traceback))
    assert run.data.params == {"value": "1"}  # it reads no notebook parameter


def test_keyboard_interrupt_in_the_cell_kills_the_run(notebook_run):
    cell = notebook_run.cell("%%track --name interrupted")
    [error] = [o for o in cell.outputs if o.output_type == "error"]
    assert error.ename == "KeyboardInterrupt"
    assert notebook_run.runs["interrupted"].info.status == "KILLED"


@pytest.mark.parametrize("options", BAD_OPTIONS)
def test_bad_options_are_a_one_line_usage_error(notebook_run, options):
    cell = notebook_run.cell(f"%%track {options}\n")
    assert len(cell.outputs) == 1, cell.outputs
    [output] = cell.outputs
    assert output.output_type == "stream"
    assert output.name == "stderr"
    assert output.text.startswith("UsageError: ")
    assert output.text.count("\n") == 1
    assert "Traceback" not in output.text


def test_bad_options_run_nothing_and_record_nothing(notebook_run):
    assert notebook_run.cell("print('body_ran'").outputs[0]["text"] == "False\n"
    names = set(notebook_run.runs)
    assert names == {"train the model", "failing", "interrupted", "quiet", "unsaveable"}, names


def test_semicolon_and_syntax_errors_behave_as_untracked(notebook_run):
    quiet = notebook_run.cell("%%track --name quiet")
    assert without_widgets(quiet.outputs) == []  # a trailing ';' hides the value
    assert notebook_run.runs["quiet"].data.params["half"] == "21"
    broken = notebook_run.cell("%%track --name broken")
    assert [o.ename for o in broken.outputs if o.output_type == "error"] == ["SyntaxError"]
    assert widget_ids(broken.outputs) == []  # a cell that cannot run is no run


def test_what_tracking_cannot_capture_does_not_break_the_cell(notebook_run):
    cell = notebook_run.cell("%%track --name unsaveable")
    assert without_widgets(cell.outputs) == [{"execute_result": {"text/plain": "'shown'"}}]
    run = notebook_run.runs["unsaveable"]
    assert run.info.status == "FINISHED"
    assert "figures: ZeroDivisionError" in run.data.tags["jupyter_mlops.capture_error"]
    assert "source/cell.py" in artifact_paths(notebook_run.client, run.info.run_id)


def test_cards_show_the_outcome_once_saved(notebook_run):
    assert notebook_run.nb.cells[-2].outputs[-1]["text"] == "flushed True\n"
    cards = notebook_run.cards
    expected = {
        "%%track --metrics acc": ("train the model", "FINISHED"),
        "%%track --name failing": ("failing", "FAILED"),
        "%%track --name interrupted": ("interrupted", "KILLED"),
    }
    for start, (name, status) in expected.items():
        [model_id] = widget_ids(notebook_run.cell(start).outputs)
        card = cards[model_id]
        assert f"<b>{name}</b>" in card
        assert status in card
        assert "saved to MLflow" in card
        assert notebook_run.runs[name].info.run_id[:8] in card
    # The notebook's kernel is gone: its agent delivered everything and left nothing.
    assert spooled(notebook_run.root) == []


# -- 2, 3: interrupting and killing a kernel ------------------------------------------------
SLEEPING_CELL = "%%track --name {name}\nimport time\nstarted = 1\ntime.sleep(60)"


def _wait_for_journal(root: Path, name: str, timeout: float = 20) -> dict[str, Any]:
    return wait_until(
        lambda: next((r for r in spooled(root) if r["run_name"] == name), None),
        timeout=timeout,
        what=f"run {name!r} in the journal",
    )


def _run_in_store(root: Path, key: str) -> Any:
    if not (state_dir(root) / "mlflow.db").is_file():
        return None
    found = runs_with_key(embedded_client(root), key)
    return found[0] if found else None


def test_interrupting_a_tracked_cell_kills_its_run(start_kernel, tmp_path):
    root = tmp_path / "interrupt"
    root.mkdir()
    kernel = start_kernel(root)
    kernel.ok("%load_ext jupyter_mlops")
    msg_id = kernel.submit(SLEEPING_CELL.format(name="sleepy"))
    record = _wait_for_journal(root, "sleepy")
    time.sleep(0.2)  # well inside time.sleep(60)
    kernel.manager.interrupt_kernel()
    done = kernel.collect(msg_id, timeout=30)
    assert done.reply["ename"] == "KeyboardInterrupt"
    assert [o["ename"] for o in done.outputs if o["output_type"] == "error"] == [
        "KeyboardInterrupt"
    ]
    assert done.seconds < 20
    assert "flushed True" in kernel.ok(flush_code()).text
    [run] = runs_with_key(embedded_client(root), record["key"])
    assert run.info.status == "KILLED"
    assert run.data.params["started"] == "1"


def test_killed_kernel_leaves_its_run_killed_not_running(start_kernel, tmp_path):
    root = tmp_path / "kill"
    root.mkdir()
    notebook = root / "doomed.ipynb"
    kernel = start_kernel(root, JUPYTER_MLOPS_NOTEBOOK=str(notebook))
    kernel.ok("%load_ext jupyter_mlops")
    quick = kernel.ok("%%track --name quick\nquick_value = 7")
    kernel.submit(SLEEPING_CELL.format(name="doomed"))
    record = _wait_for_journal(root, "doomed")
    finished = _wait_for_journal(root, "quick")
    # Journaled complete at once: the lineage is the agent's work, not the kernel's.
    assert finished["status"] == "FINISHED"
    assert finished["complete"]
    # Once the run is in the store (RUNNING), its delivery agent is up.
    run = wait_until(
        lambda: _run_in_store(root, record["key"]), timeout=60, what="the run in the store"
    )
    assert run.info.status == "RUNNING"
    os.kill(kernel.pid, signal.SIGKILL)
    killed_at = time.monotonic()

    def settled() -> Any:
        found = [_run_in_store(root, key) for key in (record["key"], finished["key"])]
        return found if all(r and r.info.status != "RUNNING" for r in found) else None

    run, quick_run = wait_until(settled, timeout=20, interval=0.25, what="runs to leave RUNNING")
    assert time.monotonic() - killed_at < 20
    assert run.info.status == "KILLED"
    assert run.data.tags["jupyter_mlops.killed_reason"]
    assert run.data.tags["mlflow.source.name"] == str(notebook)
    # The cell that ended before the kernel died keeps its outcome and what it recorded.
    assert quick_run.info.status == "FINISHED"
    assert quick_run.data.params == {"quick_value": "7"}
    client = embedded_client(root)
    assert "source/cell.py" in artifact_paths(client, quick_run.info.run_id)
    assert sorted(r.info.status for r in all_runs(client)) == ["FINISHED", "KILLED"]
    assert len(widget_ids(quick.outputs)) == 1
    # The agent finished its work and left.
    wait_until(lambda: not agent_pids(state_dir(root)), timeout=10, what="the agent to exit")
    assert spooled(root) == []


# -- 4: the tracking server is down ---------------------------------------------------------
def start_mlflow_server(folder: Path, port: int) -> subprocess.Popen[bytes]:
    """A real ``mlflow server`` on ``port`` (what the session's ``mlflow_server`` runs)."""
    folder.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{(folder / 'mlflow.db').as_posix()}",
        "--default-artifact-root", (folder / "artifacts").as_uri(),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    return start_process(
        command,
        cwd=folder,
        env=subprocess_env({"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}),
        log=folder / "server.log",
        ready_url=f"http://127.0.0.1:{port}/health",
        timeout=MLFLOW_START_TIMEOUT,
    )


@pytest.fixture
def late_server(tmp_path: Path, down_server_url: str) -> Iterator[Any]:
    """``down_server_url`` now, and ``start()`` to bring a real MLflow server up on it."""
    started: list[subprocess.Popen[bytes]] = []

    class Late:
        uri = down_server_url

        @staticmethod
        def start() -> None:
            port = int(down_server_url.rsplit(":", 1)[1])
            started.append(start_mlflow_server(tmp_path / "late-server", port))

    yield Late
    for proc in started:
        stop_process_group(proc)


def test_server_down_keeps_runs_and_delivers_them_once_when_it_is_back(
    start_kernel, late_server, tmp_path
):
    from mlflow import MlflowClient

    root = tmp_path / "offline"
    root.mkdir()
    kernel = start_kernel(root, JUPYTER_MLOPS_TRACKING_URI=late_server.uri)
    kernel.ok("%load_ext jupyter_mlops\nimport jupyter_mlops")
    plain = kernel.ok(
        "%%track --name offline\nalpha = 0.5\nloss = 0.25\n"
        "jupyter_mlops.log(step=0, loss=loss)\nalpha * 2"
    )
    assert plain.seconds < 3.0, f"a tracked cell took {plain.seconds:.1f} s with the server down"
    assert without_widgets(plain.outputs) == [{"execute_result": {"text/plain": "1.0"}}]
    fluent = kernel.ok(
        "%%track --name offline-fluent\nimport mlflow\nbeta = 2\n"
        "mlflow.log_param('p', 'x')\nmlflow.log_metric('m', 1.0)"
    )
    assert without_widgets(fluent.outputs) == []
    assert len(widget_ids(fluent.outputs)) == 1
    # Both runs wait in the journal after failed delivery attempts; the cards say so.
    state = state_dir(root)
    spool = Spool(state)

    def both_failed_once() -> bool:
        records = spool.pending()
        return len(records) == 2 and all(
            r.deliverable and spool.read_delivery(r.key).last_error for r in records
        )

    wait_until(both_failed_once, timeout=30, what="complete runs after failed deliveries")
    cards = json.loads(kernel.ok(cards_code("pending", timeout=10)).text)
    [plain_card] = [cards[i] for i in widget_ids(plain.outputs)]
    [fluent_card] = [cards[i] for i in widget_ids(fluent.outputs)]
    for card in (plain_card, fluent_card):
        assert "pending" in card, card
    keys = {r.run_name: r.key for r in spool.pending()}

    late_server.start()
    # `jupyter mlops sync` delivers what waits (the agent may deliver some of it first).
    synced = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops", "sync", "--json", "--root", str(root)],
        cwd=root,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert synced.returncode == 0, synced
    assert synced.stdout.startswith("["), synced.stdout
    outcomes = json.loads(synced.stdout)  # JSON and nothing else on stdout
    assert {o["state"] for o in outcomes} <= {"delivered", "busy", "gone"}, synced
    deadline = time.monotonic() + 60
    while spool.record_keys() and time.monotonic() < deadline:
        delivery.sync(spool, force=True)
        time.sleep(0.5)
    assert spool.record_keys() == [], [spool.read_delivery(k) for k in spool.record_keys()]
    assert delivery.sync(spool, force=True) == []  # nothing is delivered twice

    client = MlflowClient(tracking_uri=late_server.uri)
    [run] = runs_with_key(client, keys["offline"])
    assert run.info.status == "FINISHED"
    assert run.data.params == {"alpha": "0.5"}  # `loss` is a metric, not a parameter
    assert metric_history(client, run.info.run_id, "loss") == [(0, 0.25)]
    [run] = runs_with_key(client, keys["offline-fluent"])
    assert run.info.status == "FINISHED"
    assert run.data.metrics["m"] == 1.0
    assert run.data.params["p"] == "x"
    assert run.data.params["beta"] == "2"
    assert len(all_runs(client)) == 2
    # The cards follow the delivery.
    cards = json.loads(kernel.ok(cards_code("saved to MLflow", timeout=10)).text)
    for model_id in widget_ids(plain.outputs) + widget_ids(fluent.outputs):
        assert "saved to MLflow" in cards[model_id]
        assert "open in MLflow" in cards[model_id]


# -- 5: fluent MLflow calls against a running tracking server -------------------------------
def test_fluent_calls_land_in_the_tracked_run(start_kernel, mlflow_server, tmp_path):
    from mlflow import MlflowClient

    root = tmp_path / "fluent"
    root.mkdir()
    kernel = start_kernel(root, JUPYTER_MLOPS_TRACKING_URI=mlflow_server.uri)
    kernel.ok("%load_ext jupyter_mlops")
    cell = (
        "%%track --name fluent-up --experiment fluent-tests\n"
        "import mlflow\n"
        "lr = 0.01\n"
        "mlflow.log_param('optimizer', 'sgd')\n"
        "mlflow.log_metric('val_loss', 0.3, step=1)\n"
        "n = 1\n"
        "mlflow.log_param('n', n)\n"
        "n = 2\n"
        "run_id = mlflow.active_run().info.run_id\n"
        "print(run_id)"
    )
    done = kernel.ok(cell)
    # What the cell prints, and nothing else (MLflow's "View run" lines, for one).
    [printed] = without_widgets(done.outputs)
    assert printed["stream"] == "stdout"
    fluent_run_id = printed["text"].strip()
    assert len(fluent_run_id) == 32, printed
    assert "flushed True" in kernel.ok(flush_code()).text
    client = MlflowClient(tracking_uri=mlflow_server.uri)
    experiment = client.get_experiment_by_name("fluent-tests")
    [run] = client.search_runs([experiment.experiment_id], "attributes.run_name = 'fluent-up'")
    assert run.info.run_id == fluent_run_id
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["lr"] == "0.01"  # auto-captured
    assert params["optimizer"] == "sgd"  # fluent
    assert params["n"] == "1"  # logged by the cell first: MLflow keeps a param's first value
    assert run.data.metrics["val_loss"] == 0.3
    assert "source/cell.py" in artifact_paths(client, run.info.run_id)
    # No other run appeared, and the kernel's fluent state is back to what it was.
    assert len(client.search_runs([experiment.experiment_id])) == 1
    assert kernel.ok("print(mlflow.active_run())").text.strip() == "None"


# -- 6: several kernels, one embedded store -------------------------------------------------
def test_several_kernels_track_into_one_embedded_store(start_kernel, tmp_path):
    root = tmp_path / "shared"
    root.mkdir()
    kernels = [start_kernel(root) for _ in range(3)]
    cells: list[tuple[Kernel, str]] = []
    for kernel in kernels:
        cells.append((kernel, kernel.submit("%load_ext jupyter_mlops\nimport jupyter_mlops")))
    for k, kernel in enumerate(kernels):
        for i in range(10):
            code = (
                f"%%track --name k{k}-c{i}\nkernel = {k}\ncell = {i}\n"
                f"jupyter_mlops.log(step=0, score={k * 10 + i})\nprint('cell', {i})"
            )
            cells.append((kernel, kernel.submit(code)))
    outputs = []
    for kernel, msg_id in cells:
        done = kernel.collect(msg_id, timeout=120)
        assert done.status == "ok", (done.reply, done.text)
        outputs.append(done.text)
    for kernel in kernels:
        outputs.append(kernel.ok(flush_code(120), timeout=150).text)
        assert "flushed True" in outputs[-1]
    assert not any("locked" in text.lower() for text in outputs)
    client = embedded_client(root)
    runs = {r.info.run_name: r for r in all_runs(client)}
    expected = {f"k{k}-c{i}" for k in range(3) for i in range(10)}
    assert set(runs) == expected
    assert len(all_runs(client)) == 30
    for name, run in runs.items():
        k, i = (int(part[1:]) for part in name.split("-"))
        assert run.info.status == "FINISHED"
        assert run.data.params == {"kernel": str(k), "cell": str(i)}
        assert run.data.metrics["score"] == k * 10 + i
    assert spooled(root) == []


# -- 8: plain Python --------------------------------------------------------------------------
SCRIPT = """\
import jupyter_mlops

with jupyter_mlops.track(name="script", params={"a": 1}) as run:
    run.log(step=0, loss=0.5)
print("done")
"""


def test_script_run_is_in_the_store_when_the_script_exits(tmp_path):
    root = tmp_path / "script-project"
    root.mkdir()
    script = root / "train_script.py"
    script.write_text(SCRIPT)
    try:
        done = subprocess.run(
            [sys.executable, str(script)],
            cwd=root,
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == "done\n"
        assert "Traceback" not in done.stderr, done.stderr
        # Delivered before the script exited: nothing left in the journal.
        assert spooled(root) == []
        client = embedded_client(root)
        [run] = all_runs(client)
        assert run.info.run_name == "script"
        assert run.info.status == "FINISHED"
        assert run.data.params == {"a": "1"}
        assert metric_history(client, run.info.run_id, "loss") == [(0, 0.5)]
        assert run.data.tags["jupyter_mlops.source"] == "script"
        assert client.get_experiment(run.info.experiment_id).name == "train_script"
    finally:
        stop_agents(state_dir(root))


# -- sync: runs of dead processes -------------------------------------------------------------
def test_sync_marks_runs_of_dead_processes_killed_and_delivers_them(tmp_path):
    from jupyter_mlops.tracking.spool import RunRecord

    root = tmp_path / "orphans"
    settings = settings_mod.resolve(root, environ={})
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    spool = Spool(settings.state_dir)
    running = RunRecord.new(
        tracking_uri=settings.tracking_uri,
        experiment="orphans",
        run_name="orphan",
        artifact_location=settings.artifact_location,
        pid=dead.pid,
        params={"a": "1"},
    )
    finished = RunRecord.new(
        tracking_uri=settings.tracking_uri,
        experiment="orphans",
        run_name="done",
        artifact_location=settings.artifact_location,
        pid=dead.pid,
        status="FINISHED",
        end_time=running.start_time + 1000,
        complete=True,
    )
    spool.write(running)
    spool.write(finished)
    outcomes = delivery.sync(spool)
    assert sorted(o.state for o in outcomes) == ["delivered", "delivered"]
    assert spool.record_keys() == []
    assert spool.receipt(running.key)["run_id"]
    client = embedded_client(root)
    [orphan] = runs_with_key(client, running.key)
    assert orphan.info.status == "KILLED"
    assert orphan.data.params == {"a": "1"}
    [done] = runs_with_key(client, finished.key)
    assert done.info.status == "FINISHED"
    assert delivery.sync(spool) == []
