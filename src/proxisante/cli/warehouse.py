"""``proxisante status`` and ``proxisante quarantine``: what the warehouse holds, and the lines it refused."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.table import Table

from proxisante.cli.common import console, number
from proxisante.cli.scope import AttributedOption, CptsOption, NetworkOption, StructureOption, print_scope
from proxisante.cli.scope import scope_from_options as chosen_scope
from proxisante.formats import percent
from proxisante.ingest.pivot.format import TABLES as PIVOT_TABLES
from proxisante.installation import Installation, open_installation
from proxisante.network.freshness import Freshness, freshness, shown
from proxisante.network.scope import Scope, ScopedTables
from proxisante.network.structures import StructureError, StructureRegistry
from proxisante.warehouse.status import quarantined_rows, warehouse_status
from proxisante.warehouse.tables import Tables


def status(
    structure: StructureOption = None,
    reseau: NetworkOption = False,
    cpts: CptsOption = None,
    rattaches: AttributedOption = False,
) -> None:
    """Tables, nombre de lignes, derniers chargements et rejets par motif (du périmètre choisi)."""
    scope = chosen_scope(structure, reseau, cpts, rattaches)
    installation = open_installation()
    try:
        snapshot = warehouse_status(ScopedTables(installation.warehouse, scope))
        fresh = structure_freshness(installation, scope)
    finally:
        installation.close()
    print_scope(scope, installation.settings)
    table = Table(title=f"Entrepôt ({snapshot.engine})")
    for column in ("table", "groupe", "lignes"):
        table.add_column(column, justify="right" if column == "lignes" else "left")
    for name, (group, rows) in snapshot.counts.items():
        table.add_row(name, group, number(rows))
    console.print(table)
    batches = Table(title="Derniers lots")
    for column in ("lot", "source", "validé le", "fichiers", "lues", "chargées", "quarantaine"):
        batches.add_column(column)
    for row in snapshot.last_batches.itertuples():
        batches.add_row(
            row.batch_id,
            row.source,
            f"{row.committed_at:%d/%m/%Y %H:%M:%S}",
            number(row.files),
            number(row.rows_read),
            number(row.rows_loaded),
            number(row.rows_quarantined),
        )
    console.print(batches)
    rejects = Table(title="Rejets par motif")
    for column in ("table", "champ", "motif", "lignes"):
        rejects.add_column(column)
    for row in snapshot.rejects_by_reason.itertuples():
        rejects.add_row(row.pivot_table, row.field or "(ligne)", row.reason, number(row.rows))
    console.print(rejects)
    if fresh is not None:
        print_freshness(fresh)


def structure_freshness(installation: Installation, scope: Scope | None = None) -> Freshness | None:
    """Freshness per structure of ``scope`` (default: the network), when the warehouse has structures (a
    batch with one, or a registry)."""
    scope = scope or Scope.network()
    try:
        registry = [s for s in StructureRegistry.installed(installation.settings).all() if scope.allows(s.finess)]
    except StructureError as error:
        console.print(f"[red]{error}[/red]")
        registry = []
    tables = ScopedTables(installation.warehouse, scope.seen_here())
    if not shown(tables, registry):
        return None
    return freshness(tables, dt.date.today(), registry)


def print_freshness(fresh: Freshness) -> None:
    out = Table(title="Fraîcheur par structure")
    for column in ("structure", "FINESS", "dernier extrait", "jours", "alertes"):
        out.add_column(column, justify="right" if column == "jours" else "left")
    for row in fresh.structures:
        out.add_row(
            row.name,
            row.finess or "",
            f"{row.last_extract:%d/%m/%Y}" if row.last_extract else "aucun",
            number(row.days) if row.days is not None else "",
            "\n".join(alert.message for alert in row.alerts) or "aucune",
        )
    console.print(out)
    limits = fresh.thresholds
    console.print(
        f"Seuils : aucun extrait depuis plus de {limits.silence_days} jours ; volume d'une table sous "
        f"{percent(limits.volume_share, 0)} de sa médiane des {limits.volume_months} mois précédents "
        "(paramètres à confirmer, network/freshness.yaml)."
    )


def quarantine(
    table: Annotated[str | None, typer.Option(help="seulement cette table pivot")] = None,
    limit: Annotated[int, typer.Option(help="nombre de lignes affichées")] = 50,
    structure: StructureOption = None,
    reseau: NetworkOption = False,
    cpts: CptsOption = None,
) -> None:
    """Liste les lignes rejetées : fichier, ligne, champ, motif (du périmètre choisi)."""
    scope = chosen_scope(structure, reseau, cpts)
    installation = open_installation()
    try:
        if table is not None:
            table = _known_table(installation.warehouse, table)
        rows = quarantined_rows(ScopedTables(installation.warehouse, scope), table, limit)
    finally:
        installation.close()
    print_scope(scope, installation.settings)
    out = Table(title="Quarantaine")
    for column in ("fichier", "ligne", "champ", "motif", "valeur"):
        out.add_column(column)
    for row in rows.itertuples():
        out.add_row(row.file_name, str(row.line), row.field or "(ligne)", row.reason, row.value)
    console.print(out)


def _known_table(warehouse: Tables, name: str) -> str:
    """``--table``: a pivot table, or a table named by a rejected row (an OMOP import's), spelt as known; else
    a French refusal listing them (exit 2), rather than an empty list that reads "nothing rejected"."""
    quarantine = warehouse.table("etl_quarantine")
    named = warehouse.execute(quarantine.select("pivot_table").distinct())["pivot_table"].dropna()
    known = sorted({spec.name for spec in PIVOT_TABLES} | {str(t) for t in named})
    found = next((k for k in known if k.casefold() == name.strip().casefold()), None)
    if found is None:
        console.print(f"[red]Table inconnue :[/red] « {name} » ; tables connues : {', '.join(known)}", highlight=False)
        raise typer.Exit(code=2)
    return found
