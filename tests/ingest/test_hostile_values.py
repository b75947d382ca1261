"""No value in an input file crashes a load or leaks an identifier: a hostile value is a quarantined row
with its file, line, field and a French reason, and a file that cannot be read at all is refused with a
French message that names the file and no value of it."""

from __future__ import annotations

import copy
import dataclasses
import errno
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tests.lib.pivot_fixture as fx
from proxisante.ingest import FORMATS
from proxisante.ingest.batch import LoadReport
from proxisante.ingest.files import InputFileError, inspect_file
from proxisante.ingest.pivot.format import TABLES, TABLES_BY_NAME
from proxisante.ingest.pivot.load import load_pivot
from proxisante.ingest.pivot.validation import REASONS, _code_rules, rules
from proxisante.installation import Installation, open_installation
from proxisante.settings import Settings
from tests.lib.paths import SHARED

Tables = dict[str, list[dict[str, str]]]


def load(inst: Installation, folder: Path) -> LoadReport:
    return load_pivot(folder, inst, source="ehr")


def quarantine(inst: Installation) -> list[tuple]:
    return inst.warehouse.duckdb.execute(
        "SELECT file_name, line, field, reason, value, record FROM etl_quarantine ORDER BY file_name, line, field"
    ).fetchall()


def with_patient(**changes: str) -> Tables:
    tables = copy.deepcopy(fx.TABLES)
    tables["patients"][0].update(changes)
    return tables


def digits_of_nir_shown(text: str, nir: str) -> bool:
    """Whether ``text`` shows 6 consecutive characters of a NIR (its birth year, month and place)."""
    compact = re.sub(r"[\s.,]", "", text)
    return any(nir[i : i + 6] in compact for i in range(len(nir) - 5))


@pytest.mark.parametrize(
    "ins",
    ["1,85058E+14", "2.86082E+14", fx.NIR_ALICE[:13], "inconnu", fx.NIR_ALICE.replace("0", "O", 1), "2A" * 8],
)
def test_a_malformed_ins_is_a_quarantined_row_not_a_crash(installation: Installation, tmp_path: Path, ins: str) -> None:
    report = load(installation, fx.write(tmp_path / "in", with_patient(ins=ins)))
    assert report.committed
    for f in report.files:
        assert f.rows_read == f.rows_loaded + f.rows_quarantined
    rows = quarantine(installation)
    assert ("patients.csv", 2, "ins", REASONS_NIR, "***") in [r[:5] for r in rows]
    assert all(not digits_of_nir_shown(r[4] or "", fx.NIR_ALICE) and ins not in (r[5] or "") for r in rows)
    assert installation.warehouse.counts()["person"] == 2


REASONS_NIR = _code_rules()["nir"].reason


@pytest.mark.parametrize("value", ["NaN", "nan", "inf", "-inf", "Infinity", "-Infinity", "1e400"])
def test_a_non_finite_lab_value_is_quarantined(installation: Installation, tmp_path: Path, value: str) -> None:
    tables = copy.deepcopy(fx.TABLES)
    tables["lab_results"][0]["value"] = value
    report = load(installation, fx.write(tmp_path / "in", tables))
    assert ("lab_results.csv", 2, "value", REASONS["non_finite"]) in [r[:4] for r in quarantine(installation)]
    assert report.rows_quarantined == 1 and installation.warehouse.counts()["measurement"] == 0


@pytest.mark.parametrize("name", ["Du\x00rand", "Durand\x01", "Du\x1brand", "Dur\x7fand", "Du\x85rand", "Du\trand"])
def test_a_control_character_in_a_name_is_quarantined_and_never_reaches_the_vault(
    installation: Installation, tmp_path: Path, name: str
) -> None:
    load(installation, fx.write(tmp_path / "in", with_patient(family_name=name)))
    assert ("patients.csv", 2, "family_name", REASONS["control"], "***") in [r[:5] for r in quarantine(installation)]
    with installation.vault.connect() as con:
        names = [n for (n,) in con.execute("SELECT family_name FROM identity").fetchall()]
    assert names and not any(re.search(r"[\x00-\x1f\x7f-\x9f]", n or "") for n in names)


def test_a_control_character_in_a_free_text_is_quarantined_but_a_line_break_is_not(
    installation: Installation, tmp_path: Path
) -> None:
    tables = copy.deepcopy(fx.TABLES)
    tables["prescriptions"][0]["label"] = "Metformine\n1000 mg"
    tables["lab_results"][0]["value_text"] = "trace\x00"
    report = load(installation, fx.write(tmp_path / "in", tables))
    assert [r[:4] for r in quarantine(installation)] == [("lab_results.csv", 2, "value_text", REASONS["control"])]
    assert report.rows_quarantined == 1


def test_a_headerless_patients_file_is_refused_without_showing_its_first_line(tmp_path: Path) -> None:
    tables = with_patient(birth_name="Durand", nir=fx.NIR_ALICE)  # two repeated values on the first line
    folder = fx.write(tmp_path / "in", tables)
    path = folder / "patients.csv"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[1:]))
    with pytest.raises(InputFileError) as refused:
        load_in_new_home(tmp_path, folder)
    message = str(refused.value)
    assert message.startswith("patients.csv : ligne 1 :")
    assert not digits_of_nir_shown(message, fx.NIR_ALICE) and "durand" not in message.lower()
    assert "alice" not in message.lower() and "0612345678" not in message


def load_in_new_home(tmp_path: Path, folder: Path) -> LoadReport:
    inst = open_installation(Settings(home=tmp_path / "home"))
    try:
        return load(inst, folder)
    finally:
        inst.close()


@pytest.mark.parametrize("name", ["__line", "__LINE", "__x"])
def test_a_reserved_column_name_is_refused_in_french(tmp_path: Path, name: str) -> None:
    folder = fx.write(tmp_path / "in")
    path = folder / "encounters.csv"
    path.write_text(path.read_text().replace("site_id", name, 1))
    with pytest.raises(InputFileError, match=r"^encounters\.csv : ligne 1 : colonne\(s\) n° 6 : .*réservé"):
        load_in_new_home(tmp_path, folder)


def _parquet_folder(tmp_path: Path, write: Callable[[Path], None]) -> Path:
    folder = fx.write(tmp_path / "in")
    (folder / "lab_results.csv").unlink()
    write(folder / "lab_results.parquet")
    return folder


def _valid_parquet(path: Path) -> None:
    rows = fx.TABLES["lab_results"]
    pq.write_table(pa.table({k: [r.get(k) for r in rows] for k in TABLES_BY_NAME["lab_results"].column_names}), path)


def _truncated(path: Path) -> None:
    _valid_parquet(path)
    path.write_bytes(path.read_bytes()[:-40])


def _corrupt(path: Path) -> None:
    _valid_parquet(path)
    data = bytearray(path.read_bytes())
    data[4:60] = b"\xff" * 56
    path.write_bytes(bytes(data))


def _nested(path: Path) -> None:
    pq.write_table(pa.table({"result_id": ["L1"], "patient_id": ["P1"], "date": ["05/01/2025"],
                             "value": [[7.2, 7.3]], "nabm": [{"code": "1577"}]}), path)  # fmt: skip


def _not_parquet(path: Path) -> None:
    path.write_text("result_id;patient_id\nL1;P1\n")


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (_truncated, "fichier Parquet illisible"),
        (_corrupt, "fichier Parquet illisible"),
        (_not_parquet, "fichier Parquet illisible"),
        (_nested, r"colonne n° 4 : valeurs imbriquées"),
    ],
)
def test_an_unreadable_parquet_file_is_refused_in_french(
    tmp_path: Path, write: Callable[[Path], None], message: str
) -> None:
    folder = _parquet_folder(tmp_path, write)
    with pytest.raises(InputFileError, match=rf"^lab_results\.parquet : {message}"):
        load_in_new_home(tmp_path, folder)


@pytest.mark.parametrize(
    ("code", "words"),
    [(errno.EACCES, "accès refusé"), (errno.ENOSPC, "disque plein"), (errno.EIO, "erreur d'entrée-sortie")],
)
def test_a_file_the_system_cannot_read_is_refused_in_french(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, words: str
) -> None:
    folder = fx.write(tmp_path / "in")
    real_open = Path.open

    def failing_open(self: Path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.name == "acts.csv":
            raise OSError(code, "system text in English")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", failing_open)
    with pytest.raises(InputFileError, match=rf"^acts\.csv : lecture impossible \({words}"):
        inspect_file(folder / "acts.csv")


def test_a_50_mb_line_is_one_quarantined_row(installation: Installation, tmp_path: Path) -> None:
    tables = copy.deepcopy(fx.TABLES)
    tables["prescriptions"][0]["label"] = "x" * 50_000_000
    report = load(installation, fx.write(tmp_path / "in", tables))
    limit = rules()["text_max_length"]["value"]
    rows = [r[:4] for r in quarantine(installation)]
    assert rows == [("prescriptions.csv", 2, "label", REASONS["too_long"].format(limit=limit))]
    assert report.rows_read == report.rows_loaded + report.rows_quarantined


def _mixed_patients(folder: Path, legacy_lines: set[int], file_encoding: str = "utf-8") -> None:
    """Re-encode some lines (1-based, the header is 1) of patients.csv in Windows-1252."""
    path = folder / "patients.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    other = "cp1252" if file_encoding == "utf-8" else "utf-8"
    path.write_bytes(
        b"".join(line.encode(other if n in legacy_lines else file_encoding) for n, line in enumerate(lines, 1))
    )


def test_mixed_encodings_quarantine_the_lines_of_the_other_encoding(installation: Installation, tmp_path: Path) -> None:
    patients = copy.deepcopy(fx.TABLES["patients"])
    for n in range(20):  # many UTF-8 identities, one line written by a Windows-1252 program
        patients.append({**patients[2], "patient_id": f"U{n}", "ins": fx.nir(f"29109691{n:05d}"),
                         "family_name": f"Hervé{n}"})  # fmt: skip
    patients[0]["family_name"] = "Françoise"
    folder = fx.write(tmp_path / "in", {**copy.deepcopy(fx.TABLES), "patients": patients})
    _mixed_patients(folder, {2})
    assert inspect_file(folder / "patients.csv").mixed
    load(installation, folder)
    rows = [r[:4] for r in quarantine(installation) if r[0] == "patients.csv"]
    assert rows == [("patients.csv", 2, "family_name", "encodage différent du reste du fichier (UTF-8 attendu) : "
                     "ligne non lue")]  # fmt: skip
    with installation.vault.connect() as con:
        names = {n for (n,) in con.execute("SELECT family_name FROM identity").fetchall()}
    assert "Hervé7" in names and "Moreau" in names and not any("Ã" in (n or "") for n in names)


def test_a_utf8_line_in_a_windows_1252_file_is_quarantined_too(installation: Installation, tmp_path: Path) -> None:
    patients = copy.deepcopy(fx.TABLES["patients"])
    for n in range(3):
        patients.append({**patients[1], "patient_id": f"W{n}", "nir": fx.nir(f"14803580{n:05d}")})
    folder = fx.write(tmp_path / "in", {**copy.deepcopy(fx.TABLES), "patients": patients})
    _mixed_patients(folder, {4}, file_encoding="cp1252")  # Chloé's line in UTF-8, four Lefèvre in Windows-1252
    info = inspect_file(folder / "patients.csv")
    assert info.mixed and info.encoding == "cp1252"
    load(installation, folder)
    rows = [r[:3] for r in quarantine(installation) if r[0] == "patients.csv"]
    assert rows == [("patients.csv", 4, "given_names")]
    with installation.vault.connect() as con:
        assert ("Lefèvre",) in con.execute("SELECT family_name FROM identity").fetchall()


# ---------------------------------------------------------------------------------------------------
# Every column kind of every table, with hostile values.

HOSTILE = [
    # Excel: scientific notation, serial dates, currency, thousands separators
    "1,85058E+14", "2.86082E+14", "4,5E+3", "1E+400", "45678", "45678,5", "30,00 €", "€", "1 234,56", "1.234,56",
    "1,234.56", "1\u00a0234,5", "1\u202f234", "12%",
    # NUL and control characters, line breaks, byte order mark inside a value
    "\x00", "Du\x00rand", "a\x01b", "\x7f", "a\tb", "a\nb", "a\rb", "\x85", "\ufeffP1",
    # long fields
    "x" * 10_000, "9" * 10_000, "P" * 65,
    # date edges
    "00/00/0000", "31/12/9999", "29/02/2023", "29/02/2024", "31/12/1899", "01/01/1900", "9999-12-31", "0001-01-01",
    "2024-13-01", "32/01/2024", "1900-01-01T00:00:00", "31/04/2024", "-1", "0",
    # non-finite numbers and odd integers
    "NaN", "inf", "-inf", "Infinity", "-Infinity", "99999999999999999999", "-0", "+5", "0x10", "1_000", "8.5",
    # placeholders, quotes, separators, formulas
    "inconnu", " ", "NULL", "N/A", "'", '"', ";", ",", "=1+1", "@SUM(A1)",
    # characters of one encoding and not the other
    "Ã©", "é", "Œuvre", "ß", "\U0001f600", "\u2019", "ÿ",
]  # fmt: skip
CONTROL_TEXT = st.text(st.characters(codec="utf-8", max_codepoint=0x2FF, exclude_categories=("Cs",)), max_size=12)
# Values aimed at one kind of column (the first matching prefix of the kind).
BY_KIND = {
    "code:nir": ["1,85058E+14", "2.86082E+14", "2,65018E+14", fx.NIR_ALICE[:13], fx.NIR_ALICE + "0",
                 fx.NIR_ALICE.replace("0", "O", 1), "2A" + fx.NIR_ALICE[2:], "2 65 01 75 056 123 ..", "inconnu"],
    "code:rpps": ["1,00000E+10", fx.GP1[:10], fx.GP1 + "1", fx.GP1.replace("0", "O", 1), "1000000000A"],
    "code:cip13": ["3,40093E+12", fx.METFORMIN[:12], fx.METFORMIN.replace("0", "O", 1), "3400 930 000 01 X"],
    "code": ["E11.9.9", "e119", "A10BA02A", "1577.0", "4548-4-4", "BGQP0022", "ALD ", "2A00", "750001"],
    "date": ["45678", "45678,5", "10/01/2025 25:00", "2025-01-10T00:00:00Z", "1/1/25", "10/01/25", "2025/01/10"],
    "decimal": ["1 234,56", "1.234,56", "30,00 €", "7,2,1", "7..2", "1e-400", ".5", "5."],
    "integer": ["1975.0", "1 975", "1,975E+3", "3650,0", "+0", "-1"],
    "key": ["P1 ", " p1", "P1\x00", "p1", "x" * 65],
    "ref": ["P1 ", "p1", "E1\x00", "S1;S2", "NEW-0"],
}  # fmt: skip
COLUMNS = [(t.name, c.name, c.kind) for t in TABLES for c in t.columns]


def _values_for(kind: str) -> st.SearchStrategy[str]:
    aimed = next((v for prefix, v in BY_KIND.items() if kind == prefix or kind.startswith(prefix + ":")), None)
    aimed = aimed or next((v for prefix, v in BY_KIND.items() if kind.startswith(prefix)), [])
    general = st.one_of(st.sampled_from(HOSTILE), CONTROL_TEXT)
    return st.one_of(st.sampled_from(aimed), general) if aimed else general


ENCODINGS = ("utf-8", "utf-8-sig", "cp1252-line", "utf-8-line-in-cp1252")
FRENCH = [
    *(re.escape(r.split("{")[0]) for r in REASONS.values()),
    *(re.escape(r.reason) for r in _code_rules().values()),
    *(re.escape(c.reason) for t in TABLES for c in t.checks),
    "encodage différent du reste du fichier", "ligne mal formée", "ligne illisible",
]  # fmt: skip


def _mutate(values: tuple[str, ...]) -> tuple[Tables, dict[str, set[int]]]:
    """The centre with one new row per column of every table, bearing a hostile value in that column, and
    the lines (1-based, header 1) each file has them on."""
    tables = copy.deepcopy(fx.TABLES)
    lines: dict[str, set[int]] = {}
    for n, ((table, column, _kind), value) in enumerate(zip(COLUMNS, values, strict=True)):
        rows = tables[table]
        key = TABLES_BY_NAME[table].key
        # A copy of the first row with its own key, so that the original still loads.
        rows.append({**rows[0], key: fx.rpps(f"2{n:09d}") if key == "rpps" else f"NEW-{n}", column: value})
        lines.setdefault(table, set()).add(len(rows) + 1)
    return tables, lines


def _write_hostile(folder: Path, tables: Tables, lines: dict[str, set[int]], encoding: str) -> None:
    """The centre's files, UTF-8; each changed file in ``encoding`` (a line mode: its changed lines only)."""
    fx.write(folder, tables)
    for table, changed in lines.items():
        path = folder / f"{table}.csv"
        text = path.read_text(encoding="utf-8").splitlines(keepends=True)
        if encoding == "utf-8-sig":
            path.write_bytes(b"\xef\xbb\xbf" + "".join(text).encode())
        elif encoding in ("cp1252-line", "utf-8-line-in-cp1252"):
            main, other = ("utf-8", "cp1252") if encoding == "cp1252-line" else ("cp1252", "utf-8")
            encoded = []
            for n, line in enumerate(text, 1):
                try:
                    encoded.append(line.encode(other if n in changed else main))
                except UnicodeEncodeError:  # a value Windows-1252 cannot write: that line stays UTF-8
                    encoded.append(line.encode())
            path.write_bytes(b"".join(encoded))


# A load takes a few seconds: each example puts a hostile value in every column of every table at once.
@settings(max_examples=18, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.tuples(*(_values_for(kind) for _t, _c, kind in COLUMNS)), encoding=st.sampled_from(ENCODINGS))
def test_hostile_values_in_any_column_never_crash_and_every_row_is_accounted_for(
    values: tuple[str, ...], encoding: str
) -> None:
    tables, lines = _mutate(values)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        _write_hostile(folder, tables, lines, encoding)
        inst = open_installation(Settings(home=Path(tmp) / "home"))
        try:
            report = load(inst, folder)
            assert report.committed
            for f in report.files:
                assert f.rows_read == f.rows_loaded + f.rows_quarantined, f
            identifying = {(t.name, c.name) for t in TABLES for c in t.columns if c.identifying}
            for file_name, line, field, reason, shown, _record in quarantine(inst):
                assert file_name and line and field, (file_name, line, field, reason)
                assert any(re.match(p, reason) for p in FRENCH), reason
                if (file_name.split(".")[0], field) in identifying:
                    assert shown in ("***", None)
            person = {p for (p,) in inst.warehouse.duckdb.execute("SELECT person_id FROM person").fetchall()}
            with inst.vault.connect() as con:
                vault = {p for (p,) in con.execute("SELECT person_id FROM identity").fetchall()}
            assert person == vault
        finally:
            inst.close()


def test_an_unreadable_fhir_file_is_refused_in_french(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from proxisante.ingest.fhir.reading import checksum, kind_of

    path = tmp_path / "Patient.ndjson"
    path.write_text('{"resourceType": "Patient", "id": "p1"}\n')

    def failing_open(self: Path, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(Path, "open", failing_open)
    for read in (checksum, kind_of):
        with pytest.raises(InputFileError, match=r"^Patient\.ndjson : lecture impossible \(accès refusé\)"):
            read(path)


SYNTHEA = SHARED / "data" / "omop-synthea27nj-5.4"


@pytest.mark.skipif(not SYNTHEA.is_dir(), reason="../shared/data/omop-synthea27nj-5.4 not present")
@pytest.mark.parametrize(
    ("file", "changes", "field", "reason"),
    [
        ("PERSON.csv", {"month_of_birth": "13"}, "month_of_birth", "mois de naissance invalide (1 à 12)"),
        ("PERSON.csv", {"day_of_birth": "32"}, "day_of_birth", "jour de naissance invalide (pas un jour de ce mois)"),
        ("PERSON.csv", {"month_of_birth": "2", "day_of_birth": "31"}, "day_of_birth", "jour de naissance invalide"),
        ("PERSON.csv", {"year_of_birth": "3000000000"}, "year_of_birth", "entier hors limites (32 bits)"),
        ("PERSON.csv", {"year_of_birth": "2999"}, "year_of_birth", "année de naissance impossible"),
        ("MEASUREMENT.csv", {"value_as_number": "NaN"}, "value_as_number", "nombre non fini (NaN ou infini)"),
        ("MEASUREMENT.csv", {"value_as_number": "-inf"}, "value_as_number", "nombre non fini (NaN ou infini)"),
        ("MEASUREMENT.csv", {"measurement_date": "infinity"}, "measurement_date", "date infinie"),
    ],
)
def test_an_impossible_omop_value_is_quarantined(
    tmp_path: Path, file: str, changes: dict[str, str], field: str, reason: str
) -> None:
    import csv
    import shutil

    from proxisante.ingest.omop import load_omop

    folder = tmp_path / "omop"
    folder.mkdir()
    for name in ("PERSON.csv", "MEASUREMENT.csv"):
        shutil.copyfile(SYNTHEA / name, folder / name)
    with (folder / file).open(newline="") as handle:
        rows = list(csv.reader(handle))
    for column, value in changes.items():
        rows[2][rows[0].index(column)] = value
    with (folder / file).open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    inst = open_installation(Settings(home=tmp_path / "home"))
    try:
        report = load_omop(folder, inst, source="synthea")
        assert report.committed
        rows_q = [r[:4] for r in quarantine(inst) if r[0] == file]
        assert rows_q and rows_q[0][:3] == (file, 3, field) and rows_q[0][3].startswith(reason), rows_q
        for f in report.files:
            assert f.rows_read == f.rows_loaded + f.rows_quarantined
    finally:
        inst.close()


@pytest.mark.parametrize("name", list(FORMATS))
@pytest.mark.parametrize(
    "failure",
    [OSError(errno.ENOSPC, "No space left on device"), duckdb.IOException("No space left on device")],
)
def test_a_full_disk_during_ingest_is_said_in_french(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: Exception, name: str
) -> None:
    from typer.testing import CliRunner

    from proxisante import cli

    def full(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise failure

    monkeypatch.setitem(FORMATS, name, dataclasses.replace(FORMATS[name], load=full))
    result = CliRunner().invoke(cli.app, ["ingest", str(fx.write(tmp_path / "in")), "--format", name])
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and "disque plein" in said and "No space" not in said, result.output


def test_an_unreadable_omop_file_is_refused_in_french_by_the_cli(home: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from proxisante import cli

    folder = tmp_path / "omop"
    folder.mkdir()
    (folder / "person.parquet").write_bytes(b"PAR1 not really a parquet file")
    result = CliRunner().invoke(cli.app, ["ingest", str(folder), "--format", "omop"])
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and "person.parquet : fichier Parquet illisible" in said, result.output
