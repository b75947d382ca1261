"""Travel times between communes, kept sparse: only the pairs within the largest catchment.

By default a time is the great-circle distance between the representative points × a detour factor
÷ a mean speed (``travel_detour_factor``, ``travel_speed_kmh``: parameters, both modelling choices
marked unconfirmed). A user may give a travel-time matrix instead (CSV ``origin;dest;minutes`` of
INSEE codes), such as the INSEE "Metric" times the DREES uses.

The pairs are found without a loop over communes: points are put in grid cells as wide as the
search radius, sorted by cell, and each point is matched against the sorted runs of its cell and four of the
eight around it (``np.searchsorted`` + ``np.repeat``), so that each pair is found once, then mirrored;
only those candidates get a haversine distance.
Every pair appears in both directions, and every commune with itself (0 minutes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from proxisante.definitions import ParameterFile

PARAMETERS = ParameterFile(__package__)
EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG), a physical constant, not a policy parameter
KM_PER_DEGREE = np.pi * EARTH_RADIUS_KM / 180


@dataclass(frozen=True)
class Pairs:
    """Sparse travel times: ``origin[k]`` → ``dest[k]`` in ``minutes[k]`` (indices into the communes)."""

    origin: np.ndarray
    dest: np.ndarray
    minutes: np.ndarray
    max_minutes: float
    source: str

    def __len__(self) -> int:
        return len(self.origin)


def minutes_per_km() -> float:
    """Minutes of road per km of great-circle distance: detour factor ÷ speed × 60."""
    return float(PARAMETERS.value("travel_detour_factor")) / float(PARAMETERS.value("travel_speed_kmh")) * 60


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in km between arrays of points in degrees."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(lon2 - lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def neighbour_pairs(lat: np.ndarray, lon: np.ndarray, radius_km: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (i, j, km) with great-circle distance ≤ ``radius_km``, i ≠ j and i = j, both directions.

    Grid cells are ``radius_km`` tall in latitude and ``radius_km`` wide at the highest latitude of the
    points (so at least as wide everywhere): any pair within the radius lies in adjacent cells. No
    wrap-around at ±180° (France's territories do not straddle it).
    """
    lat = np.asarray(lat, dtype="float64")
    lon = np.asarray(lon, dtype="float64")
    n = len(lat)
    if n == 0:
        empty = np.empty(0, dtype="int64")
        return empty, empty, np.empty(0)
    cell_lat = radius_km / KM_PER_DEGREE
    cos_max = max(np.cos(np.radians(min(np.abs(lat).max(), 89.0))), 1e-6)
    cell_lon = cell_lat / cos_max
    gy = np.floor(lat / cell_lat).astype("int64")
    gx = np.floor(lon / cell_lon).astype("int64")
    gy -= gy.min() - 1
    gx -= gx.min() - 1
    width = gx.max() + 2
    key = gy * width + gx
    order = np.argsort(key, kind="stable")
    sorted_keys = key[order]
    origins, dests, kms = [], [], []
    # half of the neighbourhood (the cell itself and four of its eight neighbours), then mirrored
    for dy, dx in ((0, 0), (0, 1), (1, -1), (1, 0), (1, 1)):
        target = key + dy * width + dx
        start = np.searchsorted(sorted_keys, target, side="left")
        stop = np.searchsorted(sorted_keys, target, side="right")
        counts = stop - start
        total = int(counts.sum())
        if total == 0:
            continue
        i = np.repeat(np.arange(n, dtype="int64"), counts)
        offsets = np.arange(total, dtype="int64") - np.repeat(np.cumsum(counts) - counts, counts)
        j = order[np.repeat(start, counts) + offsets]
        if dy == 0 and dx == 0:
            upper = i < j
            i, j = i[upper], j[upper]
        km = haversine_km(lat[i], lon[i], lat[j], lon[j])
        keep = km <= radius_km
        origins.append(i[keep])
        dests.append(j[keep])
        kms.append(km[keep])
    i = np.concatenate(origins)
    j = np.concatenate(dests)
    km = np.concatenate(kms)
    self_pairs = np.arange(n, dtype="int64")
    i, j = np.concatenate([i, j, self_pairs]), np.concatenate([j, i, self_pairs])
    km = np.concatenate([km, km, np.zeros(n)])
    return i, j, km


def estimated_pairs(communes: pd.DataFrame, max_minutes: float) -> Pairs:
    """Pairs of communes within ``max_minutes`` by the great-circle estimate."""
    per_km = minutes_per_km()
    i, j, km = neighbour_pairs(communes["lat"].to_numpy(), communes["lon"].to_numpy(), max_minutes / per_km)
    minutes = km * per_km
    keep = minutes <= max_minutes
    return Pairs(i[keep], j[keep], minutes[keep], max_minutes, "estimated")


def matrix_pairs(communes: pd.DataFrame, path: Path, max_minutes: float) -> Pairs:
    """Pairs from a user's travel-time file (``origin``, ``dest``, ``minutes``; ``;`` or ``,``), made symmetric
    where only one direction is given, each commune with itself at 0 minutes."""
    frame = pd.read_csv(path, sep=None, engine="python", dtype={"origin": "string", "dest": "string"})
    missing = {"origin", "dest", "minutes"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path}: colonnes manquantes: {', '.join(sorted(missing))}")
    index = pd.Series(np.arange(len(communes)), index=communes["code"].astype("string"))
    frame = frame[frame["origin"].isin(index.index) & frame["dest"].isin(index.index)]
    frame = frame[pd.to_numeric(frame["minutes"]) <= max_minutes]
    i = index[frame["origin"]].to_numpy()
    j = index[frame["dest"]].to_numpy()
    m = pd.to_numeric(frame["minutes"]).to_numpy(dtype="float64")
    n = len(communes)
    both = pd.DataFrame(
        {
            "i": np.concatenate([i, j, np.arange(n)]),
            "j": np.concatenate([j, i, np.arange(n)]),
            "m": np.concatenate([m, m, np.zeros(n)]),
        }
    )
    both = both.drop_duplicates(["i", "j"], keep="first")  # a given direction wins over the mirrored one
    both.loc[both["i"] == both["j"], "m"] = 0.0
    return Pairs(both["i"].to_numpy(), both["j"].to_numpy(), both["m"].to_numpy(), max_minutes, str(path))
