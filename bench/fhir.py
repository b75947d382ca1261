"""Benchmark: a synthetic centre as FHIR NDJSON -> warehouse (views, validation, pseudonymisation, load).

Prints resources, time and CPU time per stage (generation, reading, views and validation, commit: the stages of
the progress callback), resources per second of the load, and the peak memory of each phase (each
runs in its own process). Target: >= 50,000 resources/s.

    python bench/fhir.py --patients 100000
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from common import peak_mib


def _cpu_seconds() -> float:
    """CPU time of this process (all threads): on a shared machine, wall time also counts waiting."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _generate(out: Path, patients: int, seed: int, queue: mp.Queue) -> None:
    from proxisante.synth import SynthOptions, generate_centre

    start = time.perf_counter()
    summary = generate_centre(SynthOptions(patients=patients, seed=seed, out=out, file_format="fhir"))
    queue.put({"seconds": time.perf_counter() - start, "resources": summary.total_rows, "peak_mib": peak_mib()})


def _load(folder: Path, home: Path, queue: mp.Queue) -> None:
    from proxisante.ingest.fhir.load import load_fhir
    from proxisante.installation import open_installation
    from proxisante.settings import Settings

    inst = open_installation(Settings(home=home))
    stages: list[tuple[str, float, float]] = []
    last: list[Any] = [time.perf_counter(), _cpu_seconds(), "start"]

    def progress(step: str, rows: int) -> None:
        # A progress call announces a step: the time since the previous call belongs to the previous step.
        now, cpu_now = time.perf_counter(), _cpu_seconds()
        stages.append((str(last[2]), now - last[0], cpu_now - last[1]))
        last[:] = [now, cpu_now, step]

    start, cpu = time.perf_counter(), _cpu_seconds()
    report = load_fhir(folder, inst, source="bench", progress=progress)
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    stages.append((str(last[2]), time.perf_counter() - last[0], _cpu_seconds() - last[1]))
    inst.close()
    queue.put({"seconds": seconds, "cpu": cpu, "read": report.rows_read, "loaded": report.rows_loaded,
               "quarantined": report.rows_quarantined, "stages": stages, "peak_mib": peak_mib()})  # fmt: skip


# Progress messages of load_fhir and of the pivot batch -> the stage they start.
STAGES = (("start", "checksums"), ("lecture des fichiers FHIR", "reading NDJSON"), ("vues", "views and glue"),
          ("lecture", "validation"), ("validé", "validation"), ("écriture", "commit"))  # fmt: skip


def _run(target: Any, *args: Any) -> dict:
    queue: mp.Queue = mp.Queue()
    process = mp.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-fhir-"))
    try:
        gen = _run(_generate, work / "centre", args.patients, args.seed)
        size = sum(p.stat().st_size for p in (work / "centre").iterdir()) / 2**20
        print(f"generation: {args.patients:,} patients, {gen['resources']:,} resources, {size:,.0f} MiB NDJSON, "
              f"{gen['seconds']:.1f} s, peak {gen['peak_mib']:,.0f} MiB")  # fmt: skip
        load = _run(_load, work / "centre", work / "home")
        rate = load["read"] / load["seconds"]
        print(f"load: {load['read']:,} resources read, {load['loaded']:,} loaded, {load['quarantined']:,} "
              f"quarantined, {load['seconds']:.1f} s ({load['cpu']:.1f} s CPU), {rate:,.0f} resources/s, "
              f"peak {load['peak_mib']:,.0f} MiB")  # fmt: skip
        merged: dict[str, list[float]] = {}
        for step, seconds, cpu in load["stages"]:
            key = next((name for prefix, name in STAGES if step.startswith(prefix)), step)
            total = merged.setdefault(key, [0.0, 0.0])
            total[0], total[1] = total[0] + seconds, total[1] + cpu
        for step, (seconds, cpu) in merged.items():
            print(f"  {step:<16} {seconds:8.1f} s  {cpu:8.1f} s CPU")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
