"""``proxisante objection``: record, withdraw and list patients' objections (droit d'opposition)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from proxisante.cli.common import console
from proxisante.identity.objection import InvalidINS
from proxisante.runtime import open_installation

objection_app = typer.Typer(
    help="Oppositions des patients à la recherche et aux rapports externes (par INS).", no_args_is_help=True
)

By = Annotated[str, typer.Option("--by", help="qui enregistre (nom du professionnel ou du service)")]


@objection_app.command("add")
def add(
    ins: Annotated[str, typer.Argument(help="INS du patient (15 caractères)")],
    by: By,
    note: Annotated[str | None, typer.Option(help="commentaire (sans donnée de santé)")] = None,
) -> None:
    """Enregistre l'opposition d'un patient : il sort des extraits de recherche et des rapports externes."""
    installation = open_installation()
    try:
        person_id, created = installation.objections.add(ins, by, note)
    except InvalidINS as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(code=2) from error
    finally:
        installation.close()
    state = "enregistrée" if created else "déjà enregistrée"
    console.print(
        f"Opposition {state} (pseudonyme {person_id}). Le patient reste dans les listes de l'équipe de soins."
    )


@objection_app.command("remove")
def remove(ins: Annotated[str, typer.Argument(help="INS du patient")], by: By) -> None:
    """Retire l'opposition d'un patient."""
    installation = open_installation()
    try:
        person_id, removed = installation.objections.remove(ins, by)
    except InvalidINS as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(code=2) from error
    finally:
        installation.close()
    console.print(f"Opposition retirée (pseudonyme {person_id})." if removed else "Aucune opposition pour cet INS.")


@objection_app.command("list")
def list_objections(
    reader: Annotated[str, typer.Option("--reader", help="qui consulte la liste (lecture nominative tracée)")],
) -> None:
    """Liste les oppositions avec l'INS et le nom : lecture nominative, tracée dans le journal d'accès."""
    installation = open_installation()
    try:
        rows = installation.objections.nominative_list(reader).to_pylist()
    finally:
        installation.close()
    table = Table(title=f"Oppositions ({len(rows)})")
    for column in ("INS", "nom", "prénoms", "pseudonyme", "enregistrée le", "par", "commentaire"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["ins"] or "(patient pas encore chargé)", row["family_name"] or "", row["given_names"] or "",
            str(row["person_id"]), f"{row['recorded_at']:%d/%m/%Y %H:%M}", row["recorded_by"], row["note"] or "",
        )  # fmt: skip
    console.print(table)
