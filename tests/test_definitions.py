"""The one reader of dated, sourced parameters (``definitions.py``): its contract, and that it is the only one.

A parameter is a dated value with its source and confidence, or a series of dated values; the value in
force on a day is chosen by date, an entry without source is refused, a ``U`` (non confirmé) is
reported, and a malformed file fails with a DefinitionError naming the file and the field. No other
module of ``src/`` reads ``since``/``valid_from``/``source`` by hand or loads a parameters file itself.
"""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest

from proxisante.definitions import (
    DefinitionError,
    Parameter,
    ParameterFile,
    dated_values,
    read_parameters,
    sourced_value,
)
from tests.lib.paths import SRC

SRC = SRC
GOOD = """\
speed:
  value: 50
  since: 2020-01-01
  source: Modelling choice, to verify
  confidence: U
fee:
  values: [[2023-01-01, 25.0], [2024-12-22, 30.0], [2026-01-01, null]]
  source: Convention médicale 2024-2029
  confidence: C
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "parameters.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_dated_value_is_chosen_by_date(tmp_path: Path) -> None:
    entries = read_parameters(write(tmp_path, GOOD))
    fee = entries["fee"]
    assert fee.name == "fee" and fee.first_date == dt.date(2023, 1, 1)
    assert fee.at(dt.date(2022, 6, 1)) == 25.0  # before the first date: the first value
    assert fee.at(dt.date(2024, 12, 21)) == 25.0
    assert fee.at(dt.date(2024, 12, 22)) == 30.0
    assert fee.at(dt.date(2026, 1, 1)) is None  # no longer in force
    assert fee.average(2024) == pytest.approx((356 * 25.0 + 10 * 30.0) / 366)
    speed = entries["speed"]  # the one-value form is a series of one
    assert speed.values == [(dt.date(2020, 1, 1), 50)]
    assert speed.value == 50 and speed.since == dt.date(2020, 1, 1)


def test_a_source_is_required(tmp_path: Path) -> None:
    for source in ('""', '"  "', "null"):
        with pytest.raises(DefinitionError, match=r"field speed\.source"):
            read_parameters(write(tmp_path, GOOD.replace("Modelling choice, to verify", source)))
    without = GOOD.replace("  source: Modelling choice, to verify\n", "")
    with pytest.raises(DefinitionError, match=r"field speed\.source"):
        read_parameters(write(tmp_path, without))
    with pytest.raises(DefinitionError, match="'value' and 'source'"):
        sourced_value({"value": 3}, "geography.radius_km")
    assert sourced_value({"value": 3, "source": "INSEE 2024"}, "geography.radius_km") == 3


def test_unconfirmed_values_are_reported(tmp_path: Path) -> None:
    entries = read_parameters(write(tmp_path, GOOD))
    assert entries["speed"].unconfirmed and not entries["fee"].unconfirmed
    territory = ParameterFile("proxisante.territory")
    assert territory.unconfirmed(["decay_drees_2015", "apl_threshold"]) == ["decay_drees_2015"]
    assert set(territory.unconfirmed()) <= set(territory.entries())
    assert territory.entries() is ParameterFile("proxisante.territory").entries()  # read once


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (GOOD.replace("since: 2020-01-01", "since: someday"), "speed"),
        (GOOD.replace("confidence: U", "confidence: X"), "speed.confidence"),
        (GOOD.replace("[2024-12-22, 30.0]", "[2022-12-22, 30.0]"), "fee"),
        (GOOD.replace("  since: 2020-01-01\n", ""), "speed"),
        (GOOD + "broken: 3\n", "broken"),
        (GOOD + "extra:\n  value: 1\n  since: 2020-01-01\n  source: abcd\n  confidence: C\n  note: x\n", "extra.note"),
    ],
)
def test_a_malformed_file_names_the_file_and_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DefinitionError) as error:
        read_parameters(path)
    message = str(error.value)
    assert str(path) in message and f"field {field}" in message, message


def test_not_yaml_or_not_a_mapping_is_a_definition_error(tmp_path: Path) -> None:
    for text in ("a: [1, 2", "- 1\n- 2\n"):
        path = write(tmp_path, text)
        with pytest.raises(DefinitionError, match=str(path)):
            read_parameters(path)
    with pytest.raises(DefinitionError, match=r"tariffs\.G"):
        dated_values([["2024-01-01", 1.0], ["2023-01-01", 2.0]], "tariffs.G")
    with pytest.raises(KeyError, match="no parameter named 'nope'"):
        ParameterFile("proxisante.population").value("nope")


def test_the_one_parameter_model_refuses_ambiguous_entries() -> None:
    base = {"source": "somewhere", "confidence": "C"}
    with pytest.raises(ValueError, match="not both"):
        Parameter.model_validate({**base, "value": 1, "since": "2024-01-01", "values": [["2024-01-01", 1]]})
    with pytest.raises(ValueError, match="strictly increasing"):
        Parameter.model_validate({**base, "values": [["2024-01-01", 1], ["2024-01-01", 2]]})


def test_every_package_file_is_read_through_the_accessor() -> None:
    files = {
        ("proxisante.population", "parameters.yaml"),
        ("proxisante.territory", "parameters.yaml"),
        ("proxisante.measures", "parameters.yaml"),
        ("proxisante.research", "parameters.yaml"),
        ("proxisante.web.security", "security.yaml"),
    }
    for package, filename in files:
        entries = ParameterFile(package, filename).entries()
        assert entries, (package, filename)
        for name, p in entries.items():
            assert p.name == name and len(p.source) >= 3 and p.confidence in "CPU" and p.values, (package, name)


# ---------------------------------------------------------------------------------------------------
# definitions.py is the only reader

DATED_KEYS = {"since", "valid_from", "source"}
PARAMETER_FILES = ("parameters.yaml", "disclosure.yaml", "security.yaml", "parameters")


def _hand_reading(tree: ast.AST) -> list[str]:
    """Reads (subscripts, ``.get``) of a dated key, and YAML loads in a module that names a parameters file."""
    found = []
    names_a_file = any(
        isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in PARAMETER_FILES
        for node in ast.walk(tree)
    )
    for node in ast.walk(tree):
        key = None
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and isinstance(node.slice, ast.Constant):
            key = node.slice.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "get" and node.args and isinstance(node.args[0], ast.Constant):
                key = node.args[0].value
            loads = node.func.attr in ("safe_load", "load") and getattr(node.func.value, "id", "") == "yaml"
            if loads and names_a_file:
                found.append(f"line {node.lineno}: yaml.{node.func.attr} of a parameters file")
        if key in DATED_KEYS:
            found.append(f"line {node.lineno}: reads {key!r} by hand")
    return found


def test_the_scan_finds_a_hand_reader() -> None:
    sample = 'import yaml\nF = "parameters.yaml"\nnode = yaml.safe_load(F)\nsince = node["since"]\n'
    assert len(_hand_reading(ast.parse(sample))) == 2


def test_no_other_module_reads_dated_parameters_by_hand() -> None:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        name = path.relative_to(SRC).as_posix()
        if name == "definitions.py":
            continue
        found += [f"{name}: {line}" for line in _hand_reading(ast.parse(path.read_text(encoding="utf-8")))]
    assert not found, "read dated parameters with proxisante.definitions:\n" + "\n".join(found)
