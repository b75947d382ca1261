"""Writing pivot tables chunk by chunk, as French exports look (or as typed Parquet).

CSV: one ``<table>.csv`` per table, ``;`` separator, header row with the pivot column names,
``dd/mm/yyyy`` dates, decimal comma, empty fields for empty values, no quoting (no generated value
contains ``;``, quotes or line breaks), UTF-8 with ``\\n`` line ends. One table can be written in
Windows-1252 with ``\\r\\n`` line ends, like an export from a Windows EHR (a defect the loader must
handle). Parquet: the same columns typed (dates as ``date32``, decimals as ``float64``, integers as
``int64``, everything else as strings).

Why chunk by chunk: a million patients make about a hundred million rows; each chunk is converted
with Arrow compute functions and appended, so memory stays bounded by one chunk.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from proxisante.ingest.pivot.format import PivotTable
from proxisante.synth.frames import Cat, Column, Frame, length
from proxisante.synth.timeline import INVALID_BASE, NEVER, day_of

# Decimal columns written with a fixed number of decimals (euros: "26,50"); others shortest ("0,8").
FIXED_DECIMALS = {"amount": 2}
_FIRST_DAY = day_of(1850, 1, 1)
_LAST_DAY = day_of(2150, 12, 31)


@cache
def _date_strings() -> pa.Array:
    """``dd/mm/yyyy`` for every day from 1850 to 2150: formatting a date column is one ``take``."""
    days = np.arange(_FIRST_DAY, _LAST_DAY + 1).astype("datetime64[D]")
    return pc.strftime(pa.array(days).cast(pa.timestamp("s")), "%d/%m/%Y")


def _ids(values: np.ndarray) -> pa.Array:
    return pa.array(values, type=pa.int64(), mask=values < 0).cast(pa.string())


def _text(column: Column) -> pa.Array:
    if isinstance(column, Cat):
        return column.to_arrow()
    if isinstance(column, pa.Array):
        return column.cast(pa.string())
    return pa.array(column, type=pa.string())


def _csv_date(values: np.ndarray, invalid: tuple[str, ...]) -> pa.Array:
    empty = (values == NEVER) | (values < _FIRST_DAY) | (values > _LAST_DAY)
    index = np.where(empty, 0, values - _FIRST_DAY)
    out = pc.take(_date_strings(), pa.array(index, type=pa.int64(), mask=empty))
    bad = values <= INVALID_BASE
    if bad.any():  # impossible dates (defects), written from the parameters' list
        text = np.array(out.to_pylist(), dtype=object)
        text[bad] = [invalid[(INVALID_BASE - int(v)) % len(invalid)] for v in values[bad]]
        out = pa.array(text, type=pa.string())
    return out


def _csv_decimal(name: str, values: np.ndarray) -> pa.Array:
    array = pa.array(values, type=pa.float64(), mask=np.isnan(values))
    if name in FIXED_DECIMALS:
        scale = FIXED_DECIMALS[name]
        text = pc.cast(pc.cast(pc.round(array, scale), pa.decimal128(18, scale)), pa.string())
    else:
        text = pc.cast(array, pa.string())
    return pc.replace_substring(text, ".", ",")


def to_csv_table(spec: PivotTable, frame: Frame, invalid_dates: tuple[str, ...] = ()) -> pa.Table:
    """The chunk as string columns in the pivot order (missing columns written empty)."""
    n = length(frame)
    columns = {}
    for column in spec.columns:
        value = frame.get(column.name)
        if value is None:
            columns[column.name] = pa.nulls(n, pa.string())
        elif isinstance(value, np.ndarray) and column.kind == "date":
            columns[column.name] = _csv_date(value, invalid_dates)
        elif isinstance(value, np.ndarray) and column.kind == "decimal":
            columns[column.name] = _csv_decimal(column.name, value)
        elif isinstance(value, np.ndarray) and value.dtype.kind in "iu":
            columns[column.name] = _ids(value)
        else:
            columns[column.name] = _text(value)
    return pa.table(columns)


def to_parquet_table(spec: PivotTable, frame: Frame) -> pa.Table:
    """The chunk with typed columns: date32, float64, int64 or string."""
    n = length(frame)
    columns = {}
    for column in spec.columns:
        value = frame.get(column.name)
        kind = column.kind
        if kind == "date":
            values = value if isinstance(value, np.ndarray) else np.full(n, NEVER, dtype=np.int64)
            columns[column.name] = pa.array(
                values.astype(np.int32), type=pa.date32(), mask=(values == NEVER) | (values <= INVALID_BASE)
            )
        elif kind == "decimal":
            values = value if isinstance(value, np.ndarray) else np.full(n, np.nan)
            columns[column.name] = pa.array(values, type=pa.float64(), mask=np.isnan(values))
        elif kind == "integer":
            values = value if isinstance(value, np.ndarray) else np.full(n, -1, dtype=np.int64)
            columns[column.name] = pa.array(values, type=pa.int64(), mask=values < 0)
        elif value is None:
            columns[column.name] = pa.nulls(n, pa.string())
        elif isinstance(value, np.ndarray) and value.dtype.kind in "iu":
            columns[column.name] = _ids(value)
        else:
            columns[column.name] = _text(value)
    return pa.table(columns)


class TableWriter:
    """Appends chunks of one pivot table to ``<table>.csv`` or ``<table>.parquet``."""

    def __init__(self, folder: Path, spec: PivotTable, file_format: str, encoding: str = "utf-8") -> None:
        self.spec = spec
        self.file_format = file_format
        self.encoding = encoding
        self.rows = 0
        self.path = folder / f"{spec.name}.{file_format}"
        self._parquet: pq.ParquetWriter | None = None
        self._handle: BinaryIO | None = None
        self._newline = "\r\n" if encoding.lower() in ("cp1252", "windows-1252") else "\n"
        if file_format == "csv":
            self._handle = self.path.open("wb")
            header = ";".join(spec.column_names) + self._newline
            self._handle.write(header.encode(encoding))
        elif file_format != "parquet":
            raise ValueError(f"unknown file format {file_format!r} (csv or parquet)")

    def write(self, frame: Frame, invalid_dates: tuple[str, ...] = ()) -> int:
        """Append one chunk; return the number of rows written so far."""
        if not frame or length(frame) == 0:
            return self.rows
        if self.file_format == "csv":
            table = to_csv_table(self.spec, frame, invalid_dates)
            buffer = io.BytesIO()
            options = pacsv.WriteOptions(include_header=False, delimiter=";", quoting_style="none")
            pacsv.write_csv(table, buffer, options)
            data = buffer.getvalue()
            if self.encoding != "utf-8" or self._newline != "\n":
                text = data.decode("utf-8").replace("\n", self._newline)
                data = text.encode(self.encoding)
            assert self._handle is not None
            self._handle.write(data)
        else:
            table = to_parquet_table(self.spec, frame)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.path, table.schema, compression="zstd")
            self._parquet.write_table(table)
        self.rows += length(frame)
        return self.rows

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self.file_format == "parquet":
            if self._parquet is None:  # no rows: still write an empty file with the schema
                empty = to_parquet_table(self.spec, {})
                self._parquet = pq.ParquetWriter(self.path, empty.schema, compression="zstd")
            self._parquet.close()
            self._parquet = None
