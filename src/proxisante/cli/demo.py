"""``proxisante synth`` (a synthetic centre) and ``proxisante demo`` (that centre generated, loaded, measured
and served, with a demo login)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from proxisante.cli.common import console, print_row_counts, progress_bar
from proxisante.cli.ingest import load, print_report
from proxisante.cli.warehouse import status
from proxisante.installation import open_installation

DEMO_PATIENTS = 20_000
DEMO_SEED = 2026
DEMO_PERIOD = "2025"
DEMO_USER = "demo"
DEMO_PASSWORD = "Demo-proxisante-2026!"  # synthetic data only: printed by the demo


def synth(
    out: Annotated[Path, typer.Option(help="dossier de sortie (format pivot ou FHIR NDJSON)")],
    patients: Annotated[int, typer.Option(help="nombre de patients")] = DEMO_PATIENTS,
    seed: Annotated[int, typer.Option(help="graine (même graine, mêmes fichiers)")] = DEMO_SEED,
    file_format: Annotated[str, typer.Option("--format", help="csv, parquet ou fhir (NDJSON)")] = "csv",
    defects: Annotated[bool, typer.Option(help="injecter les défauts des exports réels")] = False,
) -> None:
    """Génère un centre de santé synthétique réaliste au format pivot."""
    _synthesise(out, patients, seed, file_format, defects)


def _synthesise(out: Path, patients: int, seed: int, file_format: str, defects: bool) -> None:
    from proxisante.synth import SynthOptions, generate_centre

    options = SynthOptions(patients=patients, seed=seed, out=out, file_format=file_format, defects=defects)
    with progress_bar() as progress:
        task = progress.add_task("Génération des patients", total=patients)
        summary = generate_centre(options, progress=lambda table, rows, done: progress.update(task, completed=done))
        progress.update(task, completed=patients)
    print_row_counts(f"Centre synthétique — {out}", summary.rows)


def demo(
    patients: Annotated[int, typer.Option(help="taille du centre de démonstration")] = DEMO_PATIENTS,
    seed: Annotated[int, typer.Option(help="graine")] = DEMO_SEED,
    serve_web: Annotated[bool, typer.Option("--serve/--no-serve", help="servir ensuite le tableau de bord")] = True,
    port: Annotated[int, typer.Option(help="port du tableau de bord")] = 8000,
) -> None:
    """Génère le centre de démonstration, le charge, affiche l'état de l'entrepôt et sert le tableau de bord."""
    from proxisante.settings import get_settings

    out = get_settings().home_dir / "demo" / f"centre-{patients}-{seed}"
    if not (out / "patients.csv").exists():
        _synthesise(out, patients, seed, "csv", defects=False)
    print_report(load(out, source="demo"))
    status()
    _demo_indicators()
    _demo_login(port)
    if serve_web:
        from proxisante.cli.web import run_server

        run_server("127.0.0.1", port)


def _demo_login(port: int) -> None:
    """The demo login (coordinateur and gestionnaire: separation of duties keeps admin apart from the roles
    that read names), created once; its password is printed because the data is synthetic."""
    from proxisante.settings import get_settings
    from proxisante.web.security.accounts import AccountStore

    store = AccountStore(get_settings().accounts)
    if store.get(DEMO_USER) is None:
        store.add(DEMO_USER, DEMO_PASSWORD, ["coordinateur", "gestionnaire"], display_name="Démonstration")
    console.print(
        f"Tableau de bord : [bold]http://127.0.0.1:{port}/[/bold] — identifiant [bold]{DEMO_USER}[/bold], "
        f"mot de passe [bold]{DEMO_PASSWORD}[/bold] (centre synthétique ; ne pas réutiliser)"
    )


def _demo_indicators() -> None:
    """The indicator table of the demo centre for the last full year of its data."""
    from proxisante.cli.measures import print_measure_table
    from proxisante.measures.definition import library
    from proxisante.measures.periods import parse_period
    from proxisante.measures.results import run

    period = parse_period(DEMO_PERIOD)
    installation = open_installation()
    try:
        result = run(installation.warehouse, period)
    finally:
        installation.close()
    print_measure_table(
        result.table, list(library().values()), f"Indicateurs du centre de démonstration — {period.label}"
    )
