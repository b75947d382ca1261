"""Reading one export file as it really comes: ``;`` or ``,``, UTF-8 or Windows-1252, CSV or Parquet.

Every value is read as text: parsing dates, decimals and codes is the validator's job, so that a bad
value becomes a quarantined field, never a failed file. Each row keeps its line number in the file
(``__line``, the header being line 1) so that every error can name it.

Clean files take the fast path: Arrow's multi-threaded CSV reader, whose table DuckDB then scans in
place. A file with malformed lines (too many or too few fields) falls back to Python's ``csv``
module, which sets those lines aside as rejects instead of failing the whole file.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

CHUNK = 1 << 22
ENCODINGS = ("utf-8", "cp1252", "latin-1")
DELIMITERS = (";", ",", "\t", "|")
LINE = "__line"


class PivotFileError(ValueError):
    """A file that cannot be read at all (the batch stops, nothing is loaded)."""


@dataclass(frozen=True)
class FileInfo:
    """What we learnt about a file before reading it."""

    path: Path
    sha256: str
    size_bytes: int
    encoding: str  # "utf-8", "cp1252", "latin-1" or "parquet"
    delimiter: str  # "" for Parquet


@dataclass
class RawFile:
    """A file staged as a table of text columns, plus the lines that could not be split into fields."""

    info: FileInfo
    table: str  # name of the staged DuckDB table: one VARCHAR column per header name
    columns: list[str]
    malformed: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    # Rows a format set aside before validation (e.g. a FHIR code of an unknown system): the name of a
    # table (line, field, reason, value); they count as read and quarantined.
    rejects: str | None = None


def inspect_file(path: Path) -> FileInfo:
    """Checksum, encoding and delimiter of a file, in one streaming pass."""
    digest = hashlib.sha256()
    # Windows-1252 leaves five bytes undefined: a file with one of them is Latin-1.
    decoders = {name: codecs.getincrementaldecoder(name)() for name in ENCODINGS}
    possible = list(ENCODINGS)
    head = b""
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            if len(head) < 65536:
                head += chunk[:65536]
            for name in possible[:-1]:
                try:
                    decoders[name].decode(chunk)
                except UnicodeDecodeError:
                    possible.remove(name)
    size = path.stat().st_size
    if path.suffix.lower() == ".parquet":
        return FileInfo(path, digest.hexdigest(), size, "parquet", "")
    encoding = possible[0]
    first_line = head.decode(encoding, errors="replace").lstrip("\ufeff").splitlines()[:1]
    if not first_line:
        raise PivotFileError(f"{path.name}: the file is empty (a header line is expected)")
    delimiter = max(DELIMITERS, key=first_line[0].count)
    return FileInfo(path, digest.hexdigest(), size, encoding, delimiter)


def header(info: FileInfo) -> list[str]:
    """Column names of a CSV file, lower-cased and trimmed (exports vary in case and spacing)."""
    with info.path.open(encoding=info.encoding, errors="replace", newline="") as handle:
        row = next(csv.reader(handle, delimiter=info.delimiter), [])
    names = [name.lstrip("\ufeff").strip().lower() for name in row]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise PivotFileError(f"{info.path.name}: line 1: column(s) {', '.join(duplicated)} appear twice")
    return names


def stage(con: duckdb.DuckDBPyConnection, info: FileInfo, table: str) -> RawFile:
    """Make a file scannable as ``table`` in DuckDB (all text, with ``__line``).

    The rows stay in an Arrow table that DuckDB scans in place: copying millions of text values
    into a DuckDB table would cost more than reading the file.
    """
    if info.encoding == "parquet":
        return _stage_parquet(con, info, table)
    columns = header(info)
    try:
        arrow = _read_csv_fast(info, columns)
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return _stage_csv_exact(con, info, columns, table)
    con.register(table, arrow)
    return RawFile(info, table, columns)


def _read_csv_fast(info: FileInfo, columns: list[str]) -> pa.Table:
    """Multi-threaded Arrow reader; any malformed line raises, and the exact reader takes over."""
    arrow = pacsv.read_csv(
        info.path,
        read_options=pacsv.ReadOptions(column_names=columns, skip_rows=1, encoding=info.encoding,
                                       block_size=1 << 24),
        parse_options=pacsv.ParseOptions(delimiter=info.delimiter, quote_char='"', double_quote=True,
                                         newlines_in_values=False),
        convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in columns},
                                             strings_can_be_null=False),
    )  # fmt: skip
    lines = pa.array(np.arange(2, arrow.num_rows + 2, dtype=np.int64))
    return arrow.add_column(0, LINE, lines)


def _stage_csv_exact(con: duckdb.DuckDBPyConnection, info: FileInfo, columns: list[str], table: str) -> RawFile:
    lines: list[int] = []
    values: list[list[str | None]] = [[] for _ in columns]
    malformed: list[tuple[int, str]] = []
    with info.path.open(encoding=info.encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=info.delimiter)
        next(reader, None)
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(columns):
                malformed.append((line, f"malformed line: {len(row)} field(s), {len(columns)} expected"))
                continue
            lines.append(line)
            for target, cell in zip(values, row, strict=True):
                target.append(cell)
    arrow = pa.table(
        {
            LINE: pa.array(lines, pa.int64()),
            **{c: pa.array(v, pa.string()) for c, v in zip(columns, values, strict=True)},
        }
    )
    con.register(table, arrow)
    return RawFile(info, table, columns, malformed)


def _stage_parquet(con: duckdb.DuckDBPyConnection, info: FileInfo, table: str) -> RawFile:
    arrow = pq.read_table(info.path)
    columns = [name.strip().lower() for name in arrow.column_names]
    text = [column.cast(pa.string()) for column in arrow.columns]
    lines = pa.array(np.arange(2, arrow.num_rows + 2, dtype=np.int64))
    con.register(table, pa.Table.from_arrays([lines, *text], names=[LINE, *columns]))
    return RawFile(info, table, columns)


def _quote(name: str) -> str:
    return name.replace("'", "''")
