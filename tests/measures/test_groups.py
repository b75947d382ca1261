"""The groups of measures (order and French label) are defined once, in ``measures/definition.py``.

The CLI table, the report's order and the web pages read ``GROUPS``; nothing in ``src/`` spells the four
groups out again, except the report's own longer headings (``reporting/formats.GROUP_LABELS``), which must
list the same groups in the same order.
"""

from __future__ import annotations

import ast
import json
from typing import get_args

import pandas as pd
import pytest

from proxisante.cli import measures as cli_measures
from proxisante.cli.common import console
from proxisante.measures.definition import GROUPS, Group, Measure, library
from proxisante.reporting import build
from proxisante.reporting import formats as report_formats
from proxisante.web import pages
from tests.lib.paths import SRC

# The report names its chronic group "Suivi des pathologies chroniques" where the pages say "Maladies
# chroniques": its headings stay its own (changing them changes the report), in the order of GROUPS.
OWN_LABELS = {"reporting/formats.py"}


def test_the_literal_and_the_labels_name_the_same_groups_in_the_same_order() -> None:
    assert get_args(Group) == tuple(GROUPS)
    assert all(label.strip() for label in GROUPS.values())
    assert {m.group for m in library().values()} <= set(GROUPS)


def test_cli_report_and_pages_use_the_definition() -> None:
    assert cli_measures.GROUPS is GROUPS
    assert build.GROUPS is GROUPS
    assert pages.GROUPS is GROUPS and pages.templates.env.globals["groups"] is GROUPS
    assert tuple(report_formats.GROUP_LABELS) == tuple(GROUPS)
    schema = json.loads((SRC / "reporting" / "report-schema.json").read_text(encoding="utf-8"))
    assert set(schema["$defs"]["indicator"]["properties"]["group"]["enum"]) == set(GROUPS)


def test_no_module_spells_the_groups_out_again() -> None:
    names = set(GROUPS)
    found = []
    for path in sorted(SRC.rglob("*.py")):
        name = path.relative_to(SRC).as_posix()
        if name in {"measures/definition.py", *OWN_LABELS}:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            elements = node.keys if isinstance(node, ast.Dict) else getattr(node, "elts", None)
            if isinstance(node, ast.Tuple | ast.List | ast.Set | ast.Dict) and elements:
                strings = {e.value for e in elements if isinstance(e, ast.Constant)}
                if names <= strings:
                    found.append(f"{name}:{node.lineno}")
    assert not found, "use proxisante.measures.definition.GROUPS:\n" + "\n".join(found)


def test_the_cli_table_lists_the_groups_in_their_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """One measure of each group, given in reverse: the table shows them in the order of GROUPS."""
    chosen: list[Measure] = []
    for group in GROUPS:
        chosen.append(next(m for m in library().values() if m.group == group))
    chosen.reverse()
    frame = pd.DataFrame(
        {"measure_id": [m.id for m in chosen], "stratifier": "", "denominator": 20, "exclusions": 0,
         "numerator": 10, "rate": 0.5, "ci_low": 0.3, "ci_high": 0.7, "reportable": True, "objective": ""}
    )  # fmt: skip
    monkeypatch.setattr(console, "width", 300)  # one line per row
    with console.capture() as captured:
        cli_measures.print_measure_table(frame, chosen, "Indicateurs")
    text = captured.get()
    shown = sorted(chosen, key=lambda m: text.index(m.short_label))
    assert [m.group for m in shown] == list(GROUPS)
