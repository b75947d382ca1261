"""Supply: general practitioners per commune, in full-time equivalents (FTE).

Three sources:

- a simple CSV (``commune`` INSEE code, and ``etp`` or ``actes`` per practitioner or per commune,
  optionally ``age``): acts are converted to FTE by the DREES rule of the parameters (fewer than
  ``fte_min_acts`` acts: not counted; otherwise acts ÷ ``consultations_per_fte``, capped at
  ``fte_cap``); practitioners older than ``max_practitioner_age`` are left out when an age is given;
- the public extract of the annuaire santé (RPPS, ``PS_LibreAcces_Personne_activite``, ``|``
  separated): médecins (profession 10) with the savoir-faire médecine générale (SM54), by the commune
  of each activity site; a practitioner's one FTE is split between his sites (the extract has neither
  activity volumes nor ages, and the outputs say so);
- a synthetic supply spread from population by seeded rules (parameters ``synthetic_*``), for the
  demo and the bench when no real file is given: every title built on it says so. GPs practise in
  local centres (a town, or the largest commune of its surroundings, the bourg of rural areas) and
  serve the communes around them, so that a rural département has GPs where a real one has them and
  hardly any commune is left without one within reach (a few mountain hamlets and islands).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from proxisante.definitions import ParameterFile
from proxisante.territory.travel import neighbour_pairs

if TYPE_CHECKING:
    from proxisante.warehouse.tables import Tables

PARAMETERS = ParameterFile(__package__)

RPPS_ID = "Identifiant PP"
RPPS_PROFESSION = "Code profession"
RPPS_SKILL = "Code savoir-faire"
RPPS_COMMUNE = "Code commune (coord. structure)"
GP_PROFESSION = "10"
GP_SKILL = "SM54"
SYNTHETIC_SEED = 2026
GP_CODE = "MG"  # the profession code of general practitioners in vocab/data/professions.csv


@dataclass
class Supply:
    """GP FTE by commune code, and what they stand on."""

    fte: pd.Series
    label: str
    synthetic: bool = False
    notes: list[str] = field(default_factory=list)
    parameters: list[str] = field(default_factory=list)

    def on(self, codes: pd.Series) -> np.ndarray:
        """FTE aligned on ``codes`` (0 where a commune has none)."""
        return self.fte.reindex(codes.astype("string").to_numpy()).fillna(0.0).to_numpy(dtype="float64")


def acts_to_fte(acts: pd.Series) -> pd.Series:
    """The DREES conversion of yearly acts to FTE (``fte_min_acts``, ``consultations_per_fte``, ``fte_cap``)."""
    acts = pd.to_numeric(acts).astype("float64")
    fte = (acts / float(PARAMETERS.value("consultations_per_fte"))).clip(upper=float(PARAMETERS.value("fte_cap")))
    return fte.where(acts >= float(PARAMETERS.value("fte_min_acts")), 0.0)


def read_supply_csv(path: Path) -> Supply:
    """A simple supply file: ``commune`` and ``etp`` or ``actes`` (per row), optional ``age``."""
    frame = pd.read_csv(path, sep=None, engine="python", dtype={"commune": "string"})
    frame.columns = [c.strip().lower() for c in frame.columns]
    if "commune" not in frame.columns or not ({"etp", "actes"} & set(frame.columns)):
        raise ValueError(f"{path}: il faut une colonne commune et une colonne etp ou actes")
    notes, parameters = [], []
    if "age" in frame.columns:
        limit = int(PARAMETERS.value("max_practitioner_age"))
        frame = frame[pd.to_numeric(frame["age"]).fillna(0) <= limit]
        parameters.append("max_practitioner_age")
    else:
        notes.append("âge des médecins inconnu : les plus de 65 ans sont comptés")
    if "actes" in frame.columns:
        fte = acts_to_fte(frame["actes"])
        parameters += ["consultations_per_fte", "fte_min_acts", "fte_cap"]
    else:
        fte = pd.to_numeric(frame["etp"]).astype("float64")
    series = fte.groupby(frame["commune"].str.strip()).sum()
    return Supply(series, f"offre : {path.name}", notes=notes, parameters=parameters)


def read_rpps_extract(path: Path) -> Supply:
    """GPs of the public annuaire santé extract, one FTE per practitioner split between his sites."""
    frame = pd.read_csv(
        path,
        sep="|",
        dtype="string",
        encoding="utf-8",
        keep_default_na=False,
        usecols=lambda c: c in (RPPS_ID, RPPS_PROFESSION, RPPS_SKILL, RPPS_COMMUNE),
    )
    missing = {RPPS_ID, RPPS_PROFESSION, RPPS_SKILL, RPPS_COMMUNE} - set(frame.columns)
    if missing:
        raise ValueError(f"{path}: colonnes de l'extraction RPPS manquantes: {', '.join(sorted(missing))}")
    gps = frame[(frame[RPPS_PROFESSION] == GP_PROFESSION) & (frame[RPPS_SKILL] == GP_SKILL)]
    gps = gps[gps[RPPS_COMMUNE] != ""].drop_duplicates([RPPS_ID, RPPS_COMMUNE])
    share = 1.0 / gps.groupby(RPPS_ID)[RPPS_COMMUNE].transform("size")
    series = share.groupby(gps[RPPS_COMMUNE]).sum()
    notes = ["extraction RPPS : 1 ETP par médecin (pas de volume d'activité), âge inconnu"]
    return Supply(series.astype("float64"), f"offre : annuaire santé ({path.name})", notes=notes)


def read_supply(path: Path) -> Supply:
    """A supply file of either layout (the RPPS extract is recognised by its header)."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        header = handle.readline()
    return read_rpps_extract(path) if RPPS_PROFESSION in header else read_supply_csv(path)


def synthetic_supply(communes: pd.DataFrame, seed: int = SYNTHETIC_SEED) -> Supply:
    """GP FTE spread from population over local centres (:func:`local_centres`), each in proportion to the
    population it serves (its own and that of the communes nearest to it) ** ``synthetic_attraction`` × a
    seeded log-normal noise, totalling ``synthetic_gp_fte_per_100k`` per 100,000 inhabitants of the
    communes given. Rounded to 0.1 FTE."""
    population = communes["population"].to_numpy(dtype="float64")
    centre, served = local_centres(communes)
    rng = np.random.default_rng(seed)
    noise = rng.lognormal(0.0, float(PARAMETERS.value("synthetic_noise_sigma")), size=len(population))
    weight = np.where(centre, served ** float(PARAMETERS.value("synthetic_attraction")) * noise, 0.0)
    total = population.sum() * float(PARAMETERS.value("synthetic_gp_fte_per_100k")) / 100_000
    fte = np.round(total * weight / weight.sum(), 1) if weight.sum() > 0 else np.zeros(len(population))
    series = pd.Series(fte, index=communes["code"].astype("string").to_numpy())
    parameters = [
        "synthetic_gp_fte_per_100k",
        "synthetic_min_population",
        "synthetic_centre_radius_km",
        "synthetic_attraction",
        "synthetic_noise_sigma",
    ]
    return Supply(series[series > 0], "offre synthétique", synthetic=True, parameters=parameters)


def local_centres(communes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Which communes hold GPs in the synthetic supply, and the population each serves.

    A local centre is a commune of at least ``synthetic_min_population`` inhabitants, or the most populous
    within ``synthetic_centre_radius_km`` (ties: the larger INSEE code). Every commune is served by its
    nearest local centre within three times that radius; ``served`` is the population a centre serves
    (0 for the other communes)."""
    population = communes["population"].to_numpy(dtype="float64")
    lat, lon = communes["lat"].to_numpy(dtype="float64"), communes["lon"].to_numpy(dtype="float64")
    n = len(population)
    rank = np.empty(n, dtype="int64")
    rank[np.lexsort((communes["code"].astype("string").to_numpy(), population))] = np.arange(n)
    radius = float(PARAMETERS.value("synthetic_centre_radius_km"))
    i, j, _ = neighbour_pairs(lat, lon, radius)
    largest_around = np.full(n, -1, dtype="int64")
    other = i != j
    np.maximum.at(largest_around, i[other], rank[j[other]])
    centre = (population >= float(PARAMETERS.value("synthetic_min_population"))) | (rank > largest_around)
    i, j, km = neighbour_pairs(lat, lon, 3 * radius)
    towards = centre[j]
    i, j, km = i[towards], j[towards], km[towards]
    order = np.lexsort((j, j != i, km, i))  # a centre serves itself, even with a neighbour on the same point
    i, j = i[order], j[order]
    first = np.r_[True, i[1:] != i[:-1]] if len(i) else np.zeros(0, dtype=bool)
    served = np.zeros(n)
    np.add.at(served, j[first], population[i[first]])
    return centre, served


def warehouse_supply(warehouse: Tables, on: dt.date) -> Supply:
    """The centre's own general practitioners, from the warehouse: FTE on ``on``, by the commune of their
    site (``provider`` → ``care_site`` → ``location``)."""
    activity = warehouse.table("fr_provider_activity")
    present = activity.filter(
        activity.profession == GP_CODE,
        activity.start_date.isnull() | (activity.start_date <= on),
        activity.end_date.isnull() | (activity.end_date >= on),
    )
    provider = warehouse.table("provider").select("provider_id", "care_site_id")
    site = warehouse.table("care_site").select("care_site_id", "location_id")
    location = warehouse.table("location").select("location_id", commune=lambda t: t.location_source_value)
    joined = present.join(provider, "provider_id").join(site, "care_site_id").join(location, "location_id")
    frame = warehouse.execute(joined.group_by("commune").agg(fte=joined.fte.sum()))
    series = pd.Series(frame.fte.astype("float64").to_numpy(), index=frame.commune.astype("string").to_numpy())
    return Supply(series, "offre : médecins généralistes du centre (entrepôt)")


def combined(first: Supply, second: Supply) -> Supply:
    """Two supplies added commune by commune (a supply file and the centre's own GPs)."""
    fte = first.fte.add(second.fte, fill_value=0.0)
    return Supply(
        fte,
        f"{first.label} + {second.label}",
        synthetic=first.synthetic or second.synthetic,
        notes=[*first.notes, *second.notes],
        parameters=[*first.parameters, *second.parameters],
    )
