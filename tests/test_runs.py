"""The runs view's routes, served by a real Jupyter server, against the embedded SQLite store
and a real MLflow tracking server (every test of :class:`TestRuns` runs on both), and
against a tracking server that is down."""

from __future__ import annotations

import itertools
import json
import struct
import uuid
import zlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from jupyter_mlops import mlflow_store
from jupyter_mlops import settings as settings_mod
from jupyter_mlops.api.models import ErrorBody
from jupyter_mlops.runs import artifacts as artifacts_mod
from jupyter_mlops.runs import service as runs_mod
from jupyter_mlops.runs.models import (
    ArtifactList,
    MetricHistory,
    RunDetails,
    RunsPage,
    RunSummary,
)

T0 = 1_700_000_000_000  # start times of the runs made here (ms), one second apart
COMMIT = "0123456789abcdef0123456789abcdef01234567"
DATA = {"data/train.csv": {"kind": "dvc", "hash": "d41d8cd98f00b204e9800998ecf8427e"}}
CELL = "# train\nlr = 0.1\nloss = fit(lr)\n"
MISSING_RUN = "0" * 32


def _png() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


PNG = _png()


@dataclass(frozen=True)
class Backend:
    kind: str  # "embedded" or "server"
    uri: str
    client: Any
    root: Path

    def experiment(self) -> str:
        name = f"runs-{uuid.uuid4().hex[:10]}"
        if self.kind == "server":  # the server's default artifact root
            return str(self.client.create_experiment(name))
        # As %%track does: beside the embedded store, never ./mlruns of the test's folder.
        location = (self.root / ".mlops" / "artifacts" / name).as_uri()
        return str(self.client.create_experiment(name, artifact_location=location))

    def plain_run(
        self,
        experiment_id: str,
        i: int,
        *,
        params: dict[str, str] | None = None,
        metrics: dict[str, float] | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        """A run started ``i`` seconds after T0, finished a second later."""
        from mlflow.entities import Metric, Param, RunTag

        client = self.client
        run = client.create_run(
            experiment_id, run_name=f"run-{i}", start_time=T0 + i * 1000, tags=tags or {}
        )
        run_id = run.info.run_id
        client.log_batch(
            run_id,
            params=[Param(k, v) for k, v in (params or {}).items()],
            metrics=[Metric(k, v, T0, 0) for k, v in (metrics or {}).items()],
            tags=[RunTag("idx", str(i))],
        )
        client.set_terminated(run_id, "FINISHED", end_time=T0 + i * 1000 + 1000)
        return str(run_id)

    def tracked_run(self, experiment_id: str, folder: Path, *, failed: bool = False) -> str:
        """A run as %%track leaves it: its tags, artifacts and a stepped metric."""
        from mlflow.entities import Metric, Param

        client = self.client
        tags = {
            "jupyter_mlops.run_key": uuid.uuid4().hex,
            "jupyter_mlops.source": "cell",
            "jupyter_mlops.notebook": str(self.root / "work" / "analysis.ipynb"),
            "mlflow.source.git.commit": COMMIT,
            "mlflow.source.git.branch": "main",
            "jupyter_mlops.git.dirty": "true",
            "jupyter_mlops.data": json.dumps(DATA),
            "jupyter_mlops.python": "3.11.2",
            "team": "forecasting",
        }
        if failed:
            tags["jupyter_mlops.error"] = "ValueError: boom"
        run_id = client.create_run(
            experiment_id, run_name="train", start_time=T0, tags=tags
        ).info.run_id
        client.log_batch(
            run_id,
            params=[Param("lr", "0.1")],
            metrics=[Metric("loss", 1.0 / (s + 1), T0 + s, s) for s in range(5)]
            + [Metric("train/acc", 0.5 + s / 10, T0 + s, s) for s in range(3)],
        )
        files = {
            "source/cell.py": CELL.encode(),
            "source/history.py": b"import numpy\n" + CELL.encode(),
            "figures/loss.png": PNG,
            "lineage/requirements.txt": b"numpy==2.0.0\n",
            "model.bin": b"\x00\x01\x02",
            "metrics.json": b'{"loss": 0.2}',
        }
        if failed:
            files["error.txt"] = b"Traceback (most recent call last):\nValueError: boom\n"
        artifacts = folder / f"artifacts-{run_id}"
        for name, content in files.items():
            (artifacts / name).parent.mkdir(parents=True, exist_ok=True)
            (artifacts / name).write_bytes(content)
        client.log_artifacts(run_id, str(artifacts))
        client.set_terminated(run_id, "FAILED" if failed else "FINISHED", end_time=T0 + 4321)
        return str(run_id)


@pytest.fixture(scope="module")
def embedded_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One project root for the module: the SQLite store is created once."""
    return tmp_path_factory.mktemp("runs-project").resolve()


@pytest.fixture
def jp_root_dir(embedded_root: Path) -> Path:
    return embedded_root


@pytest.fixture(params=["embedded", "server"])
def backend(request: pytest.FixtureRequest, embedded_root: Path, monkeypatch) -> Backend:
    from mlflow import MlflowClient

    if request.param == "server":
        server = request.getfixturevalue("mlflow_server")
        # Before the Jupyter server starts: the environment's URI wins.
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.uri)
        uri = server.uri
    else:
        settings = settings_mod.resolve(embedded_root, environ={})
        uri = settings.tracking_uri
        # Creates the store as the server would.
        mlflow_store.client(uri, settings.artifact_location)
    return Backend(request.param, uri, MlflowClient(tracking_uri=uri), embedded_root)


async def _get_raw(jp_fetch, *path: str, params: dict[str, str] | None = None):
    """GET that returns the response whatever its status (artifact bytes are not JSON)."""
    try:
        return await jp_fetch("jupyter-mlops", *path, params=params, method="GET")
    except HTTPClientError as exc:
        if exc.response is None:
            raise
        return exc.response


class TestRuns:
    @pytest.fixture(autouse=True)
    def _backend_first(self, backend: Backend) -> None:
        # Autouse, so the backend's environment is set before the Jupyter server starts.
        return

    # -- listing --------------------------------------------------------------------------
    async def test_three_pages_with_next_tokens(self, fetch_json, backend):
        experiment = backend.experiment()
        made = [backend.plain_run(experiment, i) for i in range(7)]

        pages, token = [], None
        while True:
            params = {"experiment_id": experiment, "max_results": "3"}
            if token:
                params["page_token"] = token
            code, body = await fetch_json("runs", params=params)
            assert code == 200, body
            RunsPage.model_validate(body)
            pages.append([r["run_id"] for r in body["runs"]])
            token = body["next_page_token"]
            if token is None:
                break
            assert len(pages) < 5, "paging does not end"
        assert [len(p) for p in pages] == [3, 3, 1]
        # Newest first by default, each run once.
        assert [run_id for page in pages for run_id in page] == made[::-1]

    async def test_sorted_by_a_metric_and_by_a_param(self, fetch_json, backend):
        experiment = backend.experiment()
        losses = [0.5, 0.1, 0.9, 0.3]
        made = [
            backend.plain_run(
                experiment,
                i,
                params={"lr": f"0.{i + 1}", "opt": "adam" if i % 2 else "sgd"},
                metrics={"loss": loss, f"extra{i}": 1.0},
            )
            for i, loss in enumerate(losses)
        ]
        code, body = await fetch_json(
            "runs", params={"experiment_id": experiment, "order_by": "metrics.loss ASC"}
        )
        assert code == 200, body
        assert [r["metrics"]["loss"] for r in body["runs"]] == sorted(losses)
        assert body["param_keys"] == ["lr", "opt"]
        assert body["metric_keys"] == ["extra0", "extra1", "extra2", "extra3", "loss"]

        code, body = await fetch_json(
            "runs", params={"experiment_id": experiment, "order_by": "params.lr DESC"}
        )
        assert code == 200, body
        assert [r["run_id"] for r in body["runs"]] == made[::-1]
        assert [r["params"]["lr"] for r in body["runs"]] == ["0.4", "0.3", "0.2", "0.1"]

        # A page sorted by the metric: the store sorts, then pages.
        code, body = await fetch_json(
            "runs",
            params={
                "experiment_id": experiment,
                "order_by": "metrics.loss DESC",
                "max_results": "2",
            },
        )
        assert [r["metrics"]["loss"] for r in body["runs"]] == [0.9, 0.5]
        assert body["next_page_token"]

    async def test_filter_and_malformed_filters(self, fetch_json, backend):
        experiment = backend.experiment()
        for i, loss in enumerate([0.2, 0.7, 0.4]):
            backend.plain_run(
                experiment, i, params={"opt": "adam" if i else "sgd"}, metrics={"loss": loss}
            )
        code, body = await fetch_json(
            "runs",
            params={
                "experiment_id": experiment,
                "filter": "metrics.loss < 0.5 and params.opt = 'adam'",
            },
        )
        assert code == 200, body
        assert [r["metrics"]["loss"] for r in body["runs"]] == [0.4]

        for bad in ("metrics.loss <", "colour = 'blue'", "metrics.loss <<< 3"):
            code, body = await fetch_json(
                "runs", params={"experiment_id": experiment, "filter": bad}
            )
            assert code == 400, (bad, body)
            ErrorBody.model_validate(body)
            assert body["code"] == "invalid_filter"
            assert body["message"].startswith("The filter is not valid:"), body
        code, body = await fetch_json(
            "runs", params={"experiment_id": experiment, "filter": "colour = 'blue'"}
        )
        assert "colour" in body["message"]

        for bad in ("metrics.loss ASC, params.lr DESC", "loss upwards", "metrics.loss; drop"):
            code, body = await fetch_json(
                "runs", params={"experiment_id": experiment, "order_by": bad}
            )
            assert (code, body["code"]) == (400, "invalid_order_by"), (bad, body)

        code, body = await fetch_json(
            "runs", params={"experiment_id": experiment, "page_token": "not-a-token"}
        )
        assert code == 400, body

    async def test_summary_of_a_tracked_run(self, fetch_json, backend, tmp_path):
        experiment = backend.experiment()
        run_id = backend.tracked_run(experiment, tmp_path)
        plain = backend.plain_run(experiment, 1)
        code, body = await fetch_json("runs", params={"experiment_id": experiment})
        assert code == 200, body
        by_id = {r["run_id"]: r for r in body["runs"]}
        tracked = by_id[run_id]
        assert tracked["source"] == "cell"
        assert tracked["notebook"] == str(backend.root / "work" / "analysis.ipynb")
        assert tracked["notebook_path"] == "work/analysis.ipynb"
        assert tracked["tags"] == {"team": "forecasting"}
        assert (tracked["status"], tracked["lifecycle_stage"]) == ("FINISHED", "active")
        assert (tracked["start_time"], tracked["end_time"], tracked["duration_ms"]) == (
            T0,
            T0 + 4321,
            4321,
        )
        assert tracked["metrics"] == {"loss": pytest.approx(0.2), "train/acc": pytest.approx(0.7)}
        assert tracked["params"] == {"lr": "0.1"}
        assert tracked["run_name"] == "train"
        assert (by_id[plain]["source"], by_id[plain]["notebook"]) == ("other", None)

    # -- one run --------------------------------------------------------------------------
    async def test_details_with_cell_source_and_lineage(self, fetch_json, backend, tmp_path):
        experiment = backend.experiment()
        run_id = backend.tracked_run(experiment, tmp_path, failed=True)
        code, body = await fetch_json("runs", run_id)
        assert code == 200, body
        details = RunDetails.model_validate(body)
        assert details.run.run_id == run_id
        assert details.run.status == "FAILED"
        assert details.cell_source == CELL
        assert details.error == "ValueError: boom"
        assert details.all_tags["jupyter_mlops.source"] == "cell"
        assert body["lineage"] == {
            "git_commit": COMMIT,
            "git_branch": "main",
            "git_dirty": True,
            "python": "3.11.2",
            "data": DATA,
            "packages_artifact": "lineage/requirements.txt",
        }
        if backend.kind == "server":
            assert body["mlflow_ui_url"] == (
                f"{backend.uri}/#/experiments/{experiment}/runs/{run_id}"
            )
        else:
            assert body["mlflow_ui_url"] is None

        # A run with no lineage at all.
        plain = backend.plain_run(experiment, 3)
        code, body = await fetch_json("runs", plain)
        assert code == 200, body
        assert (body["cell_source"], body["error"]) == (None, None)
        assert body["lineage"] == {
            "git_commit": None,
            "git_branch": None,
            "git_dirty": None,
            "python": None,
            "data": {},
            "packages_artifact": None,
        }

    async def test_metric_history(
        self, fetch_json, backend, tmp_path, monkeypatch, jp_base_url, jp_http_port, jp_auth_header
    ):
        experiment = backend.experiment()
        run_id = backend.tracked_run(experiment, tmp_path)
        code, body = await fetch_json("runs", run_id, "metrics", "loss")
        assert code == 200, body
        MetricHistory.model_validate(body)
        assert (body["key"], body["downsampled"]) == ("loss", False)
        assert [p["step"] for p in body["points"]] == [0, 1, 2, 3, 4]
        assert body["points"][0] == {"step": 0, "value": 1.0, "timestamp": T0}

        # Metric names with '/', as is and URL-encoded.
        code, body = await fetch_json("runs", run_id, "metrics", "train/acc")
        assert (code, len(body["points"])) == (200, 3), body
        url = f"{jp_base_url}jupyter-mlops/runs/{run_id}/metrics/train%2Facc"
        answer = await AsyncHTTPClient().fetch(
            f"http://127.0.0.1:{jp_http_port}{url}", headers=jp_auth_header
        )
        assert json.loads(answer.body)["key"] == "train/acc"

        code, body = await fetch_json("runs", run_id, "metrics", "nope")
        assert (code, body["code"]) == (404, "no_such_metric"), body
        code, body = await fetch_json("runs", MISSING_RUN, "metrics", "loss")
        assert code == 404, body

        # Above the cap, the history is thinned evenly, keeping the first and last points.
        monkeypatch.setattr(runs_mod, "MAX_METRIC_POINTS", 3)
        code, body = await fetch_json("runs", run_id, "metrics", "loss")
        assert code == 200, body
        assert body["downsampled"] is True
        assert [p["step"] for p in body["points"]] == [0, 2, 4]

    async def test_nan_metrics_are_sent_as_null(self, fetch_json, backend):
        experiment = backend.experiment()
        run_id = backend.plain_run(experiment, 0, metrics={"loss": float("nan"), "acc": 0.5})
        code, body = await fetch_json("runs", params={"experiment_id": experiment})
        assert code == 200, body
        assert body["runs"][0]["metrics"] == {"loss": None, "acc": 0.5}
        code, body = await fetch_json("runs", run_id)
        assert body["run"]["metrics"] == {"loss": None, "acc": 0.5}
        code, body = await fetch_json("runs", run_id, "metrics", "loss")
        assert code == 200, body
        assert body["points"] == [{"step": 0, "value": None, "timestamp": T0}]

    # -- artifacts ------------------------------------------------------------------------
    async def test_artifact_list_and_files(self, fetch_json, jp_fetch, backend, tmp_path):
        experiment = backend.experiment()
        run_id = backend.tracked_run(experiment, tmp_path, failed=True)
        code, body = await fetch_json("runs", run_id, "artifacts")
        assert code == 200, body
        ArtifactList.model_validate(body)
        assert body["path"] == ""
        assert [(e["path"], e["is_dir"]) for e in body["entries"]] == [
            ("figures", True),
            ("lineage", True),
            ("source", True),
            ("error.txt", False),
            ("metrics.json", False),
            ("model.bin", False),
        ]
        code, body = await fetch_json("runs", run_id, "artifacts", params={"path": "figures/"})
        assert code == 200, body
        assert body == {
            "path": "figures",
            "entries": [{"path": "figures/loss.png", "is_dir": False, "size": len(PNG)}],
        }

        answer = await _get_raw(
            jp_fetch, "runs", run_id, "artifact", params={"path": "figures/loss.png"}
        )
        assert answer.code == 200
        assert answer.headers["Content-Type"] == "image/png"
        assert answer.headers["Content-Disposition"].startswith("inline")
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.body == PNG

        answer = await _get_raw(
            jp_fetch, "runs", run_id, "artifact", params={"path": "source/cell.py"}
        )
        assert answer.code == 200
        assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert answer.body.decode() == CELL

        answer = await _get_raw(
            jp_fetch, "runs", run_id, "artifact", params={"path": "metrics.json"}
        )
        assert answer.headers["Content-Type"] == "application/json"

        answer = await _get_raw(jp_fetch, "runs", run_id, "artifact", params={"path": "model.bin"})
        assert answer.code == 200
        assert answer.headers["Content-Type"] == "application/octet-stream"
        assert answer.headers["Content-Disposition"] == "attachment; filename*=UTF-8''model.bin"
        assert answer.body == b"\x00\x01\x02"

        answer = await _get_raw(
            jp_fetch, "runs", run_id, "artifact", params={"path": "error.txt", "download": "true"}
        )
        assert answer.code == 200
        assert answer.headers["Content-Disposition"].startswith("attachment")
        assert b"ValueError: boom" in answer.body

    async def test_artifact_paths_outside_the_run_are_refused(self, fetch_json, backend, tmp_path):
        experiment = backend.experiment()
        run_id = backend.tracked_run(experiment, tmp_path)
        for bad in ("../../mlflow.db", "figures/../../x", "/etc/passwd", "..", "a\\..\\b"):
            for route in ("artifact", "artifacts"):
                code, body = await fetch_json("runs", run_id, route, params={"path": bad})
                assert (code, body["code"]) == (400, "invalid_path"), (route, bad, body)
        code, body = await fetch_json("runs", run_id, "artifact", params={"path": "figures"})
        assert (code, body["code"]) == (400, "artifact_is_folder"), body
        code, body = await fetch_json("runs", run_id, "artifact", params={"path": "nope.txt"})
        assert (code, body["code"]) == (404, "no_such_artifact"), body
        code, body = await fetch_json("runs", run_id, "artifact")
        assert (code, body["code"]) == (400, "invalid_query"), body

    async def test_large_artifacts_are_downloads_only(
        self, fetch_json, jp_fetch, backend, tmp_path, monkeypatch
    ):
        experiment = backend.experiment()
        run_id = backend.tracked_run(experiment, tmp_path)
        monkeypatch.setattr(artifacts_mod, "MAX_PREVIEW_BYTES", 10)
        code, body = await fetch_json(
            "runs", run_id, "artifact", params={"path": "figures/loss.png"}
        )
        assert (code, body["code"]) == (400, "artifact_too_large"), body
        assert "download" in body["message"]
        answer = await _get_raw(
            jp_fetch,
            "runs",
            run_id,
            "artifact",
            params={"path": "figures/loss.png", "download": "true"},
        )
        assert (answer.code, answer.body) == (200, PNG)
        assert answer.headers["Content-Disposition"].startswith("attachment")

    # -- edits ----------------------------------------------------------------------------
    async def test_rename_tag_delete_restore(self, fetch_json, jp_fetch, backend):
        experiment = backend.experiment()
        run_id = backend.plain_run(experiment, 0, tags={"old": "x", "keep": "y"})

        change = {
            "name": "better name",
            "set_tags": {"stage": "best"},
            "delete_tags": ["old", "absent"],
        }
        code, body = await fetch_json("runs", run_id, method="PATCH", body=json.dumps(change))
        assert code == 200, body
        RunSummary.model_validate(body)
        assert body["run_name"] == "better name"
        assert body["tags"] == {"keep": "y", "stage": "best", "idx": "0"}
        # The store really has it.
        stored = backend.client.get_run(run_id)
        assert stored.info.run_name == "better name"
        assert stored.data.tags["stage"] == "best"
        assert "old" not in stored.data.tags

        for bad, code_expected in (
            ({"name": ""}, "invalid_body"),
            ({"name": "x" * 251}, "invalid_body"),
            ({"name": "   "}, "invalid_body"),
            ({"colour": "blue"}, "invalid_body"),
            ({}, "invalid_body"),
            ({"set_tags": {"mlflow.runName": "x"}}, "reserved_tag"),
            ({"delete_tags": ["jupyter_mlops.source"]}, "reserved_tag"),
            ({"set_tags": {"a": "1"}, "delete_tags": ["a"]}, "invalid_body"),
        ):
            code, body = await fetch_json("runs", run_id, method="PATCH", body=json.dumps(bad))
            assert (code, body["code"]) == (400, code_expected), (bad, body)
        code, body = await fetch_json("runs", run_id, method="PATCH", body="{not json")
        assert code == 400, body

        answer = await jp_fetch("jupyter-mlops", "runs", run_id, method="DELETE")
        assert (answer.code, answer.body) == (204, b"")
        assert backend.client.get_run(run_id).info.lifecycle_stage == "deleted"
        code, body = await fetch_json("runs", params={"experiment_id": experiment})
        assert body["runs"] == []
        code, body = await fetch_json(
            "runs", params={"experiment_id": experiment, "include_deleted": "true"}
        )
        assert [(r["run_id"], r["lifecycle_stage"]) for r in body["runs"]] == [(run_id, "deleted")]
        code, body = await fetch_json(
            "runs", run_id, method="PATCH", body=json.dumps({"name": "again"})
        )
        assert (code, body["code"]) == (409, "run_deleted"), body

        code, body = await fetch_json("runs", run_id, "restore", method="POST", body="")
        assert code == 200, body
        assert (body["run_id"], body["lifecycle_stage"]) == (run_id, "active")
        code, body = await fetch_json("runs", params={"experiment_id": experiment})
        assert [r["run_id"] for r in body["runs"]] == [run_id]

    # -- unknown and malformed ids --------------------------------------------------------
    async def test_unknown_run_is_a_404_and_junk_ids_a_400(self, fetch_json, backend):
        patch = json.dumps({"name": "x"})
        for method, path, body in (
            ("GET", (), None),
            ("GET", ("artifacts",), None),
            ("PATCH", (), patch),
            ("DELETE", (), None),
            ("POST", ("restore",), ""),
        ):
            code, answer = await fetch_json("runs", MISSING_RUN, *path, method=method, body=body)
            assert code == 404, (method, path, answer)
            ErrorBody.model_validate(answer)
        code, answer = await fetch_json("runs", MISSING_RUN, "artifact", params={"path": "a.txt"})
        assert code == 404, answer

        for junk in ("bad id!", "-leading-dash", "x" * 65, "%00"):
            code, answer = await fetch_json("runs", junk)
            assert (code, answer["code"]) == (400, "invalid_path"), (junk, answer)
            assert "'run_id'" in answer["message"]
        code, answer = await fetch_json("runs", "a/b/c")
        assert code == 404, answer

        code, answer = await fetch_json("runs", params={"experiment_id": "987654321"})
        assert code == 404, answer
        for junk in ("abc", "", "1" * 19, "-1"):
            code, answer = await fetch_json("runs", params={"experiment_id": junk})
            assert (code, answer["code"]) == (400, "invalid_query"), (junk, answer)
        code, answer = await fetch_json("runs")
        assert (code, answer["code"]) == (400, "invalid_query"), answer
        assert "'experiment_id'" in answer["message"]
        code, answer = await fetch_json(
            "runs", params={"experiment_id": "0", "max_results": "1001"}
        )
        assert code == 400, answer


# -- a tracking server that is down -----------------------------------------------------------
class TestTrackingServerDown:
    @pytest.fixture
    def mlops_config(self, down_server_url: str) -> dict:
        return {"tracking_uri": down_server_url, "probe_timeout": 2.0}

    async def test_every_route_answers_503_naming_the_server(self, fetch_json, down_server_url):
        for path, params, method, body in (
            (("runs",), {"experiment_id": "0"}, "GET", None),
            (("runs", MISSING_RUN), None, "GET", None),
            (("runs", MISSING_RUN, "metrics", "loss"), None, "GET", None),
            (("runs", MISSING_RUN, "artifacts"), None, "GET", None),
            (("runs", MISSING_RUN, "artifact"), {"path": "a.png"}, "GET", None),
            (("runs", MISSING_RUN), None, "PATCH", '{"name": "x"}'),
            (("runs", MISSING_RUN), None, "DELETE", None),
            (("runs", MISSING_RUN, "restore"), None, "POST", ""),
        ):
            code, answer = await fetch_json(*path, params=params, method=method, body=body)
            assert code == 503, (path, answer)
            assert answer["code"] == "service_unavailable"
            assert down_server_url in answer["message"]
            assert "retry" in answer["message"].lower()


# -- pure functions ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "allow_root", "expected"),
    [
        ("", True, ""),
        ("./figures//", True, "figures"),
        ("figures/loss.png", False, "figures/loss.png"),
        ("a/./b", False, "a/b"),
    ],
)
def test_artifact_path_normalised(path, allow_root, expected):
    assert artifacts_mod.artifact_path(path, allow_root=allow_root) == expected


@pytest.mark.parametrize(
    "path", ["", "/", "..", "a/../b", "/abs", "C:/x", "s3://bucket/x", "a\\b", "a\0b"]
)
def test_artifact_path_refused(path):
    from jupyter_mlops.errors import InvalidInput

    with pytest.raises(InvalidInput):
        artifacts_mod.artifact_path(path, allow_root=False)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("loss.PNG", "image/png"),
        ("cell.py", "text/plain; charset=utf-8"),
        ("out.ipynb", "application/json"),
        ("MLmodel", "text/plain; charset=utf-8"),
        ("report.html", None),
        ("model.pkl", None),
        ("noext", None),
    ],
)
def test_content_types(name, expected):
    assert artifacts_mod.content_type_of(name) == expected


def test_thinning_keeps_ends_and_spacing():
    points = list(range(25_001))
    thinned = runs_mod._thin(points, 10_000)
    assert len(thinned) == 10_000
    assert (thinned[0], thinned[-1]) == (0, 25_000)
    gaps = {b - a for a, b in itertools.pairwise(thinned)}
    assert gaps <= {2, 3}
    assert runs_mod._thin(points[:10], 10) == points[:10]


@pytest.mark.parametrize(
    ("notebook", "expected"),
    [
        ("/root/nb/a.ipynb", "nb/a.ipynb"),
        ("/elsewhere/a.ipynb", None),
        ("nb/a.ipynb", "nb/a.ipynb"),
        ("../a.ipynb", None),
        ("/root/../etc/a.ipynb", None),
        (None, None),
    ],
)
def test_notebook_path_relative_to_root(notebook, expected):
    assert runs_mod._root_relative(notebook, Path("/root")) == expected


# -- the SQLite fast path answers exactly as MLflow's search_runs -----------------------------
ORDERS = [
    "attributes.start_time DESC",
    "attributes.start_time ASC",
    "metrics.loss ASC",
    "metrics.loss DESC",
    "params.lr ASC",
    "params.lr DESC",
    "tags.team ASC",
    "attributes.run_name DESC",
    "attributes.end_time DESC",
    "attributes.status ASC",
    "attributes.run_id ASC",
]
FILTERS = [
    "",
    "metrics.loss < 0.5",
    "metrics.loss != 0.3",
    "metrics.loss >= 0.3",
    "params.opt = 'adam'",
    "params.opt LIKE 'a%'",
    "params.opt ILIKE 'a%'",
    "params.lr IS NULL",
    "tags.team IS NOT NULL",
    "tags.team != 'a'",
    "attributes.status = 'FAILED'",
    "attributes.status != 'FAILED'",
    "attributes.run_id IN ('0123', '4567')",
    "attributes.run_name LIKE 'r%1'",
    f"attributes.start_time > {T0 + 3000}",
    "metrics.loss > 0.1 and params.opt != 'sgd'",
]


@pytest.fixture(scope="module")
def varied_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, str]:
    """An embedded store with runs that exercise ties, NaN, missing values, case and
    deleted runs: (RunsService, experiment id)."""
    from mlflow import MlflowClient

    from jupyter_mlops.experiments.service import TrackingService
    from jupyter_mlops.runs.service import RunsService

    root = tmp_path_factory.mktemp("varied").resolve()
    settings = settings_mod.resolve(root, environ={})
    mlflow_store.client(settings.tracking_uri, settings.artifact_location)
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    experiment = client.create_experiment("varied", artifact_location=settings.artifact_location)
    losses = [0.3, 0.1, float("nan"), None, 0.3, 0.7, 0.5, 0.3, None, 0.9, 0.1, 0.2]
    opts = ["adam", "Adam", "sgd", "adam", None, "sgd", "ADAM", "adam", "sgd", None, "adam", "a"]
    for i, (loss, opt) in enumerate(zip(losses, opts, strict=True)):
        tags = {"team": "ab"[i % 2]} if i % 3 else {}
        run_id = client.create_run(
            experiment, run_name=f"r{i}", start_time=T0 + (i // 2) * 1000, tags=tags
        ).info.run_id  # pairs of runs share a start time
        if loss is not None:
            client.log_metric(run_id, "loss", loss, timestamp=T0)
        if i % 4:
            client.log_param(run_id, "lr", f"0.{i % 5}")
        if opt is not None:
            client.log_param(run_id, "opt", opt)
        if i % 5 != 4:
            status = "FAILED" if i % 3 == 0 else "FINISHED"
            client.set_terminated(run_id, status, end_time=T0 + 10_000 - i * 7)
        if i == 6:
            client.delete_run(run_id)
    return RunsService(TrackingService(settings)), str(experiment)


def _all_pages(search, experiment: str, order: str, filter_: str, deleted: bool) -> list[str]:
    ids, token = [], None
    while True:
        page, token = search(experiment, order, filter_, deleted, token)
        ids += page
        if not token:
            return ids


def _fast(service, experiment, order, filter_, deleted, token):
    from jupyter_mlops.runs.models import RunsQuery

    query = RunsQuery(
        experiment_id=experiment,
        order_by=order,
        filter=filter_,
        include_deleted=deleted,
        max_results=5,
        page_token=token,
    )
    found = service._sqlite_page(query)
    assert found is not None, (order, filter_)
    runs, token = found
    return [r.run_id for r in runs], token


def _mlflow(service, experiment, order, filter_, deleted, token):
    from mlflow.entities import ViewType

    page = service.tracking.client().search_runs(
        [experiment],
        filter_string=filter_,
        run_view_type=ViewType.ALL if deleted else ViewType.ACTIVE_ONLY,
        max_results=5,
        order_by=[order],
        page_token=token,
    )
    token = page.token.decode() if isinstance(page.token, bytes) else page.token
    return [r.info.run_id for r in page], token


@pytest.mark.parametrize("order", ORDERS)
def test_sqlite_pages_equal_mlflow_search(varied_runs, order):
    service, experiment = varied_runs
    for filter_ in FILTERS:
        for deleted in (False, True):
            fast = _all_pages(partial(_fast, service), experiment, order, filter_, deleted)
            slow = _all_pages(partial(_mlflow, service), experiment, order, filter_, deleted)
            assert fast == slow, (order, filter_, deleted)
    # Page tokens are MLflow's: a page from one continues a page from the other.
    _, token = _fast(service, experiment, order, "", False, None)
    assert token is not None
    assert (
        _mlflow(service, experiment, order, "", False, token)[0]
        == _fast(service, experiment, order, "", False, token)[0]
    )


def test_sqlite_page_content_equals_mlflow(varied_runs):
    from jupyter_mlops.runs.models import RunsQuery
    from jupyter_mlops.runs.service import summary

    service, experiment = varied_runs
    query = RunsQuery(experiment_id=experiment, include_deleted=True, max_results=50)
    fast, _ = service._sqlite_page(query)
    client = service.tracking.client()
    by_mlflow = [summary(client.get_run(r.run_id), service._root) for r in fast]
    # NaN != NaN: compare the JSON the API sends.
    assert [r.model_dump_json() for r in fast] == [r.model_dump_json() for r in by_mlflow]
    assert len(fast) == 12


def test_dataset_filters_are_left_to_mlflow(varied_runs):
    from jupyter_mlops.runs.models import RunsQuery

    service, experiment = varied_runs
    query = RunsQuery(experiment_id=experiment, filter="dataset.name = 'train'")
    assert service._sqlite_page(query) is None
    assert service.search(query).runs == []
