"""Columnar chunks of pivot tables before they are written.

Why not pandas or Arrow tables straight away: the generator computes with numpy (day numbers,
integer ids, float amounts) and codes are small vocabularies (a few dozen NGAP or ATC codes for
millions of rows), so a column is kept as the cheapest thing that can be computed on and edited
(the defect injector sets single cells):

- ``numpy.ndarray``: integers (ids, ``-1`` = empty), day numbers (``NEVER`` = empty), floats (NaN =
  empty);
- :class:`Cat`: a code as an index into a vocabulary (``-1`` = empty);
- ``pyarrow.Array``: free text built once (names, addresses).

The writer turns each into the file's representation according to the pivot column's kind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias, cast, overload

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class Cat:
    """A categorical column: ``values[idx]``, empty where ``idx < 0``."""

    idx: np.ndarray
    values: tuple[str, ...]

    @classmethod
    def of(cls, idx: np.ndarray, values: Sequence[str]) -> Cat:
        return cls(np.asarray(idx, dtype=np.int32), tuple(values))

    def to_arrow(self) -> pa.Array:
        indices = pa.array(self.idx, type=pa.int32(), mask=self.idx < 0)
        return pc.take(pa.array(self.values, type=pa.string()), indices)

    def take(self, rows: np.ndarray) -> Cat:
        return Cat(self.idx[rows], self.values)

    def code(self, value: str) -> tuple[Cat, int]:
        """This column with ``value`` in its vocabulary, and the index of ``value``."""
        if value in self.values:
            return self, self.values.index(value)
        return Cat(self.idx, (*self.values, value)), len(self.values)

    def decoded(self) -> np.ndarray:
        out = np.array((*self.values, ""), dtype=object)[self.idx]
        out[self.idx < 0] = None
        return out

    def __len__(self) -> int:
        return len(self.idx)


Column: TypeAlias = np.ndarray | Cat | pa.Array
Frame: TypeAlias = dict[str, Column]
# Rows being drawn (patient indices, day numbers, codes as indices, amounts): every column a numpy
# array, until a ``*_table`` function turns them into a table's ``Frame``.
Arrays: TypeAlias = dict[str, np.ndarray]


def numeric(frame: Frame, name: str) -> np.ndarray:
    """A numpy column of ``frame`` (ids, day numbers, amounts)."""
    column = frame[name]
    assert isinstance(column, np.ndarray)
    return column


def length(frame: Frame) -> int:
    return len(next(iter(frame.values()))) if frame else 0


def take(frame: Frame, rows: np.ndarray) -> Frame:
    out: Frame = {}
    for name, column in frame.items():
        if isinstance(column, Cat):
            out[name] = column.take(rows)
        elif isinstance(column, pa.Array):
            out[name] = column.take(pa.array(rows, type=pa.int64()))
        else:
            out[name] = column[rows]
    return out


@overload
def concat(frames: Sequence[Arrays]) -> Arrays: ...
@overload
def concat(frames: Sequence[Frame]) -> Frame: ...
def concat(frames: Sequence[Mapping[str, Column]]) -> Frame | Arrays:
    """Rows of several frames with the same columns (categorical vocabularies are merged)."""
    kept = [f for f in frames if f]
    if not kept:
        return {}
    out: Frame = {}
    for name in kept[0]:
        parts = [f[name] for f in kept]
        first = parts[0]
        if isinstance(first, Cat):
            values = list(first.values)
            idx = []
            for part in parts:
                assert isinstance(part, Cat)
                remap = np.empty(len(part.values) + 1, dtype=np.int32)
                for i, v in enumerate(part.values):
                    if v not in values:
                        values.append(v)
                    remap[i] = values.index(v)
                remap[-1] = -1
                idx.append(remap[part.idx])
            out[name] = Cat(np.concatenate(idx), tuple(values))
        elif isinstance(first, pa.Array):
            out[name] = pa.concat_arrays([p if isinstance(p, pa.Array) else pa.array(p) for p in parts])
        else:
            # Same columns in every frame: a numpy column is numpy in all of them.
            out[name] = np.concatenate(cast(list[np.ndarray], parts))
    return out


def sort(frame: Frame, *keys: str) -> Frame:
    """Rows ordered by the given numpy columns (first key most significant), stable."""
    order = np.lexsort([np.asarray(frame[k]) for k in reversed(keys)])
    return take(frame, order)


def expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ``counts`` items per owner: the owner of each item and its rank within its owner."""
    counts = np.asarray(counts, dtype=np.int64)
    owner = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    rank = np.arange(len(owner)) - np.repeat(starts, counts)
    return owner, rank
