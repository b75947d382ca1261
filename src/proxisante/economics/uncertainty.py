"""Projection over several years, tornado sensitivity and Monte Carlo bands over the uncertain parameters.

An uncertain parameter has a ``range`` (low, high in its unit) or a ``range_relative`` (a factor on
every number of a table). A parameter with one dated value is replaced by the drawn value; a
parameter with several dated values (a tariff that changes) is multiplied by the drawn value over
its value in the profile's year, so that its date changes are kept. Monte Carlo draws come from a
triangular law (low, value, high) with a fixed seed, all at once: the payment model runs once on arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from proxisante.economics.catalogue import Parameter, catalogue
from proxisante.economics.costs import Costs
from proxisante.economics.payments import MODELS, ModelResult, simulate_year
from proxisante.economics.profile import Profile

DEFAULT_SEED = 2026
DEFAULT_DRAWS = 10_000
BANDS = (5, 50, 95)


def uncertain_parameters(used: set[str] | None = None) -> list[Parameter]:
    """The parameters with a range (of ``used`` when given), in catalogue order."""
    return [p for name, p in catalogue().items() if p.uncertain and (used is None or name in used)]


def _numeric(p: Parameter, year: int) -> float | None:
    value = p.average(year)
    return float(value) if isinstance(value, int | float) else None


def overrides(p: Parameter, drawn: Any, year: int) -> tuple[dict, dict]:
    """(values, factors) for a drawn value of ``p`` (absolute for ``range``, a factor − 1 for ``range_relative``)."""
    if p.range_relative is not None:
        return {}, {p.name: 1 + drawn}
    if len(p.values) == 1:
        return {p.name: drawn}, {}
    base = _numeric(p, year)
    return ({}, {p.name: drawn / base}) if base else ({p.name: drawn}, {})


def bounds(p: Parameter, year: int) -> tuple[float, float, float]:
    """(low, mode, high) of the draw: in the value's unit, or as a relative change."""
    if p.range_relative is not None:
        return p.range_relative[0], 0.0, p.range_relative[1]
    if p.range is None:
        raise ValueError(f"{p.name}: no range, not an uncertain parameter")
    low, high = p.range
    base = _numeric(p, year)
    mode = low if base is None else min(max(base, low), high)
    return low, mode, high


@dataclass
class TornadoRow:
    name: str
    label: str
    low: float
    high: float
    result_low: float
    result_high: float
    confidence: str

    @property
    def swing(self) -> float:
        return abs(self.result_high - self.result_low)


def tornado(profile: Profile, costs: Costs, year: int, model: str) -> tuple[float, list[TornadoRow]]:
    """The model's result at every uncertain parameter's low and high (others at their value), by swing."""
    base = simulate_year(profile, costs, year)[model]
    rows = []
    for p in uncertain_parameters(base.used | _volume_names()):
        low, _, high = bounds(p, year)
        results = []
        for end in (low, high):
            values, factors = overrides(p, end, year)
            results.append(float(simulate_year(profile, costs, year, values, factors)[model].result))
        rows.append(TornadoRow(p.name, p.label, low, high, results[0], results[1], p.confidence))
    rows.sort(key=lambda r: -r.swing)
    return float(base.result), rows


def _volume_names() -> set[str]:
    return {"modelling.panel_growth", "modelling.activity_factor", "modelling.cost_growth", "modelling.cost_factor"}


def draw(year: int, draws: int, seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Monte Carlo overrides: every uncertain parameter drawn ``draws`` times (triangular, fixed seed)."""
    rng = np.random.default_rng(seed)
    values: dict[str, Any] = {}
    factors: dict[str, Any] = {}
    for p in uncertain_parameters():
        low, mode, high = bounds(p, year)
        sample = rng.triangular(low, mode, high, draws) if high > low else np.full(draws, low)
        v, f = overrides(p, sample, year)
        values.update(v)
        factors.update(f)
    return values, factors


@dataclass
class Bands:
    """Percentiles of a model's result, revenue and break-even over the draws."""

    result: dict[int, float]
    revenue: dict[int, float]
    break_even_per_gp_fte: dict[int, float]
    probability_positive: float


def monte_carlo(
    profile: Profile, costs: Costs, year: int, draws: int = DEFAULT_DRAWS, seed: int = DEFAULT_SEED
) -> dict[str, Bands]:
    """Bands of every model for one year: the payment model runs once on arrays of ``draws`` values."""
    values, factors = draw(profile.year, draws, seed)
    results = simulate_year(profile, costs, year, values, factors)
    return {key: _bands(r, draws) for key, r in results.items()}


def _bands(r: ModelResult, draws: int) -> Bands:
    result = np.broadcast_to(np.asarray(r.result, dtype="float64"), (draws,))
    revenue = np.broadcast_to(np.asarray(r.revenue, dtype="float64"), (draws,))
    be = np.broadcast_to(np.asarray(r.break_even_per_gp_fte, dtype="float64"), (draws,))
    pct = lambda a: dict(zip(BANDS, (float(x) for x in np.percentile(a, BANDS)), strict=True))  # noqa: E731
    return Bands(pct(result), pct(revenue), pct(be), float(np.mean(result > 0)))


@dataclass
class Simulation:
    """Every model for every year, the Monte Carlo bands and the tornado of one model."""

    profile: Profile
    costs: Costs
    years: list[int]
    results: dict[int, dict[str, ModelResult]]
    bands: dict[int, dict[str, Bands]]
    tornado_model: str
    tornado_base: float
    tornado: list[TornadoRow]
    draws: int
    seed: int
    used: set[str] = field(default_factory=set)

    def unconfirmed(self) -> list[Parameter]:
        return [p for name, p in catalogue().items() if name in self.used and p.unconfirmed]


def simulate(
    profile: Profile,
    costs: Costs,
    years: list[int] | None = None,
    draws: int = DEFAULT_DRAWS,
    seed: int = DEFAULT_SEED,
    tornado_model: str = "acte",
) -> Simulation:
    """The whole analysis: a projection over ``years`` (default: the profile's year), bands, tornado."""
    if tornado_model not in MODELS:
        raise ValueError(f"model {tornado_model!r}: expected one of {', '.join(MODELS)}")
    years = years or [profile.year]
    results = {year: simulate_year(profile, costs, year) for year in years}
    bands = {year: monte_carlo(profile, costs, year, draws, seed) for year in years}
    base, rows = tornado(profile, costs, years[0], tornado_model)
    used = set().union(*(r.used for by_model in results.values() for r in by_model.values())) | _volume_names()
    return Simulation(profile, costs, years, results, bands, tornado_model, base, rows, draws, seed, used)
