"""The ViewDefinition compiler's own edge cases: parser, FHIRPath semantics in SQL, view validation,
run-time errors, and a large input run as one query (the official suite is test_conformance.py)."""

from __future__ import annotations

import json
import time
from typing import Any

import duckdb
import pytest

from proxisante.ingest.fhir import ViewDefinitionError, compile_view, run_view
from proxisante.ingest.fhir.viewdef.ast import Binary, Call, Constant, Index, Literal, Member, Quantity, Unary
from proxisante.ingest.fhir.viewdef.parser import FhirPathSyntaxError, parse
from proxisante.ingest.fhir.views import view_error

PATIENT = {
    "resourceType": "Patient",
    "id": "p1",
    "active": True,
    "birthDate": "1970-06",
    "name": [
        {"use": "official", "family": "Martin", "given": ["Anne", "Marie"]},
        {"use": "usual", "family": "Durand", "given": ["Annie"]},
    ],
    "managingOrganization": {"reference": "http://host/fhir/Organization/o1/_history/2"},
    "generalPractitioner": [{"reference": "urn:uuid:gp-1"}, {"reference": "#contained"}],
    "extension": [{"url": "http://ex/fte", "valueDecimal": 0.8}],
}
OBSERVATION = {
    "resourceType": "Observation",
    "id": "o1",
    "status": "final",
    "subject": {"reference": "Patient/p1"},
    "valueQuantity": {"value": 7.5, "unit": "mmol/L"},
    "effectiveDateTime": "2024-03-01T10:00:00+01:00",
}


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("CREATE TABLE resources (resource JSON)")
    for resource in (PATIENT, OBSERVATION, {"resourceType": "Patient", "id": "p2"}):
        connection.execute("INSERT INTO resources VALUES (?)", [json.dumps(resource)])
    return connection


def value(con: duckdb.DuckDBPyConnection, path: str, fhir_type: str | None = "string", **column: Any) -> Any:
    """The value of one column `path` for the resource p1 (or o1 for Observation paths)."""
    resource = "Observation" if column.pop("observation", False) else "Patient"
    col = {"name": "v", "path": path, **({"type": fhir_type} if fhir_type else {}), **column}
    view = {
        "resource": resource,
        "select": [{"column": [{"name": "id", "path": "id", "type": "id"}, col]}],
        "where": [{"path": "id = 'p1' or id = 'o1'"}],
    }
    rows = run_view(con, view, "resources").fetchall()
    assert len(rows) == 1
    return rows[0][1]


# -- parser -------------------------------------------------------------------------------------------
def test_operator_precedence() -> None:
    assert parse("a or b and c") == Binary("or", Member(None, "a"), Binary("and", Member(None, "b"), Member(None, "c")))
    assert parse("1 + 2 * 3") == Binary(
        "+", Literal(1, "integer"), Binary("*", Literal(2, "integer"), Literal(3, "integer"))
    )
    assert parse("-a.b") == Unary("-", Member(Member(None, "a"), "b"))
    assert parse("a = b implies c") == Binary(
        "implies", Binary("=", Member(None, "a"), Member(None, "b")), Member(None, "c")
    )


def test_literals_escapes_and_identifiers() -> None:
    assert parse(r"'it\'s \u00e9'") == Literal("it's é", "string")
    assert parse("`div`.x") == Member(Member(None, "div"), "x")
    assert parse("@2020-01") == Literal("2020-01", "date")
    assert parse("@2020-01-01T10:00:00+01:00") == Literal("2020-01-01T10:00:00+01:00", "dateTime")
    assert parse("@T12:30") == Literal("12:30", "time")
    assert parse("4 'mg'") == Quantity(4.0, "mg")
    assert parse("name[%i]") == Index(Member(None, "name"), Constant("i"))
    assert parse("contains('x')") == Call(None, "contains", (Literal("x", "string"),))


@pytest.mark.parametrize("text", ["name.where(", "'unterminated", "@@", "a +", "a..b", "", "and", "$foo"])
def test_syntax_errors_give_the_position(text: str) -> None:
    with pytest.raises(FhirPathSyntaxError, match="position"):
        parse(text)


# -- semantics -----------------------------------------------------------------------------------------
def test_choice_elements_and_types(con: duckdb.DuckDBPyConnection) -> None:
    assert value(con, "value.ofType(Quantity).value", "decimal", observation=True) == 7.5
    assert value(con, "value.ofType(Quantity).unit", observation=True) == "mmol/L"
    assert value(con, "value.ofType(string)", observation=True) is None
    assert value(con, "effective.ofType(dateTime)", "dateTime", observation=True) == "2024-03-01T10:00:00+01:00"
    assert value(con, "extension('http://ex/fte').value.ofType(decimal).first()", "decimal") == 0.8


def test_collection_equality_is_not_an_error(con: duckdb.DuckDBPyConnection) -> None:
    assert value(con, "name.given = 'Anne'", "boolean") is False  # three given names ≠ one
    assert value(con, "name.first().given = name.first().given", "boolean") is True
    assert value(con, "name.given.first() = 'Anne'", "boolean") is True
    assert value(con, "name.family != 'x'", "boolean") is True
    assert value(con, "name.where(use = 'x').family = 'x'", "boolean") is None  # empty operand → empty
    assert value(con, "{} ~ {}", "boolean") is True
    assert value(con, "'ANNE ' ~ 'anne'", "boolean") is True


def test_nested_where_this_and_resource(con: duckdb.DuckDBPyConnection) -> None:
    assert value(con, "name.where(given.where($this = 'Annie').exists()).family") == "Durand"
    assert value(con, "name.where(%resource.id = 'p1').family.first()") == "Martin"
    assert value(con, "name.where(use = 'usual' or family = 'Martin').count()", "integer") == 2
    assert value(con, "name.select(given).count()", "integer") == 3
    assert value(con, "name.all(family.exists())", "boolean") is True


def test_arithmetic_and_strings(con: duckdb.DuckDBPyConnection) -> None:
    assert value(con, "2 + 3 * 4", "integer") == 14
    assert value(con, "7 div 2", "integer") == 3
    assert value(con, "7 mod 2", "integer") == 1
    assert value(con, "1 / 0", "decimal") is None
    assert value(con, "7 / 2", "decimal") == 3.5
    assert value(con, "'a' + 'b'") == "ab"
    assert value(con, "'a' & {}") == "a"
    assert (
        value(con, "name.first().family.upper() + '-' + name.first().given.first().length().toString()") == "MARTIN-4"
    )
    assert value(con, "name.first().family.startsWith('Mar')", "boolean") is True
    assert value(con, "name.first().family.replace('tin', 'cel')") == "Marcel"
    assert value(con, "name.given.join(', ')") == "Anne, Marie, Annie"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("{} and false", False),
        ("{} and true", None),
        ("{} or true", True),
        ("true implies {}", None),
        ("false implies {}", True),
        ("{} implies true", True),
        ("true xor false", True),
        ("(1 = 1).not()", False),
        ("active and name.exists()", True),
    ],
)
def test_three_valued_logic(con: duckdb.DuckDBPyConnection, path: str, expected: bool | None) -> None:
    assert value(con, path, "boolean") is expected


def test_subsetting_and_membership(con: duckdb.DuckDBPyConnection) -> None:
    assert value(con, "name.given.last()") == "Annie"
    assert value(con, "name.given.tail().first()") == "Marie"
    assert value(con, "name.given.skip(2).first()") == "Annie"
    assert value(con, "name.given.take(2)", collection=True) == ["Anne", "Marie"]
    assert value(con, "name[1].family") == "Durand"
    assert value(con, "'Marie' in name.given", "boolean") is True
    assert value(con, "name.given contains 'Zoé'", "boolean") is False
    assert value(con, "(name.given | name.given).count()", "integer") == 3
    assert value(con, "birthDate < @2000-01-01", "boolean") is True


def test_reference_keys(con: duckdb.DuckDBPyConnection) -> None:
    assert value(con, "managingOrganization.getReferenceKey()") == "o1"  # absolute URL with _history
    assert value(con, "managingOrganization.getReferenceKey(Organization)") == "o1"
    assert value(con, "managingOrganization.getReferenceKey(Patient)") is None
    # urn:uuid: references (bundles) carry no type: kept whatever the type asked; contained ones have no key.
    assert value(con, "generalPractitioner.getReferenceKey(Practitioner)", collection=True) == ["gp-1"]
    assert value(con, "getResourceKey()") == "p1"
    assert value(con, "subject.getReferenceKey(Patient)", observation=True) == "p1"


def test_boundaries(con: duckdb.DuckDBPyConnection) -> None:
    assert value(con, "birthDate.lowBoundary()", "date") == "1970-06-01"
    assert value(con, "birthDate.highBoundary()", "date") == "1970-06-30"
    assert value(con, "@2024.highBoundary()", "date") == "2024-12-31"
    assert value(con, "@T12.lowBoundary()", "time") == "12:00:00.000"
    assert value(con, "@2024-02-03T10:30.highBoundary()", "dateTime") == "2024-02-03T10:30:59.999-12:00"


def test_untyped_and_collection_columns(con: duckdb.DuckDBPyConnection) -> None:
    assert value(con, "name.first().given", None, collection=True) == ["Anne", "Marie"]
    assert value(con, "name.where(use = 'x').given", "string", collection=True) == []
    assert value(con, "'x'", "string", collection=True) == ["x"]
    assert value(con, "active", None) == "true"  # no type: the JSON value as text


# -- validation ----------------------------------------------------------------------------------------
def _view(**changes: Any) -> dict[str, Any]:
    view: dict[str, Any] = {"resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}]}]}
    view.update(changes)
    return view


@pytest.mark.parametrize(
    ("view", "message"),
    [
        (_view(select=[{"column": [{"name": "1bad", "path": "id"}]}]), r"select\[0\]\.column\[0\]\.name"),
        (_view(select=[{"forEach": "name", "forEachOrNull": "name"}]), r"select\[0\]: forEach and forEachOrNull"),
        (_view(select=[{"forEachh": "name"}]), r"select\[0\]: unknown element\(s\) forEachh"),
        (_view(select=[{"column": [{"name": "a", "path": "id"}, {"name": "a", "path": "id"}]}]), "duplicate column"),
        (
            _view(select=[{"column": [{"name": "a", "path": "foo()"}]}]),
            r"column\[0\]\.path: unsupported FHIRPath function foo",
        ),
        (_view(select=[{"column": [{"name": "a", "path": "name.where("}]}]), r"column\[0\]\.path: invalid FHIRPath"),
        (_view(select=[{"column": [{"name": "a", "path": "%nope"}]}]), "undefined constant %nope"),
        (_view(select=[{"column": [{"name": "a", "path": "2 'mg'"}]}]), "quantity literals"),
        (_view(constant=[{"name": "c", "valueString": "x", "valueCode": "y"}]), r"constant\[0\]: .*exactly one"),
        (_view(where=[{"path": "'text'"}]), r"where\[0\]\.path: the where path must be boolean"),
        (_view(resource=None), "resource"),
        (_view(select=[]), "at least one select"),
        (_view(select=[{"repeat": "item"}]), r"select\[0\]\.repeat: must be a list"),
    ],
)
def test_invalid_views_name_the_element(view: dict[str, Any], message: str) -> None:
    with pytest.raises(ViewDefinitionError, match=message):
        compile_view(view, "resources")


def test_data_dependent_errors(con: duckdb.DuckDBPyConnection) -> None:
    several = _view(select=[{"column": [{"name": "id", "path": "id"}, {"name": "g", "path": "name.given"}]}])
    with pytest.raises(ViewDefinitionError, match=r"select\[0\]\.column\[1\]\.path: column 'g'"):
        run_view(con, several, "resources")
    not_boolean = _view(where=[{"path": "name.family"}])
    with pytest.raises(ViewDefinitionError, match=r"where\[0\]\.path: the where path must be a single boolean"):
        run_view(con, not_boolean, "resources")
    # The bare SQL raises DuckDB's error, which view_error translates.
    with pytest.raises(duckdb.Error) as caught:
        con.sql(compile_view(several, "resources")).fetchall()
    assert isinstance(view_error(caught.value), ViewDefinitionError)
    assert view_error(ValueError("other")).args == ("other",)


def test_repeat_with_several_paths_is_depth_first(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "INSERT INTO resources VALUES (?)",
        [
            json.dumps(
                {
                    "resourceType": "QuestionnaireResponse",
                    "id": "q",
                    "item": [
                        {"linkId": "1", "answer": [{"item": [{"linkId": "1.a"}]}], "item": [{"linkId": "1.1"}]},
                        {"linkId": "2"},
                    ],
                }
            )
        ],
    )
    view = {
        "resource": "QuestionnaireResponse",
        "select": [
            {
                "repeat": ["item", "answer.item"],
                "column": [{"name": "link", "path": "linkId"}, {"name": "i", "path": "%rowIndex", "type": "integer"}],
            }
        ],
    }
    rows = run_view(con, view, "resources").fetchall()
    assert sorted(rows, key=lambda r: r[1]) == [("1", 0), ("1.1", 1), ("1.a", 2), ("2", 3)]


# -- scale ---------------------------------------------------------------------------------------------
def test_100k_patients_run_as_one_query() -> None:
    """100,000 generated Patients through one view: one SQL statement, every row out; the time is
    printed (not asserted: the machine is shared)."""
    con = duckdb.connect()
    con.execute(
        """
        CREATE TABLE resources AS SELECT to_json({
          'resourceType': 'Patient', 'id': 'p' || i, 'gender': CASE WHEN i % 2 = 0 THEN 'female' ELSE 'male' END,
          'birthDate': strftime(DATE '1940-01-01' + CAST(i % 20000 AS INTEGER), '%Y-%m-%d'),
          'identifier': [{'system': 'urn:oid:1.2.250.1.213.1.4.8', 'value': lpad(i::VARCHAR, 13, '1')},
                         {'system': 'urn:mrn', 'value': 'M' || i}],
          'name': [{'use': 'official', 'family': 'F' || i, 'given': ['G' || i, 'H']}],
          'telecom': [{'system': 'phone', 'value': '01'}, {'system': 'email', 'value': 'a@b'}]
        }) AS resource FROM range(100000) t(i)
        """
    )
    view = {
        "resource": "Patient",
        "constant": [{"name": "nir", "valueUri": "urn:oid:1.2.250.1.213.1.4.8"}],
        "select": [
            {
                "column": [
                    {"name": "id", "path": "getResourceKey()", "type": "id"},
                    {"name": "gender", "path": "gender", "type": "code"},
                    {"name": "birth_date", "path": "birthDate", "type": "date"},
                    {"name": "nir", "path": "identifier.where(system = %nir).value.first()", "type": "string"},
                    {"name": "family", "path": "name.where(use = 'official').family.first()", "type": "string"},
                ]
            },
            {"forEach": "telecom", "column": [{"name": "system", "path": "system", "type": "code"}]},
        ],
    }
    sql = compile_view(view, "resources")
    assert ";" not in sql
    start = time.perf_counter()
    rows = con.sql(f"SELECT count(*), count(DISTINCT id), count(nir), min(family) FROM ({sql})").fetchone()
    elapsed = time.perf_counter() - start
    print(f"\n100,000 Patients → {rows[0]:,} rows in {elapsed:.2f} s ({100_000 / elapsed:,.0f} resources/s)")
    assert rows == (200_000, 100_000, 200_000, "F0")


def test_source_as_text_with_mixed_types() -> None:
    """`resource` may be VARCHAR (NDJSON lines as read) and hold several resource types."""
    con = duckdb.connect()
    con.execute("CREATE TABLE lines (resource VARCHAR)")
    con.executemany("INSERT INTO lines VALUES (?)", [[json.dumps(r)] for r in (PATIENT, OBSERVATION)])
    view = {"resource": "Observation", "select": [{"column": [{"name": "id", "path": "id", "type": "id"}]}]}
    assert run_view(con, view, "lines").fetchall() == [("o1",)]


def test_column_type_spellings(con: duckdb.DuckDBPyConnection) -> None:
    assert value(con, "active", "http://hl7.org/fhir/StructureDefinition/boolean") is True
    assert value(con, "name.count()", "http://hl7.org/fhirpath/System.Integer") == 2
    assert value(con, "name.count()", "System.String") == "2"


def test_iif_substring_index_of(con: duckdb.DuckDBPyConnection) -> None:
    assert value(con, "iif(active, 'yes', 'no')") == "yes"
    assert value(con, "iif(name.count() > 5, 'many')") is None
    assert value(con, "iif(active, name.first().given, {})", collection=True) == ["Anne", "Marie"]
    assert value(con, "name.first().family.substring(1, 3)") == "art"
    assert value(con, "name.first().family.substring(2)") == "rtin"
    assert value(con, "name.first().family.substring(9)") is None
    assert value(con, "name.first().family.indexOf('tin')", "integer") == 3


def test_pre_extracted_children_give_the_same_rows(con: duckdb.DuckDBPyConnection) -> None:
    """``fields``: a source of one type whose children are already columns gives the rows of the
    plain source; a child not given is still read from the resource, and ``%resource`` too."""
    from proxisante.ingest.fhir.views import read_elements

    columns = [
        {"name": "id", "path": "getResourceKey()"},
        {"name": "org", "path": "managingOrganization.getReferenceKey()"},
    ]
    names = [{"name": "family", "path": "family"}, {"name": "i", "path": "%rowIndex", "type": "integer"}]
    view = {"resource": "Patient", "select": [{"column": columns}, {"forEach": "name", "column": names}]}
    itself = [{"name": "r", "path": "%resource.exists()", "type": "boolean"}]
    whole = {**view, "select": [*view["select"], {"column": itself}]}
    assert read_elements(view) == ["id", "managingOrganization", "name"] and read_elements(whole) is None
    con.execute(
        "CREATE OR REPLACE TEMP TABLE patients AS SELECT resource, resource->'$.id' AS c_id, "
        "resource->'$.name' AS c_name FROM resources WHERE resource->>'resourceType' = 'Patient'"
    )
    for v in (view, whole):
        expected = sorted(con.execute(compile_view(v, "resources")).fetchall(), key=repr)
        for fields in ({"id": "c_id", "name": "c_name"}, {}):
            sql = compile_view(v, "patients", fields)
            assert ("c_name" in sql) == bool(fields)
            assert sorted(con.execute(sql).fetchall(), key=repr) == expected
    assert len(expected) == 2 and ("p1", "o1", "Martin", 0, True) in expected
