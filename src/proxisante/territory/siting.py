"""Siting: "what if N GP FTE opened at commune X?" and a greedy choice of K sites for K new centres.

Adding supply s at commune X changes only X's ratio (demand does not move): ΔR_X = s × c / D_X, where
c is ``consultations_per_fte`` and D_X the demand reaching X; every commune i within X's catchment
gains w(t_iX) × ΔR_X. The population *lifted* is that of the communes under the threshold before and
at or above it after. The greedy choice evaluates every candidate at once over the sparse pairs (one
``np.bincount``), takes the one that lifts the most population, updates the APL and repeats: each step
is the best next site given the previous ones, not a global optimum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from proxisante.definitions import ParameterFile
from proxisante.territory.apl import Accessibility

PARAMETERS = ParameterFile(__package__)


@dataclass
class WhatIf:
    """APL before and after adding ``fte`` at one commune."""

    code: str
    name: str
    fte: float
    communes: pd.DataFrame  # the communes whose APL changes: code, name, population, apl, apl_after, lifted
    population_lifted: int
    population_under_before: int
    population_under_after: int


@dataclass(frozen=True)
class Step:
    """One site of the greedy choice."""

    rank: int
    code: str
    name: str
    departement: str
    population_lifted: int
    cumulative_lifted: int
    population_under_after: int


def _pair_gain(result: Accessibility, fte: float) -> np.ndarray:
    """APL gained by each pair's origin if ``fte`` were added at its destination."""
    supply = fte * float(PARAMETERS.value("consultations_per_fte"))
    per_site = np.divide(supply, result.reach, out=np.zeros_like(result.reach), where=result.reach > 0)
    return result.weight * per_site[result.pairs.dest]


def add_supply(result: Accessibility, code: str, fte: float) -> WhatIf:
    """The APL everywhere after adding ``fte`` GP FTE at commune ``code``."""
    frame = result.communes
    matches = np.flatnonzero(frame["code"].to_numpy() == code)
    if len(matches) == 0:
        raise KeyError(f"commune inconnue : {code}")
    site = int(matches[0])
    at_site = result.pairs.dest == site
    gain = np.zeros(len(frame))
    np.add.at(gain, result.pairs.origin[at_site], _pair_gain(result, fte)[at_site])
    before = frame["apl"].to_numpy()
    after = before + gain
    population = frame["population"].to_numpy()
    t = result.threshold
    lifted = (before < t) & (after >= t)
    changed = frame.loc[gain > 0, ["code", "name", "departement", "population", "apl"]].copy()
    changed["apl_after"] = after[gain > 0]
    changed["lifted"] = lifted[gain > 0]
    return WhatIf(
        code=code,
        name=str(frame["name"].iloc[site]),
        fte=fte,
        communes=changed.sort_values("apl_after", ignore_index=True),
        population_lifted=int(population[lifted].sum()),
        population_under_before=int(population[before < t].sum()),
        population_under_after=int(population[after < t].sum()),
    )


def greedy_sites(result: Accessibility, sites: int, fte: float, candidates: np.ndarray | None = None) -> list[Step]:
    """``sites`` centres of ``fte`` GP FTE each, chosen one by one among ``candidates`` (a boolean mask over
    the communes, all when None) to lift the most population above the threshold; the gain counts every
    commune reached, across department borders. Stops early when no site lifts anyone."""
    frame = result.communes
    n = len(frame)
    allowed = np.ones(n, dtype=bool) if candidates is None else np.asarray(candidates, dtype=bool)
    origin, dest = result.pairs.origin, result.pairs.dest
    gain = _pair_gain(result, fte)
    population = frame["population"].to_numpy(dtype="float64")
    apl = frame["apl"].to_numpy().copy()
    t = result.threshold
    steps: list[Step] = []
    cumulative = 0
    for rank in range(1, sites + 1):
        under = apl[origin] < t
        lifted = under & (apl[origin] + gain >= t)
        score = np.bincount(dest, weights=np.where(lifted, population[origin], 0.0), minlength=n)
        score[~allowed] = -1.0
        best = int(np.argmax(score))
        if score[best] <= 0:
            break
        at_site = dest == best
        np.add.at(apl, origin[at_site], gain[at_site])
        cumulative += int(score[best])
        steps.append(
            Step(
                rank,
                str(frame["code"].iloc[best]),
                str(frame["name"].iloc[best]),
                str(frame["departement"].iloc[best]),
                int(score[best]),
                cumulative,
                int(population[apl < t].sum()),
            )
        )
    return steps
