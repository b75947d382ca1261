"""Benchmark: generate synthetic centres and load them, with validation and pseudonymisation on.

Prints, for each size: generation time and rows/s; load time, rows/s per table (validation of the
file) and event rows/s overall (reading, validation, pseudonymisation, mapping and commit); peak
memory of each phase (each runs in its own process); and the ratio of the load to a baseline run on
the same files in the same process: DuckDB reading every CSV into a table, nothing checked.

    python bench/ingest.py --patients 100000 1000000
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import shutil
import tempfile
import time
from pathlib import Path

from common import in_process, peak_mib

EVENT_TABLES = ("coverage", "mt_declarations", "encounters", "diagnoses", "prescriptions", "lab_results",
                "vaccinations", "procedures", "acts")  # fmt: skip


def _generate(out: Path, patients: int, seed: int, file_format: str, queue: mp.Queue) -> None:
    from proxisante.synth import SynthOptions, generate_centre

    start = time.perf_counter()
    summary = generate_centre(SynthOptions(patients=patients, seed=seed, out=out, file_format=file_format))
    queue.put({"seconds": time.perf_counter() - start, "rows": dict(summary.rows), "peak_mib": peak_mib()})


def _load(folder: Path, home: Path, queue: mp.Queue) -> None:
    import duckdb

    from proxisante.ingest.pivot.load import load_pivot
    from proxisante.installation import open_installation
    from proxisante.settings import Settings

    # Baseline in the same process: DuckDB reads every file into a table, no check, no mapping.
    con = duckdb.connect()
    start = time.perf_counter()
    for path in sorted(folder.glob("*.csv")):
        con.execute(f"CREATE TABLE \"{path.stem}\" AS SELECT * FROM read_csv('{path}', delim=';', all_varchar=true)")
    for path in sorted(folder.glob("*.parquet")):
        con.execute(f"CREATE TABLE \"{path.stem}\" AS SELECT * FROM read_parquet('{path}')")
    baseline = time.perf_counter() - start
    con.close()

    inst = open_installation(Settings(home=home))
    marks: dict[str, float] = {}

    def progress(step: str, rows: int) -> None:
        marks[step] = time.perf_counter()

    start = time.perf_counter()
    report = load_pivot(folder, inst, source="bench", progress=progress)
    end = time.perf_counter()
    total = end - start
    inst.close()
    per_table = {}
    for f in report.files:
        seconds = marks[f"validé {f.file_name}"] - marks[f"lecture {f.file_name}"]
        per_table[f.pivot_table] = (f.rows_read, seconds)
    commit = end - marks["écriture de l'entrepôt"]
    queue.put({"seconds": total, "baseline": baseline, "per_table": per_table, "commit": commit,
               "quarantined": report.rows_quarantined, "peak_mib": peak_mib()})  # fmt: skip


def run(patients: int, seed: int, file_format: str, keep: bool) -> None:
    work = Path(tempfile.mkdtemp(prefix=f"proxisante-bench-{patients}-"))
    try:
        gen = in_process(_generate, work / "centre", patients, seed, file_format)
        rows = sum(gen["rows"].values())
        size = sum(p.stat().st_size for p in (work / "centre").iterdir()) / 2**20
        print(f"\n== {patients:,} patients: {rows:,} rows, {size:,.0f} MiB of {file_format}")
        print(f"generate: {gen['seconds']:.1f} s, {rows / gen['seconds']:,.0f} rows/s, peak {gen['peak_mib']:,.0f} MiB")
        load = in_process(_load, work / "centre", work / "home")
        print(f"{'table':<16}{'rows':>12}{'seconds':>9}{'rows/s':>12}")
        for table, (n, seconds) in load["per_table"].items():
            print(f"{table:<16}{n:>12,}{seconds:>9.2f}{n / max(seconds, 1e-9):>12,.0f}")
        events = sum(n for t, (n, _) in load["per_table"].items() if t in EVENT_TABLES)
        print(f"commit (upserts, concepts, observation periods): {load['commit']:.1f} s")
        print(f"load: {load['seconds']:.1f} s for {rows:,} rows ({rows / load['seconds']:,.0f} rows/s), "
              f"{events / load['seconds']:,.0f} event rows/s, {load['quarantined']} quarantined, "
              f"peak {load['peak_mib']:,.0f} MiB")  # fmt: skip
        print(
            f"baseline (DuckDB read_csv into tables, no checks): {load['baseline']:.1f} s; "
            f"load / baseline = {load['seconds'] / load['baseline']:.2f}"
        )
    finally:
        if keep:
            print(f"kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--format", dest="file_format", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--keep", action="store_true", help="keep the generated files and warehouse")
    args = parser.parse_args()
    for n in args.patients:
        run(n, args.seed, args.file_format, args.keep)


if __name__ == "__main__":
    main()
