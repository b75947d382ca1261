"""The profile of a centre from a file: YAML (the format of ``examples/profile_example.yaml``) or an .xlsx workbook.

:func:`load_profile` reads either; both are checked by the same model (:class:`.profile.Profile`).

The workbook has one sheet per section, the YAML's field names as headers. Layout (row 1 = the header, one
record per row below; empty rows are skipped):

- ``centre``: two columns ``field`` | ``value``, one row per scalar field: ``centre``, ``year``,
  ``source``, ``poverty_share``, ``zip_share``, ``ancs_forfait``, ``ipep_patient_experience``; a
  ``notes`` row per note;
- ``panel``: ``age_band``, ``ald``, ``c2s``, ``patients``, ``diabetics``, ``unseen``, ``ame`` (type
  the band as text, ``'7-64``, or a spreadsheet may read it as a date);
- ``acts``: ``code``, ``profession``, ``acts_mt``, ``acts_mt_65``, ``acts_mt_diabetic``, ``acts_other``,
  ``amount_observed``;
- ``staff``: ``profession``, ``fte``;
- ``measures`` (optional): ``id``, ``eligible``, ``numerator``, ``rate``, ``reportable``, ``previous_rate``;
- ``communes`` (optional): ``commune``, ``patients``, ``poverty_rate``;
- ``gp_sites`` (optional): ``commune``, ``fte``, ``fte_67_plus``, ``zip``;
- ``ipep_indicators`` (optional): ``id``, ``value``, ``previous``;
- ``ancs_engagements`` (optional; present, even empty, means "declared"): ``engagement``, ``count``.

``ald``, ``c2s``, ``reportable`` and ``zip`` take oui/non, true/false or 1/0; an empty cell takes the field's
default. The profile is checked by the same model as the YAML, and an error names the sheet, the row
and the field. :func:`write_profile_xlsx` writes any profile in this layout (``proxisante economie
profil-exemple centre.xlsx`` writes the shipped example).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from pydantic import ValidationError

from proxisante.definitions import load_yaml
from proxisante.economics.profile import Profile, ProfileError, parse_profile
from proxisante.spreadsheet import save_workbook, set_widths, write_header

EXAMPLE_PROFILE = resources.files(__package__) / "examples" / "profile_example.yaml"

SECTIONS = {
    "panel": ["age_band", "ald", "c2s", "patients", "diabetics", "unseen", "ame"],
    "acts": ["code", "profession", "acts_mt", "acts_mt_65", "acts_mt_diabetic", "acts_other", "amount_observed"],
    "staff": ["profession", "fte"],
    "measures": ["id", "eligible", "numerator", "rate", "reportable", "previous_rate"],
    "communes": ["commune", "patients", "poverty_rate"],
    "gp_sites": ["commune", "fte", "fte_67_plus", "zip"],
    "ipep_indicators": ["id", "value", "previous"],
}
ANCS = ("ancs_engagements", ["engagement", "count"])
SCALARS = [
    "centre",
    "year",
    "source",
    "poverty_share",
    "zip_share",
    "ancs_forfait",
    "ipep_patient_experience",
    "poverty_source",
]
BOOLEANS = {"ald", "c2s", "reportable", "zip"}
YES, NO = {"oui", "o", "true", "vrai", "yes", "1"}, {"non", "n", "false", "faux", "no", "0"}


def _cell(value: Any, column: str) -> Any:
    if column == "commune" and isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value)).zfill(5)  # a spreadsheet reads 03003 as the number 3003
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            return None
        if column in BOOLEANS and value.lower() in YES | NO:
            return value.lower() in YES
    return value


def load_profile(path: Path | resources.abc.Traversable) -> Profile:
    """A profile from a YAML file (the format of ``examples/profile_example.yaml``) or an .xlsx workbook."""
    if str(path).lower().endswith(".xlsx"):
        return load_profile_xlsx(Path(str(path)))
    data = load_yaml(path)
    data.setdefault("source", str(path))
    return parse_profile(data, path)


def load_profile_xlsx(path: Path) -> Profile:
    """A profile from a workbook in the layout above; refused with the sheet, row and field named."""
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises several kinds for a file that is not a workbook
        raise ProfileError(f"{path}: not an .xlsx workbook ({error})") from error
    expected = ["centre", *SECTIONS, ANCS[0]]
    unknown = [name for name in book.sheetnames if name not in expected]
    if unknown:
        raise ProfileError(f"{path}: unknown sheet {', '.join(unknown)} (expected {', '.join(expected)})")
    missing = [name for name in ("centre", "panel", "staff") if name not in book.sheetnames]
    if missing:
        raise ProfileError(f"{path}: sheet {', '.join(missing)} missing (expected {', '.join(expected)})")
    data: dict[str, Any] = {"source": str(path)}
    where: dict[tuple, str] = {}  # pydantic location → "sheet …, row …"
    for number, row in enumerate(book["centre"].iter_rows(min_row=2, values_only=True), start=2):
        if not row or row[0] is None:
            continue
        field, value = str(row[0]).strip(), _cell(row[1] if len(row) > 1 else None, str(row[0]))
        if field == "notes":
            if value is not None:
                data.setdefault("notes", []).append(str(value))
            continue
        if value is not None:
            data[field] = value
        where[(field,)] = f"sheet centre, row {number}"
    for section in SECTIONS:
        if section not in book.sheetnames:
            continue
        rows = book[section].iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
        records: list[dict[str, Any]] = []
        for number, row in enumerate(rows, start=2):
            if row is None or all(v is None or (isinstance(v, str) and not v.strip()) for v in row):
                continue
            record = {}
            for column, value in zip(header, row, strict=False):
                value = _cell(value, column)
                if value is None:
                    continue
                if not column:
                    raise ProfileError(f"{path}: sheet {section}, row {number}: a value under an empty header")
                record[column] = value
            where[(section, len(records))] = f"sheet {section}, row {number}"
            records.append(record)
        data[section] = records
    if ANCS[0] in book.sheetnames:
        data[ANCS[0]] = _engagements(path, book[ANCS[0]])
    book.close()
    try:
        return Profile.model_validate(data)
    except ValidationError as error:
        lines = [f"{path}: invalid profile"]
        for item in error.errors():
            lines.append(f"  {_place(tuple(item['loc']), item['msg'], where)}: {item['msg']}")
        raise ProfileError("\n".join(lines)) from error


def _engagements(path: Path, sheet: Any) -> dict[str, Any]:
    """The ``ancs_engagements`` sheet: engagement | count (an empty count is 1)."""
    found: dict[str, Any] = {}
    for number, row in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2):
        if not row or row[0] is None or not str(row[0]).strip():
            continue
        name = str(row[0]).strip()
        if name in found:
            raise ProfileError(f"{path}: sheet {ANCS[0]}, row {number}, field engagement: {name} given twice")
        found[name] = 1 if len(row) < 2 or row[1] is None else row[1]
    return found


def _place(loc: tuple, message: str, where: dict[tuple, str]) -> str:
    """The place of a pydantic error location: sheet panel, row 5, field patients."""
    if len(loc) == 1 and loc in where:  # a field of the centre sheet
        return f"{where[loc]}, field {loc[0]}"
    if len(loc) > 2 and loc[:2] in where:
        return f"{where[loc[:2]]}, field {'.'.join(str(part) for part in loc[2:])}"
    if loc[:2] in where:  # a rule on the whole row
        return where[loc[:2]]
    if loc:
        sheet = loc[0] if loc[0] in SECTIONS else "centre"
        return f"sheet {sheet}, field {'.'.join(str(part) for part in loc)}"
    named = [s for s in SECTIONS if f"{s}:" in message]  # a whole-profile rule: "panel: age band 80+ missing"
    return f"sheet {named[0] if named else 'centre'}"


def write_profile_xlsx(profile: Profile, path: Path) -> None:
    """Write ``profile`` as a workbook that :func:`load_profile_xlsx` reads back."""
    book = Workbook()
    ws = book.active
    ws.title = "centre"
    _header(ws, ["field", "value"])
    for field in SCALARS:
        ws.append([field, getattr(profile, field)])
    for note in profile.notes:
        ws.append(["notes", note])
    for section, columns in SECTIONS.items():
        sheet = book.create_sheet(section)
        _header(sheet, columns)
        for item in getattr(profile, section):
            values = [getattr(item, c) for c in columns]
            sheet.append(["oui" if v is True else "non" if v is False else v for v in values])
    if profile.ancs_engagements is not None:
        sheet = book.create_sheet(ANCS[0])
        _header(sheet, ANCS[1])
        for name, count in profile.ancs_engagements.items():
            sheet.append([name, count])
    path.parent.mkdir(parents=True, exist_ok=True)
    save_workbook(book, path)


def _header(sheet: Worksheet, columns: list[str]) -> None:
    """The field names in bold on row 1, kept in view; column A wide enough for them."""
    write_header(sheet, columns, freeze="A2")
    set_widths(sheet, [24])
