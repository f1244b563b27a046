"""Routes of the model registry: models, versions, the gate, aliases, model cards."""

from __future__ import annotations

import tornado.web
from jupyter_server.auth.decorator import authorized

from ..api.handler import MlopsHandler, Operation
from .models import (
    AliasChange,
    AliasPath,
    DemoteQuery,
    GateBody,
    GateResult,
    ModelDetail,
    ModelPath,
    ModelsResponse,
    PromoteBody,
    VersionDetail,
    VersionPath,
)
from .service import ModelsService

_ERRORS = (400, 403, 404, 503)


class _ModelsHandler(MlopsHandler):
    @property
    def service(self) -> ModelsService:
        app = self.mlops
        cached = getattr(app, "_models_service", None)
        if cached is None:
            cached = ModelsService(app.settings_resolved)
            app._models_service = cached  # type: ignore[attr-defined]
        return cached

    def who(self) -> str:
        from .. import audit

        user = getattr(self.current_user, "username", None)
        return str(user) if user else audit.current_user()


class ModelsHandler(_ModelsHandler):
    operations = {
        "get": Operation(
            summary="Registered models with their aliases.",
            response=ModelsResponse,
            errors=(403, 503),
        )
    }

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.send_model(await self.call(self.service.list_models))


class ModelHandler(_ModelsHandler):
    operations = {
        "get": Operation(
            summary="A registered model, its aliases and versions.",
            response=ModelDetail,
            path=ModelPath,
            errors=_ERRORS,
        )
    }

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        path = self.parse_path(ModelPath, name=name)
        self.send_model(await self.call(self.service.show, path.name))


class VersionHandler(_ModelsHandler):
    operations = {
        "get": Operation(
            summary="A model version: its run's parameters, metrics and lineage.",
            response=VersionDetail,
            path=VersionPath,
            errors=_ERRORS,
        )
    }

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str, version: str) -> None:
        path = self.parse_path(VersionPath, name=name, version=version)
        self.send_model(await self.call(self.service.version, path.name, path.version))


class GateHandler(_ModelsHandler):
    operations = {
        "post": Operation(
            summary="Evaluate the promotion gate for a version and an alias (changes nothing).",
            response=GateResult,
            path=VersionPath,
            body=GateBody,
            errors=_ERRORS,
        )
    }

    @tornado.web.authenticated
    @authorized
    async def post(self, name: str, version: str) -> None:
        path = self.parse_path(VersionPath, name=name, version=version)
        body = self.parse_body(GateBody)
        self.send_model(await self.call(self.service.gate, path.name, path.version, body.alias))


class AliasHandler(_ModelsHandler):
    operations = {
        "post": Operation(
            summary="Promote: point the alias at a version if the gate passes (or force "
            "with a reason); recorded on the version and in the audit trail.",
            response=AliasChange,
            path=AliasPath,
            body=PromoteBody,
            errors=(400, 403, 404, 409, 503),
            description="A refusing gate answers 409 (code gate_refused) naming each "
            "condition that did not pass; the alias is unchanged.",
        ),
        "delete": Operation(
            summary="Demote: remove the alias from the version holding it (recorded).",
            response=AliasChange,
            path=AliasPath,
            query=DemoteQuery,
            errors=_ERRORS,
        ),
    }

    @tornado.web.authenticated
    @authorized
    async def post(self, name: str, alias: str) -> None:
        path = self.parse_path(AliasPath, name=name, alias=alias)
        body = self.parse_body(PromoteBody)
        change = await self.call(self.service.promote, path.name, path.alias, body, self.who())
        self.send_model(change)

    @tornado.web.authenticated
    @authorized
    async def delete(self, name: str, alias: str) -> None:
        path = self.parse_path(AliasPath, name=name, alias=alias)
        query = self.parse_query(DemoteQuery)
        change = await self.call(
            self.service.demote, path.name, path.alias, query.reason, self.who()
        )
        self.send_model(change)


class CardHandler(_ModelsHandler):
    operations = {
        "get": Operation(
            summary="The version's model card (Hugging Face format: YAML metadata and "
            "Markdown), written from its lineage and logged on the version.",
            response=None,
            path=VersionPath,
            media_type="text/markdown",
            errors=_ERRORS,
        )
    }

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str, version: str) -> None:
        path = self.parse_path(VersionPath, name=name, version=version)
        text = await self.call(self.service.card, path.name, path.version)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.write(text.encode("utf-8"))
        await self.finish(set_content_type="text/markdown; charset=UTF-8")


#: Routes relative to ``/jupyter-mlops/``.
ROUTES: list[tuple[str, type[MlopsHandler]]] = [
    ("models", ModelsHandler),
    ("models/{name}", ModelHandler),
    ("models/{name}/versions/{version}", VersionHandler),
    ("models/{name}/versions/{version}/gate", GateHandler),
    ("models/{name}/versions/{version}/card", CardHandler),
    ("models/{name}/aliases/{alias}", AliasHandler),
]
