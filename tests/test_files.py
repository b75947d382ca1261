from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from proxisante.sources.files import PivotFileError, RawFile, inspect_file, stage


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
    with pytest.raises(PivotFileError, match="fichier vide"):
        inspect_file(empty)
    twice = tmp_path / "t.csv"
    twice.write_text("a;A\n1;2\n")
    with pytest.raises(PivotFileError, match="ligne 1 : les colonnes n° 1 et 2 portent le même nom"):
        stage(duckdb.connect(), inspect_file(twice), "raw")
