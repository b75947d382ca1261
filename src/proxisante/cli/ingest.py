"""``proxisante ingest PATH --format NAME``: every format of :data:`proxisante.ingest.FORMATS`, loaded the same
way (one signature, one progress bar, one report, one refusal)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import duckdb
import typer

from proxisante.cli.common import console, print_load_report, progress_bar, write_error_text
from proxisante.ingest import FORMATS
from proxisante.ingest.batch import LoadReport
from proxisante.ingest.files import InputFileError
from proxisante.installation import open_installation


def known_format(name: str) -> str:
    """``--format``: a name of :data:`FORMATS`, or a French refusal listing them."""
    if name not in FORMATS:
        raise typer.BadParameter(f"format inconnu: {name} (formats disponibles: {', '.join(FORMATS)})")
    return name


FORMAT_HELP = "format des fichiers — " + " ; ".join(f"{f.name} : {f.label}" for f in FORMATS.values())


def ingest(
    path: Annotated[Path, typer.Argument(help="dossier des fichiers exportés")],
    file_format: Annotated[
        str, typer.Option("--format", help=FORMAT_HELP, metavar=f"<{'|'.join(FORMATS)}>", callback=known_format)
    ] = "pivot",
    source: Annotated[
        str | None,
        typer.Option(help="nom du logiciel ou du site d'origine (défaut : default, ou le FINESS de --structure)"),
    ] = None,
    structure: Annotated[
        str | None, typer.Option("--structure", help="FINESS juridique de la structure du réseau dont vient l'export")
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            help="serveur web en marche : secondes d'attente de son rapport (défaut : ingest_wait_seconds, "
            "ingest/dropfolders.yaml)"
        ),
    ] = None,
) -> None:
    """Charge un export (pivot, FHIR ou OMOP CDM 5.4) dans l'entrepôt, en un lot atomique et idempotent.

    Quand le serveur web tourne, l'export est déposé dans le dossier de dépôt de la structure et le serveur le
    charge : la commande attend son rapport."""
    check_input(path)
    if through_server(path, file_format, source, structure, timeout):
        return
    if structure is None:
        print_report(load(path, source or "default", file_format), file_format)
        return
    from proxisante.network.structures import load_source

    finess = member(structure)
    print_report(load(path, load_source(finess, source), file_format, structure=finess), file_format)


def check_input(path: Path) -> None:
    """A path that does not exist, or a folder without any file, is refused in French (exit 2) before anything is
    opened: an empty batch would read as a load that found nothing wrong."""
    if not path.exists():
        console.print(f"[red]Rien n'a été chargé :[/red] {path} n'existe pas.", highlight=False)
        raise typer.Exit(code=2)
    if path.is_dir() and not any(f.is_file() and not f.name.startswith(".") for f in path.rglob("*")):
        console.print(
            f"[red]Rien n'a été chargé :[/red] le dossier {path} est vide (aucun fichier à charger).", highlight=False
        )
        raise typer.Exit(code=2)


def through_server(
    path: Path, file_format: str, source: str | None, structure: str | None, timeout: float | None
) -> bool:
    """While ``proxisante serve`` holds the warehouse, the export goes to the structure's drop folder and the
    server loads it: wait for its report and print it. False when no server runs (load here)."""
    from proxisante.ingest.dropfolders import PARAMETERS, deposit, wait_for_report
    from proxisante.installation import running_server
    from proxisante.settings import get_settings

    settings = get_settings()
    server = running_server(settings)
    if server is None:
        return False
    held = f"Le serveur web (processus {server.pid}, {server.url}) tient l'entrepôt"
    if structure is None:
        console.print(
            f"[red]Rien n'a été chargé :[/red] {held} ; pendant qu'il sert, un export passe par le dossier de dépôt "
            "d'une structure du réseau : indiquez-la avec --structure FINESS (proxisante structures list), ou "
            "arrêtez le serveur puis relancez la commande.",
            highlight=False,
        )
        raise typer.Exit(code=2)
    finess = member(structure)
    wait = timeout if timeout is not None else float(PARAMETERS.value("ingest_wait_seconds"))
    extract = deposit(settings, path, finess, file_format, source)
    console.print(f"{held} : export déposé dans {extract}, attente du rapport du serveur…", highlight=False)
    report = wait_for_report(extract, wait)
    if report is None:
        console.print(
            f"[yellow]Pas encore de rapport après {wait:g} s :[/yellow] l'export reste dans le dossier de dépôt et "
            f"sera chargé ; son rapport sera dans {extract.parent / 'archive'} ou {extract.parent / 'rejets'}.",
            highlight=False,
        )
        raise typer.Exit(code=1)
    console.print(report.text().rstrip(), highlight=False)
    if report.status == "rejected":
        raise typer.Exit(code=2)
    return True


def member(finess: str) -> str:
    """``--structure``: the FINESS of a structure registered and member today, else a French refusal (exit 2)."""
    from proxisante.network.structures import StructureError, StructureRegistry
    from proxisante.settings import get_settings

    try:
        return StructureRegistry.installed(get_settings()).check_active(finess).finess
    except StructureError as error:
        console.print(f"[red]Structure refusée, rien n'a été chargé :[/red] {error}", highlight=False)
        raise typer.Exit(code=2) from error


def load(path: Path, source: str, file_format: str = "pivot", *, structure: str | None = None) -> LoadReport:
    """Load ``path``, in a format of :data:`FORMATS`, into the installation under a progress bar. A refused
    input, or a store that cannot be written, is said in French and exits with code 2: nothing was loaded.
    ``structure`` is the FINESS recorded on the batch."""
    installation = open_installation()
    try:
        with progress_bar() as progress:
            task = progress.add_task("Chargement", total=None)

            def advance(step: str, rows: int) -> None:
                progress.update(task, description=step, advance=rows)

            return FORMATS[file_format].load(path, installation, source, advance, structure=structure)
    except InputFileError as error:
        console.print(f"[red]Fichier refusé, rien n'a été chargé :[/red] {error}")
        raise typer.Exit(code=2) from error
    except (OSError, duckdb.IOException) as error:  # writing the warehouse or the vault: a full disk
        console.print(f"[red]Écriture impossible, rien n'a été chargé :[/red] {write_error_text(error)}")
        raise typer.Exit(code=2) from error
    finally:
        installation.close()


def print_report(report: LoadReport, file_format: str = "pivot") -> None:
    """What the load did with each file, and the files its format left aside."""
    print_load_report(report, "Lot chargé", FORMATS[file_format].ignored)
