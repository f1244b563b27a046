"""The OpenAPI document matches the routes the running server really registers."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import tornado.web
from tornado.routing import PathMatches, Router

from jupyter_mlops.api.handler import API_PREFIX, MlopsHandler, NotFoundHandler
from jupyter_mlops.api.openapi import build_openapi
from jupyter_mlops.routes import ROUTES

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def _rules(router: Any) -> Iterator[tuple[Any, Any]]:
    """(matcher, target) of every rule, descending into nested routers (extension handlers
    are added per host pattern, below the application's default router)."""
    for rule in getattr(router, "rules", []):
        if isinstance(rule.target, Router) or hasattr(rule.target, "rules"):
            yield from _rules(rule.target)
        else:
            yield rule.matcher, rule.target


def _documented_path(matcher: PathMatches, base_url: str) -> str:
    """The OpenAPI path of a tornado path pattern: base URL dropped, groups as {name}."""
    regex = matcher.regex
    names = sorted(regex.groupindex, key=regex.groupindex.get)
    assert matcher._path is not None, f"pattern {regex.pattern} cannot be reversed"
    if matcher._group_count:
        assert len(names) == matcher._group_count, f"unnamed group in {regex.pattern}"
        # Not ``%`` formatting: the base URL may hold escapes such as "%40".
        pieces = matcher._path.split("%s")
        assert len(pieces) == len(names) + 1, (matcher._path, names)
        path = pieces[0] + "".join(f"{{{n}}}{rest}" for n, rest in zip(names, pieces[1:]))
    else:
        path = matcher._path
    assert path.startswith(base_url), (path, base_url)
    return "/" + path[len(base_url) :]


def registered_routes(serverapp: Any) -> dict[str, type]:
    """Documented-style path -> handler class for every route under /jupyter-mlops/ that
    the running server registered, except the catch-all 404."""
    web_app = serverapp.web_app
    prefix = f"{serverapp.base_url}{API_PREFIX}/"
    found: dict[str, type] = {}
    for router in (web_app.wildcard_router, web_app.default_router):
        for matcher, target in _rules(router):
            if not isinstance(matcher, PathMatches):
                continue
            if not matcher.regex.pattern.startswith(prefix):
                continue
            if target is NotFoundHandler:
                continue
            found[_documented_path(matcher, serverapp.base_url)] = target
    return found


async def test_served_document_is_the_generated_one(fetch_json):
    code, served = await fetch_json("openapi.json")
    assert code == 200
    assert served == json.loads(json.dumps(build_openapi(ROUTES)))
    assert served["openapi"].startswith("3.1")


async def test_paths_equal_the_registered_routes(fetch_json, jp_serverapp):
    _, doc = await fetch_json("openapi.json")
    registered = registered_routes(jp_serverapp)
    assert registered, "no route of the extension found in the running server"
    assert set(doc["paths"]) == set(registered)
    # The catch-all is registered, and last among our rules.
    ours = [
        target
        for router in (jp_serverapp.web_app.default_router,)
        for _, target in _rules(router)
        if isinstance(target, type) and issubclass(target, MlopsHandler)
    ]
    assert ours[-1] is NotFoundHandler


async def test_documented_methods_are_exactly_the_implemented_ones(fetch_json, jp_serverapp):
    _, doc = await fetch_json("openapi.json")
    registered = registered_routes(jp_serverapp)
    for path, item in doc["paths"].items():
        handler = registered[path]
        implemented = {
            m
            for m in HTTP_METHODS
            if getattr(handler, m) is not tornado.web.RequestHandler._unimplemented_method
        }
        documented = {m for m in item if m in HTTP_METHODS}
        assert documented, f"{path} documents no method"
        assert documented == implemented, (path, documented, implemented)


async def test_every_ref_resolves(fetch_json):
    _, doc = await fetch_json("openapi.json")
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                refs.append(ref)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    assert refs, "the document has no $ref at all"
    for ref in refs:
        assert ref.startswith("#/"), f"external reference {ref}"
        target: Any = doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            assert isinstance(target, dict), f"{ref} does not resolve"
            assert part in target, f"{ref} does not resolve"
            target = target[part]
        assert isinstance(target, dict), f"{ref} points at nothing useful"
        assert target, f"{ref} points at an empty schema"


async def test_operations_are_well_formed(fetch_json):
    _, doc = await fetch_json("openapi.json")
    operation_ids = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            operation_ids.append(op["operationId"])
            assert op["summary"], (path, method)
            assert {"200", "201", "202", "204"} & set(op["responses"]), (path, method)
            # Every route needs authentication, so every route documents 403.
            assert "403" in op["responses"], (path, method)
            # Path parameters are exactly the {names} of the path, and required.
            in_path = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]
            assert in_path == re.findall(r"\{(\w+)\}", path), (path, method)
            for param in op.get("parameters", []):
                assert param["in"] in ("query", "path")
                assert param["required"] or param["in"] == "query"
            if "requestBody" in op:
                assert method in ("post", "put", "patch"), (path, method)
    assert len(operation_ids) == len(set(operation_ids)), operation_ids
    experiments = doc["paths"][f"/{API_PREFIX}/experiments"]["get"]
    assert {p["name"] for p in experiments["parameters"]} == {
        "search",
        "max_results",
        "include_deleted",
    }
    assert "503" in experiments["responses"]


@pytest.mark.parametrize(
    ("path", "method", "model"),
    [
        ("status", "get", "StatusResponse"),
        ("experiments", "get", "ExperimentsResponse"),
        ("runs", "get", "RunsPage"),
        ("runs/{run_id}", "get", "RunDetails"),
        ("runs/{run_id}", "patch", "RunSummary"),
        ("runs/{run_id}/restore", "post", "RunSummary"),
        ("runs/{run_id}/metrics/{key}", "get", "MetricHistory"),
        ("runs/{run_id}/artifacts", "get", "ArtifactList"),
    ],
)
def test_responses_reference_their_models(path, method, model):
    doc = build_openapi(ROUTES)
    schema = doc["paths"][f"/{API_PREFIX}/{path}"][method]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    assert schema == {"$ref": f"#/components/schemas/{model}"}


def test_bodies_bytes_and_empty_answers_are_documented():
    paths = build_openapi(ROUTES)["paths"]
    patch = paths[f"/{API_PREFIX}/runs/{{run_id}}"]["patch"]
    assert patch["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RunUpdate"
    }
    delete = paths[f"/{API_PREFIX}/runs/{{run_id}}"]["delete"]
    assert "200" not in delete["responses"]
    assert "content" not in delete["responses"]["204"]
    artifact = paths[f"/{API_PREFIX}/runs/{{run_id}}/artifact"]["get"]
    assert artifact["responses"]["200"]["content"] == {
        "*/*": {"schema": {"type": "string", "format": "binary"}}
    }
    assert "application/json" in artifact["responses"]["404"]["content"]


async def test_error_answer_matches_the_documented_schema(fetch_json):
    """A real 400 answer validates against the document's ErrorBody schema."""
    from jsonschema import Draft202012Validator

    _, doc = await fetch_json("openapi.json")
    code, body = await fetch_json("experiments", params={"max_results": "x"})
    assert code == 400
    ref = doc["paths"][f"/{API_PREFIX}/experiments"]["get"]["responses"]["400"]["content"][
        "application/json"
    ]["schema"]["$ref"]
    validator = Draft202012Validator({"$ref": ref, "components": doc["components"]})
    validator.validate(body)
    assert not validator.is_valid({"message": "no code"})


def test_module_prints_the_document(clean_env):
    """``python -m jupyter_mlops.openapi`` (what the frontend's types are generated from)."""
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops.openapi"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads(json.dumps(build_openapi(ROUTES)))
