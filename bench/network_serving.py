"""Benchmark: a network warehouse serving 20 users while every structure's next extract arrives.

Issue 15, item 7. Phases, each timed, with peak memory:

1. **generate** ``--structures`` structures with ``--patients`` patient files in all (``synth --network``),
   and each structure's *next* extract (the same network generated to a later end date);
2. **load** every first extract straight through ``ingest.FORMATS`` (the baseline load: rows/s);
3. **serve**: the web server runs in its own process (as ``proxisante serve``, drop-folder worker on);
   ``--users`` users, each an account of one structure (``coordinateur``), log in and browse the pages of
   their structure for ``--seconds``, ``--think`` seconds between pages; once they browse, every
   structure's next extract is deposited in its drop folder. Prints p50/p95/p99 of the pages (all, and
   per page), the errors (any answer but 200), and the load throughput *during* the browsing, with its
   ratio to the baseline load;
4. **scoping** (run between 2 and 3, on the first extracts): the measures of one structure (the largest)
   computed on the network warehouse through
   ``ScopedTables`` against the same structure loaded alone in its own warehouse (median of
   ``--repeats`` runs each, in one process), and their ratio: the cost of scoping.

    .venv/bin/python bench/network_serving.py --structures 12 --patients 1000000
    .venv/bin/python bench/network_serving.py --structures 12 --patients 60000 --seconds 120
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing
import random
import re
import socket
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from common import in_process, peak_mib, wait_until_up
from web import percentile  # bench/web.py, beside this file

PAGES = ("/", "/patientele", "/indicateurs", "/api/measures/results", "/api/patientele", "/api/status")
PASSWORD = "Bench-proxisante-2026!"
NEXT_END = date(2026, 9, 30)  # the next extracts run three months further than the first ones


# -- 1. generate ---------------------------------------------------------------------------------------------


def generate(out: Path, structures: int, patients: int, seed: int, queue: Any) -> None:
    from proxisante.synth.network import NetworkOptions, generate_network

    started = time.perf_counter()
    options = NetworkOptions(structures=structures, patients=patients, seed=seed, out=out / "first")
    summary = generate_network(options)
    generate_network(replace(options, out=out / "next", end=NEXT_END))
    queue.put(
        {
            "seconds": time.perf_counter() - started,
            "persons": summary.persons,
            "shared": summary.shared,
            "largest": max(summary.plans, key=lambda p: p.patients).finess,
            "peak_mib": peak_mib(),
        }
    )


def _extracts(root: Path) -> list[Path]:
    return sorted(path for path in (root / "depot").glob("*/*") if path.is_dir())


def _format(extract: Path) -> str:
    return (extract / "format.txt").read_text(encoding="utf-8").strip()


# -- 2. load -------------------------------------------------------------------------------------------------


def load(out: Path, home: Path, only: str | None, queue: Any) -> None:
    """Load the first extracts (of ``only``, or of every structure) into the data home ``home``; accounts."""
    from proxisante.ingest import FORMATS
    from proxisante.installation import open_installation
    from proxisante.settings import Settings
    from proxisante.web.security.accounts import AccountStore

    settings = Settings(home=home, structures_path=out / "first" / "structures.yaml", secure_cookies=False)
    installation = open_installation(settings)
    started, rows = time.perf_counter(), 0
    try:
        for extract in _extracts(out / "first"):
            finess = extract.parent.name
            if only is None or finess == only:
                rows += FORMATS[_format(extract)].load(extract, installation, finess, structure=finess).rows_read
    finally:
        installation.close()
    seconds = time.perf_counter() - started
    store = AccountStore(settings.accounts)
    for extract in _extracts(out / "first"):
        finess = extract.parent.name
        store.add(f"coord-{finess}", PASSWORD, ["coordinateur"], structure=finess)
    queue.put({"seconds": seconds, "rows": rows, "peak_mib": peak_mib()})


# -- 3. serve ------------------------------------------------------------------------------------------------


def serve(home: str, structures: str, port: int, ready: Any) -> None:
    import uvicorn

    from proxisante.settings import Settings
    from proxisante.web.app import create_app

    settings = Settings(home=Path(home), structures_path=Path(structures), secure_cookies=False)
    app = create_app(settings, warm=True)  # as ``proxisante serve``
    ready.put(True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


async def login(client: httpx.AsyncClient, username: str) -> None:
    page = await client.get("/connexion")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    data = {"username": username, "password": PASSWORD, "csrf_token": token[1] if token else ""}
    if (await client.post("/connexion", data=data)).status_code != 303:
        raise RuntimeError(f"connexion refusée pour {username}")


async def browse(
    base: str, username: str, start: asyncio.Event, until: list[float], think: float, seed: int, out: dict
) -> None:
    """One user: logs in (not timed), visits each page once (warm, not timed), then browses until told."""
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, timeout=600, follow_redirects=False) as client:
        await login(client, username)
        for path in PAGES:
            await client.get(path)
        out["ready"] += 1
        await start.wait()
        i = seed
        while time.perf_counter() < until[0]:
            path = PAGES[i % len(PAGES)]
            i += 1
            began = time.perf_counter()
            try:
                response = await client.get(path)
                if response.status_code != 200:
                    out["errors"].append(f"{path}: {response.status_code}")
            except httpx.HTTPError as error:
                out["errors"].append(f"{path}: {error!r}")
            out["latencies"].append((path, time.perf_counter() - began))
            await asyncio.sleep(rng.uniform(0.5 * think, 1.5 * think) if think else 0)


def browse_while_loading(out: Path, home: Path, users: int, seconds: float, think: float) -> dict[str, Any]:
    from proxisante.ingest.dropfolders import deposit, depot_root
    from proxisante.settings import Settings

    settings = Settings(home=home, structures_path=out / "first" / "structures.yaml")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    context = multiprocessing.get_context("spawn")
    ready = context.Queue()
    server = context.Process(target=serve, args=(str(home), str(settings.structures), port, ready))
    server.start()
    finess = [e.parent.name for e in _extracts(out / "first")]
    result: dict[str, Any] = {"latencies": [], "errors": [], "ready": 0}
    try:
        ready.get(timeout=600)
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base)

        async def run() -> None:
            start, until = asyncio.Event(), [0.0]
            tasks = [
                asyncio.create_task(browse(base, f"coord-{finess[k % len(finess)]}", start, until, think, k, result))
                for k in range(users)
            ]
            while result["ready"] < users:
                await asyncio.sleep(0.1)
                for task in tasks:
                    if task.done() and task.exception():
                        raise RuntimeError("un utilisateur n'a pas pu se connecter") from task.exception()
            until[0] = time.perf_counter() + seconds
            start.set()
            began = time.perf_counter()
            result["deposited_at"] = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            for extract in _extracts(out / "next"):  # every structure's next extract arrives
                deposit(settings, extract, extract.parent.name, _format(extract))
            await asyncio.gather(*tasks)
            result["browse_seconds"] = time.perf_counter() - began
            while _pending(depot_root(settings)) and time.perf_counter() - began < 6 * 3600:
                await asyncio.sleep(1)

        asyncio.run(run())
    finally:
        server.terminate()
        server.join()
    result["load_seconds"], result["rows_next"] = _next_batches(settings, result["deposited_at"])
    return result


def _pending(root: Path) -> bool:
    return any(
        p.is_dir() and not p.name.startswith(".") for p in root.glob("*/*") if p.name not in ("archive", "rejets")
    )


def _next_batches(settings: Any, since: dt.datetime) -> tuple[float, int]:
    """Seconds from the start of the first batch begun after ``since`` to the last commit, and rows read."""
    import duckdb

    con = duckdb.connect(settings.warehouse.removeprefix("duckdb://"), read_only=True)
    try:
        first, last, rows = con.execute(
            "SELECT min(started_at), max(committed_at), coalesce(sum(rows_read), 0) FROM etl_batch "
            "WHERE started_at >= ?",
            [since],
        ).fetchone()
    finally:
        con.close()
    return ((last - first).total_seconds() if first is not None else 0.0), int(rows)


# -- 4. the cost of scoping ----------------------------------------------------------------------------------


def measures_time(home: Path, structures: Path, finess: str | None, repeats: int, queue: Any) -> None:
    """Median seconds of every measure on 2025 for ``finess`` through ScopedTables (None: the whole home)."""
    from proxisante.installation import open_installation
    from proxisante.measures import results
    from proxisante.measures.periods import parse_period
    from proxisante.network.scope import Scope, ScopedTables
    from proxisante.settings import Settings

    installation = open_installation(Settings(home=home, structures_path=structures))
    tables = installation.warehouse if finess is None else ScopedTables(installation.warehouse, Scope.of([finess]))
    times, totals = [], None
    try:
        for _ in range(repeats):
            began = time.perf_counter()
            run = results.run(tables, parse_period("2025"))
            times.append(time.perf_counter() - began)
            totals = run.table.to_csv(index=False)
    finally:
        installation.close()
    queue.put({"seconds": statistics.median(times), "totals": totals, "peak_mib": peak_mib()})


# -- main ----------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--structures", type=int, default=12)
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--think", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        made = in_process(generate, root, args.structures, args.patients, args.seed)
        print(
            f"réseau de {args.structures} structures, {made.get('persons', 0):,} personnes "
            f"({made.get('shared', 0):,} vues par deux structures) généré en {made.get('seconds', 0):.0f} s"
        )
        home = root / "home"
        base = in_process(load, root, home, None)
        rate = base["rows"] / base["seconds"]
        print(
            f"chargement direct : {base['rows']:,} lignes en {base['seconds']:.0f} s ({rate:,.0f} lignes/s), "
            f"pic {base['peak_mib']:,.0f} Mio"
        )
        alone = root / "alone"
        in_process(load, root, alone, made["largest"])
        structures = root / "first" / "structures.yaml"
        scoped = in_process(measures_time, home, structures, made["largest"], args.repeats)
        single = in_process(measures_time, alone, structures, None, args.repeats)
        same = scoped.get("totals") == single.get("totals")
        print(
            f"mesures d'une structure ({made['largest']}) : {scoped['seconds']:.1f} s dans le réseau (périmètre), "
            f"{single['seconds']:.1f} s seule ; rapport {scoped['seconds'] / single['seconds']:.2f} ; "
            f"résultats identiques : {'oui' if same else 'NON'} ; pics {scoped['peak_mib']:,.0f} / "
            f"{single['peak_mib']:,.0f} Mio"
        )
        served = browse_while_loading(root, home, args.users, args.seconds, args.think)
        report_browsing(served, rate, args)


def report_browsing(served: dict[str, Any], baseline_rate: float, args: argparse.Namespace) -> None:
    ms = [1000 * v for _, v in served["latencies"]]
    if not ms:
        raise SystemExit(f"aucune requête mesurée ; erreurs : {sorted(set(served['errors']))[:5]}")
    print(
        f"{args.users} utilisateurs, {served['browse_seconds']:.0f} s, {len(ms):,} pages, "
        f"{len(served['errors'])} erreurs"
    )
    print(f"pages : p50 {percentile(ms, 50):.0f} ms, p95 {percentile(ms, 95):.0f} ms, p99 {percentile(ms, 99):.0f} ms")
    for path in PAGES:
        times = [1000 * v for p, v in served["latencies"] if p == path]
        if times:
            print(
                f"  {path:<24} {len(times):>6} pages, p50 {percentile(times, 50):.0f} ms, "
                f"p95 {percentile(times, 95):.0f} ms, p99 {percentile(times, 99):.0f} ms"
            )
    rows, span = served["rows_next"], served["load_seconds"]
    if span:
        print(
            f"extraits suivants chargés pendant la navigation : {rows:,} lignes en {span:.0f} s "
            f"({rows / span:,.0f} lignes/s ; rapport au chargement seul {rows / span / baseline_rate:.2f})"
        )
    for line in sorted(set(served["errors"]))[:10]:
        print("  erreur :", line)


if __name__ == "__main__":
    main()
