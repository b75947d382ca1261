"""Projection, tornado and Monte Carlo: stable for a seed, and the vectorised draws equal a loop."""

from __future__ import annotations

import numpy as np
import pytest

from proxisante.economics.costs import load_costs
from proxisante.economics.payments import MODELS, simulate_year
from proxisante.economics.profile_files import EXAMPLE_PROFILE, load_profile
from proxisante.economics.uncertainty import draw, monte_carlo, simulate, tornado


@pytest.fixture(scope="module")
def demo():
    return load_profile(EXAMPLE_PROFILE), load_costs()


def test_demo_simulation_is_stable_for_a_seed(demo) -> None:
    profile, costs = demo
    first = simulate(profile, costs, [2025, 2026], draws=2000, seed=7)
    again = simulate(profile, costs, [2025, 2026], draws=2000, seed=7)
    for year in (2025, 2026):
        for key in MODELS:
            assert first.bands[year][key] == again.bands[year][key]
    other = monte_carlo(profile, costs, 2025, draws=2000, seed=8)
    for key in MODELS:  # another seed: the median moves by less than 2 % of the costs
        gap = abs(other[key].result[50] - first.bands[2025][key].result[50])
        assert gap < 0.02 * float(first.results[2025][key].cost), key
    bands = first.bands[2025]["acte"]
    assert bands.result[5] < bands.result[50] < bands.result[95]


def test_vectorised_draws_equal_one_run_per_draw(demo) -> None:
    profile, costs = demo
    values, factors = draw(profile.year, 5, seed=3)
    together = simulate_year(profile, costs, 2026, values, factors)
    for i in range(5):
        one = simulate_year(profile, costs, 2026, {k: v[i] for k, v in values.items()},
                            {k: v[i] for k, v in factors.items()})  # fmt: skip
        for key in MODELS:
            assert float(one[key].result) == pytest.approx(float(np.asarray(together[key].result)[i]))


def test_tornado_is_sorted_and_moves_the_result(demo) -> None:
    profile, costs = demo
    base, rows = tornado(profile, costs, 2025, "peps_all")
    assert base == pytest.approx(float(simulate_year(profile, costs, 2025)["peps_all"].result))
    swings = [r.swing for r in rows]
    assert swings == sorted(swings, reverse=True) and swings[0] > 0
    assert {r.name for r in rows} >= {"peps.ald_weight", "modelling.cost_factor"}


def test_projection_uses_the_tariffs_of_each_year(demo) -> None:
    profile, costs = demo
    simulation = simulate(profile, costs, [2024, 2025, 2026], draws=100)
    g = {y: simulation.results[y]["acte"].lines["Actes — Médecin généraliste"] for y in (2024, 2025)}
    assert g[2025] > g[2024]  # G at 30 € all of 2025, 26.60 € on average in 2024
    assert "FMT — socle" in simulation.results[2026]["acte"].lines
    assert {p.name for p in simulation.unconfirmed()} >= {"peps.ald_weight", "fpmt.c2s_slope", "ipep.gap_ratio"}
