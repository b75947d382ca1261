"""Benchmark of the web application: the first view of every page after a load, then N concurrent simulated
users browsing the pages, nominative ones included.

A synthetic centre of ``--patients`` patients is generated and loaded into a fresh data home, the
server runs in its own process on 127.0.0.1 (as ``proxisante serve``) and computes the default views of
every scope in the background as it does after each load (``web/warming.py``; its time is printed apart:
the engines' time, paid once per load). Then:

1. **first views**: one user logs in and opens each page of ``FIRST_VIEWS`` once, as the first visitor
   after the load would: the home page, patientèle, indicators, one indicator, the work list, a patient's
   prevention plan, quality, economics (issue 21 asks ≤ 1 s each at 100,000 patients for the default
   views; an indicator's page is computed on demand, with « Calcul en cours »);
2. **browsing**: ``--users`` clients log in and fetch ``PAGES`` in a loop for ``--seconds``, reading each
   page ``--think`` seconds on average (uniform between half and one and a half times; 0: back-to-back,
   which measures the saturated server). Prints p50/p95/p99 latency, requests per second and errors.
   Target: p95 ≤ 300 ms, zero errors, with 20 users on 100,000 patients.

    .venv/bin/python bench/web.py --patients 100000 --users 20 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import re
import socket
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from common import wait_until_up

PAGES = ("/", "/patientele", "/indicateurs", "/qualite", "/actions", "/actions?page=2", "/api/status",
         "/api/measures/results", "/api/patientele")  # fmt: skip
FIRST_VIEWS = ("/", "/patientele", "/indicateurs", "/indicateurs/rosp_diabetes_hba1c", "/actions", "{plan}",
               "/qualite", "/economie")  # fmt: skip
FIRST_VIEW_TARGET_S = 1.0
USER, PASSWORD = "bench", "Bench-proxisante-2026!"


def prepare(home: Path, patients: int) -> None:
    from proxisante.ingest.pivot.load import load_pivot
    from proxisante.installation import open_installation
    from proxisante.settings import Settings
    from proxisante.synth import SynthOptions, generate_centre
    from proxisante.web.security.accounts import AccountStore

    settings = Settings(home=home, secure_cookies=False)
    out = home / "centre"
    started = time.perf_counter()
    generate_centre(SynthOptions(patients=patients, seed=2026, out=out, file_format="csv"))
    installation = open_installation(settings)
    try:
        load_pivot(out, installation, source="bench")
    finally:
        installation.close()
    AccountStore(settings.accounts).add(USER, PASSWORD, ["coordinateur"])
    print(f"centre de {patients:,} patients généré et chargé en {time.perf_counter() - started:.1f} s")


def serve(home: str, port: int, ready) -> None:
    import uvicorn

    from proxisante.settings import Settings
    from proxisante.web.app import create_app
    from proxisante.web.warming import Warmer

    settings = Settings(home=Path(home), secure_cookies=False)
    app = create_app(settings, warm=True)  # as ``proxisante serve``: views computed again after each load
    started = time.perf_counter()
    Warmer(app.state.web.services, settings).run_once()  # what its thread does at start, timed here
    ready.put(time.perf_counter() - started)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


async def login(client: httpx.AsyncClient) -> None:
    page = await client.get("/connexion")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]  # type: ignore[index]
    response = await client.post("/connexion", data={"username": USER, "password": PASSWORD, "csrf_token": token})
    if response.status_code != 303:
        raise RuntimeError(f"connexion refusée : {response.status_code}")


async def user(
    base: str,
    start: asyncio.Event,
    seconds: float,
    latencies: list[float],
    errors: list[str],
    offset: int,
    ready: list[int],
    think: float,
) -> None:
    """Logs in (not timed: argon2 is slow on purpose), waits for every user, then browses."""
    async with httpx.AsyncClient(base_url=base, timeout=30, follow_redirects=False) as client:
        rng = random.Random(offset)
        await login(client)
        ready.append(offset)
        await start.wait()
        until = time.perf_counter() + seconds
        i = offset
        while time.perf_counter() < until:
            path = PAGES[i % len(PAGES)]
            i += 1
            started = time.perf_counter()
            try:
                response = await client.get(path)
                if response.status_code != 200:
                    errors.append(f"{path}: {response.status_code}")
            except httpx.HTTPError as error:
                errors.append(f"{path}: {error!r}")
            latencies.append((path, time.perf_counter() - started))
            if think:
                await asyncio.sleep(rng.uniform(0.5 * think, 1.5 * think))


async def first_views(base: str) -> list[tuple[str, float, int]]:
    """Each page of ``FIRST_VIEWS`` opened once by a user who just logged in: (page, seconds, status)."""
    async with httpx.AsyncClient(base_url=base, timeout=600, follow_redirects=False) as client:
        await login(client)
        listed = await client.get("/api/gaps", params={"par_patient": "true", "limit": 1})
        rows = listed.json().get("rows", []) if listed.status_code == 200 else []
        plan = f"/actions/patients/{rows[0]['person_id']}" if rows else "/actions"
        seen = []
        for path in FIRST_VIEWS:
            path = path.format(plan=plan)
            started = time.perf_counter()
            response = await client.get(path)
            seen.append((path, time.perf_counter() - started, response.status_code))
        return seen


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--think", type=float, default=1.0, help="mean reading time between two pages (s); 0: none")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        prepare(home, args.patients)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        context = multiprocessing.get_context("spawn")
        ready = context.Queue()
        server = context.Process(target=serve, args=(str(home), port, ready))
        server.start()
        try:
            print(f"vues par défaut calculées en {ready.get(timeout=3600):.1f} s (moteurs, une fois par chargement)")
            base = f"http://127.0.0.1:{port}"
            wait_until_up(base)
            print(
                f"premières vues après le chargement (cible ≤ {FIRST_VIEW_TARGET_S:.0f} s pour les vues par défaut) :"
            )
            for path, seconds, status in asyncio.run(first_views(base)):
                mark = "" if seconds <= FIRST_VIEW_TARGET_S else "  > cible"
                print(f"  {path:<40} {1000 * seconds:>8.0f} ms  (HTTP {status}){mark}")
            latencies: list[tuple[str, float]] = []
            errors: list[str] = []

            async def run() -> None:
                start, ready = asyncio.Event(), []
                tasks = [
                    asyncio.create_task(user(base, start, args.seconds, latencies, errors, k, ready, args.think))
                    for k in range(args.users)
                ]
                async with httpx.AsyncClient(base_url=base, timeout=600) as warm:
                    await login(warm)
                    for path in PAGES:  # one visit of each page builds its figures (cached per load)
                        await warm.get(path)
                while len(ready) < args.users:
                    await asyncio.sleep(0.05)
                    for task in tasks:
                        if task.done() and task.exception():
                            raise task.exception()  # type: ignore[misc]
                start.set()
                await asyncio.gather(*tasks)

            asyncio.run(run())
        finally:
            server.terminate()
            server.join()
    ms = [1000 * v for _, v in latencies]
    if not ms:
        raise SystemExit(f"aucune requête mesurée ; erreurs : {sorted(set(errors))[:5]}")
    print(
        f"{args.users} utilisateurs (lecture {args.think:.1f} s en moyenne entre deux pages), {args.seconds:.0f} s, "
        f"{len(ms):,} requêtes ({len(ms) / args.seconds:.0f}/s), "
        f"{len(errors)} erreurs"
    )
    print(
        f"latence p50 {percentile(ms, 50):.0f} ms, p95 {percentile(ms, 95):.0f} ms, p99 {percentile(ms, 99):.0f} ms, "
        f"moyenne {statistics.fmean(ms):.0f} ms (cible p95 ≤ 300 ms, zéro erreur)"
    )
    for path in PAGES:
        times = [1000 * v for p, v in latencies if p == path]
        if times:
            print(
                f"  {path:<24} {len(times):>6} requêtes, "
                f"p50 {percentile(times, 50):.0f} ms, p95 {percentile(times, 95):.0f} ms"
            )
    for line in sorted(set(errors))[:10]:
        print("  erreur :", line)


if __name__ == "__main__":
    main()
