"""The one parameter schema of an exported job.

A notebook's parameters are the literal assignments in its code cell tagged ``parameters``
(papermill's tag), read without running anything. The :class:`ParameterSchema` is written
into the job folder as JSON Schema (``parameters.schema.json``), so every engine (CLI flags,
Kubernetes args, Argo/KFP inputs, Airflow Params) and the run form are generated from one
description. Every entry point calls :func:`validate` (and :func:`parse_cli_value` for text)
before any kernel starts, so a wrong value is refused with a message naming the parameter,
and the values papermill injects keep their types: an int stays an int, a list stays a list,
a string with quotes in it arrives intact.

This module is the package's public interface; import from it, not from its modules. Each
module holds one concern, and each depends only on those listed before it:

- :mod:`.problems`: :class:`InvalidParameters` and :class:`ParameterProblem`, the mistakes
  every other module reports;
- :mod:`.types`: the type model, :class:`ParamType`, from a Python annotation
  (:func:`parse_type`) or a default (:func:`type_of_value`);
- :mod:`.values`: whether a value fits a type, and the value as the type says;
- :mod:`.schema`: :class:`Parameter` and :class:`ParameterSchema`, their JSON Schema both
  ways, the schema file (:data:`SCHEMA_FILE`, :func:`read_schema`, :func:`write_schema`) and
  :func:`validate`;
- :mod:`.cell`: reading the parameters cell (:func:`infer_schema`,
  :func:`schema_from_source`);
- :mod:`.text`: values given as text (:func:`parse_cli_value`, :func:`parse_cli_values`,
  :func:`parse_params_file`).

Importing the package loads neither nbformat nor IPython (the cell reader imports IPython
when it reads a cell, which only export does): the job runner imports it before anything else
runs, in the job's image.
"""

from __future__ import annotations

from .cell import PARAMETERS_TAG, infer_schema, schema_from_source
from .problems import InvalidParameters, ParameterProblem
from .schema import (
    EXTENSION,
    JSON_SCHEMA_DIALECT,
    SCHEMA_FILE,
    SCHEMA_VERSION,
    Parameter,
    ParameterSchema,
    read_schema,
    validate,
    write_schema,
)
from .text import parse_cli_value, parse_cli_values, parse_params_file
from .types import ANY, Kind, ParamType, parse_type, type_of_value

__all__ = [
    "ANY",
    "EXTENSION",
    "JSON_SCHEMA_DIALECT",
    "PARAMETERS_TAG",
    "SCHEMA_FILE",
    "SCHEMA_VERSION",
    "InvalidParameters",
    "Kind",
    "ParamType",
    "Parameter",
    "ParameterProblem",
    "ParameterSchema",
    "infer_schema",
    "parse_cli_value",
    "parse_cli_values",
    "parse_params_file",
    "parse_type",
    "read_schema",
    "schema_from_source",
    "type_of_value",
    "validate",
    "write_schema",
]
