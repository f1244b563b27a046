"""Every route needs Jupyter's authentication: checked against a real ``jupyter server``
process, and with jupyter_server's own check for undecorated handler methods."""

from __future__ import annotations

import re
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from jupyter_mlops.api.handler import API_PREFIX
from jupyter_mlops.routes import tornado_handlers

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
OUR_HANDLER_NAMES = {handler.__name__ for _, handler in tornado_handlers()}


@dataclass(frozen=True)
class JupyterServer:
    url: str
    token: str
    log: Path


@pytest.fixture
def jupyter_server(
    tmp_path: Path, mlflow_server, free_tcp_port: int, clean_env, start_service
) -> JupyterServer:
    """A real ``jupyter server`` with the extension enabled, token auth and
    unauthenticated access refused, tracking to the session's MLflow server."""
    root = tmp_path / "root"
    root.mkdir()
    token = secrets.token_hex(16)
    log = tmp_path / "jupyter-server.log"
    env = clean_env(
        {
            "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
            "JUPYTER_DATA_DIR": str(tmp_path / "data"),
            "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
            "MLFLOW_TRACKING_URI": mlflow_server.uri,
        }
    )
    command = [
        sys.executable,
        "-m",
        "jupyter_server",
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={free_tcp_port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
        "--ServerApp.allow_unauthenticated_access=False",
        "--ServerApp.jpserver_extensions={'jupyter_mlops': True}",
    ]
    url = f"http://127.0.0.1:{free_tcp_port}"
    # /api answers without a token once the server is up.
    start_service(command, cwd=root, env=env, log=log, ready_url=f"{url}/api")
    return JupyterServer(url=url, token=token, log=log)


def test_every_route_refuses_requests_without_a_token(jupyter_server):
    server = jupyter_server
    with_token = {"Authorization": f"token {server.token}"}
    doc = requests.get(f"{server.url}/{API_PREFIX}/openapi.json", headers=with_token, timeout=30)
    assert doc.status_code == 200, doc.text
    paths = doc.json()["paths"]
    assert paths, "the document lists no route"

    # With a token, every route answers one of its documented statuses (a run that does
    # not exist, a missing required parameter), never 403.
    checks = [
        (method.upper(), _concrete(path), _expected(op))
        for path, item in paths.items()
        for method, op in item.items()
    ] + [
        ("GET", f"/{API_PREFIX}/nope", {404}),
        ("POST", f"/{API_PREFIX}/nope", {404}),
        ("DELETE", f"/{API_PREFIX}/experiments/0", {404}),
    ]
    assert ("GET", f"/{API_PREFIX}/status", {200}) in checks
    for method, path, expected in checks:
        url = f"{server.url}{path}"
        anonymous = requests.request(method, url, timeout=30)
        assert anonymous.status_code == 403, (method, path, anonymous.status_code)
        assert anonymous.headers["Content-Type"].startswith("application/json"), (method, path)
        wrong = requests.request(method, url, headers={"Authorization": "token nope"}, timeout=30)
        assert wrong.status_code == 403, (method, path, wrong.status_code)
        answer = requests.request(method, url, headers=with_token, timeout=60)
        assert answer.status_code != 403, (method, path, answer.text)
        assert answer.status_code in expected, (method, path, answer.status_code, answer.text)
        # The token in the URL, as JupyterLab's links use it, works too.
        by_query = requests.request(method, url, params={"token": server.token}, timeout=60)
        assert by_query.status_code == answer.status_code, (method, path, by_query.text)

    log = server.log.read_text(errors="replace")
    offending = [
        line
        for line in _auth_warning_lines(log)
        if API_PREFIX in line or any(name in line for name in OUR_HANDLER_NAMES)
    ]
    assert not offending, "\n".join(offending)
    assert "jupyter_mlops | extension was successfully loaded" in log
    for line in log.splitlines():
        if API_PREFIX in line and "not authenticated" in line.lower():
            pytest.fail(f"authentication warning about our routes: {line}")


def _expected(op: dict) -> set[int]:
    """200 for an operation that needs nothing; else any status it documents but 403.
    An operation whose optional parameters are one-of-several (``lineage?run=|model=``)
    documents 400 for none given."""
    parameters = op.get("parameters", [])
    one_of_several = bool(parameters) and "400" in op["responses"]
    needs_nothing = (
        not any(p["required"] for p in parameters)
        and "requestBody" not in op
        and not one_of_several
    )
    if needs_nothing:
        return {200}
    return {int(code) for code in op["responses"]} - {403}


def _concrete(path: str) -> str:
    """A documented path with its ``{parameters}`` filled in (a run id nobody has)."""
    return re.sub(r"\{\w+\}", "0" * 32, path)


def _auth_warning_lines(log: str) -> list[str]:
    """The handler lines of every JupyterServerAuthWarning in a server log (the warning's
    first line, then '- METHOD of Handler registered for pattern' lines)."""
    found: list[str] = []
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if "JupyterServerAuthWarning" not in line:
            continue
        found.append(line)
        for follower in lines[i + 1 :]:
            if not re.match(r"^- \w+ of \w+ registered for ", follower):
                break
            found.append(follower)
    return found


def test_auth_warning_parser_sees_handler_lines():
    """The log check above would notice a warning about our handlers."""
    log = (
        "x.py:1: JupyterServerAuthWarning: Extension endpoints without @allow_unauthenticated\n"
        f"- GET of StatusHandler registered for /{API_PREFIX}/status\n"
        "  webapp.add_handlers(...)\n"
    )
    expected = f"- GET of StatusHandler registered for /{API_PREFIX}/status"
    assert _auth_warning_lines(log) == [log.splitlines()[0], expected]


def test_jupyter_server_finds_no_unauthenticated_method(jp_serverapp):
    """jupyter_server's own check (the one behind JupyterServerAuthWarning) on our handlers."""
    web_app = jp_serverapp.web_app
    missing = []
    for pattern, handler in tornado_handlers():
        missing.extend(web_app._check_handler_auth(pattern, handler))
    assert missing == []

    # Control: the same check does flag a method without @tornado.web.authenticated.
    class Undecorated(tornado_handlers()[0][1]):
        async def get(self) -> None:
            pass

    assert web_app._check_handler_auth("/x", Undecorated)
