from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from proxisante.ingest.files import InputFileError, RawFile, inspect_file, stage


def _rows(con: duckdb.DuckDBPyConnection, raw: RawFile) -> list[tuple]:
    return con.execute(f'SELECT * FROM "{raw.table}" ORDER BY __line').fetchall()


def test_semicolon_utf8_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "patients.csv"
    path.write_bytes("\ufeffPatient_ID ; Sex\nP1;F\nP2;M\n".encode())
    info = inspect_file(path)
    assert (info.encoding, info.delimiter) == ("utf-8", ";")
    con = duckdb.connect()
    raw = stage(con, info, "raw")
    assert raw.columns == ["patient_id", "sex"]
    assert _rows(con, raw) == [(2, "P1", "F"), (3, "P2", "M")]


def test_windows_1252_is_detected_and_decoded_with_french_characters(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes("name,city\nCœur Françoise,Besançon\n\u2019O'Brien,Évreux\n".encode("cp1252"))
    info = inspect_file(path)
    assert (info.encoding, info.delimiter) == ("cp1252", ",")
    con = duckdb.connect()
    raw = stage(con, info, "raw")
    assert _rows(con, raw) == [(2, "Cœur Françoise", "Besançon"), (3, "\u2019O'Brien", "Évreux")]


def test_malformed_lines_are_set_aside_with_their_line_number(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text('a;b\n1;2\n3;4;5\n"multi\nline";6\n7\n8;9\n')
    con = duckdb.connect()
    raw = stage(con, inspect_file(path), "raw")
    assert _rows(con, raw) == [(2, "1", "2"), (5, "multi\nline", "6"), (7, "8", "9")]
    assert raw.malformed == [
        (3, None, "ligne mal formée : 3 champ(s), 2 attendu(s)"),
        (6, None, "ligne mal formée : 1 champ(s), 2 attendu(s)"),
    ]


def test_parquet_is_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "lab_results.parquet"
    pq.write_table(pa.table({"Result_ID": ["R1", "R2"], "value": [7.25, None]}), path)
    con = duckdb.connect()
    raw = stage(con, inspect_file(path), "raw")
    assert raw.columns == ["result_id", "value"]
    assert _rows(con, raw) == [(2, "R1", "7.25"), (3, "R2", None)]


def test_empty_file_and_duplicated_columns_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "e.csv"
    empty.write_text("")
    with pytest.raises(InputFileError, match="fichier vide"):
        inspect_file(empty)
    twice = tmp_path / "t.csv"
    twice.write_text("a;A\n1;2\n")
    with pytest.raises(InputFileError, match="ligne 1 : les colonnes n° 1 et 2 portent le même nom"):
        stage(duckdb.connect(), inspect_file(twice), "raw")


def test_the_reading_pass_bounds_what_the_values_can_hold(tmp_path: Path) -> None:
    """A file of printable text needs no search for control characters or over-long values, value by value."""
    clean = tmp_path / "clean.csv"
    clean.write_text("a;b\nHervé;«12»\n1234567;x\n", encoding="utf-8")
    info = inspect_file(clean)
    assert (info.controls, info.tabs, info.longest_line) == (False, False, len("Hervé;«12»".encode()))
    raw = stage(duckdb.connect(), info, "raw")
    assert not raw.controls and raw.longest == info.longest_line
    dirty = (("a;b\nDu\x00rand;1\n", "utf-8"), ("a;b\nDu\x85rand;1\n", "utf-8"), ("a;b\nx\x7f;1\n", "cp1252"))
    for text, encoding in dirty:
        path = tmp_path / "dirty.csv"
        path.write_bytes(text.encode(encoding))
        assert stage(duckdb.connect(), inspect_file(path), "raw").controls, text
    tabbed = tmp_path / "tabbed.csv"
    tabbed.write_text("a;b\nDu\trand;1\n")
    assert stage(duckdb.connect(), inspect_file(tabbed), "raw").controls
    tabbed.write_text("a\tb\nDurand\t1\n")
    assert not stage(duckdb.connect(), inspect_file(tabbed), "raw").controls


def test_lines_ended_by_a_carriage_return_alone_are_lines(tmp_path: Path) -> None:
    path = tmp_path / "mac.csv"
    path.write_bytes(b"a;b\r1;2\r3;4\r")
    con = duckdb.connect()
    raw = stage(con, inspect_file(path), "raw")
    assert raw.columns == ["a", "b"] and [r[1:] for r in _rows(con, raw)] == [("1", "2"), ("3", "4")]
