"""Request and response models of the lineage graph: nodes, edges, and the query naming its
root (a run, a model version or a job's output notebook)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..api.models import RUN_ID_PATTERN, ApiModel

NodeKind = Literal[
    "data",
    "commit",
    "notebook",
    "run",
    "model_version",
    "job",
    "image",
    "deployment",
    "job_run",
    "output",
]
#: What opens a node: run details, a notebook (a path below the server's root), a model
#: version (``NAME/VERSION``), a deployment, a job folder, a data path at a version.
LinkView = Literal["run", "notebook", "model_version", "deployment", "job", "data"]


class LineageLink(ApiModel):
    view: LinkView
    target: str = Field(
        description="What the view opens: a run id, a path below the server's root, "
        "'NAME/VERSION' of a model version, a deployment's name."
    )
    version: str | None = Field(default=None, description="A data path's version (DVC md5).")


class LineageNode(ApiModel):
    id: str = Field(description="Unique in the graph: '<kind>:<key>'.")
    kind: NodeKind
    label: str
    attrs: dict[str, str] = Field(default_factory=dict, description="Facts shown beside it.")
    link: LineageLink | None = Field(default=None, description="The view that opens it.")


class LineageEdge(ApiModel):
    source: str
    target: str
    relation: str = Field(description="What links them, read source -> target: 'read by'...")


class LineageGraph(ApiModel):
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    root: str = Field(description="The id of the node the graph was asked for.")
    truncated: bool = Field(
        default=False, description="Some job runs were left out (only the newest are shown)."
    )


class LineageQuery(ApiModel):
    """One root: ``run``, or ``model`` with ``version``, or ``output``."""

    run: str | None = Field(default=None, pattern=RUN_ID_PATTERN, description="A run id.")
    model: str | None = Field(
        default=None, min_length=1, max_length=256, description="A registered model's name."
    )
    version: str | None = Field(
        default=None, pattern=r"^[1-9][0-9]{0,9}$", description="Its version (with model)."
    )
    output: str | None = Field(
        default=None,
        min_length=1,
        max_length=4096,
        description="A job's output notebook: a path below the server's root.",
    )

    @model_validator(mode="after")
    def _one_root(self) -> LineageQuery:
        given = [k for k in ("run", "model", "output") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give one of run=ID, model=NAME&version=V or output=PATH")
        if (self.model is None) != (self.version is None):
            raise ValueError("model and version go together: model=NAME&version=V")
        return self
