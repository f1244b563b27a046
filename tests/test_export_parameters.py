"""The one parameter schema: inference from the ``parameters`` cell, JSON Schema round trip,
validation, CLI text and parameters files, and values arriving typed in a real kernel."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import nbformat
import papermill
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.export import parameters
from jupyter_mlops.export.parameters import (
    SCHEMA_FILE,
    InvalidParameters,
    Parameter,
    ParameterSchema,
    ParamType,
    infer_schema,
    parse_cli_value,
    parse_cli_values,
    parse_params_file,
    parse_type,
    read_schema,
    validate,
    write_schema,
)


def notebook(parameters: str | None, *others: str) -> nbformat.NotebookNode:
    """A notebook with a markdown cell, the parameters cell (when given) and code cells."""
    cells = [new_markdown_cell("# Training")]
    if parameters is not None:
        source = textwrap.dedent(parameters).strip("\n")
        cells.append(new_code_cell(source, metadata={"tags": ["parameters"]}))
    cells += [new_code_cell(source) for source in others]
    return new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )


def schema_of(source: str) -> ParameterSchema:
    return infer_schema(notebook(source))


def by_name(schema: ParameterSchema) -> dict[str, Parameter]:
    return {p.name: p for p in schema}


def problems(excinfo: pytest.ExceptionInfo[InvalidParameters]) -> list[str]:
    return excinfo.value.problems


TRAINING = """
from typing import Literal
# Passes over the data
epochs = 10
lr: float = 1  # learning rate
layers: list[int] = [64, 32]  # hidden layer sizes
optimizer: Literal["adam", "sgd"] = "adam"
name = "baseline"
verbose = False
seed: int | None = None
extra = {"dropout": 0.1, "tags": ["a", "b"]}
"""


@pytest.fixture
def training() -> ParameterSchema:
    return schema_of(TRAINING)


# -- inference ------------------------------------------------------------------------------
def test_types_and_defaults_from_literals():
    found = by_name(
        schema_of(
            """
            n = 3
            rate = 0.5
            label = 'x'
            flag = True
            sizes = [1, 2.5, "a"]
            config = {"a": 1}
            shape = (28, 28)
            nothing = None
            """
        )
    )
    assert {n: p.type.python_text() for n, p in found.items()} == {
        "n": "int",
        "rate": "float",
        "label": "str",
        "flag": "bool",
        "sizes": "list",
        "config": "dict",
        "shape": "list",
        "nothing": "Any",
    }
    assert found["shape"].default == [28, 28], "tuples travel as lists"
    assert found["flag"].default is True
    assert [p.line for p in found.values()] == list(range(1, 9))


@pytest.mark.parametrize(
    ("annotation", "default", "python_type"),
    [
        ("int", "1", "int"),
        ("float", "1", "float"),
        ("str", "'a'", "str"),
        ("bool", "False", "bool"),
        ("list", "[]", "list"),
        ("dict", "{}", "dict"),
        ("list[int]", "[1, 2]", "list[int]"),
        ("List[str]", "['a']", "list[str]"),
        ("typing.List[float]", "[1, 2.5]", "list[float]"),
        ("tuple[int, ...]", "(1, 2)", "list[int]"),
        ("list[list[float]]", "[[1], [2.5]]", "list[list[float]]"),
        ("dict[str, int]", "{'a': 1}", "dict[str, int]"),
        ("Dict[str, list[str]]", "{'a': ['b']}", "dict[str, list[str]]"),
        ("Optional[int]", "None", "int | None"),
        ("typing.Optional[str]", "'x'", "str | None"),
        ("int | None", "3", "int | None"),
        ("None | float", "None", "float | None"),
        ("Union[int, None]", "None", "int | None"),
        ("int | float", "1", "float"),
        ("'int'", "1", "int"),
        ("Literal['adam', 'sgd']", "'sgd'", "Literal['adam', 'sgd']"),
        ("Literal[1, 2, None]", "None", "Literal[1, 2] | None"),
        ("Any", "[1]", "Any"),
    ],
)
def test_types_from_annotations(annotation, default, python_type):
    (parameter,) = schema_of(f"p: {annotation} = {default}")
    assert parameter.type.python_text() == python_type
    assert parse_type(python_type) == parameter.type


def test_int_default_of_a_float_parameter_becomes_a_float():
    found = by_name(schema_of("lr: float = 1\nweights: list[float] = [1, 2]"))
    assert found["lr"].default == 1.0
    assert isinstance(found["lr"].default, float)
    assert all(isinstance(w, float) for w in found["weights"].default)


def test_papermill_type_comment_gives_the_type():
    (parameter,) = schema_of("alpha = 1  # type: float weight of the penalty")
    assert parameter.type == ParamType("number")
    assert parameter.default == 1.0
    assert parameter.help == "weight of the penalty"
    (ignored,) = schema_of("beta = 1  # type: ignore")
    assert ignored.type == ParamType("integer")


def test_default_that_does_not_fit_its_annotation_is_refused():
    with pytest.raises(InvalidInput) as excinfo:
        schema_of('epochs: int = "ten"')
    assert "parameter 'epochs' (line 1" in excinfo.value.message
    assert "'ten' is not an integer" in excinfo.value.message


@pytest.mark.parametrize(
    ("annotation", "fragment"),
    [
        ("Path", "'Path' is not a type export can pass"),
        ("dict[int, str]", "dict keys must be str"),
        ("int | str", "union"),
        ("pd.DataFrame", "'pd.DataFrame'"),
    ],
)
def test_unsupported_annotations_are_refused_by_name(annotation, fragment):
    with pytest.raises(InvalidInput) as excinfo:
        schema_of(f"x = 0\np: {annotation} = None")
    message = excinfo.value.message
    assert message.startswith("parameter 'p' (line 2 of the parameters cell)")
    assert fragment in message


def test_help_from_trailing_and_preceding_comments():
    found = by_name(
        schema_of(
            """
            # Number of passes
            # over the data.
            epochs = 10
            lr = 0.1  # learning rate

            batch = 32
            # A comment above a trailing one loses.
            momentum = 0.9  # SGD momentum
            layers = [  # hidden sizes
                64,
                32,
            ]
            dropout = [
                0.1,
            ]  # per layer
            """
        )
    )
    assert found["epochs"].help == "Number of passes over the data."
    assert found["lr"].help == "learning rate"
    assert found["batch"].help == "", "a blank line ends the help above"
    assert found["momentum"].help == "SGD momentum"
    assert found["layers"].help == "hidden sizes"
    assert found["dropout"].help == "per layer"


def test_help_keeps_characters_that_are_no_python_line_break():
    """A form feed, U+2028 or U+0085 in a comment is part of it for Python (only \\n, \\r\\n
    and \\r end a line): the help text keeps it and the lines after it keep their numbers."""
    source = "lr = 0.1  # rate\x0cper step\n# above\u2028more\nepochs = 3\nname = 'a'  # h\x85i\n"
    found = by_name(infer_schema(notebook(source)))
    assert found["lr"].help == "rate\x0cper step"
    assert (found["epochs"].help, found["epochs"].line) == ("above\u2028more", 3)
    assert (found["name"].help, found["name"].line) == ("h\x85i", 4)


def test_a_default_or_cell_no_utf8_file_can_hold_is_refused_naming_it():
    """A lone surrogate ('\\ud800') is a Python string but no text any generated file can
    hold: refused at export, naming the parameter, not a crash while writing files."""
    with pytest.raises(InvalidParameters) as refused:
        infer_schema(notebook("ok = 1\ntitle = 'a\\ud800b'\nnested = {'k\\udc80': [1]}\n"))
    assert [d.parameter for d in refused.value.details] == ["title", "nested"]
    assert "surrogate" in refused.value.message
    with pytest.raises(InvalidInput, match="parameters cell holds a lone surrogate"):
        infer_schema(notebook("ok = 1  # \ud800\n"))


def test_negative_numbers_and_nested_literals():
    found = by_name(
        schema_of(
            """
            offset = -3
            low = -1e-3
            grid = [[1, -2], [3.5, [4]]]
            config = {"model": {"depth": -1, "layers": [64, 32]}, "name": None}
            pairs = ((1, 2), (3, 4))
            """
        )
    )
    assert found["offset"].default == -3
    assert found["offset"].type == ParamType("integer")
    assert found["low"].default == -0.001
    assert found["grid"].default == [[1, -2], [3.5, [4]]]
    assert found["config"].default == {
        "model": {"depth": -1, "layers": [64, 32]},
        "name": None,
    }
    assert found["pairs"].default == [[1, 2], [3, 4]]


def test_none_and_optional():
    found = by_name(schema_of("a = None\nb: Optional[int] = None\nc: str | None = 'x'"))
    assert found["a"].type.kind == "any"
    assert found["b"].type == ParamType("integer", nullable=True)
    assert found["c"].type == ParamType("string", nullable=True)
    assert found["c"].default == "x"


def test_magics_and_shell_lines_are_skipped_and_lines_kept():
    found = by_name(
        schema_of(
            """
            %matplotlib inline
            !pip install -q something
            %pip install a \\
                b
            epochs = 5  # passes
            template = \"\"\"
            %d items
            !not a shell line
            \"\"\"
            """
        )
    )
    assert list(found) == ["epochs", "template"]
    assert found["epochs"].line == 5
    assert found["epochs"].help == "passes"
    assert found["template"].default == "\n%d items\n!not a shell line\n"


def test_leading_blank_lines_keep_line_numbers():
    (parameter,) = infer_schema(
        new_notebook(cells=[new_code_cell("\n\n  \nx = 1", metadata={"tags": ["parameters"]})])
    )
    assert parameter.line == 4


def test_shell_output_as_a_default_is_not_a_literal():
    with pytest.raises(InvalidInput, match=r"parameter 'files' \(line 1.*not a literal"):
        schema_of("files = !ls")


def test_cell_magic_in_the_parameters_cell_is_refused():
    with pytest.raises(InvalidInput, match="cell magic %%time"):
        schema_of("%%time\nx = 1")


def test_no_parameters_cell_gives_an_empty_schema():
    tagged_markdown = notebook(None, "x = 1")
    tagged_markdown.cells[0].metadata["tags"] = ["parameters"]
    schema = infer_schema(tagged_markdown)
    assert len(schema) == 0
    assert schema.to_json_schema()["properties"] == {}
    assert validate(schema, {}) == {}
    with pytest.raises(InvalidParameters, match="unknown parameter 'x'; the notebook has no"):
        validate(schema, {"x": 1})


def test_two_parameters_cells_are_refused_naming_both():
    nb = notebook("epochs = 10", "print(1)")
    nb.cells.append(new_code_cell("lr = 0.1", metadata={"tags": ["parameters", "other"]}))
    with pytest.raises(InvalidInput) as excinfo:
        infer_schema(nb)
    message = excinfo.value.message
    assert "2 cells are tagged 'parameters'" in message
    assert "cell 2 ('epochs = 10')" in message
    assert "cell 4 ('lr = 0.1')" in message


def test_non_literal_defaults_are_refused_all_at_once():
    with pytest.raises(InvalidParameters) as excinfo:
        schema_of(
            """
            import os
            epochs = 10
            path = os.getcwd()
            size = 2 * 3
            """
        )
    first, second = problems(excinfo)
    assert first.startswith("parameter 'path' (line 3 of the parameters cell)")
    assert "`os.getcwd()`" in first
    assert "literal defaults" in first
    assert second.startswith("parameter 'size' (line 4")
    assert "\n" not in first


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("a, b = 1, 2", "one parameter per assignment"),
        ("epochs: int", "parameter 'epochs' (line 1 of the parameters cell) has no default"),
        ("x = {1, 2}", "JSON cannot carry"),
        ("x = {1: 'a'}", "JSON cannot carry"),
        ("x = (", "not valid Python: line 1"),
    ],
)
def test_other_cell_mistakes(source, fragment):
    with pytest.raises(InvalidInput) as excinfo:
        schema_of(source)
    assert fragment in excinfo.value.message


def test_statements_that_are_not_parameter_assignments_are_passed_over():
    found = schema_of(
        """
        import math
        print("hello")
        a = b = 2
        cfg = {}
        cfg["x"] = 1
        a = 3  # later wins
        if True:
            hidden = 1
        """
    )
    assert [(p.name, p.default, p.help) for p in found] == [
        ("b", 2, ""),
        ("cfg", {}, ""),
        ("a", 3, "later wins"),
    ]


def test_agrees_with_papermills_own_inspection(tmp_path):
    source = "epochs = 10  # passes\nlr = 0.1  # learning rate\nname = 'x'\n"
    path = tmp_path / "nb.ipynb"
    nbformat.write(notebook(source), path)
    theirs = papermill.inspect_notebook(str(path))
    ours = schema_of(source)
    assert list(theirs) == ours.names
    assert [theirs[p.name]["help"] for p in ours] == [p.help for p in ours]
    assert [theirs[p.name]["default"] for p in ours] == [repr(p.default) for p in ours]


# -- JSON Schema ----------------------------------------------------------------------------
def test_json_schema_shape(training):
    document = training.to_json_schema()
    jsonschema.Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["type"] == "object"
    assert document["additionalProperties"] is False
    props = document["properties"]
    assert list(props) == training.names
    assert props["epochs"] == {
        "type": "integer",
        "default": 10,
        "description": "Passes over the data",
        "x-jupyter-mlops": {"python_type": "int", "line": 3},
    }
    assert props["layers"]["items"] == {"type": "integer"}
    assert props["seed"]["type"] == ["integer", "null"]
    assert props["optimizer"]["enum"] == ["adam", "sgd"]
    assert props["lr"]["x-jupyter-mlops"]["python_type"] == "float"
    assert "description" not in props["name"]


def test_json_schema_round_trip(training, tmp_path):
    document = json.loads(json.dumps(training.to_json_schema()))
    assert ParameterSchema.from_json_schema(document) == training
    assert write_schema(training, tmp_path) == tmp_path / SCHEMA_FILE
    assert read_schema(tmp_path) == training
    assert read_schema(tmp_path / SCHEMA_FILE) == training


def test_validated_values_satisfy_the_json_schema(training):
    validator = jsonschema.Draft202012Validator(training.to_json_schema())
    validator.validate(validate(training, {}))
    validator.validate(validate(training, {"lr": 2, "seed": 7, "layers": (8,)}))
    assert not validator.is_valid({"epochs": True})
    assert not validator.is_valid({"unknown": 1})


def test_hand_written_json_schema_is_read():
    schema = ParameterSchema.from_json_schema(
        {
            "type": "object",
            "properties": {
                "sizes": {"type": "array", "items": {"type": "number"}, "default": [1]},
                "mode": {"type": ["string", "null"], "enum": ["a", "b", None], "default": "a"},
                "blob": {"default": None},
            },
        }
    )
    found = by_name(schema)
    assert found["sizes"].type.python_text() == "list[float]"
    assert found["sizes"].default == [1.0]
    assert found["mode"].type.python_text() == "Literal['a', 'b'] | None"
    assert found["blob"].type.kind == "any"


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ({"type": "array"}, "of type 'object'"),
        ({"type": "object", "properties": {"x": {"type": "integer"}}}, "has no default"),
        ({"type": "object", "properties": {"x": {"type": "date", "default": 1}}}, "has type"),
        (
            {"type": "object", "properties": {"x": {"type": "integer", "default": "a"}}},
            "default does not fit its type",
        ),
        (
            {
                "type": "object",
                "properties": {
                    "x": {
                        "type": "integer",
                        "default": 1,
                        "x-jupyter-mlops": {"python_type": "str"},
                    }
                },
            },
            "says type int but x-jupyter-mlops says str",
        ),
    ],
)
def test_malformed_json_schema_is_refused(document, fragment):
    with pytest.raises(InvalidInput) as excinfo:
        ParameterSchema.from_json_schema(document)
    assert fragment in excinfo.value.message


def test_missing_or_broken_schema_file(tmp_path):
    with pytest.raises(InvalidInput, match="no parameter schema at"):
        read_schema(tmp_path)
    (tmp_path / SCHEMA_FILE).write_text("{", encoding="utf-8")
    with pytest.raises(InvalidInput, match="cannot read the parameter schema"):
        read_schema(tmp_path)


# -- validate -------------------------------------------------------------------------------
def test_defaults_are_filled_and_copied(training):
    values = validate(training, {"epochs": 3})
    assert values == {
        "epochs": 3,
        "lr": 1.0,
        "layers": [64, 32],
        "optimizer": "adam",
        "name": "baseline",
        "verbose": False,
        "seed": None,
        "extra": {"dropout": 0.1, "tags": ["a", "b"]},
    }
    values["layers"].append(1)
    assert training.get("layers").default == [64, 32]


def test_unknown_name_is_refused_naming_the_known_ones(training):
    with pytest.raises(InvalidParameters) as excinfo:
        validate(training, {"batch": 4})
    assert str(excinfo.value) == (
        "unknown parameter 'batch'; known: epochs, lr, layers, optimizer, name, verbose, seed, "
        "extra"
    )
    with pytest.raises(InvalidParameters, match=r"'epoch' \(did you mean 'epochs'\?\)"):
        validate(training, {"epoch": 4})


def test_wrong_type_is_refused_naming_parameter_and_type(training):
    with pytest.raises(InvalidParameters) as excinfo:
        validate(training, {"epochs": "abc"})
    assert excinfo.value.message == "parameter 'epochs' expects an integer, got 'abc'"
    assert excinfo.value.status == 400
    assert isinstance(excinfo.value, InvalidInput)


def test_bool_and_int_do_not_mix(training):
    with pytest.raises(InvalidParameters) as excinfo:
        validate(training, {"epochs": True, "verbose": 1, "lr": False})
    assert problems(excinfo) == [
        "parameter 'epochs' expects an integer, got True",
        "parameter 'lr' expects a number, got False",
        "parameter 'verbose' expects a boolean (true or false), got 1",
    ]


def test_int_for_a_float_becomes_a_float_and_types_are_kept(training):
    values = validate(
        training, {"lr": 3, "epochs": 7, "verbose": True, "layers": (1, 2), "name": "7"}
    )
    assert values["lr"] == 3.0
    assert isinstance(values["lr"], float)
    assert type(values["epochs"]) is int
    assert values["verbose"] is True
    assert values["layers"] == [1, 2]
    assert values["name"] == "7"


def test_float_for_an_int_is_refused(training):
    with pytest.raises(InvalidParameters, match=r"'epochs' expects an integer, got 5\.0"):
        validate(training, {"epochs": 5.0})


def test_none_only_where_nullable(training):
    assert validate(training, {"seed": None})["seed"] is None
    assert validate(training, {"seed": 3})["seed"] == 3
    with pytest.raises(InvalidParameters, match="'epochs' expects an integer, got None"):
        validate(training, {"epochs": None})
    with pytest.raises(InvalidParameters, match="'seed' expects an integer or null, got 'x'"):
        validate(training, {"seed": "x"})


def test_nested_and_enum_mismatches(training):
    with pytest.raises(InvalidParameters) as excinfo:
        validate(training, {"layers": [64, "wide"], "optimizer": "rmsprop", "extra": [1]})
    assert problems(excinfo) == [
        "parameter 'layers' expects a list of integers, got [64, 'wide'] (layers[1] is 'wide')",
        "parameter 'optimizer' expects one of 'adam', 'sgd', got 'rmsprop'",
        "parameter 'extra' expects a dict, got [1]",
    ]


def test_all_errors_in_one_message_one_line_each(training):
    with pytest.raises(InvalidParameters) as excinfo:
        validate(training, {"nope": 1, "epochs": "x", "verbose": "yes", "seed": 1.5})
    lines = str(excinfo.value).splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("unknown parameter 'nope'")
    assert [line.split("'")[1] for line in lines[1:]] == ["epochs", "verbose", "seed"]


def test_untyped_parameters_take_json_values_only():
    schema = schema_of("anything = None\nitems = []")
    assert validate(schema, {"anything": {"a": (1, 2)}})["anything"] == {"a": [1, 2]}
    with pytest.raises(InvalidParameters, match="'anything' expects a JSON value"):
        validate(schema, {"anything": object()})
    with pytest.raises(InvalidParameters, match=r"items\[0\] is \{1, 2\}"):
        validate(schema, {"items": [{1, 2}]})


# -- text from the command line -------------------------------------------------------------
def test_cli_strings_arrive_intact(training):
    for text in ['it\'s "quoted"', "  spaces  ", "", "null", "[1, 2]", "a\\nb", "héllo"]:
        assert parse_cli_value(training, "name", text) == text


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("epochs", "5", 5),
        ("epochs", "-5", -5),
        ("lr", "0.1", 0.1),
        ("lr", "1e-3", 0.001),
        ("lr", "2", 2.0),
        ("layers", "[64, 32]", [64, 32]),
        ("layers", "(8, 4)", [8, 4]),
        ("extra", '{"a": [1, "x"]}', {"a": [1, "x"]}),
        ("extra", "{'a': True}", {"a": True}),
        ("seed", "null", None),
        ("seed", "None", None),
        ("seed", "42", 42),
        ("optimizer", "sgd", "sgd"),
    ],
)
def test_cli_values_are_typed(training, name, text, expected):
    value = parse_cli_value(training, name, text)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("False", False), ("yes", True), ("NO", False), ("1", True), ("0", False)],
)
def test_cli_booleans(training, text, expected):
    assert parse_cli_value(training, "verbose", text) is expected


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("epochs", "abc", "parameter 'epochs' expects an integer, got 'abc'"),
        ("epochs", "5.0", "parameter 'epochs' expects an integer, got '5.0'"),
        ("lr", "fast", "parameter 'lr' expects a number, got 'fast'"),
        ("verbose", "maybe", "parameter 'verbose' expects a boolean (true or false), got 'maybe'"),
        ("layers", "[64, 32", "parameter 'layers' expects a list of integers, got '[64, 32'"),
        ("layers", '["a"]', "parameter 'layers' expects a list of integers, got '[\"a\"]'"),
        ("optimizer", "rmsprop", "parameter 'optimizer' expects one of 'adam', 'sgd'"),
        ("nope", "1", "unknown parameter 'nope'; known: epochs"),
    ],
)
def test_cli_bad_values_are_refused(training, name, text, message):
    with pytest.raises(InvalidParameters) as excinfo:
        parse_cli_value(training, name, text)
    assert excinfo.value.message.startswith(message)


def test_cli_pairs_collect_every_mistake(training):
    assert parse_cli_values(training, [("epochs", "1"), ("epochs", "2"), ("lr", "3")]) == {
        "epochs": 2,
        "lr": 3.0,
    }
    with pytest.raises(InvalidParameters) as excinfo:
        parse_cli_values(training, [("epochs", "x"), ("nope", "1"), ("lr", "y")])
    assert len(problems(excinfo)) == 3


def test_untyped_parameter_from_cli():
    schema = schema_of("anything = None")
    assert parse_cli_value(schema, "anything", "[1, 2]") == [1, 2]
    assert parse_cli_value(schema, "anything", "5") == 5
    assert parse_cli_value(schema, "anything", "plain words") == "plain words"


# -- parameters files -----------------------------------------------------------------------
def test_yaml_params_file(tmp_path, training):
    path = tmp_path / "params.yaml"
    path.write_text(
        textwrap.dedent(
            """
            epochs: 20
            lr: 1
            layers: [128, 64]
            name: 'it''s "quoted"'
            verbose: true
            seed: null
            extra: {country: NO, day: 2024-01-31}
            """
        ),
        encoding="utf-8",
    )
    values = validate(training, parse_params_file(path))
    assert values["epochs"] == 20
    assert values["lr"] == 1.0
    assert isinstance(values["lr"], float)
    assert values["layers"] == [128, 64]
    assert values["name"] == 'it\'s "quoted"'
    assert values["verbose"] is True
    assert values["seed"] is None
    assert values["extra"] == {"country": "NO", "day": "2024-01-31"}


def test_json_params_file(tmp_path, training):
    path = tmp_path / "params.json"
    path.write_text(json.dumps({"epochs": 2, "layers": [1], "seed": 5}), encoding="utf-8")
    assert parse_params_file(path) == {"epochs": 2, "layers": [1], "seed": 5}
    (tmp_path / "empty.yml").write_text("# nothing\n", encoding="utf-8")
    assert parse_params_file(tmp_path / "empty.yml") == {}


@pytest.mark.parametrize(
    ("filename", "content", "fragment"),
    [
        ("p.yaml", "- 1\n- 2\n", "must map parameter names to values, not hold list"),
        ("p.json", "{", "is not valid JSON or YAML"),
        ("p.yaml", "a: [1\n", "is not valid JSON or YAML"),
        ("p.yaml", "1: a\n", "names that are not strings"),
    ],
)
def test_bad_params_files(tmp_path, filename, content, fragment):
    path = tmp_path / filename
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInput) as excinfo:
        parse_params_file(path)
    assert fragment in excinfo.value.message
    assert "\n" not in excinfo.value.message


def test_missing_params_file(tmp_path):
    with pytest.raises(InvalidInput, match="not found"):
        parse_params_file(tmp_path / "absent.yaml")


# -- a real kernel --------------------------------------------------------------------------
CHECKS = r"""
assert isinstance(epochs, int) and not isinstance(epochs, bool), type(epochs)
assert epochs == 5
assert isinstance(lr, float) and lr == 2.0, (type(lr), lr)
assert layers == [64, 32] and all(isinstance(x, int) for x in layers)
assert name == 'it\'s "quoted" \\ back\nslash é', repr(name)
assert verbose is True
assert seed is None
assert extra == {"dropout": 0.5, "tags": []}
assert optimizer == "sgd"
"""


@pytest.mark.slow
def test_values_arrive_typed_in_a_real_kernel(tmp_path, training):
    source = tmp_path / "train.ipynb"
    nbformat.write(notebook(TRAINING, CHECKS), source)
    schema = infer_schema(nbformat.read(source, as_version=4))
    given: dict[str, Any] = parse_cli_values(
        schema,
        [
            ("epochs", "5"),
            ("lr", "2"),
            ("layers", "[64, 32]"),
            ("name", 'it\'s "quoted" \\ back\nslash é'),
            ("verbose", "yes"),
        ],
    )
    given["extra"] = {"dropout": 0.5, "tags": ()}
    given["optimizer"] = "sgd"
    values = validate(schema, given)
    output = tmp_path / "out.ipynb"
    papermill.execute_notebook(
        str(source),
        str(output),
        parameters=values,
        kernel_name="python3",
        progress_bar=False,
        cwd=str(tmp_path),
    )
    executed = nbformat.read(output, as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1


def test_the_job_runner_loads_no_notebook_machinery():
    """The job image runs ``jupyter_mlops.export.job``, which validates its parameters with
    this package before anything else: importing them must not pull in nbformat (seconds of
    jsonschema format checks), IPython or the server."""
    probe = (
        "import sys, jupyter_mlops.export.job\n"
        "heavy = {'nbformat', 'IPython', 'jsonschema', 'jupyter_server', 'tornado'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]"


def test_each_module_of_the_package_imports_only_those_before_it():
    """One concern a module, layered: problems, types, values, schema, then cell and text;
    no module reaches for another's private names."""
    package = Path(parameters.__file__).parent
    layers = ["problems", "types", "values", "schema", "cell", "text"]
    assert sorted(p.stem for p in package.glob("*.py")) == sorted([*layers, "__init__"])
    for index, name in enumerate(layers):
        tree = ast.parse((package / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                assert node.module in layers[:index], f"{name} imports .{node.module}"
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{name} imports {private} from .{node.module}"
