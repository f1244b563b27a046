"""The OpenAPI document of a route table, generated from its routes' :class:`Operation`
and models.

The server's document is that of :data:`jupyter_mlops.routes.ROUTES`;
``python -m jupyter_mlops.openapi`` prints it, the frontend's types are generated from that
output (``jlpm api:types``), and a test checks that the document matches the routes the
server really registers.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from .._version import __version__
from .handler import API_PREFIX, NDJSON, MlopsHandler, Operation
from .models import ErrorBody

#: A route table: paths relative to ``/jupyter-mlops/`` and their handlers.
Routes = list[tuple[str, type[MlopsHandler]]]

_REF = "#/components/schemas/{model}"
_ERROR_TEXT = {
    400: "Malformed request: the message names the parameter.",
    403: "Not authenticated or not authorised.",
    404: "Not found.",
    409: "Conflicts with the current state.",
    503: "A service it depends on (tracking server, container engine) does not answer.",
}


def _models(routes: Routes) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    """Every model of the API with the side it is seen from: responses as the server
    writes them (fields with defaults always present), request bodies as clients may send
    them (fields with defaults optional)."""
    found: dict[str, tuple[type[BaseModel], JsonSchemaMode]] = {
        ErrorBody.__name__: (ErrorBody, "serialization")
    }
    for _, handler in routes:
        for op in handler.operations.values():
            if op.response is not None:
                found[op.response.__name__] = (op.response, "serialization")
            if op.body is not None:
                found[op.body.__name__] = (op.body, "validation")
    return list(found.values())


def _parameters(
    model: type[BaseModel], schema: dict[str, Any], where: str = "query"
) -> list[dict[str, Any]]:
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": where,
            "required": where == "path" or name in required,
            "description": prop.get("description", ""),
            "schema": {k: v for k, v in prop.items() if k not in ("description", "title")},
        }
        for name, prop in properties.items()
    ]


def _operation(op: Operation, operation_id: str) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    if op.status == 204:
        responses["204"] = {"description": "Done; no content."}
    elif op.media_type != "application/json" and op.response is None:
        responses[str(op.status)] = {
            "description": "The file's bytes.",
            "content": {op.media_type: {"schema": {"type": "string", "format": "binary"}}},
        }
    elif op.response is None:
        responses["200"] = {
            "description": "OK",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    else:
        ref = {"$ref": _REF.format(model=op.response.__name__)}
        streamed = op.media_type == NDJSON
        responses[str(op.status)] = {
            "description": "A stream: one JSON object per line." if streamed else "OK",
            "content": {op.media_type: {"schema": ref}},
        }
    error_ref = {"$ref": _REF.format(model="ErrorBody")}
    for status in sorted(set(op.errors) | {403}):
        responses[str(status)] = {
            "description": _ERROR_TEXT.get(status, "Error."),
            "content": {"application/json": {"schema": error_ref}},
        }
    spec: dict[str, Any] = {
        "operationId": operation_id,
        "summary": op.summary,
        "tags": list(op.tags),
        "responses": responses,
    }
    if op.description:
        spec["description"] = op.description
    parameters = []
    if op.path is not None:
        parameters += _parameters(op.path, op.path.model_json_schema(), "path")
    if op.query is not None:
        parameters += _parameters(op.query, op.query.model_json_schema())
    if parameters:
        spec["parameters"] = parameters
    if op.body is not None:
        spec["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": _REF.format(model=op.body.__name__)}}
            },
        }
    return spec


def build_openapi(routes: Routes) -> dict[str, Any]:
    """The OpenAPI document of ``routes``."""
    _, schemas = models_json_schema(_models(routes), ref_template=_REF)
    paths: dict[str, Any] = {}
    for path, handler in routes:
        item: dict[str, Any] = {}
        for method, op in handler.operations.items():
            operation_id = f"{method}_{re.sub(r'[^A-Za-z0-9]+', '_', path).strip('_')}"
            item[method] = _operation(op, operation_id)
        paths[f"/{API_PREFIX}/{path}"] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "jupyter-mlops",
            "version": __version__,
            "description": "REST API of the jupyter-mlops Jupyter server extension. Every "
            "route needs Jupyter's authentication (token or cookie).",
        },
        "security": [{"JupyterToken": []}],
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {
                "JupyterToken": {"type": "apiKey", "in": "header", "name": "Authorization"}
            },
        },
    }
