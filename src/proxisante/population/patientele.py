"""One entry point for the patientèle of a structure on a reference date.

``Patientele(warehouse, date)`` gathers the outputs of ``panel``, ``registries``, ``risk`` and
``flows`` and compiles the chronic registries only once (a cached table of the warehouse's own
engine), because composition, prevalence and risk levels all need them and compiling six
registries is the slow part. Aggregated outputs are small pandas DataFrames; per-person outputs are
Ibis tables keyed by the pseudonymised ``person_id``, never by a name.

    with Patientele(warehouse, dt.date(2025, 12, 31)) as p:
        p.pyramid(); p.composition(); p.access(); p.risk_levels()
        p.flows(parse_period("2025"))
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from functools import cached_property

import ibis.expr.types as ir
import pandas as pd

from proxisante.measures.context import Context
from proxisante.measures.periods import Period
from proxisante.population import flows as flows_module
from proxisante.population import panel, registries, risk
from proxisante.warehouse.tables import Tables


class Patientele:
    """The patientèle médecin traitant, the patients seen, the registries and risk levels on one date."""

    def __init__(
        self,
        warehouse: Tables,
        reference_date: dt.date,
        registry_ids: Sequence[str] | None = None,
        exclude_person_ids: Iterable[int] = (),
    ) -> None:
        self.warehouse = warehouse
        # Not cached by the context: this object caches what is reused and releases it in close().
        # ``exclude_person_ids`` (patients who objected) are left out of every output but ``flows``.
        excluded = frozenset(exclude_person_ids)
        self.context = Context(warehouse, reference_date, cache_tables=False, exclude_person_ids=excluded)
        self.registry_ids = list(registry_ids) if registry_ids is not None else list(registries.registries())

    @property
    def reference_date(self) -> dt.date:
        return self.context.reference_date

    def close(self) -> None:
        """Drop the cached tables now, while the warehouse connection is still open."""
        for name in ("risk_table", "registry_flags"):
            cached = self.__dict__.pop(name, None)
            if cached is not None:
                cached.release()

    def __enter__(self) -> Patientele:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @cached_property
    def registry_flags(self) -> ir.Table:
        """Registry memberships of every person alive (cached once in the warehouse)."""
        return registries.flags(self.context, self.registry_ids).cache()

    @cached_property
    def risk_table(self) -> ir.Table:
        """Risk factors, points, level and reasons of each patient of the patientèle (cached)."""
        return risk.per_person(self.context, None, self.registry_ids, self.registry_flags).cache()

    # -- per person (Ibis, pseudonymised) -----------------------------------------------------

    def patients(self) -> ir.Table:
        """The patientèle médecin traitant, one row per person, with the registry columns."""
        return registries.with_flags(
            panel.patientele(self.context), self.context, self.registry_ids, self.registry_flags
        )

    def seen_without_mt(self) -> ir.Table:
        """Patients seen in 24 months without a médecin traitant of the structure (CPTS accès aux soins)."""
        return panel.seen_without_mt(self.context)

    # -- aggregated (pandas) ------------------------------------------------------------------

    def pyramid(self, *, by_provider: bool = True) -> pd.DataFrame:
        return panel.pyramid(self.context, by_provider=by_provider)

    def composition(self, *, by_provider: bool = True) -> pd.DataFrame:
        return panel.composition(
            self.context, self.registry_ids, by_provider=by_provider, registry_flags=self.registry_flags
        )

    def departed_mt(self) -> pd.DataFrame:
        """Patients still declared to a médecin traitant who has left the structure."""
        return panel.departed_mt(self.context)

    def prevalence(self, among: str = "patientele_mt") -> pd.DataFrame:
        """Registry prevalence in the patientèle MT (or ``seen``, ``all``), next to the national figure."""
        return registries.prevalence(self.context, self.registry_ids, self.registry_flags, among)

    def access(self) -> pd.DataFrame:
        return panel.access(self.context)

    def risk_levels(self, *, by_provider: bool = True) -> pd.DataFrame:
        return risk.level_counts(self.context, by_provider=by_provider, table=self.risk_table)

    def risk_factors(self) -> pd.DataFrame:
        return risk.factor_counts(self.context, self.risk_table)

    def flows(self, period: Period, *, by_provider: bool = True) -> pd.DataFrame:
        """Monthly and total flows over ``period`` (which need not end on the reference date)."""
        return flows_module.flows(self.warehouse, period, by_provider=by_provider)
