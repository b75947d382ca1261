"""Typed view of ``parameters.yaml``, the figures of the synthetic centre.

Why a typed layer: the generator is vectorised, so it wants ready-to-use numpy tables (an age table
looked up for a million patients at once, a tariff looked up by date for ten million acts), and a
typo in the YAML should fail when the file is loaded, not halfway through a million patients.

Every figure lives in the YAML file with its source; :mod:`proxisante.definitions` reads the file,
the ``{value, source}`` figures and the dated tariff lists, and this module only gives them shape. Dates are kept
as day numbers since 1970-01-01 (numpy ``datetime64[D]`` integers) because that is what the
vectorised code compares.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from proxisante.definitions import DefinitionError, dated_values, load_yaml, sourced_value

_HERE = resources.files(__package__)
DATA = _HERE / "data"
EPOCH = date(1970, 1, 1)


def data_csv(name: str) -> io.StringIO:
    """``data/<name>`` for the csv module: decoded as UTF-8, line ends kept as they are (as with
    ``open(newline="")``, which a packaged resource's ``open`` does not take)."""
    return io.StringIO((DATA / name).read_bytes().decode("utf-8"), newline="")


def day_number(value: date) -> int:
    """Days since 1970-01-01 (the integer behind numpy's ``datetime64[D]`` and Arrow's ``date32``)."""
    return (value - EPOCH).days


class ParameterError(DefinitionError):
    """``parameters.yaml`` does not have the expected shape."""


@dataclass(frozen=True)
class AgeTable:
    """A value per age band and sex (lower bounds of the bands in years)."""

    ages: np.ndarray
    male: np.ndarray
    female: np.ndarray

    @classmethod
    def parse(cls, node: Any, name: str) -> AgeTable:
        if isinstance(node, int | float):
            return cls(np.array([0.0]), np.array([float(node)]), np.array([float(node)]))
        try:
            ages = np.asarray(node["ages"], dtype=np.float64)
            if "male" in node:
                male = np.asarray(node["male"], dtype=np.float64)
                female = np.asarray(node["female"], dtype=np.float64)
            else:
                overall = np.asarray(node["all"], dtype=np.float64)
                ratio = float(node.get("male_ratio", 1.0))
                male, female = overall * 2 * ratio / (1 + ratio), overall * 2 / (1 + ratio)
        except (KeyError, TypeError) as exc:
            raise ParameterError(f"{name}: not an age table ({exc})") from exc
        if not (len(ages) == len(male) == len(female)) or ages[0] != 0 or np.any(np.diff(ages) <= 0):
            raise ParameterError(f"{name}: ages must start at 0, increase, and match the values")
        return cls(ages, male, female)

    def at(self, age_years: np.ndarray, female: np.ndarray) -> np.ndarray:
        """The value for each (age, sex) pair."""
        band = np.clip(np.searchsorted(self.ages, age_years, side="right") - 1, 0, len(self.ages) - 1)
        return np.where(female, self.female[band], self.male[band])


@dataclass(frozen=True)
class Choice:
    """A categorical distribution: options and normalised weights."""

    options: tuple[Any, ...]
    weights: np.ndarray

    @classmethod
    def parse(cls, node: Any, name: str) -> Choice:
        mapping = node.get("values", node) if isinstance(node, dict) else None
        if not isinstance(mapping, dict) or not mapping:
            raise ParameterError(f"{name}: expected a mapping option -> weight")
        mapping = {k: v for k, v in mapping.items() if k not in ("source", "year")}
        weights = np.asarray(list(mapping.values()), dtype=np.float64)
        if np.any(weights < 0) or weights.sum() <= 0:
            raise ParameterError(f"{name}: weights must be non-negative and not all zero")
        return cls(tuple(mapping), weights / weights.sum())

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Indices into ``options``."""
        return np.minimum(np.searchsorted(np.cumsum(self.weights), rng.random(size)), len(self.options) - 1)


@dataclass(frozen=True)
class Tariff:
    """Amount of one act code by date (each amount is valid from its date until the next one)."""

    code: str
    starts: np.ndarray  # day numbers
    amounts: np.ndarray

    def at(self, days: np.ndarray) -> np.ndarray:
        """Amounts at each date; NaN before the first date (the act did not exist)."""
        index = np.searchsorted(self.starts, days, side="right") - 1
        return np.where(index >= 0, self.amounts[np.maximum(index, 0)], np.nan)


@dataclass(frozen=True)
class TreatmentGroup:
    """With ``probability``, one drug of ``choose`` (e.g. one statin among four)."""

    probability: float
    choose: Choice


def _groups(items: Any, name: str) -> tuple[TreatmentGroup, ...]:
    return tuple(
        TreatmentGroup(float(g["probability"]), Choice.parse(g["choose"], f"{name}[{i}]"))
        for i, g in enumerate(items or ())
    )


@dataclass(frozen=True)
class Condition:
    """A chronic condition (maladie chronique), its prevalence, ALD and treatments."""

    name: str
    label: str
    cim10: Choice
    prevalence: AgeTable
    sex: str | None
    incident_share: float
    ald_probability: float
    ald_number: int | None
    ald_numbers: dict[str, int]
    extra_gp_visits: float
    flu_at_risk: bool
    cardiac: bool
    nurse_probability: float
    treatments: tuple[TreatmentGroup, ...]

    def ald_number_of(self, code: str) -> int | None:
        return self.ald_numbers.get(code[:3], self.ald_number)


@dataclass(frozen=True)
class AcuteProblem:
    """A common acute reason for a GP contact (motif aigu) and what is prescribed for it."""

    cim10: str
    weight: float
    child: float
    elderly: float
    winter: float
    sex: str | None
    prescriptions: tuple[TreatmentGroup, ...]


@dataclass(frozen=True)
class Drug:
    """A drug pack of ``data/drugs.csv`` (CIP13 synthetic but well-formed, ATC real)."""

    key: str
    atc: str
    label: str
    cip13: str
    days_per_pack: int
    max_duration_days: int
    acute_duration_days: int


@dataclass(frozen=True)
class LabTest:
    """One laboratory analyte: NABM act, LOINC code, unit and a value model."""

    name: str
    nabm: str
    loinc: str
    unit: str
    mean: float
    sd_patient: float
    sd_test: float
    low: float
    high: float
    decimals: int
    age_slope: float
    log: bool


@dataclass(frozen=True)
class FollowUpRule:
    """Patients with one of ``conditions`` (or ``drugs``) get ``tests`` at a personal interval."""

    name: str
    conditions: tuple[str, ...]
    drugs: tuple[str, ...]
    min_age: float
    tests: tuple[str, ...]
    probability: float
    intervals: Choice


@dataclass(frozen=True)
class Episode:
    """Episodes of care with a non-GP professional (kiné, sage-femme, psychologue...)."""

    name: str
    profession: str
    code: str
    sex: str | None
    conditions: tuple[str, ...]
    min_age: float
    rate: AgeTable
    sessions: tuple[int, int]
    spacing_days: tuple[int, int]


@dataclass(frozen=True)
class ScheduleItem:
    """One dose of the vaccination calendar, given at ``age_days`` plus up to ``jitter_days``."""

    vaccine: str
    age_days: int
    jitter_days: int
    coverage_male: float
    coverage_female: float
    from_day: int | None


@dataclass(frozen=True)
class Candidate:
    """A candidate centre commune shipped in ``data/communes.csv``."""

    insee: str
    label: str
    kind: str
    distance_decay_km: float
    default: bool


@dataclass(frozen=True)
class Geography:
    radius_km: float
    extract_margin_km: float
    home_commune_weight: float
    default_distance_decay_km: float
    candidates: tuple[Candidate, ...]

    @property
    def default_commune(self) -> str:
        return next(c.insee for c in self.candidates if c.default)


@dataclass(frozen=True)
class Parameters:
    """All parameters. Sections that are simple mappings stay mappings (``raw``)."""

    raw: dict[str, Any]
    geography: Geography
    pyramid: AgeTable  # thousands of people
    mortality: AgeTable  # deaths per 1,000 per year
    conditions: tuple[Condition, ...]
    acute: tuple[AcuteProblem, ...]
    drugs: tuple[Drug, ...]
    tariffs: dict[str, Tariff]
    amo_rate_default: float
    amo_rate_by_code: dict[str, float]
    lab_tests: dict[str, LabTest]
    lab_panels: dict[str, tuple[str, ...]]
    follow_up: tuple[FollowUpRule, ...]
    episodes: tuple[Episode, ...]
    schedule: tuple[ScheduleItem, ...]

    def value(self, *path: str) -> Any:
        """A scalar parameter (``{value: ..., source: ...}``) by its path."""
        node: Any = self.raw
        for key in path:
            node = node[key]
        return sourced_value(node, ".".join(path))

    def section(self, *path: str) -> Any:
        node: Any = self.raw
        for key in path:
            node = node[key]
        return node

    def table(self, *path: str) -> AgeTable:
        return AgeTable.parse(self.section(*path), ".".join(path))

    def choice(self, *path: str) -> Choice:
        return Choice.parse(self.section(*path), ".".join(path))

    def condition_index(self, name: str) -> int:
        for i, condition in enumerate(self.conditions):
            if condition.name == name:
                return i
        raise ParameterError(f"unknown condition {name!r}")

    def drug_index(self, key: str) -> int:
        for i, drug in enumerate(self.drugs):
            if drug.key == key:
                return i
        raise ParameterError(f"unknown drug {key!r} (not in data/drugs.csv)")


def _conditions(node: dict[str, Any]) -> tuple[Condition, ...]:
    out = []
    for name, c in node["items"].items():
        ald = c.get("ald") or {}
        out.append(
            Condition(
                name=name,
                label=c["label"],
                cim10=Choice.parse(c["cim10"], f"{name}.cim10"),
                prevalence=AgeTable.parse(c["prevalence"], f"{name}.prevalence"),
                sex=c.get("sex"),
                incident_share=float(c.get("incident_share", 0.0)),
                ald_probability=float(ald.get("probability", 0.0)),
                ald_number=ald.get("number"),
                ald_numbers={str(k): int(v) for k, v in (c.get("ald_numbers") or {}).items()},
                extra_gp_visits=float(c.get("extra_gp_visits", 0.0)),
                flu_at_risk=bool(c.get("flu_at_risk", False)),
                cardiac=bool(c.get("cardiac", False)),
                nurse_probability=float(c.get("nurse_probability", 0.0)),
                treatments=_groups(c.get("treatments"), f"{name}.treatments"),
            )
        )
    return tuple(out)


def _acute(node: dict[str, Any]) -> tuple[AcuteProblem, ...]:
    return tuple(
        AcuteProblem(
            cim10=str(code),
            weight=float(p["weight"]),
            child=float(p.get("child", 1.0)),
            elderly=float(p.get("elderly", 1.0)),
            winter=float(p.get("winter", 1.0)),
            sex=p.get("sex"),
            prescriptions=_groups(p.get("prescriptions"), f"acute.{code}"),
        )
        for code, p in node["problems"].items()
    )


def _drugs() -> tuple[Drug, ...]:
    with data_csv("drugs.csv") as handle:
        return tuple(
            Drug(
                r["key"],
                r["atc"],
                r["label"],
                r["cip13"],
                int(r["days_per_pack"]),
                int(r["max_duration_days"]),
                int(r["acute_duration_days"]),
            )
            for r in csv.DictReader(handle)
        )


def _tariffs(node: dict[str, Any]) -> dict[str, Tariff]:
    out = {}
    for code, steps in node.items():
        if not isinstance(steps, list):
            continue
        dated = dated_values(steps, f"tariffs.{code}")
        starts = np.array([day_number(since) for since, _ in dated], dtype=np.int64)
        amounts = np.array([float(amount) for _, amount in dated])
        out[code] = Tariff(code, starts, amounts)
    return out


def _lab_tests(node: dict[str, Any]) -> dict[str, LabTest]:
    return {
        name: LabTest(
            name,
            str(t["nabm"]),
            str(t["loinc"]),
            str(t["unit"]),
            float(t["mean"]),
            float(t["sd_patient"]),
            float(t["sd_test"]),
            float(t["min"]),
            float(t["max"]),
            int(t["decimals"]),
            float(t.get("age_slope", 0.0)),
            bool(t.get("log", False)),
        )
        for name, t in node.items()
    }


def _episodes(node: dict[str, Any]) -> tuple[Episode, ...]:
    out = []
    for name, e in node.items():
        if not isinstance(e, dict):
            continue
        out.append(
            Episode(
                name=name,
                profession=name.split("_")[0],
                code=e["code"],
                sex=e.get("sex"),
                conditions=tuple(e.get("conditions", ())),
                min_age=float(e.get("min_age", 0)),
                rate=AgeTable.parse(e["rate_per_year"], f"episodes.{name}"),
                sessions=(int(e["sessions"][0]), int(e["sessions"][1])),
                spacing_days=(int(e["spacing_days"][0]), int(e["spacing_days"][1])),
            )
        )
    return tuple(out)


def _schedule(items: list[dict[str, Any]]) -> tuple[ScheduleItem, ...]:
    out = []
    for item in items:
        coverage = item["coverage"]
        male, female = (
            (float(coverage["M"]), float(coverage["F"])) if isinstance(coverage, dict) else (coverage, coverage)
        )
        start = item.get("from")
        out.append(
            ScheduleItem(
                item["vaccine"],
                int(item["age_days"]),
                int(item["jitter_days"]),
                float(male),
                float(female),
                day_number(start) if start else None,
            )
        )
    return tuple(out)


def parse(raw: dict[str, Any]) -> Parameters:
    """Build typed parameters from the YAML mapping (and ``data/drugs.csv``)."""
    geo = raw["geography"]
    geography = Geography(
        radius_km=float(sourced_value(geo["radius_km"], "geography.radius_km")),
        extract_margin_km=float(sourced_value(geo["extract_margin_km"], "geography.extract_margin_km")),
        home_commune_weight=float(sourced_value(geo["home_commune_weight"], "geography.home_commune_weight")),
        default_distance_decay_km=float(
            sourced_value(geo["default_distance_decay_km"], "geography.default_distance_decay_km")
        ),
        candidates=tuple(
            Candidate(
                str(c["insee"]),
                c["label"],
                c["kind"],
                float(c["distance_decay_km"]),
                bool(c.get("default", False)),
            )
            for c in geo["candidates"]
        ),
    )
    drugs = _drugs()
    tariffs = raw["tariffs"]
    labs = raw["labs"]
    params = Parameters(
        raw=raw,
        geography=geography,
        pyramid=AgeTable.parse(raw["population"]["pyramid"], "population.pyramid"),
        mortality=AgeTable.parse(raw["population"]["mortality"], "population.mortality"),
        conditions=_conditions(raw["conditions"]),
        acute=_acute(raw["acute"]),
        drugs=drugs,
        tariffs=_tariffs(tariffs),
        amo_rate_default=float(tariffs["amo_rate"]["default"]),
        amo_rate_by_code={str(k): float(v) for k, v in tariffs["amo_rate"]["by_code"].items()},
        lab_tests=_lab_tests(labs["tests"]),
        lab_panels={k: tuple(v) for k, v in labs["panels"].items()},
        follow_up=tuple(
            FollowUpRule(
                r["name"],
                tuple(r.get("conditions", ())),
                tuple(r.get("drugs", ())),
                float(r.get("min_age", 0)),
                tuple(r["tests"]),
                float(r["probability"]),
                Choice.parse(r["intervals"], f"labs.follow_up.{r['name']}"),
            )
            for r in labs["follow_up"]
        ),
        episodes=_episodes(raw["encounters"]["episodes"]),
        schedule=_schedule(raw["vaccinations"]["schedule"]["items"]),
    )
    _check_references(params)
    return params


def _check_references(params: Parameters) -> None:
    """Fail early on a drug, condition or test name that does not exist."""
    names = {c.name for c in params.conditions}
    groups = [g for c in params.conditions for g in c.treatments]
    groups += [g for a in params.acute for g in a.prescriptions]
    for group in groups:
        for key in group.choose.options:
            params.drug_index(key)
    for rule in params.follow_up:
        for name in rule.conditions:
            if name not in names:
                raise ParameterError(f"labs.follow_up.{rule.name}: unknown condition {name!r}")
        for key in rule.drugs:
            params.drug_index(key)
        for test in rule.tests:
            if test not in params.lab_tests and test not in params.lab_panels:
                raise ParameterError(f"labs.follow_up.{rule.name}: unknown test {test!r}")
    for episode in params.episodes:
        for name in episode.conditions:
            if name not in names:
                raise ParameterError(f"encounters.episodes.{episode.name}: unknown condition {name!r}")
    for item in params.schedule:
        params.drug_index(item.vaccine)


@cache
def load_parameters(path: str | None = None) -> Parameters:
    """Parameters from ``parameters.yaml`` next to this module (or from ``path``); cached."""
    # The C loader when PyYAML has it (10x faster than the pure-Python one, same result).
    return parse(load_yaml(Path(path) if path else _HERE / "parameters.yaml", fast=True))
