"""The profile as an .xlsx workbook: written and read back, typed by hand, refused with sheet, row and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from proxisante.economics.profile import ProfileError
from proxisante.economics.profile_files import EXAMPLE_PROFILE, load_profile, write_profile_xlsx
from tests.economics.test_payments import BANDS


def test_the_example_written_as_a_workbook_reads_back_equal(tmp_path: Path) -> None:
    example = load_profile(EXAMPLE_PROFILE)
    path = tmp_path / "centre.xlsx"
    write_profile_xlsx(example, path)
    assert load_workbook(path).sheetnames == [
        "centre",
        "panel",
        "acts",
        "staff",
        "measures",
        "communes",
        "gp_sites",
        "ipep_indicators",
        "ancs_engagements",
    ]
    assert load_profile(path) == example


def hand_typed(path: Path, panel_rows=None, **centre) -> Path:
    """A workbook as a manager would type it: oui/non, empty cells, an empty row, measure results."""
    book = Workbook()
    ws = book.active
    ws.title = "centre"
    ws.append(["field", "value"])
    for field, value in {"centre": "CDS des Lilas", "year": 2025, "zip_share": 0.5, **centre}.items():
        ws.append([field, value])
    ws.append(["notes", "budget 2025 voté"])
    panel = book.create_sheet("panel")
    panel.append(["age_band", "ald", "c2s", "patients", "diabetics", "unseen"])
    for row in panel_rows or [[band, "non", "non", 100, None, 10] for band in BANDS]:
        panel.append(row)
    panel.append([])
    panel.append(["80+", "oui", "NON", 20, 5, None])
    acts = book.create_sheet("acts")
    acts.append(["code", "profession", "acts_mt", "acts_mt_65", "acts_mt_diabetic", "acts_other", "amount_observed"])
    acts.append(["G", "MG", 3000, 800, 100, 500, None])
    staff = book.create_sheet("staff")
    staff.append(["profession", "fte"])
    staff.append(["MG", 1.5])
    measures = book.create_sheet("measures")
    measures.append(["id", "eligible", "numerator", "rate", "reportable"])
    measures.append(["rosp_diabetes_hba1c", 40, 30, None, "oui"])
    book.save(path)
    return path


def test_a_hand_typed_workbook(tmp_path: Path) -> None:
    p = load_profile(hand_typed(tmp_path / "lilas.xlsx"))
    assert (p.centre, p.year, p.zip_share, p.notes) == ("CDS des Lilas", 2025, 0.5, ["budget 2025 voté"])
    assert p.patients == 5 * 100 + 20 and len(p.panel) == 6
    last = p.panel[-1]
    assert (last.age_band, last.ald, last.c2s, last.diabetics, last.unseen) == ("80+", True, False, 5, 0)
    assert (p.acts[0].acts, p.fte("MG")) == (3500, 1.5)
    assert p.measures[0].rate == pytest.approx(0.75)  # 30 / 40, computed when the cell is empty
    assert p.source.endswith("lilas.xlsx")


def test_bad_workbooks_name_the_sheet_the_row_and_the_field(tmp_path: Path) -> None:
    rows = [[band, "non", "non", 100, None, 10] for band in BANDS]
    rows[2][3] = -5  # the 65-74 cell, row 4 of the sheet
    rows[3][1] = "peut-être"  # the 75-79 cell, row 5
    with pytest.raises(ProfileError) as error:
        load_profile(hand_typed(tmp_path / "a.xlsx", panel_rows=rows, year="deux mille"))
    message = str(error.value)
    assert "sheet panel, row 4, field patients: Input should be greater than or equal to 0" in message
    assert "sheet panel, row 5, field ald" in message
    assert "sheet centre, row 3, field year" in message

    with pytest.raises(ProfileError, match=r"sheet panel: Value error, panel: age band 0-6 missing"):
        load_profile(hand_typed(tmp_path / "b.xlsx", panel_rows=[[b, "non", "non", 1] for b in BANDS[1:]]))

    book = load_workbook(hand_typed(tmp_path / "c.xlsx"))
    book["acts"]["A2"] = "ZZZ"
    book["staff"]["B2"] = None
    del book["measures"]
    book.save(tmp_path / "c.xlsx")
    with pytest.raises(ProfileError) as error:
        load_profile(tmp_path / "c.xlsx")
    message = str(error.value)
    assert "sheet acts, row 2: Value error, code 'ZZZ': unknown act code" in message
    assert "sheet staff, row 2, field fte: Field required" in message

    book = load_workbook(tmp_path / "c.xlsx")
    del book["staff"]
    book.create_sheet("budget")
    book.save(tmp_path / "d.xlsx")
    with pytest.raises(ProfileError, match="unknown sheet budget"):
        load_profile(tmp_path / "d.xlsx")
    del book["budget"]
    book.save(tmp_path / "d.xlsx")
    with pytest.raises(ProfileError, match="sheet staff missing"):
        load_profile(tmp_path / "d.xlsx")
    (tmp_path / "e.xlsx").write_text("not a workbook", encoding="utf-8")
    with pytest.raises(ProfileError, match=r"not an \.xlsx workbook"):
        load_profile(tmp_path / "e.xlsx")
