"""Where the synthetic patients live: real communes around the centre.

Why real communes: the territorial tools (APL, CPTS diagnosis, maps) join patients to INSEE commune
codes and postcodes; fake codes would make them useless on synthetic data. ``data/communes.csv`` is
a small extract (see ``build_communes.py``) of the communes within ``radius_km`` of a few candidate
centre communes. A patient's commune is drawn with a gravity weight: population x exp(-distance /
decay), the centre's own commune weighted up (people use the centre nearest to home).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

import numpy as np

from proxisante.synth.parameters import Parameters, data_csv


@dataclass(frozen=True)
class Communes:
    """The shipped extract, one entry per commune (arrays aligned)."""

    insee: np.ndarray
    name: np.ndarray
    department: np.ndarray
    population: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray
    postcode: np.ndarray  # "" when unknown

    def index(self, insee: str) -> int:
        hits = np.flatnonzero(self.insee == insee)
        if len(hits) == 0:
            raise KeyError(insee)
        return int(hits[0])


@dataclass(frozen=True)
class Catchment:
    """The communes patients of one centre come from, with their drawing weights."""

    centre: int  # index in ``communes`` of the centre's commune
    members: np.ndarray  # indices into ``communes``
    weights: np.ndarray  # normalised, aligned with members
    distance_km: np.ndarray
    communes: Communes

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Commune indices (into ``communes``) for ``size`` patients."""
        pick = np.searchsorted(np.cumsum(self.weights), rng.random(size))
        return self.members[np.minimum(pick, len(self.members) - 1)]


@cache
def load_communes() -> Communes:
    with data_csv("communes.csv") as handle:
        rows = list(csv.DictReader(handle))
    return Communes(
        insee=np.array([r["insee"] for r in rows]),
        name=np.array([r["name"] for r in rows]),
        department=np.array([r["department"] for r in rows]),
        population=np.array([int(r["population"]) for r in rows], dtype=np.float64),
        latitude=np.array([float(r["latitude"]) for r in rows]),
        longitude=np.array([float(r["longitude"]) for r in rows]),
        postcode=np.array([r["postcode"] for r in rows]),
    )


def distance_km(lat1: float, lon1: float, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Great-circle distances (haversine) from one point."""
    p1, p2 = np.radians(lat1), np.radians(lat)
    dp, dl = p2 - p1, np.radians(lon - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(a))


def catchment(params: Parameters, centre_insee: str) -> Catchment:
    """The weighted communes around ``centre_insee`` (which must be in the shipped extract)."""
    communes = load_communes()
    geo = params.geography
    try:
        centre = communes.index(centre_insee)
    except KeyError:
        known = ", ".join(f"{c.insee} ({c.label})" for c in geo.candidates)
        raise ValueError(
            f"commune {centre_insee!r} is not in the shipped extract data/communes.csv; candidates: {known}"
        ) from None
    decay = next(
        (c.distance_decay_km for c in geo.candidates if c.insee == centre_insee), geo.default_distance_decay_km
    )
    d = distance_km(communes.latitude[centre], communes.longitude[centre], communes.latitude, communes.longitude)
    members = np.flatnonzero((d <= geo.radius_km) & (communes.population > 0))
    weights = communes.population[members] * np.exp(-d[members] / decay)
    weights[members == centre] *= geo.home_commune_weight
    return Catchment(centre, members, weights / weights.sum(), d[members], communes)
