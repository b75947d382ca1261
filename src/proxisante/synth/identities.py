"""Synthetic identities: names, NIR/INS, addresses and phone numbers (traits d'identité).

Why realistic identities for synthetic people: the identity vault, the INS checks and the
record-linkage code must see what real exports contain: accented names (Françoise, Lefèvre, Lecœur),
married names (nom d'usage) different from the birth name, two given names, children recorded
under a parent's carte Vitale NIR (ayant droit), people born abroad (department 99 in the NIR),
Corsica's 2A/2B. The names are common French names from ``data/names.csv``; any resemblance to a
real person is a coincidence of common names. Phone numbers are drawn from ranges set in
``parameters.yaml`` (meant to be the ranges reserved for fiction).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from proxisante.synth.codes import nir_key
from proxisante.synth.parameters import Parameters, data_csv
from proxisante.synth.timeline import DAYS_PER_YEAR, year_of

PAD2 = np.array([f"{i:02d}" for i in range(100)], dtype=object)
PAD3 = np.array([f"{i:03d}" for i in range(1000)], dtype=object)
PAD4 = np.array([f"{i:04d}" for i in range(10000)], dtype=object)

# The 96 departments of metropolitan France: 01-95 (20 split into 2A/2B in 1976). A rule of the
# INSEE code, not a figure.
METROPOLITAN = np.array([f"{i:02d}" for i in range(1, 96) if i != 20] + ["2A", "2B"], dtype=object)


@dataclass(frozen=True)
class _Pool:
    values: np.ndarray  # object array of str
    cumulative: np.ndarray

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        pick = np.searchsorted(self.cumulative, rng.random(size))
        return self.values[np.minimum(pick, len(self.values) - 1)]


def _pool(rows: list[dict[str, str]]) -> _Pool:
    weights = np.array([float(r["weight"]) for r in rows])
    return _Pool(np.array([r["name"] for r in rows], dtype=object), np.cumsum(weights / weights.sum()))


@dataclass(frozen=True)
class Names:
    """Name pools of ``data/names.csv``: family names, given names by sex and birth era, streets."""

    family: _Pool
    given: tuple[tuple[str, int, int, _Pool], ...]  # (sex, from_year, to_year, pool)
    street: _Pool
    street_type: _Pool

    def given_names(self, rng: np.random.Generator, female: np.ndarray, birth_year: np.ndarray) -> np.ndarray:
        out = np.empty(len(female), dtype=object)
        out[:] = None
        for sex, low, high, pool in self.given:
            mask = (female == (sex == "F")) & (birth_year >= low) & (birth_year <= high)
            if mask.any():
                out[mask] = pool.draw(rng, int(mask.sum()))
        missing = np.array([v is None for v in out], dtype=bool)
        if missing.any():  # outside every era: use the closest one (the oldest or the youngest)
            for i in np.flatnonzero(missing):
                candidates = [g for g in self.given if (g[0] == "F") == bool(female[i])]
                best = min(candidates, key=lambda g: min(abs(birth_year[i] - g[1]), abs(birth_year[i] - g[2])))
                out[i] = best[3].draw(rng, 1)[0]
        return out


@cache
def load_names() -> Names:
    with data_csv("names.csv") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["name"].encode("cp1252")  # every name must survive a Windows-1252 export
    given = []
    keys = sorted({(r["sex"], int(r["from_year"]), int(r["to_year"])) for r in rows if r["kind"] == "given"})
    for sex, low, high in keys:
        members = [
            r
            for r in rows
            if r["kind"] == "given" and (r["sex"], int(r["from_year"]), int(r["to_year"])) == (sex, low, high)
        ]
        given.append((sex, low, high, _pool(members)))
    return Names(
        family=_pool([r for r in rows if r["kind"] == "family"]),
        given=tuple(given),
        street=_pool([r for r in rows if r["kind"] == "street"]),
        street_type=_pool([r for r in rows if r["kind"] == "street_type"]),
    )


def _map(values: np.ndarray, function: Callable[[str], Any], dtype: Any = object) -> np.ndarray:
    """``function`` applied to each distinct value only (departments repeat for every patient)."""
    distinct, inverse = np.unique(values.astype(str), return_inverse=True)
    return np.array([function(v) for v in distinct], dtype=dtype)[inverse]


def join(*parts: pa.Array | np.ndarray, separator: str = "") -> pa.Array:
    """Element-wise concatenation of string arrays (null if any part is null)."""
    arrays = [p if isinstance(p, pa.Array) else pa.array(p, type=pa.string()) for p in parts]
    return pc.binary_join_element_wise(*arrays, separator)


def _birth_places(
    params: Parameters, rng: np.random.Generator, birth: np.ndarray, residence_department: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NIR birth department (2 characters), its numeric value for the key, and commune (3 digits)."""
    n = len(birth)
    identity = params.section("identity")
    abroad = rng.random(n) < identity["born_abroad_share"]["value"]
    local = rng.random(n) < identity["born_in_residence_department_share"]["value"]
    department = np.where(local, residence_department, METROPOLITAN[rng.integers(0, len(METROPOLITAN), n)])
    commune = rng.integers(1, 900, n)
    # Overseas departments (971...) are "97" in the NIR; their third digit starts the commune code.
    overseas = _map(department, lambda d: len(d) == 3, bool)
    if overseas.any():
        third = _map(department, lambda d: int(d[2]) if len(d) == 3 else 0, np.int64)
        commune = np.where(overseas, third * 100 + commune % 100, commune)
        department = np.where(overseas, "97", department)
    corsica = np.isin(department, ["2A", "2B"])
    split_year = identity["metropolitan_departments"]["corsica_split_year"]
    department = np.where(corsica & (year_of(birth) < split_year), "20", department)
    countries = params.choice("identity", "birth_countries")
    country = np.array(countries.options, dtype=object)[countries.draw(rng, n)]
    commune = np.where(abroad, _map(country, int, np.int64), commune)
    department = np.where(abroad, "99", department).astype(object)
    numeric = _map(department, lambda d: 19 if d == "2A" else 18 if d == "2B" else int(d), np.int64)
    return department, numeric, commune


def nir_numbers(
    params: Parameters,
    rng: np.random.Generator,
    female: np.ndarray,
    birth: np.ndarray,
    residence_department: np.ndarray,
) -> np.ndarray:
    """Well-formed NIRs (15 characters, valid key) for people born on ``birth`` (day numbers)."""
    n = len(birth)
    department, numeric, commune = _birth_places(params, rng, birth, residence_department)
    days = birth.astype("datetime64[D]")
    year = days.astype("datetime64[Y]").astype(np.int64) + 1970
    month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    sex = np.where(female, 2, 1)
    order = rng.integers(1, 1000, n)
    yy = year % 100
    number = sex * 10**12 + yy * 10**10 + month * 10**8 + numeric * 10**6 + commune * 10**3 + order
    body = sex.astype(str).astype(object) + PAD2[yy] + PAD2[month] + department + PAD3[commune] + PAD3[order]
    key = 97 - number % 97
    out = body + PAD2[key]
    assert np.all(nir_key(body.astype("U13")) == key)
    return out


def patient_identities(
    params: Parameters,
    rng: np.random.Generator,
    female: np.ndarray,
    birth: np.ndarray,
    department: np.ndarray,
    postcode: np.ndarray,
    commune_insee: np.ndarray,
    as_of: int,
) -> dict[str, pa.Array]:
    """The identifying columns of the patients table for one chunk of patients."""
    names = load_names()
    identity = params.section("identity")
    n = len(birth)
    v = {k: node["value"] for k, node in identity.items() if isinstance(node, dict) and "value" in node}

    own_nir = nir_numbers(params, rng, female, birth, department)
    age = (as_of - birth) / DAYS_PER_YEAR
    low, high = v["parent_age_gap_years"]
    parent_birth = (birth - np.floor((low + rng.random(n) * (high - low)) * DAYS_PER_YEAR)).astype(np.int64)
    parent_nir = nir_numbers(params, rng, rng.random(n) < 0.5, parent_birth, department)
    minor = age < v["minor_parent_nir_max_age"]
    vitale = np.where(minor & (rng.random(n) < v["minor_parent_nir_share"]), parent_nir, own_nir)
    ins_filled = rng.random(n) < v["ins_qualified_share"]
    nir_filled = (rng.random(n) < v["nir_filled_share"]) | ~ins_filled
    ins = pa.array(own_nir, type=pa.string(), mask=~ins_filled)
    nir = pa.array(vitale, type=pa.string(), mask=~nir_filled)

    birth_name = names.family.draw(rng, n)
    married = female & (age >= v["married_name_min_age"]) & (rng.random(n) < v["married_name_share"])
    family_name = np.where(married, names.family.draw(rng, n), birth_name)
    birth_year = year_of(birth)
    first = names.given_names(rng, female, birth_year)
    second = names.given_names(rng, female, birth_year)
    two = (rng.random(n) < v["two_given_names_share"]) & (first != second)
    given = np.where(two, first + " " + second, first)

    number = np.minimum(np.floor(np.exp(rng.random(n) * 5.0)).astype(np.int64), 999)
    street = names.street_type.draw(rng, n) + " " + names.street.draw(rng, n)
    address = number.astype(str).astype(object) + " " + street
    complement = rng.random(n) < v["address_complement_share"]
    flat = np.where(
        rng.random(n) < 0.5,
        "Apt " + rng.integers(1, 60, n).astype(str).astype(object),
        "Bât. " + np.array(list("ABCDEF"), dtype=object)[rng.integers(0, 6, n)],
    )
    address = np.where(complement, address + ", " + flat, address)

    phone = _phones(params, rng, department)
    return {
        "ins": ins,
        "nir": nir,
        "family_name": pa.array(family_name, type=pa.string()),
        "birth_name": pa.array(birth_name, type=pa.string()),
        "given_names": pa.array(given, type=pa.string()),
        "address": pa.array(address, type=pa.string()),
        "postcode": pa.array(postcode, type=pa.string(), mask=postcode == ""),
        "commune_insee": pa.array(commune_insee, type=pa.string()),
        "phone": phone,
    }


def _phones(params: Parameters, rng: np.random.Generator, department: np.ndarray) -> pa.Array:
    identity = params.section("identity")
    n = len(department)
    prefixes = identity["phone_prefixes"]
    mobile_prefix = np.array([p.replace(" ", "") for p in prefixes["mobile"]], dtype=object)
    zones = identity["landline_zone_by_department"]
    zone_of = {d: zone for zone, departments in zones.items() if zone != "source" for d in departments}
    landline = {zone: p.replace(" ", "") for zone, p in prefixes["landline"].items()}
    fixed = _map(department, lambda d: landline[zone_of.get(d, "1")])
    mobile = rng.random(n) < identity["mobile_share"]["value"]
    prefix = np.where(mobile, mobile_prefix[rng.integers(0, len(mobile_prefix), n)], fixed)
    phone = prefix + PAD4[rng.integers(0, 10000, n)]
    missing = rng.random(n) < identity["phone_missing_share"]["value"]
    return pa.array(phone, type=pa.string(), mask=missing)


def professional_names(
    rng: np.random.Generator, female: np.ndarray, birth_year: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    names = load_names()
    return names.family.draw(rng, len(female)), names.given_names(rng, female, birth_year)
