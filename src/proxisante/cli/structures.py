"""``proxisante structures add|list|show|leave|purger``: the registry of the network's member structures
(:mod:`proxisante.network.structures`, ``docs/network.md``)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from proxisante.cli.common import console, date, number, print_row_counts
from proxisante.measures.periods import PeriodError, parse_day

if TYPE_CHECKING:
    from proxisante.network.purge import PurgeReport
    from proxisante.network.structures import Structure, StructureRegistry

structures_app = typer.Typer(
    help="Structures membres du réseau (CDS, MSP, ESP, CPTS) : registre, adhésions et départs.",
    no_args_is_help=True,
)
FORMATS = ("table", "json", "csv")
COLUMNS = ("finess", "nom", "type", "finess_geo", "commune", "cpts", "adhesion", "depart", "convention")


def _registry() -> StructureRegistry:
    from proxisante.network.structures import StructureRegistry
    from proxisante.settings import get_settings

    return StructureRegistry.installed(get_settings())


def _refuse(error: Exception, what: str = "Refusé") -> typer.Exit:
    console.print(f"[red]{what} :[/red] {error}", highlight=False)
    return typer.Exit(code=2)


def _day(value: str | None, field: str) -> dt.date | None:
    """``--adhesion`` / ``--date``: AAAA-MM-JJ (or JJ/MM/AAAA), else a French refusal naming the field."""
    if value is None:
        return None
    try:
        return parse_day(value)
    except PeriodError as error:
        raise typer.BadParameter(str(error), param_hint=field) from error


@structures_app.command("add")
def add(
    finess: Annotated[str, typer.Option("--finess", help="FINESS juridique (9 caractères, clé vérifiée)")],
    name: Annotated[str, typer.Option("--nom", help="nom de la structure")],
    kind: Annotated[str, typer.Option("--type", help="CDS, MSP, ESP ou CPTS")],
    commune: Annotated[str | None, typer.Option("--commune", help="code INSEE de la commune")] = None,
    cpts: Annotated[str | None, typer.Option("--cpts", help="CPTS dont la structure est membre")] = None,
    finess_geo: Annotated[
        list[str] | None, typer.Option("--finess-geo", help="FINESS géographique d'un site (répétable)")
    ] = None,
    agreement: Annotated[
        str | None, typer.Option("--convention", help="référence de la convention de partage de données")
    ] = None,
    joined: Annotated[
        str | None, typer.Option("--adhesion", help="date d'adhésion au réseau, AAAA-MM-JJ (défaut : aujourd'hui)")
    ] = None,
) -> None:
    """Inscrit une structure au registre du réseau ; un FINESS déjà inscrit est refusé."""
    from proxisante.network.structures import StructureError, parse

    day = _day(joined, "--adhesion") or dt.date.today()
    entry: dict[str, Any] = {
        "finess": finess,
        "nom": name,
        "type": kind,
        "finess_geo": finess_geo or [],
        "commune": commune,
        "cpts": cpts,
        "adhesion": day,
        "convention": agreement,
    }
    try:
        structure = _registry().add(parse(entry, f"FINESS {finess}"))
    except StructureError as error:
        raise _refuse(error, "Structure refusée") from error
    console.print(
        f"Structure {structure.name} ({structure.type_label}, FINESS {structure.finess}) inscrite au réseau "
        f"le {date(structure.joined)}.",
        highlight=False,
    )


@structures_app.command("list")
def list_structures(
    output: Annotated[str, typer.Option("--format", help="table, json ou csv", metavar="<table|json|csv>")] = "table",
) -> None:
    """Liste les structures du registre, parties comprises (avec leur date de départ)."""
    from proxisante.network.structures import StructureError

    if output not in FORMATS:
        raise typer.BadParameter(f"format inconnu : {output} (formats : {', '.join(FORMATS)})", param_hint="--format")
    try:
        structures = _registry().all()
    except StructureError as error:
        raise _refuse(error, "Registre illisible") from error
    records = [_record(s) for s in structures]
    if output == "json":
        typer.echo(json.dumps(records, ensure_ascii=False, indent=2))
        return
    if output == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, delimiter=";", lineterminator="\n")
        writer.writeheader()
        writer.writerows({**r, "finess_geo": " ".join(r["finess_geo"])} for r in records)
        typer.echo(buffer.getvalue(), nl=False)
        return
    table = Table(title="Structures du réseau")
    for column in ("FINESS", "nom", "type", "commune", "CPTS", "adhésion", "départ"):
        table.add_column(column)
    for s in structures:
        table.add_row(
            s.finess, s.name, s.type, s.commune or "", s.cpts or "", date(s.joined), date(s.left) if s.left else ""
        )
    console.print(table)
    if not structures:
        console.print("Aucune structure inscrite (proxisante structures add).")


@structures_app.command("show")
def show(finess: Annotated[str, typer.Argument(help="FINESS juridique")]) -> None:
    """Affiche une structure et l'historique de ses changements."""
    from proxisante.network.structures import StructureError

    registry = _registry()
    try:
        structure = registry.require(finess)
    except StructureError as error:
        raise _refuse(error, "Introuvable") from error
    lines = {
        "FINESS juridique": structure.finess,
        "nom": structure.name,
        "type": f"{structure.type} ({structure.type_label})",
        "FINESS géographiques": ", ".join(structure.finess_geo) or "—",
        "commune (INSEE)": structure.commune or "—",
        "CPTS": structure.cpts or "—",
        "adhésion": date(structure.joined),
        "départ": date(structure.left) if structure.left else "—",
        "convention": structure.agreement or "—",
        "état": "membre" if structure.active_on(dt.date.today()) else "non membre aujourd'hui",
    }
    purges = registry.purges(structure.finess)
    if purges:
        lines["données"] = f"purgées le {date(dt.datetime.fromisoformat(purges[-1]['at']))}"
    table = Table(title=structure.name, show_header=False)
    table.add_column("champ")
    table.add_column("valeur")
    for label, value in lines.items():
        table.add_row(label, value)
    console.print(table)
    for entry in registry.history():
        if entry.get("finess") == structure.finess:
            console.print(f"  {entry['at']} — {entry['action']} par {entry['by']}", highlight=False)


@structures_app.command("leave")
def leave(
    finess: Annotated[str, typer.Argument(help="FINESS juridique")],
    on: Annotated[str | None, typer.Option("--date", help="date de départ, AAAA-MM-JJ (défaut : aujourd'hui)")] = None,
) -> None:
    """Enregistre le départ d'une structure : elle reste au registre (historique) mais ne peut plus charger."""
    from proxisante.network.structures import StructureError

    day = _day(on, "--date")
    try:
        structure = _registry().leave(finess, day)
    except StructureError as error:
        raise _refuse(error, "Départ refusé") from error
    console.print(
        f"Structure {structure.name} (FINESS {structure.finess}) : départ du réseau le {date(structure.left)}.",
        highlight=False,
    )


@structures_app.command("purger")
def purge(
    finess: Annotated[str, typer.Argument(help="FINESS juridique de la structure partie")],
    confirm: Annotated[
        str | None, typer.Option("--confirmer", help="le même FINESS, tapé une seconde fois pour confirmer")
    ] = None,
) -> None:
    """Purge les données d'une structure qui a quitté le réseau : entrepôt, coffre d'identités, dossier de dépôt.

    Irréversible ; l'entrée du registre reste (historique) et la purge est inscrite au journal. Relancée
    après une interruption, la commande termine la purge."""
    from proxisante.installation import open_installation
    from proxisante.network.purge import PurgeError, purge_structure, structure_that_left
    from proxisante.network.structures import StructureError

    wanted = finess.strip().upper()
    if confirm is None or confirm.strip().upper() != wanted:
        raise _refuse(
            ValueError(
                f"pour purger, tapez le FINESS une seconde fois : proxisante structures purger {wanted} "
                f"--confirmer {wanted}"
            ),
            "Purge refusée",
        )
    try:  # refused before the warehouse is opened
        structure_that_left(_registry(), wanted, dt.date.today())
    except (PurgeError, StructureError) as error:
        raise _refuse(error, "Purge refusée") from error
    installation = open_installation()
    try:
        report = purge_structure(installation, wanted)
    except (PurgeError, StructureError) as error:
        raise _refuse(error, "Purge refusée") from error
    finally:
        installation.close()
    _print_purge(report)


def _print_purge(report: PurgeReport) -> None:
    """The French summary of a purge: rows per table, vault, drop folder, journal line."""
    title = f"{report.name} (FINESS {report.finess})"
    if report.already is not None:
        console.print(
            f"Rien à purger : les données de {title} ont déjà été purgées le "
            f"{date(dt.datetime.fromisoformat(report.already['at']))} (journal du réseau, ligne "
            f"{report.already['seq']}).",
            highlight=False,
        )
        return
    rows = {name: count for name, count in report.rows.items() if count}
    if rows:
        print_row_counts("Lignes supprimées de l'entrepôt", rows)
    console.print(f"Entrepôt : {_count(report.total_rows, 'ligne supprimée', 'lignes supprimées')}.", highlight=False)
    pending = f", {_count(report.pending, 'ligne en attente supprimée', 'lignes en attente supprimées')}"
    console.print(
        f"Coffre d'identités : {_count(report.links, 'lien patient supprimé', 'liens patient supprimés')}, "
        f"{_count(report.identities, 'identité supprimée', 'identités supprimées')} (personnes vues par cette "
        f"seule structure){pending if report.pending else ''}.",
        highlight=False,
    )
    console.print(
        f"Dossier de dépôt depot/{report.finess}/ : {_count(report.files, 'fichier supprimé', 'fichiers supprimés')}.",
        highlight=False,
    )
    console.print(
        f"Données de {title} purgées ; purge inscrite au journal du réseau (ligne {report.journal_seq}). "
        "La structure reste au registre.",
        highlight=False,
    )


def _count(n: int, one: str, several: str) -> str:
    """``n`` and its French noun: singular for 0 and 1, plural from 2."""
    return f"{number(n)} {several if n > 1 else one}"


def _record(structure: Structure) -> dict[str, Any]:
    record = structure.record()
    for key in ("adhesion", "depart"):
        record[key] = record[key].isoformat() if record[key] else None
    return record
