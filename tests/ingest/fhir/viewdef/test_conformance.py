"""The official SQL-on-FHIR v2 conformance suite, one pytest case per test.

The suite lives outside the repository (``../shared/conformance/sql-on-fhir-v2/``, one JSON file per
feature: resources, then tests of a view against them). Each file's resources are loaded into an
in-memory DuckDB table ``resources(resource JSON)`` and every view runs through the public
:func:`run_view`. Rows are compared as the suite's runners do: as a multiset (order does not
matter), the column names and order checked when the test gives ``expectColumns``, otherwise the
column names of the first expected row. ``expectError`` tests must raise :class:`ViewDefinitionError`.
The count by file is printed at the end of the run (``conftest.py``).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

import duckdb
import pytest

from proxisante.ingest.fhir import ViewDefinitionError, run_view
from tests.lib.paths import SHARED

SUITE = SHARED / "conformance" / "sql-on-fhir-v2"

# Tests left failing, with the reason (none today: every test of the suite passes).
XFAIL: dict[str, str] = {}


def _cases() -> list[Any]:
    if not SUITE.is_dir():
        return [pytest.param(None, None, None, id="suite-absent")]
    cases = []
    for path in sorted(SUITE.glob("*.json")):
        if path.name == "tests.schema.json":
            continue
        suite = json.loads(path.read_text(encoding="utf-8"))
        for test in suite["tests"]:
            case_id = f"{path.stem}::{test['title']}"
            marks = [pytest.mark.xfail(reason=XFAIL[case_id], strict=True)] if case_id in XFAIL else []
            cases.append(pytest.param(path.name, suite["resources"], test, id=case_id, marks=marks))
    return cases


def _normalise(value: Any) -> Any:
    """A hashable form in which 5 == 5.0 and floats agree to 9 decimal places."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return round(float(value), 9) if math.isfinite(value) else value
    if isinstance(value, list | tuple):
        return tuple(_normalise(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _normalise(v)) for k, v in value.items()))
    return str(value)


def _multiset(rows: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(sorted((k, _normalise(v)) for k, v in row.items())) for row in rows)


def _load(resources: list[dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE TABLE resources (resource JSON)")
    con.executemany("INSERT INTO resources VALUES (?)", [[json.dumps(r)] for r in resources])
    return con


@pytest.mark.parametrize(("file", "resources", "test"), _cases())
def test_conformance(file: str | None, resources: Any, test: Any, record_property: Any) -> None:
    if file is None:
        pytest.skip(f"SQL-on-FHIR v2 conformance suite not found in {SUITE}")
    record_property("conformance_file", file)
    con = _load(resources)
    try:
        if test.get("expectError"):
            with pytest.raises(ViewDefinitionError):
                run_view(con, test["view"], "resources").fetchall()
            return
        relation = run_view(con, test["view"], "resources")
        columns = relation.columns
        rows = [dict(zip(columns, row, strict=True)) for row in relation.fetchall()]
    finally:
        con.close()
    if "expectCount" in test:
        assert len(rows) == test["expectCount"]
        return
    expected = test["expect"]
    if "expectColumns" in test:
        assert columns == test["expectColumns"]
    elif expected:
        assert sorted(columns) == sorted(expected[0])
    assert _multiset(rows) == _multiset(expected), f"got {rows}"
