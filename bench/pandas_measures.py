"""The measure library evaluated in plain pandas: the baseline of ``bench/measures.py``.

A second, independent implementation of the semantics of docs/measures.md, written the way an
analyst would with pandas (tables loaded in memory, boolean masks, groupby). The bench times it
against the Ibis engine in the same process and checks that both give the same counts, measure by
measure, so the speed ratio compares two programs that compute the same thing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from proxisante.measures.context import PARAMETERS
from proxisante.measures.definition import Criterion, Measure, Window, minus
from proxisante.measures.periods import Period
from proxisante.vocab import mapping
from proxisante.vocab.valuesets import value_set

TABLES = {
    "person": ["person_id", "gender_concept_id", "year_of_birth", "month_of_birth", "day_of_birth", "birth_datetime",
               "location_id"],
    "death": ["person_id", "death_date"],
    "location": ["location_id", "location_source_value"],
    "fr_mt_declaration": ["mt_declaration_id", "person_id", "provider_id", "start_date", "end_date"],
    "provider": ["provider_id", "provider_source_value"],
    "fr_coverage_period": ["person_id", "coverage_type", "start_date", "end_date", "cim10"],
    "concept": ["concept_id", "vocabulary_id", "concept_code"],
    "condition_occurrence": ["person_id", "condition_start_date", "condition_source_concept_id"],
    "drug_exposure": ["drug_exposure_id", "person_id", "drug_exposure_start_date", "drug_exposure_end_date",
                      "drug_concept_id", "drug_source_concept_id"],
    "measurement": ["person_id", "measurement_date", "measurement_concept_id", "measurement_source_concept_id"],
    "procedure_occurrence": ["person_id", "procedure_date", "procedure_source_concept_id"],
    "visit_occurrence": ["person_id", "visit_start_date", "visit_source_concept_id"],
}  # fmt: skip
EVENTS = {
    "condition": ("condition_occurrence", "condition_start_date", {"CIM10": ["condition_source_concept_id"]}),
    "drug": ("drug_exposure", "drug_exposure_start_date",
             {"ATC": ["drug_concept_id", "drug_source_concept_id"], "CIP13": ["drug_source_concept_id"]}),
    "lab": ("measurement", "measurement_date",
            {"NABM": ["measurement_source_concept_id"],
             "LOINC": ["measurement_concept_id", "measurement_source_concept_id"]}),
    "procedure": ("procedure_occurrence", "procedure_date", {"CCAM": ["procedure_source_concept_id"]}),
    "visit": ("visit_occurrence", "visit_start_date", {"NGAP": ["visit_source_concept_id"]}),
}  # fmt: skip


def load(warehouse) -> dict[str, pd.DataFrame]:
    """The tables the measures read, as pandas frames with datetime64 dates."""
    frames = {}
    for name, columns in TABLES.items():
        frame = warehouse.backend.table(name).select(columns).to_pyarrow().to_pandas()
        for column in columns:
            if "date" in column:
                frame[column] = pd.to_datetime(frame[column])
        frames[name] = frame
    return frames


@dataclass
class Baseline:
    tables: dict[str, pd.DataFrame]
    _persons: dict[dt.date, pd.DataFrame] | None = None

    def persons(self, ref: dt.date) -> pd.DataFrame:
        self._persons = self._persons or {}
        if ref not in self._persons:
            self._persons[ref] = self._build_persons(ref)
        return self._persons[ref]

    def _build_persons(self, ref: dt.date) -> pd.DataFrame:
        t, ts = self.tables, pd.Timestamp(ref)
        p = t["person"].copy()
        fallback = pd.to_datetime(
            dict(year=p.year_of_birth, month=p.month_of_birth.fillna(7), day=p.day_of_birth.fillna(1))
        )
        p["birth_date"] = p.birth_datetime.dt.normalize().fillna(fallback)
        sex = mapping("sex", "gender_concept_id")
        female = {int(v) for k, v in sex.items() if mapping("sex", "normalised")[k] == "F"}
        male = {int(v) for k, v in sex.items() if mapping("sex", "normalised")[k] == "M"}
        p["sex"] = np.where(p.gender_concept_id.isin(female), "F", np.where(p.gender_concept_id.isin(male), "M", "I"))
        p = p[p.birth_date <= ts]
        dead = t["death"].loc[t["death"].death_date <= ts, "person_id"]
        p = p[~p.person_id.isin(dead)]
        later = (p.birth_date.dt.month * 100 + p.birth_date.dt.day) > (ref.month * 100 + ref.day)
        p["age"] = ref.year - p.birth_date.dt.year - later.astype(int)
        mt = t["fr_mt_declaration"]
        active = mt[(mt.start_date <= ts) & (mt.end_date.isna() | (mt.end_date >= ts))]
        latest = active.sort_values(["start_date", "mt_declaration_id"], ascending=False).drop_duplicates("person_id")
        p = p.merge(latest[["person_id", "provider_id"]], on="person_id", how="left")
        return p

    def initial_population(self, m: Measure, persons: pd.DataFrame, ref: dt.date) -> pd.DataFrame:
        p = persons
        if m.population == "patientele_mt":
            p = p[p.provider_id.notna()]
        elif m.population == "seen":
            start = pd.Timestamp(Window(**PARAMETERS.value("seen_window")).start(ref))
            v = self.tables["visit_occurrence"]
            seen = v.loc[(v.visit_start_date >= start) & (v.visit_start_date <= pd.Timestamp(ref)), "person_id"]
            p = p[p.person_id.isin(seen)]
        if m.age.min is not None:
            p = p[p.age >= m.age.min]
        if m.age.max is not None:
            p = p[p.age <= m.age.max]
        if m.sex is not None:
            p = p[p.sex == m.sex]
        return p

    def concept_ids(self, name: str, vocabulary: str) -> set[int]:
        vs = value_set(name)
        if vocabulary not in vs.codes:
            return set()
        c = self.tables["concept"]
        c = c[c.vocabulary_id == vocabulary]
        return {int(i) for i, code in zip(c.concept_id, c.concept_code, strict=True) if vs.matches(vocabulary, code)}

    def leaf(self, c: Criterion, ref: dt.date, window: Window) -> pd.Series:
        """Persons meeting one leaf criterion (a boolean Series indexed by person_id)."""
        start = None if c.ever else pd.Timestamp((c.within or window).start(ref))
        if c.kind in EVENTS:
            name, date, columns = EVENTS[c.kind]
            events = self.tables[name]
            mask = np.zeros(len(events), dtype=bool)
            for vocabulary, cols in columns.items():
                ids = self.concept_ids(c.value_set, vocabulary)
                for col in cols:
                    mask |= events[col].isin(ids).to_numpy()
            events = events[mask]
            if c.episode is not None:
                return self.episodes(events, c, ref, start)
            in_window = events[
                (events[date] <= pd.Timestamp(ref)) & ((events[date] >= start) if start is not None else True)
            ]
            n = in_window.groupby("person_id")[date].nunique()
            return n >= c.min_count
        cov = self.tables["fr_coverage_period"]
        ts = pd.Timestamp(ref)
        first = pd.Timestamp((c.within or Window(days=1)).start(ref)) if not c.ever else None
        rows = cov[
            (cov.start_date <= ts) & ((cov.end_date.isna() | (cov.end_date >= first)) if first is not None else True)
        ]
        if c.kind == "coverage":
            rows = rows[rows.coverage_type == c.coverage]
        else:
            rows = rows[rows.coverage_type == "ALD"]
            if c.value_set is not None:
                vs = value_set(c.value_set)
                rows = rows[rows.cim10.fillna("").map(lambda code: vs.matches("CIM10", code))]
        n = rows.groupby("person_id").start_date.nunique()
        return n >= c.min_count

    def episodes(self, events: pd.DataFrame, c: Criterion, ref: dt.date, start: pd.Timestamp | None) -> pd.Series:
        e = events[events.drug_exposure_start_date <= pd.Timestamp(ref)].copy()
        e["s"] = (e.drug_exposure_start_date - pd.Timestamp("1970-01-01")).dt.days
        end = e.drug_exposure_end_date.fillna(e.drug_exposure_start_date)
        e["e"] = np.maximum((end - pd.Timestamp("1970-01-01")).dt.days, e.s)
        e = e.sort_values(["person_id", "s", "e", "drug_exposure_id"])
        reach = e.groupby("person_id").e.transform(lambda x: x.cummax().shift())
        e["episode"] = (reach.isna() | (e.s > reach + c.episode.gap_days)).astype(int).groupby(e.person_id).cumsum()
        ep = e.groupby(["person_id", "episode"]).agg(start=("s", "min"), end=("e", "max")).reset_index()
        ep["previous_end"] = ep.groupby("person_id").end.shift()
        first = (start.date() if start is not None else dt.date(1900, 1, 1)) - dt.date(1970, 1, 1)
        last = ref - dt.date(1970, 1, 1)
        ok = (ep.start >= first.days) & (ep.start <= last.days)
        ok &= ep.previous_end.isna() | (ep.start - ep.previous_end > c.episode.washout_days)
        if c.episode.min_days is not None:
            ok &= ep.end - ep.start + 1 >= c.episode.min_days
        n = ep[ok].groupby("person_id").size()
        return n >= c.min_count

    def holds(self, c: Criterion, ids: pd.Index, ref: dt.date, window: Window) -> np.ndarray:
        if c.any_of is not None:
            result = np.zeros(len(ids), dtype=bool)
            for child in c.any_of:
                result |= self.holds(child, ids, ref, window)
        elif c.all_of is not None:
            result = np.ones(len(ids), dtype=bool)
            for child in c.all_of:
                result &= self.holds(child, ids, ref, window)
        else:
            met = self.leaf(c, ref, window)
            result = np.asarray(ids.isin(met.index[met])) if len(met) else np.zeros(len(ids), dtype=bool)
        return ~result if c.negate else result

    def counts(self, m: Measure, period: Period) -> dict[str, int]:
        ref, window = period.end, period.window
        ip = self.initial_population(m, self.persons(ref), ref)
        ids = pd.Index(ip.person_id)
        denominator = np.ones(len(ids), dtype=bool)
        for c in m.denominator:
            denominator &= self.holds(c, ids, ref, window)
        excluded = np.zeros(len(ids), dtype=bool)
        for c in m.exclusions:
            excluded |= self.holds(c, ids, ref, window)
        excluded &= denominator
        numerator = denominator & ~excluded
        for c in m.numerator:
            numerator &= self.holds(c, ids, ref, window)
        return {"initial_population": len(ids), "denominator": int(denominator.sum()),
                "exclusions": int(excluded.sum()), "numerator": int(numerator.sum())}  # fmt: skip


__all__ = ["Baseline", "load", "minus"]
