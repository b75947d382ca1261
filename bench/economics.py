"""Benchmark: Monte Carlo of the economic model over a centre's warehouse, against a plain Python loop.

Reads the profile of one year from a warehouse (default: a copy of the demo centre, never the
original: copy ``~/.proxisante/warehouse.duckdb`` first), then draws every uncertain parameter
``--draws`` times with a fixed seed and runs the six payment models once on the arrays (the
engine's vectorised path); then, in the same process, the naive baseline: the same draws, one engine
run per draw in a Python loop. Checks both give the same results and prints seconds and the ratio.

    python bench/economics.py --warehouse /tmp/eco.duckdb --year 2025 --draws 10000
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", default="/tmp/eco.duckdb", help="a DuckDB warehouse file (a copy)")
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--simulated-year", type=int, default=2026)
    parser.add_argument("--draws", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--baseline-draws", type=int, default=None, help="loop over fewer draws (default: all)")
    args = parser.parse_args()

    from proxisante.economics.costs import load_costs
    from proxisante.economics.payments import MODELS, simulate_year
    from proxisante.economics.profile_warehouse import profile_from_warehouse
    from proxisante.economics.uncertainty import draw, monte_carlo
    from proxisante.warehouse.connection import Warehouse

    warehouse = Warehouse.connect(f"duckdb://{args.warehouse}")
    start = time.perf_counter()
    profile_from_warehouse(warehouse, args.year, measures=False)
    bare = time.perf_counter() - start
    start = time.perf_counter()
    profile = profile_from_warehouse(warehouse, args.year)
    read = time.perf_counter() - start
    warehouse.close()
    costs = load_costs()
    print(f"profile {args.year}: {profile.patients:,} MT patients, {len(profile.acts)} act lines, "
          f"{len(profile.communes)} communes, {len(profile.gp_sites)} GP sites; read in {bare:.2f} s without the "
          f"measures, {read:.2f} s with the {len(profile.measures)} paying measures run on {args.year} and "
          f"{args.year - 1}")  # fmt: skip

    simulate_year(profile, costs, args.simulated_year)  # warm the parameter cache
    start = time.perf_counter()
    bands = monte_carlo(profile, costs, args.simulated_year, draws=args.draws, seed=args.seed)
    vectorised = time.perf_counter() - start
    print(f"Monte Carlo, {args.draws:,} draws × {len(MODELS)} models, vectorised: {vectorised:.3f} s")

    values, factors = draw(profile.year, args.draws, args.seed)
    together = simulate_year(profile, costs, args.simulated_year, values, factors)
    n = args.baseline_draws or args.draws
    start = time.perf_counter()
    loop = np.empty((n, len(MODELS)))
    for i in range(n):
        one = simulate_year(profile, costs, args.simulated_year, {k: v[i] for k, v in values.items()},
                            {k: v[i] for k, v in factors.items()})  # fmt: skip
        loop[i] = [float(one[key].result) for key in MODELS]
    baseline = time.perf_counter() - start
    per_draw = baseline / n
    expected = np.column_stack([np.asarray(together[key].result, dtype="float64")[:n] for key in MODELS])
    assert np.allclose(loop, expected), "the loop and the vectorised engine differ"
    print(f"baseline (one engine run per draw, Python loop): {n:,} draws in {baseline:.2f} s "
          f"({per_draw * 1000:.2f} ms per draw; {per_draw * args.draws:.1f} s for {args.draws:,})")  # fmt: skip
    print(f"ratio baseline / vectorised: {per_draw * args.draws / vectorised:.0f}× (same results)")
    for key, label in MODELS.items():
        b = bands[key]
        print(f"  {label:28} result P5 {b.result[5]:>12,.0f}  P50 {b.result[50]:>12,.0f}  P95 {b.result[95]:>12,.0f} €")


if __name__ == "__main__":
    main()
