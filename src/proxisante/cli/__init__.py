"""The ``proxisante`` command line: thin Typer commands over the engines, French output."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from proxisante.cli.audit import audit_app
from proxisante.cli.common import console, number, print_load_report, print_row_counts, write_error_text
from proxisante.cli.economics import economie_app
from proxisante.cli.measures import gaps, measures_app
from proxisante.cli.objection import objection_app
from proxisante.cli.omop import export_app, ingest_omop
from proxisante.cli.population import patientele
from proxisante.cli.report import report_app
from proxisante.cli.research import research_app
from proxisante.cli.territory import territoire_app
from proxisante.cli.web import serve, users_app
from proxisante.ingest.batch import LoadReport
from proxisante.ingest.files import InputFileError
from proxisante.ingest.pivot.load import load_pivot
from proxisante.installation import open_installation
from proxisante.warehouse.status import quarantined_rows, warehouse_status

app = typer.Typer(help="proxisante — entrepôt de données de santé de proximité.", no_args_is_help=True)

DEMO_PATIENTS = 20_000
DEMO_SEED = 2026
DEMO_PERIOD = "2025"
DEMO_USER = "demo"
DEMO_PASSWORD = "Demo-proxisante-2026!"  # synthetic data only: printed by the demo


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=False,
    )  # fmt: skip


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="journal détaillé")] = False) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")


@app.command()
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
    with _progress() as progress:
        task = progress.add_task("Génération des patients", total=patients)
        summary = generate_centre(options, progress=lambda table, rows, done: progress.update(task, completed=done))
        progress.update(task, completed=patients)
    print_row_counts(f"Centre synthétique — {out}", summary.rows)


@app.command()
def ingest(
    path: Annotated[Path, typer.Argument(help="dossier des fichiers exportés")],
    file_format: Annotated[str, typer.Option("--format", help="format des fichiers")] = "pivot",
    source: Annotated[str, typer.Option(help="nom du logiciel ou du site d'origine")] = "default",
) -> None:
    """Charge un export (format pivot, ou FHIR : NDJSON, Bundles) dans l'entrepôt, en un lot atomique et idempotent."""
    if file_format == "omop":  # OMOP CDM 5.4 (CSV or Parquet): its own loader and report
        return ingest_omop(path, source)
    if file_format not in LOADERS:
        formats = ", ".join([*LOADERS, "omop"])
        raise typer.BadParameter(f"format inconnu: {file_format} (formats disponibles: {formats})")
    report = _ingest(path, source, file_format)
    _print_report(report)


def _load_fhir(*args, **kwargs) -> LoadReport:  # type: ignore[no-untyped-def]
    from proxisante.ingest.fhir.load import load_fhir

    return load_fhir(*args, **kwargs)


# ``--format`` of ``ingest``: each loader takes (path, warehouse, vault, pseudonymiser, source=, progress=).
LOADERS = {"pivot": load_pivot, "fhir": _load_fhir}


def _ingest(path: Path, source: str, file_format: str = "pivot") -> LoadReport:
    installation = open_installation()
    try:
        with _progress() as progress:
            task = progress.add_task("Chargement", total=None)

            def advance(step: str, rows: int) -> None:
                progress.update(task, description=step, advance=rows)

            return LOADERS[file_format](path, installation.warehouse, installation.vault, installation.pseudonymiser,
                                        source=source, progress=advance)  # fmt: skip
    except InputFileError as error:
        console.print(f"[red]Fichier refusé, rien n'a été chargé :[/red] {error}")
        raise typer.Exit(code=2) from error
    except (OSError, duckdb.IOException) as error:  # writing the warehouse or the vault: a full disk
        console.print(f"[red]Écriture impossible, rien n'a été chargé :[/red] {write_error_text(error)}")
        raise typer.Exit(code=2) from error
    finally:
        installation.close()


def _print_report(report: LoadReport) -> None:
    print_load_report(report, "Lot chargé", "Fichiers ignorés (pas une table du format pivot)")


@app.command()
def status() -> None:
    """Tables, nombre de lignes, derniers chargements et rejets par motif."""
    installation = open_installation()
    try:
        snapshot = warehouse_status(installation.warehouse)
    finally:
        installation.close()
    table = Table(title=f"Entrepôt ({snapshot.engine})")
    for column in ("table", "groupe", "lignes"):
        table.add_column(column, justify="right" if column == "lignes" else "left")
    for name, (group, rows) in snapshot.counts.items():
        table.add_row(name, group, _n(rows))
    console.print(table)
    batches = Table(title="Derniers lots")
    for column in ("lot", "source", "validé le", "fichiers", "lues", "chargées", "quarantaine"):
        batches.add_column(column)
    for row in snapshot.last_batches.itertuples():
        batches.add_row(row.batch_id, row.source, f"{row.committed_at:%d/%m/%Y %H:%M:%S}", _n(row.files),
                        _n(row.rows_read), _n(row.rows_loaded), _n(row.rows_quarantined))  # fmt: skip
    console.print(batches)
    rejects = Table(title="Rejets par motif")
    for column in ("table", "champ", "motif", "lignes"):
        rejects.add_column(column)
    for row in snapshot.rejects_by_reason.itertuples():
        rejects.add_row(row.pivot_table, row.field or "(ligne)", row.reason, _n(row.rows))
    console.print(rejects)


@app.command()
def quarantine(
    table: Annotated[str | None, typer.Option(help="seulement cette table pivot")] = None,
    limit: Annotated[int, typer.Option(help="nombre de lignes affichées")] = 50,
) -> None:
    """Liste les lignes rejetées : fichier, ligne, champ, motif."""
    installation = open_installation()
    try:
        rows = quarantined_rows(installation.warehouse, table, limit)
    finally:
        installation.close()
    out = Table(title="Quarantaine")
    for column in ("fichier", "ligne", "champ", "motif", "valeur"):
        out.add_column(column)
    for row in rows.itertuples():
        out.add_row(row.file_name, str(row.line), row.field or "(ligne)", row.reason, row.value)
    console.print(out)


@app.command()
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
    _print_report(_ingest(out, source="demo"))
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
    console.print(f"Tableau de bord : [bold]http://127.0.0.1:{port}/[/bold] — identifiant [bold]{DEMO_USER}[/bold], "
                  f"mot de passe [bold]{DEMO_PASSWORD}[/bold] (centre synthétique ; ne pas réutiliser)")  # fmt: skip


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


_n = number

app.add_typer(measures_app, name="measures")
app.add_typer(economie_app, name="economie")
app.add_typer(territoire_app, name="territoire")
app.add_typer(objection_app, name="objection")
app.add_typer(report_app, name="report")
app.add_typer(export_app, name="export")
app.add_typer(research_app, name="research")
app.command("gaps")(gaps)
app.command("patientele")(patientele)
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.command("serve")(serve)


if __name__ == "__main__":  # pragma: no cover
    app()
