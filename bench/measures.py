"""Benchmark: the whole measure library and the care gaps on synthetic centres, against plain pandas.

For each size: generates a synthetic centre (or reuses it with --keep), loads it into a DuckDB
warehouse, then in one fresh process: runs every measure of the library (structure totals and per
médecin traitant) and every care gap through the Ibis engine on DuckDB, and then the same measures
written as plain pandas (bench/pandas_measures.py, tables loaded in memory first); checks both give
the same counts; prints seconds, peak memory and the ratio.

    python bench/measures.py --patients 100000 1000000
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def _prepare(root: Path, patients: int, seed: int) -> Path:
    """A loaded warehouse home for this size (generated and ingested once, reused with --keep)."""
    from proxisante.ingest.pivot.load import load_pivot
    from proxisante.installation import open_installation
    from proxisante.settings import Settings
    from proxisante.synth import SynthOptions, generate_centre

    home = root / f"home-{patients}-{seed}"
    if (home / "ready").exists():
        return home
    folder = root / f"centre-{patients}-{seed}"
    if not (folder / "patients.parquet").exists():
        generate_centre(SynthOptions(patients=patients, seed=seed, out=folder, file_format="parquet"))
    inst = open_installation(Settings(home=home))
    load_pivot(folder, inst, source="bench")
    inst.close()
    (home / "ready").touch()
    return home


def _measure(home: Path, period_text: str, memory_limit: str, queue: mp.Queue) -> None:
    from pandas_measures import Baseline, load
    from proxisante.measures.definition import library
    from proxisante.measures.gaps import care_gaps
    from proxisante.measures.periods import parse_period
    from proxisante.measures.results import run
    from proxisante.warehouse.connection import Warehouse

    warehouse = Warehouse.connect(f"duckdb://{home / 'warehouse.duckdb'}?memory_limit={memory_limit}")
    period = parse_period(period_text)
    measures = list(library().values())
    persons = int(warehouse.table("person").count().execute())
    event_tables = ("condition_occurrence", "drug_exposure", "measurement", "procedure_occurrence", "visit_occurrence")
    events = sum(int(warehouse.table(t).count().execute()) for t in event_tables)

    start = time.perf_counter()
    result = run(warehouse, period, measures, by=["provider"]).table
    library_seconds = time.perf_counter() - start
    start = time.perf_counter()
    gaps = care_gaps(warehouse, period, measures)
    gaps_seconds = time.perf_counter() - start
    engine_peak = _peak_gib()

    start = time.perf_counter()
    baseline = Baseline(load(warehouse))
    load_seconds = time.perf_counter() - start
    start = time.perf_counter()
    expected = {m.id: baseline.counts(m, period) for m in measures}
    pandas_seconds = time.perf_counter() - start

    totals = result[result.provider == "Total"].set_index("measure_id")
    mismatches = [
        f"{mid}: {key} engine={int(totals.loc[mid, key])} pandas={value}"
        for mid, counts in expected.items() for key, value in counts.items() if int(totals.loc[mid, key]) != value
    ]  # fmt: skip
    queue.put({
        "persons": persons, "events": events, "measures": len(measures), "library": library_seconds,
        "gaps": gaps_seconds, "gap_rows": len(gaps), "engine_peak": engine_peak, "pandas_load": load_seconds,
        "pandas": pandas_seconds, "process_peak": _peak_gib(), "mismatches": mismatches,
    })  # fmt: skip


def _guarded(target: Any, *args: Any) -> None:
    """Run ``target`` and send its traceback if it fails, so the parent never waits forever."""
    queue = args[-1]
    try:
        target(*args)
    except BaseException:
        import traceback

        queue.put({"error": traceback.format_exc()})


def _in_process(target: Any, *args: Any) -> dict[str, Any]:
    context = mp.get_context("spawn")
    queue: mp.Queue = context.Queue()
    process = context.Process(target=_guarded, args=(target, *args, queue))
    process.start()
    result = queue.get()
    process.join()
    if "error" in result:
        raise RuntimeError(f"the measured process failed:\n{result['error']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, nargs="+", default=[100_000])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--period", default="2025")
    parser.add_argument("--dir", type=Path, default=None, help="where to keep centres and warehouses")
    parser.add_argument("--keep", action="store_true", help="keep the generated data for a later run")
    parser.add_argument("--memory-limit", default="6GB", help="DuckDB memory_limit of the engine run")
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="proxisante-bench-"))
    try:
        for patients in args.patients:
            start = time.perf_counter()
            home = _prepare(root, patients, args.seed)
            prepared = time.perf_counter() - start
            r = _in_process(_measure, home, args.period, args.memory_limit)
            print(f"\n== {patients:,} patients ({r['persons']:,} persons, {r['events']:,} events; "
                  f"generated and loaded in {prepared:.0f} s) ==")  # fmt: skip
            print(f"engine (Ibis on DuckDB, memory_limit {args.memory_limit}): {r['measures']} measures, "
                  f"totals and per médecin traitant: {r['library']:.1f} s; "
                  f"care gaps of every measure: {r['gaps']:.1f} s ({r['gap_rows']:,} gaps); "
                  f"peak memory {r['engine_peak']:.2f} GiB")  # fmt: skip
            print(f"pandas baseline: tables into memory {r['pandas_load']:.1f} s, measures {r['pandas']:.1f} s; "
                  f"process peak {r['process_peak']:.2f} GiB")  # fmt: skip
            print(f"ratio pandas measures / engine library: {r['pandas'] / r['library']:.1f}x "
                  f"(with loading: {(r['pandas'] + r['pandas_load']) / r['library']:.1f}x)")  # fmt: skip
            print(
                "counts equal on every measure"
                if not r["mismatches"]
                else "MISMATCH:\n  " + "\n  ".join(r["mismatches"])
            )
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
