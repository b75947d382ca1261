"""Tabular files a spreadsheet may open (CSV, XLSX), written so that no value from the data becomes a formula.

A spreadsheet evaluates a cell that begins with ``=``, ``+``, ``-`` or ``@`` (and, in some programs, a
TAB or carriage return before them) as a formula: a site name, a patient's text or a commune code
from an export could then run a command or send the sheet's contents elsewhere when the file is opened
(CSV injection, OWASP). Every CSV and workbook the product writes goes through this module:

- **text cells only**: a *text* value that begins with one of those characters gets a single quote in
  front (``=1+1`` → ``'=1+1``), the OWASP recommendation. Numbers stay numbers: a numeric column is never
  touched, and a text value that is just a signed decimal number (``-3``, ``+33612345678``, ``-2,5``)
  is left as it is, since a spreadsheet reads it as a number and no formula can hide in it;
- **workbooks**: openpyxl turns any string starting with ``=`` into a formula cell. Before a workbook is
  saved, every cell is made a plain string cell (type ``s``) unless the product named it as one of its
  own formulas, and text cells beginning with a formula character get Excel's *quote prefix* style (the
  value is kept exactly, shown and edited as text);
- **DuckDB ``COPY``** (the OMOP exports and research extracts): :func:`sql_neutralised` wraps a text
  column in the same rule in SQL, so that the files DuckDB writes follow it too. Parquet files are not
  changed: they are typed data for programs, not read by spreadsheets as text.

The same rule is written twice (Python and SQL); a test checks they agree on generated strings.

The product's workbooks (the economic workbook, the profile file, the report) also share their layout
here: a bold header row (:func:`write_header`, with the frozen panes below it) and column widths
(:func:`set_widths`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pandas as pd
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

if TYPE_CHECKING:
    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
_NUMBER = re.compile(r"[+-]?[0-9]+([.,][0-9]+)?")
# The same two tests in DuckDB's regular expressions (RE2): the prefix, and a plain signed number.
_SQL_PREFIX = r"^[=+\-@\t\r]"
_SQL_NUMBER = r"^[+-]?[0-9]+([.,][0-9]+)?$"
BOLD = Font(bold=True)


def is_hostile(text: str) -> bool:
    """Whether a text cell would be read as a formula by a spreadsheet."""
    return text.startswith(FORMULA_PREFIXES) and _NUMBER.fullmatch(text) is None


def neutralise(value: Any) -> Any:
    """A cell value safe for a spreadsheet: hostile text quoted, anything else unchanged."""
    if isinstance(value, str) and is_hostile(value):
        return QUOTE + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells are neutralised (numeric, date and boolean columns untouched)."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if isinstance(series.dtype, pd.CategoricalDtype):
            out[column] = series.cat.rename_categories([neutralise(c) for c in series.cat.categories])
        elif series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
            out[column] = series.map(neutralise, na_action="ignore")
    return out


def write_csv(frame: pd.DataFrame, target: str | Path | IO[str], **options: Any) -> str | None:
    """``DataFrame.to_csv`` with every text cell neutralised: the one way the product writes a CSV.

    Lines end with CRLF (RFC 4180) unless ``lineterminator`` is given: Python's writer then quotes a cell
    holding a carriage return, which it leaves bare with a plain LF ending (a reader would split the row).
    """
    options.setdefault("lineterminator", "\r\n")
    return safe_frame(frame).to_csv(target, **options)


def sql_neutralised(expression: str) -> str:
    """A DuckDB SQL expression of type VARCHAR giving ``expression`` with the rule of :func:`neutralise`."""
    return (
        f"CASE WHEN regexp_matches({expression}, '{_SQL_PREFIX}') AND NOT regexp_matches({expression}, "
        f"'{_SQL_NUMBER}') THEN '{QUOTE}{QUOTE}' || {expression} ELSE {expression} END"
    )


def safe_workbook(book: Workbook, formulas: Iterable[tuple[str, str]] = ()) -> None:
    """Make every cell of ``book`` a value, except the product's own ``formulas`` ((sheet title, cell) pairs):
    a string openpyxl took for a formula becomes a string cell, and hostile text gets the quote prefix."""
    allowed = set(formulas)
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f" and (sheet.title, cell.coordinate) not in allowed:
                    cell.data_type = "s"
                if cell.data_type == "s" and isinstance(cell.value, str) and is_hostile(cell.value):
                    cell.quotePrefix = True


def save_workbook(book: Workbook, target: str | Path | IO[bytes], formulas: Iterable[tuple[str, str]] = ()) -> None:
    """Save ``book`` after :func:`safe_workbook`: the one way the product writes a workbook."""
    safe_workbook(book, formulas)
    book.save(target)


def write_header(
    sheet: Worksheet,
    labels: Sequence[str],
    row: int = 1,
    *,
    freeze: str | None = None,
    fill: PatternFill | None = None,
    wrap: bool = False,
) -> None:
    """Write ``labels`` in bold across ``row`` from column A, and freeze the panes at ``freeze`` (``"B2"``:
    the header and the first column stay in view). ``fill`` colours the header cells; ``wrap`` wraps their
    text, centred vertically."""
    for column, label in enumerate(labels, start=1):
        cell = sheet.cell(row, column, label)
        cell.font = BOLD
        if fill is not None:
            cell.fill = fill
        if wrap:
            cell.alignment = Alignment(wrap_text=True, vertical="center")
    if freeze is not None:
        sheet.freeze_panes = freeze


def set_widths(sheet: Worksheet, widths: Sequence[float]) -> None:
    """The widths of the first columns (A, B, ...), in characters."""
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
