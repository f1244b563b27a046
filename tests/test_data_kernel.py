"""``%snapshot`` and the Python API in a real kernel: output, progress, one-line errors,
interrupts that leave nothing half-done, and ``%%track --data`` linking the run to the
DVC version it read (delivered to a real MLflow server)."""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import subprocess_env

from jupyter_mlops import settings as settings_mod

WIDGET = "application/vnd.jupyter.widget-view+json"
OLD = 1_600_000_000


class Kernel:
    def __init__(self, spec_dir: Path, cwd: Path, env: dict[str, str]) -> None:
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import KernelManager

        self.manager = KernelManager(
            kernel_name="mlops-test-python",
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec_dir)]),
        )
        self.manager.start_kernel(cwd=str(cwd), env=env)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def submit(self, code: str) -> str:
        return str(self.client.execute(code, allow_stdin=False, stop_on_error=False))

    def collect(self, msg_id: str, timeout: float = 120) -> tuple[dict[str, Any], list[dict]]:
        deadline = time.monotonic() + timeout
        outputs: list[dict[str, Any]] = []
        while True:
            assert time.monotonic() < deadline, "the kernel did not finish in time"
            try:
                msg = self.client.get_iopub_msg(timeout=1)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind in ("stream", "display_data", "execute_result", "error", "update_display_data"):
                outputs.append({"output_type": kind, **content})
            elif kind == "status" and content["execution_state"] == "idle":
                break
        while True:
            assert time.monotonic() < deadline, "no reply from the kernel"
            try:
                reply = self.client.get_shell_msg(timeout=1)
            except queue.Empty:
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply["content"], outputs

    def run(self, code: str, timeout: float = 120) -> tuple[dict[str, Any], str, list[dict]]:
        reply, outputs = self.collect(self.submit(code), timeout)
        return reply, text_of(outputs), outputs

    def ok(self, code: str, timeout: float = 120) -> str:
        reply, text, _ = self.run(code, timeout)
        assert reply["status"] == "ok", text
        return text

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def text_of(outputs: list[dict[str, Any]]) -> str:
    parts = []
    for o in outputs:
        if o["output_type"] == "stream":
            parts.append(o["text"])
        elif o["output_type"] == "error":
            parts.append("\n".join(o["traceback"]))
        elif "data" in o:
            parts.append(o["data"].get("text/plain", ""))
    return "".join(parts)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    (root / "data" / "a.csv").write_text("x\n1\n2\n")
    # Data of its own: runs of other tests on the shared MLflow server read other versions.
    (root / "data" / "id.txt").write_text(f"{time.time_ns()}\n")
    (root / "model.bin").write_bytes(b"weights")
    for p in (root / "data" / "a.csv", root / "data" / "id.txt", root / "model.bin"):
        os.utime(p, (OLD, OLD))
    return root


@pytest.fixture
def kernel(kernel_spec_dir: Path, project: Path, tmp_path: Path, mlflow_server) -> Iterator[Kernel]:
    env = subprocess_env(
        {
            settings_mod.ENV_ROOT: str(project),
            "MLFLOW_TRACKING_URI": mlflow_server.uri,
            "IPYTHONDIR": str(tmp_path / "ipython"),
            "MPLBACKEND": "Agg",
        }
    )
    k = Kernel(kernel_spec_dir, project, env)
    try:
        k.ok("%load_ext jupyter_mlops")
        yield k
    finally:
        k.close()


def test_snapshot_magic_and_the_run_that_reads_the_data(kernel, project, mlflow_server):
    out = kernel.ok('%snapshot data model.bin -m "first export"')
    assert "dvc init --no-scm" in out
    assert "data: first version" in out
    assert "model.bin: first version" in out
    again = kernel.ok("%snapshot data")
    assert "data: unchanged" in again
    md5 = (project / "data.dvc").read_text().split("md5: ")[1].split("\n")[0]

    kernel.ok(
        "%%track --name reader --experiment data-links --data data --no-card\n"
        "rows = len(open('data/a.csv').read().splitlines())"
    )
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_server.uri)
    deadline = time.monotonic() + 60
    run = None
    while run is None:
        assert time.monotonic() < deadline, "the tracked run was not delivered"
        experiment = client.get_experiment_by_name("data-links")
        if experiment is not None:
            found = client.search_runs([experiment.experiment_id], "attributes.run_name = 'reader'")
            if (
                found
                and found[0].info.status == "FINISHED"
                and "jupyter_mlops.data" in found[0].data.tags
            ):
                run = found[0]
        time.sleep(0.3)
    assert run.data.tags["jupyter_mlops.data.data"] == md5
    assert run.data.params["data.data"] == f"dvc:{md5[:12]}"

    from jupyter_mlops.data.service import DataService

    service = DataService(settings_mod.resolve(project, tracking_uri=mlflow_server.uri))
    history = service.history("data")
    assert [r.run_id for r in history.versions[0].runs] == [run.info.run_id]


def test_bad_input_is_a_one_line_usage_error(kernel, project):
    reply, text, _ = kernel.run("%snapshot nope.csv")
    assert reply["status"] == "error"
    assert reply["ename"] == "UsageError"
    assert "%snapshot: nope.csv does not exist" in text
    assert "Traceback" not in text
    reply, text, _ = kernel.run("%snapshot ../outside.csv")
    assert reply["ename"] == "UsageError"
    assert "outside the project" in text
    reply, text, _ = kernel.run("%snapshot")
    assert reply["ename"] == "UsageError"


def test_python_api_has_the_same_powers(kernel, project):
    out = kernel.ok(
        "import jupyter_mlops.data as data\n"
        "r = data.snapshot('model.bin', message='api', progress=False)\n"
        "print(r.paths[0].changed, r.paths[0].method)\n"
        "open('model.bin', 'wb').write(b'new weights')\n"
        "r2 = data.snapshot('model.bin', message='api 2', progress=False)\n"
        "h = data.history('model.bin')\n"
        "print([v.message for v in h.versions])\n"
        "data.restore('model.bin', r.paths[0].md5, progress=False)\n"
        "print(open('model.bin', 'rb').read())\n"
        "print([p.path for p in data.tracked().paths])\n"
    )
    assert "True fast" in out
    top = kernel.ok(
        "import jupyter_mlops\n"
        "print(jupyter_mlops.snapshot('data', message='top level', progress=False).paths[0].path)"
    )
    assert top.strip().endswith("data")
    assert "['api 2', 'api']" in out
    assert "b'weights'" in out
    assert "['model.bin']" in out


def test_interrupting_a_snapshot_stops_it_cleanly(kernel, project):
    big = project / "big.bin"
    with big.open("wb") as handle:
        handle.truncate(8 << 30)  # sparse: read as zeros; hashing takes many seconds
    msg_id = kernel.submit("%snapshot big.bin")
    time.sleep(2.0)  # past the half second after which the progress bar shows
    started = time.monotonic()
    kernel.manager.interrupt_kernel()
    reply, outputs = kernel.collect(msg_id, timeout=60)
    assert time.monotonic() - started < 10
    assert reply["ename"] == "KeyboardInterrupt"
    text = text_of(outputs)
    assert "snapshot interrupted" in text
    assert any(WIDGET in o.get("data", {}) for o in outputs) or "hashing" in text
    assert not (project / "big.bin.dvc").exists()
    # The kernel is alive, the lock is free, and DVC's repository is fine.
    big.unlink()
    assert "data: first version" in kernel.ok("%snapshot data")
    status = kernel.ok(
        "import subprocess, sys\n"
        "print(subprocess.run([sys.executable, '-m', 'dvc', 'status'], capture_output=True,"
        " text=True).stdout)"
    )
    assert "up to date" in status
