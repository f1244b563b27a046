"""What every slice's API models share: the base class, the error body and its parts, the
empty query. Pydantic only, so a slice's models (and the services that return them) load
without tornado or the other slices."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

#: MLflow run ids are 32 hex digits; other stores use letters, digits, '_' and '-'.
RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ParameterError(ApiModel):
    """One problem with a job's parameters, and the parameter it is about."""

    parameter: str | None = Field(
        description="The parameter's name as given (also an unknown one); null when the "
        "problem is not about one parameter (a line of the parameters cell that assigns "
        "several names at once)."
    )
    message: str = Field(description="The problem, naming the parameter.")


class FieldError(ApiModel):
    """One problem with one field of a request, and the field it is about."""

    field: str = Field(
        description="The field's dotted name in the request: a body field "
        "('deployment.schedule', 'include.0'), a query or a path parameter ('page_token')."
    )
    message: str = Field(description="The problem, a sentence for people.")


class ErrorBody(ApiModel):
    """What every 4xx/5xx answer of the API carries."""

    message: str = Field(description="A sentence for people: what went wrong and what to do.")
    code: str = Field(description="A stable machine-readable error code.")
    parameters: list[ParameterError] | None = Field(
        default=None,
        description="With code 'invalid_parameters': each problem with the parameter it names, "
        "for a form to show beside its field ('message' joins them all).",
    )
    fields: list[FieldError] | None = Field(
        default=None,
        description="When the error concerns fields of the request: each problem with the "
        "field it names, for a form to show beside that field ('message' says them all).",
    )

    @classmethod
    def internal(cls) -> ErrorBody:
        """The answer to a bug: no detail of it (that goes to the server log)."""
        return cls(
            message="Internal error in jupyter-mlops; the server log has the details.",
            code="internal_error",
        )


class NoQuery(ApiModel):
    """The query of a route that takes no query parameters: any name given is a 400."""
