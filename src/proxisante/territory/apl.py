"""APL (accessibilité potentielle localisée): the DREES/IRDES two-step floating catchment (2SFCA).

For each commune j with supply, step 1 divides its supply S_j (GP FTE × ``consultations_per_fte``,
so that the result is in consultations) by the demand that can reach it, D_j = Σ_i w(t_ij) P_i,
where P_i is the age-standardised population of commune i and w the stepped decay of the variant;
step 2 sums for each commune i the ratios it can reach: APL_i = Σ_j w(t_ij) S_j / D_j. The unit is
consultations per year per standardised inhabitant; the zoning threshold is ``apl_threshold``.

Both steps are sparse matrix-vector products over the pairs of communes within the catchment,
computed with ``np.bincount`` (no loop over communes). Supply whose catchment holds no demand
(D_j = 0) reaches no one and is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from proxisante.definitions import ParameterFile
from proxisante.territory.decay import Decay, decay
from proxisante.territory.supply import Supply
from proxisante.territory.travel import Pairs, estimated_pairs, matrix_pairs

PARAMETERS = ParameterFile(__package__)
SYNTHETIC_MARK = "offre synthétique"


def step_weights(minutes: np.ndarray, variant: Decay) -> np.ndarray:
    """The decay weight of each travel time: the band whose (inclusive) upper bound is the first ≥ t, 0 beyond."""
    bounds = np.asarray(variant.bounds)
    weights = np.append(np.asarray(variant.weights), 0.0)
    return weights[np.searchsorted(bounds, minutes, side="left")]


def standardised_demand(communes: pd.DataFrame, ages: pd.DataFrame | None = None) -> np.ndarray:
    """Population weighted by the GP consumption of its ages, relative to the national mean.

    ``ages`` (optional): one row per commune ``code`` with one column per age band lower bound
    (``"0"``, ``"10"``... as ``age_bands``) holding counts; communes not in it get the national structure.
    """
    consumption = np.asarray(PARAMETERS.value("age_consumption"), dtype="float64")
    national = np.asarray(PARAMETERS.value("national_age_structure"), dtype="float64")
    national = national / national.sum()
    mean = float(national @ consumption)
    population = communes["population"].to_numpy(dtype="float64")
    factor = np.full(len(communes), 1.0)
    if ages is not None:
        bands = [str(b) for b in PARAMETERS.value("age_bands")]
        counts = ages.set_index(ages["code"].astype("string"))[bands].astype("float64")
        counts = counts.reindex(communes["code"].astype("string").to_numpy())
        totals = counts.sum(axis=1).to_numpy()
        known = np.isfinite(totals) & (totals > 0)
        shares = counts.to_numpy()[known] / totals[known, None]
        factor[known] = shares @ consumption / mean
    return population * factor


def two_step(
    origin: np.ndarray, dest: np.ndarray, weight: np.ndarray, demand: np.ndarray, supply: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 2SFCA over sparse pairs (origin = where demand lives, dest = where supply sits).

    Returns (access per commune, supply-to-demand ratio per commune, demand reaching each commune).
    """
    n = len(demand)
    reach = np.bincount(dest, weights=weight * demand[origin], minlength=n)
    ratio = np.divide(supply, reach, out=np.zeros(n), where=reach > 0)
    access = np.bincount(origin, weights=weight * ratio[dest], minlength=n)
    return access, ratio, reach


@dataclass
class Accessibility:
    """APL of every commune, with what it was computed from (for titles, notes and siting)."""

    communes: pd.DataFrame
    variant: Decay
    threshold: float
    supply: Supply
    pairs: Pairs
    weight: np.ndarray
    ratio: np.ndarray
    reach: np.ndarray
    parameters: list[str] = field(default_factory=list)

    @property
    def synthetic(self) -> bool:
        return self.supply.synthetic

    def title(self, text: str) -> str:
        """A table or map title, marked when the supply is synthetic."""
        return f"{text} — {SYNTHETIC_MARK.upper()}" if self.synthetic else text

    def notes(self) -> list[str]:
        """What a reader must know: synthetic supply, unconfirmed parameters, supply caveats."""
        out = []
        if self.synthetic:
            out.append("Offre SYNTHÉTIQUE générée à partir de la population : ce ne sont pas des médecins réels.")
        out += self.supply.notes
        weak = PARAMETERS.unconfirmed(self.parameters + self.supply.parameters)
        if weak:
            out.append(f"Paramètres non confirmés : {', '.join(PARAMETERS.parameter(n).label for n in weak)}")
        return out

    def below(self) -> pd.DataFrame:
        """Communes under the threshold."""
        return self.communes[self.communes["apl"] < self.threshold]


def compute_apl(
    communes: pd.DataFrame,
    supply: Supply,
    variant: str | None = None,
    *,
    pairs: Pairs | None = None,
    matrix: Path | None = None,
    ages: pd.DataFrame | None = None,
) -> Accessibility:
    """APL of every commune of ``communes`` (the whole reference: catchments cross department borders)."""
    spec = decay(variant)
    parameters = [spec.name, "apl_threshold", "consultations_per_fte", "age_consumption", "national_age_structure"]
    if pairs is None:
        if matrix is not None:
            pairs = matrix_pairs(communes, matrix, spec.max_minutes)
        else:
            pairs = estimated_pairs(communes, spec.max_minutes)
            parameters += ["travel_speed_kmh", "travel_detour_factor"]
    weight = step_weights(pairs.minutes, spec)
    keep = weight > 0
    pairs = Pairs(pairs.origin[keep], pairs.dest[keep], pairs.minutes[keep], pairs.max_minutes, pairs.source)
    weight = weight[keep]
    demand = standardised_demand(communes, ages)
    fte = supply.on(communes["code"])
    consultations = fte * float(PARAMETERS.value("consultations_per_fte"))
    access, ratio, reach = two_step(pairs.origin, pairs.dest, weight, demand, consultations)
    frame = communes.drop(columns=["geometry"], errors="ignore").copy()
    frame["demand"] = demand
    frame["fte"] = fte
    frame["apl"] = access
    threshold = float(PARAMETERS.value("apl_threshold"))
    return Accessibility(frame, spec, threshold, supply, pairs, weight, ratio, reach, parameters)


def desert_summary(result: Accessibility, by: str = "departement") -> pd.DataFrame:
    """Per ``by`` (departement, region, epci): communes, population, communes and population under the
    threshold, share of the population under it, population-weighted mean APL."""
    frame = result.communes.assign(
        under=lambda f: f["apl"] < result.threshold,
        weighted=lambda f: f["apl"] * f["population"],
    )
    frame["population_under"] = frame["population"].where(frame["under"], 0)
    names = {"departement": "departement_name", "region": "region_name", "epci": "epci_name"}
    keys = [by, names[by]] if by in names else [by]
    out = (
        frame.groupby(keys, dropna=False)
        .agg(
            communes=("code", "size"),
            population=("population", "sum"),
            communes_under=("under", "sum"),
            population_under=("population_under", "sum"),
            weighted=("weighted", "sum"),
        )
        .reset_index()
    )
    out["share_under"] = out["population_under"] / out["population"].where(out["population"] > 0)
    out["mean_apl"] = out["weighted"] / out["population"].where(out["population"] > 0)
    return out.drop(columns="weighted").sort_values("share_under", ascending=False, ignore_index=True)
