"""``proxisante objection``: record, withdraw and list patients' objections (droit d'opposition)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from proxisante.cli.common import console
from proxisante.identity.objection import InvalidINS, ObjectionRegistry, UnknownPatient
from proxisante.installation import open_installation

objection_app = typer.Typer(
    help="Oppositions des patients à la recherche et aux rapports externes (par INS).", no_args_is_help=True
)

By = Annotated[str, typer.Option("--by", help="qui enregistre (nom du professionnel ou du service)")]
Ins = Annotated[str | None, typer.Argument(help="INS du patient (15 caractères)")]
Source = Annotated[str | None, typer.Option(help="source d'un patient sans INS (ex. omop:synthea), avec --patient-id")]
PatientId = Annotated[str | None, typer.Option("--patient-id", help="identifiant local du patient dans --source")]


def _person_id(registry: ObjectionRegistry, ins: str | None, source: str | None, patient_id: str | None) -> int:
    """The patient by INS, or by a source's local id for a patient loaded without INS (OMOP)."""
    if bool(ins) == bool(source and patient_id):
        raise typer.BadParameter("donner soit l'INS, soit --source et --patient-id")
    try:
        return registry.resolve(ins) if ins else registry.resolve_local(str(source), str(patient_id))
    except (InvalidINS, UnknownPatient) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(code=2) from error


@objection_app.command("add")
def add(
    by: By,
    ins: Ins = None,
    source: Source = None,
    patient_id: PatientId = None,
    note: Annotated[str | None, typer.Option(help="commentaire (sans donnée de santé)")] = None,
) -> None:
    """Enregistre l'opposition d'un patient : il sort des extraits de recherche et des rapports externes."""
    installation = open_installation()
    try:
        registry = installation.objections
        person_id, created = registry.add_person(_person_id(registry, ins, source, patient_id), by, note)
    finally:
        installation.close()
    state = "enregistrée" if created else "déjà enregistrée"
    console.print(
        f"Opposition {state} (pseudonyme {person_id}). Le patient reste dans les listes de l'équipe de soins."
    )


@objection_app.command("remove")
def remove(by: By, ins: Ins = None, source: Source = None, patient_id: PatientId = None) -> None:
    """Retire l'opposition d'un patient."""
    installation = open_installation()
    try:
        registry = installation.objections
        person_id, removed = registry.remove_person(_person_id(registry, ins, source, patient_id), by)
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
            row["ins"] or "(patient pas encore chargé)",
            row["family_name"] or "",
            row["given_names"] or "",
            str(row["person_id"]),
            f"{row['recorded_at']:%d/%m/%Y %H:%M}",
            row["recorded_by"],
            row["note"] or "",
        )
    console.print(table)
