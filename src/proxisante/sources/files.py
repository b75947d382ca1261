"""Reading one export file as it really comes: ``;`` or ``,``, UTF-8 or Windows-1252, CSV or Parquet.

Every value is read as text: parsing dates, decimals and codes is the validator's job, so that a bad
value becomes a quarantined field, never a failed file. Each row keeps its line number in the file
(``__line``, the header being line 1) so that every error can name it.

Clean files take the fast path (DuckDB's multi-threaded CSV reader). A file with malformed lines
(too many or too few fields) falls back to Python's ``csv`` module, which sets those lines aside as
rejects instead of failing the whole file.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import duckdb
import pyarrow as pa

CHUNK = 1 << 22
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
    encoding: str  # "utf-8", "cp1252" or "parquet"
    delimiter: str  # "" for Parquet


@dataclass
class RawFile:
    """A file staged as a table of text columns, plus the lines that could not be split into fields."""

    info: FileInfo
    table: str  # name of the staged DuckDB table: one VARCHAR column per header name
    columns: list[str]
    malformed: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    # SQL giving the line of a row: a table keeps the file's order, so the rowid gives the line
    # (the header is line 1) unless the exact reader recorded it in a column.
    line: str = "(rowid + 2)::BIGINT"

    def numbered(self) -> str:
        """SQL selecting ``__line`` and every column of the staged file."""
        if self.line == LINE:
            return f'SELECT * FROM "{self.table}"'
        return f'SELECT {self.line} AS {LINE}, * FROM "{self.table}"'


def inspect_file(path: Path) -> FileInfo:
    """Checksum, encoding and delimiter of a file, in one streaming pass."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    head = b""
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            if len(head) < 65536:
                head += chunk[:65536]
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
    size = path.stat().st_size
    if path.suffix.lower() == ".parquet":
        return FileInfo(path, digest.hexdigest(), size, "parquet", "")
    encoding = "utf-8" if utf8 else "cp1252"
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
    """Load a file into the temporary table ``table`` (all text, with ``__line``)."""
    if info.encoding == "parquet":
        return _stage_parquet(con, info, table)
    columns = header(info)
    path = info.path if info.encoding == "utf-8" else _transcode(info)
    try:
        _stage_csv_fast(con, info, path, columns, table)
        return RawFile(info, table, columns)
    except duckdb.Error:
        return _stage_csv_exact(con, info, path, columns, table)
    finally:
        if path != info.path:
            path.unlink(missing_ok=True)


def _stage_csv_fast(con: duckdb.DuckDBPyConnection, info: FileInfo, path: Path, columns: list[str], table: str) -> None:
    spec = "{" + ", ".join(f"'{_quote(c)}': 'VARCHAR'" for c in columns) + "}"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE "{table}" AS
        SELECT * FROM read_csv(?, delim = ?, header = true, columns = {spec}, quote = '"',
                               escape = '"', strict_mode = true, null_padding = false,
                               auto_detect = false)
        """,
        [str(path), info.delimiter],
    )


def _stage_csv_exact(
    con: duckdb.DuckDBPyConnection, info: FileInfo, path: Path, columns: list[str], table: str
) -> RawFile:
    lines: list[int] = []
    values: list[list[str | None]] = [[] for _ in columns]
    malformed: list[tuple[int, str]] = []
    with path.open(encoding="utf-8", newline="") as handle:
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
    con.register(f"{table}__arrow", arrow)
    con.execute(f'CREATE OR REPLACE TEMP TABLE "{table}" AS SELECT * FROM "{table}__arrow"')
    con.unregister(f"{table}__arrow")
    return RawFile(info, table, columns, malformed, line=LINE)


def _stage_parquet(con: duckdb.DuckDBPyConnection, info: FileInfo, table: str) -> RawFile:
    described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(info.path)]).fetchall()
    names = [row[0] for row in described]
    columns = [n.strip().lower() for n in names]
    casts = ", ".join(f'CAST("{n}" AS VARCHAR) AS "{c}"' for n, c in zip(names, columns, strict=True))
    con.execute(f'CREATE OR REPLACE TEMP TABLE "{table}" AS SELECT {casts} FROM read_parquet(?)', [str(info.path)])
    return RawFile(info, table, columns)


def _transcode(info: FileInfo) -> Path:
    """A UTF-8 copy of a Windows-1252 file (DuckDB's reader only knows UTF-8 and Latin-1, and
    Windows-1252 differs from Latin-1 exactly on French characters such as œ, € and ’)."""
    handle, name = tempfile.mkstemp(suffix=".csv", prefix="proxisante-")
    with open(handle, "w", encoding="utf-8", newline="") as out:
        try:
            _copy_decoded(info.path, out, "cp1252")
        except UnicodeDecodeError:  # bytes Windows-1252 leaves undefined: the file is Latin-1
            out.seek(0)
            out.truncate()
            _copy_decoded(info.path, out, "latin-1")
    return Path(name)


def _copy_decoded(path: Path, out: TextIO, encoding: str) -> None:
    with path.open(encoding=encoding, newline="") as source:
        while chunk := source.read(CHUNK):
            out.write(chunk)


def _quote(name: str) -> str:
    return name.replace("'", "''")
