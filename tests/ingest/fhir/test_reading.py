"""Reading NDJSON: the streaming ``read_json`` path gives the same staged tables and rejects, with
the same line numbers, as the exact line-by-line path; files it cannot number exactly (blank lines,
byte order mark) fall back to the exact path."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from proxisante.ingest.fhir.load import _elements
from proxisante.ingest.fhir.reading import FhirFile, Staged, _read_ndjson, checksum, kind_of, stage_files

LINES = [
    {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1965-01-12"},
    '{"resourceType": "Condition", "id": "broken"',  # invalid JSON
    {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"}, "recordedDate": "2025-01-10",
     "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "E11.9"}]}},
    {"id": "no-type"},  # JSON, not a resource
    "[1, 2]",  # JSON, not an object
    {"resourceType": "Appointment", "id": "a1"},
    {"resourceType": "Condition", "id": "c2", "status": "entered-in-error"},
    {"resourceType": "Observation", "id": "o1", "valueQuantity": {"value": 30.0, "unit": "g/L"}},
]  # fmt: skip


def _write(path: Path, lines: list, text: str = "") -> FhirFile:
    body = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n"
    path.write_bytes(text.encode() + body.encode())
    sha, size, count = checksum(path)
    return FhirFile(path, sha, size, kind_of(path), lines=count)


def _dump(con: duckdb.DuckDBPyConnection, staged: Staged) -> dict:
    out = {t: con.execute(f'SELECT * FROM "{v}" ORDER BY fhir_row').fetchall() for t, v in staged.tables.items()}
    out["rejects"] = con.execute(f'SELECT * FROM "{staged.rejects}" ORDER BY fhir_row').fetchall()
    return out


def _stage(file: FhirFile) -> dict:
    con = duckdb.connect()
    return _dump(con, stage_files(con, [file], _elements()))


def test_streaming_reader_equals_exact_path_with_the_same_lines(tmp_path: Path) -> None:
    file = _write(tmp_path / "mixed.ndjson", LINES)
    assert file.lines == len(LINES)
    con = duckdb.connect()
    staged = Staged()
    con.execute(f'CREATE TEMP TABLE "{staged.rejects}" (fhir_row BIGINT, resource_type VARCHAR, reason VARCHAR)')
    assert _read_ndjson(con, staged, file, 1, _elements()) == len(LINES)  # the streaming path was taken
    fast = _stage(file)
    exact = _stage(FhirFile(file.path, file.sha256, file.size_bytes, file.kind))  # lines unknown: exact path
    assert fast == exact
    assert fast["rejects"] == [
        (2, None, "JSON invalide"),
        (4, None, "pas une ressource FHIR (resourceType absent)"),
        (5, None, "pas une ressource FHIR (resourceType absent)"),
        (6, "Appointment", "type de ressource non pris en charge : Appointment"),
        (7, "Condition", "statut entered-in-error (saisie erronée)"),
    ]
    assert [r[0] for r in fast["Condition"]] == [3] and [r[0] for r in fast["Observation"]] == [8]


@pytest.mark.parametrize(("lines", "prefix"), [([*LINES[:3], "", *LINES[3:]], ""), (LINES, "\ufeff")])
def test_files_the_streaming_reader_cannot_number_take_the_exact_path(tmp_path: Path, lines: list, prefix: str) -> None:
    file = _write(tmp_path / "odd.ndjson", lines, prefix)
    con = duckdb.connect()
    staged = Staged()
    con.execute(f'CREATE TEMP TABLE "{staged.rejects}" (fhir_row BIGINT, resource_type VARCHAR, reason VARCHAR)')
    assert _read_ndjson(con, staged, file, 1, _elements()) is None
    rejects = _stage(file)["rejects"]
    shift = 1 if prefix == "" else 0  # the blank line after line 3 moves the later lines down by one
    assert rejects[0] == (2, None, "JSON invalide") and rejects[-1][0] == 7 + shift


def test_a_type_spread_over_files_is_staged_once_with_every_row(tmp_path: Path) -> None:
    first = _write(tmp_path / "a.ndjson", [LINES[0], {"resourceType": "Patient", "id": "p2"}])
    second = _write(tmp_path / "b.ndjson", LINES)
    exact_con, fast_con = duckdb.connect(), duckdb.connect()
    exact = stage_files(exact_con, [FhirFile(f.path, f.sha256, f.size_bytes, f.kind) for f in (first, second)],
                        _elements())  # fmt: skip
    fast = stage_files(fast_con, [first, second], _elements())
    # The fast path's table may hold other types' children too (NULL columns): compare the exact ones.
    columns = ", ".join(
        f'"{name}"' for (name, *_) in exact_con.execute(f'DESCRIBE "{exact.tables["Patient"]}"').fetchall()
    )
    rows = [con.execute(f'SELECT {columns} FROM "{staged.tables["Patient"]}" ORDER BY fhir_row').fetchall()
            for con, staged in ((fast_con, fast), (exact_con, exact))]  # fmt: skip
    assert rows[0] == rows[1] and [r[0] for r in rows[0]] == [1, 2, 3]
    assert _dump(fast_con, fast)["rejects"] == _dump(exact_con, exact)["rejects"]
