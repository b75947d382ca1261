"""What part of a network warehouse a caller may read: a :class:`Scope`, and :class:`ScopedTables`, the
warehouse as that scope sees it.

A scope is one structure, a set of structures (the members of a CPTS), or the whole network. Engine entry
points (measures, care gaps, patientèle, the economic profile, reports, extracts, quality, status) read
the warehouse through a :class:`~proxisante.warehouse.tables.Tables`; handing them a :class:`ScopedTables`
instead of the warehouse is what scopes them: every table they can name is already cut to the scope, and
scoping a scoped view again only narrows it (:meth:`Scope.narrowed`), so no code below can widen it.

Two views of a person seen by several structures (issue 15):

- **seen here** (the default): the rows each structure of the scope loaded. A structure's view depends on
  its own rows only; a person seen by two structures is one ``person_id`` and, in a view over both,
  one person (one row per key of the ``one_per_key`` tables, the row of the smallest FINESS).
- **attributed**: only the persons attributed to one of the scope's structures on a date
  (``network.attribution``), with the scope's rows. Over the structures of the network the attributed
  views partition the persons: each counts once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, cast

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from proxisante.network.attribution import attribution
from proxisante.warehouse.schema import STRUCTURE, TABLES_BY_NAME
from proxisante.warehouse.tables import Tables

NETWORK_NAME = "réseau"


class ScopeError(PermissionError):
    """A scope asked for outside the one a caller may see. The message is French."""


@dataclass(frozen=True)
class Scope:
    """The structures a call may see: ``structures`` (FINESS), or None for the whole network.

    ``attributed_on`` chooses the *attributed* view on that date instead of the *seen here* view."""

    structures: frozenset[str] | None = None
    name: str = NETWORK_NAME
    attributed_on: dt.date | None = None

    @classmethod
    def network(cls) -> Scope:
        """The whole warehouse, loads made without a structure included."""
        return cls()

    @classmethod
    def of(cls, finess: Iterable[str], name: str | None = None) -> Scope:
        """One structure or a set of them (a CPTS: ``name`` is then its name)."""
        chosen = frozenset(finess)
        if not chosen:
            raise ScopeError("un périmètre doit compter au moins une structure")
        return cls(chosen, name or ", ".join(sorted(chosen)))

    @property
    def is_network(self) -> bool:
        return self.structures is None

    @property
    def single(self) -> str | None:
        """The FINESS of a one-structure scope, else None."""
        if self.structures is not None and len(self.structures) == 1:
            return next(iter(self.structures))
        return None

    def allows(self, finess: str | None) -> bool:
        """Whether rows of ``finess`` (None: a load without a structure) are in the scope."""
        return self.structures is None or finess in self.structures

    def contains(self, other: Scope) -> bool:
        """Whether every structure of ``other`` is in this scope."""
        if self.structures is None:
            return True
        return other.structures is not None and other.structures <= self.structures

    def narrowed(self, wanted: Scope) -> Scope:
        """``wanted`` if this scope contains it; else :class:`ScopeError`, in French: a scope never widens."""
        if not self.contains(wanted):
            outside = sorted((wanted.structures or {NETWORK_NAME}) - (self.structures or set()))
            raise ScopeError(f"hors de votre périmètre ({self.name}) : {', '.join(outside)}")
        attributed_on = wanted.attributed_on or self.attributed_on
        return Scope(wanted.structures, wanted.name, attributed_on)

    def attributed(self, on: dt.date) -> Scope:
        """The same structures, in the *attributed* view on ``on``."""
        return Scope(self.structures, self.name, on)

    def seen_here(self) -> Scope:
        return Scope(self.structures, self.name, None)


class ScopedTables:
    """The warehouse's tables as ``scope`` sees them; a :class:`Tables` that engine entry points take.

    Only what the :class:`Tables` protocol and the engines need is exposed: no raw connection, no way
    back to the unscoped warehouse."""

    def __init__(self, tables: Tables, scope: Scope) -> None:
        if isinstance(tables, ScopedTables):  # scoping a scoped view narrows it, never widens it
            scope, tables = tables.scope.narrowed(scope), tables._tables
        self._tables: Tables = tables
        self.scope: Scope = scope
        self._persons: ir.Table | None = None
        self._several: bool | None = None

    @property
    def engine(self) -> str:
        return self._tables.engine

    def table(self, name: str) -> ir.Table:
        definition = TABLES_BY_NAME.get(name)
        table = self._tables.table(name)
        if definition is None or not definition.per_structure:
            return table
        if self.scope.structures is not None:
            table = table.filter(table[STRUCTURE].isin(sorted(self.scope.structures)))
        if self.scope.single is None and self._several_structures():
            table = _one_per_person_or_key(table, definition.network, definition.key)
        if self.scope.attributed_on is not None and "person_id" in table.columns and name != "etl_quarantine":
            table = table.filter(table.person_id.isin(self.attributed_persons().person_id))
        return table

    def _several_structures(self) -> bool:
        """Whether the scope's rows may come from more than one structure (loads without one count as
        one more): only then can a key repeat. Asked once, of the few rows of ``etl_batch``, so that a
        single-centre warehouse pays nothing for the network."""
        if self._several is None:
            batch = self._tables.table("etl_batch")
            if self.scope.structures is not None:
                batch = batch.filter(batch[STRUCTURE].isin(sorted(self.scope.structures)))
            origins = batch[STRUCTURE].fill_null("").nunique()
            self._several = int(self._tables.execute(origins)) > 1
        return self._several

    def attributed_persons(self) -> ir.Table:
        """The persons attributed to one of the scope's structures on the scope's date (column ``person_id``)."""
        if self._persons is None:
            on = self.scope.attributed_on or dt.date.today()
            chosen = attribution(self._tables, on)
            if self.scope.structures is not None:
                chosen = chosen.filter(chosen.structure.isin(sorted(self.scope.structures)))
            self._persons = chosen.select("person_id")
        return self._persons

    def execute(self, expr: ir.Expr) -> Any:
        return self._tables.execute(expr)

    # Exact Arrow results, for the engines that read them (a Warehouse has both; see its docstrings).
    def to_pyarrow(self, expr: ir.Table) -> pa.Table:
        return cast(_Arrow, self._tables).to_pyarrow(expr)

    def to_pyarrow_batches(self, expr: ir.Table, batch_rows: int) -> Iterator[pa.RecordBatch]:
        return cast(_Arrow, self._tables).to_pyarrow_batches(expr, batch_rows)


class _Arrow(Protocol):
    def to_pyarrow(self, expr: ir.Table) -> pa.Table: ...

    def to_pyarrow_batches(self, expr: ir.Table, batch_rows: int) -> Iterator[pa.RecordBatch]: ...


def _one_per_person_or_key(table: ir.Table, network: str, key: str | None) -> ir.Table:
    """In a view over several structures: one row per key of a ``one_per_key`` table (the smallest
    FINESS's, loads without a structure last), one merged span per person of ``observation_period``."""
    if network == "one_per_key" and key is not None:
        rank = ibis.row_number().over(group_by=table[key], order_by=[table[STRUCTURE].asc(nulls_first=False)])
        return table.mutate(_rank=rank).filter(ibis._["_rank"] == 0).drop("_rank")
    if network == "spans":
        spans = table.group_by("person_id").aggregate(
            observation_period_start_date=table.observation_period_start_date.min(),
            observation_period_end_date=table.observation_period_end_date.max(),
            period_type_concept_id=table.period_type_concept_id.min(),
            structure=table[STRUCTURE].min(),
        )
        columns = [spans.person_id if c == "observation_period_id" else spans[c] for c in table.columns]
        return spans.select(*[column.name(name) for column, name in zip(columns, table.columns, strict=True)])
    return table
