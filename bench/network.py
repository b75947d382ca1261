"""Benchmark: a synthetic network loaded through its drop folders, against the same extracts loaded directly.

Generates ``--structures`` structures with ``--patients`` patient files in all (``synth --network``), then, each
phase in its own process: the baseline loads every structure's extract straight through ``ingest.FORMATS``
(source and structure = its FINESS) into a fresh installation; the drop-folder run registers the structures,
copies the extracts into ``depot/<FINESS>/`` and processes them as the server's worker does (structure
checks, arrival order, reports, archive). Prints time, rows/s, peak memory and the ratio drop folders /
direct. Pages served during the loads are measured by ``tests/web/test_loads_while_serving.py``'s setting
and in docs/network.md, not here.

    python bench/network.py --structures 12 --patients 100000
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import shutil
import tempfile
import time
from pathlib import Path

from common import in_process, peak_mib


def _generate(out: Path, structures: int, patients: int, seed: int, queue: mp.Queue) -> None:
    from proxisante.synth.network import NetworkOptions, generate_network

    start = time.perf_counter()
    summary = generate_network(NetworkOptions(structures=structures, patients=patients, seed=seed, out=out))
    queue.put({"seconds": time.perf_counter() - start, "persons": summary.persons, "peak_mib": peak_mib()})


def _extracts(out: Path) -> list[Path]:
    return sorted(path for path in (out / "depot").glob("*/*") if path.is_dir())


def _direct(out: Path, home: Path, queue: mp.Queue) -> None:
    from proxisante.ingest import FORMATS
    from proxisante.installation import open_installation
    from proxisante.settings import Settings

    settings = Settings(home=home, structures_path=out / "structures.yaml")
    installation = open_installation(settings)
    start, rows = time.perf_counter(), 0
    for extract in _extracts(out):
        finess = extract.parent.name
        file_format = (extract / "format.txt").read_text(encoding="utf-8").strip()
        report = FORMATS[file_format].load(extract, installation, finess, structure=finess)
        rows += report.rows_read
    seconds = time.perf_counter() - start
    installation.close()
    queue.put({"seconds": seconds, "rows": rows, "peak_mib": peak_mib()})


def _drop_folders(out: Path, home: Path, queue: mp.Queue) -> None:
    from proxisante.ingest.dropfolders import depot_root, process
    from proxisante.installation import open_installation
    from proxisante.network.structures import StructureRegistry
    from proxisante.settings import Settings

    settings = Settings(home=home)
    registry = StructureRegistry.installed(settings)
    for structure in StructureRegistry(out / "structures.yaml").all():
        registry.add(structure, by="bench")
    for extract in _extracts(out):
        shutil.copytree(extract, depot_root(settings) / extract.parent.name / extract.name)
    installation = open_installation(settings)
    start = time.perf_counter()
    result = process(installation)
    seconds = time.perf_counter() - start
    installation.close()
    rows = sum(f["rows_read"] for report in result.reports for f in report.files)
    statuses = sorted({report.status for report in result.reports})
    queue.put({"seconds": seconds, "rows": rows, "statuses": statuses, "peak_mib": peak_mib()})


def run(structures: int, patients: int, seed: int, keep: bool) -> None:
    work = Path(tempfile.mkdtemp(prefix=f"proxisante-bench-network-{structures}-{patients}-"))
    try:
        gen = in_process(_generate, work / "network", structures, patients, seed)
        print(f"\n== {structures} structures, {patients:,} patient files, {gen['persons']:,} persons")
        print(f"generate: {gen['seconds']:.1f} s, peak {gen['peak_mib']:,.0f} MiB")
        direct = in_process(_direct, work / "network", work / "home-direct")
        print(
            f"direct loads (FORMATS, one per structure): {direct['seconds']:.1f} s, {direct['rows']:,} rows, "
            f"{direct['rows'] / direct['seconds']:,.0f} rows/s, peak {direct['peak_mib']:,.0f} MiB"
        )
        drop = in_process(_drop_folders, work / "network", work / "home-depot")
        print(
            f"drop folders (registry checks, arrival order, reports, archive): {drop['seconds']:.1f} s, "
            f"{drop['rows']:,} rows, {drop['rows'] / drop['seconds']:,.0f} rows/s, peak {drop['peak_mib']:,.0f} MiB, "
            f"statuses {drop['statuses']}"
        )
        print(f"drop folders / direct = {drop['seconds'] / direct['seconds']:.2f}")
    finally:
        if keep:
            print(f"kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--structures", type=int, default=12)
    parser.add_argument("--patients", type=int, nargs="+", default=[100_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the generated files and warehouses")
    args = parser.parse_args()
    for n in args.patients:
        run(args.structures, n, args.seed, args.keep)


if __name__ == "__main__":
    main()
