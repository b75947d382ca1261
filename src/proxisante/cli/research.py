"""``proxisante research``: declare research projects, list them, build their governed OMOP extracts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from proxisante.cli.common import console, number, os_error_text, print_row_counts, working
from proxisante.cli.scope import AttributedOption, CptsOption, NetworkOption, StructureOption, print_scope
from proxisante.cli.scope import scope_from_options as chosen_scope
from proxisante.installation import open_installation
from proxisante.research.export import ExportError
from proxisante.research.projects import ProjectError, declare, project, projects
from proxisante.settings import get_settings

research_app = typer.Typer(help="Projets de recherche et extraits OMOP k-anonymes, tracés.", no_args_is_help=True)

By = Annotated[str, typer.Option("--by", help="qui fait l'opération (nom, fonction)")]


@research_app.command("declare")
def declare_project(
    file: Annotated[Path, typer.Argument(help="fichier YAML du projet (voir docs/research.md)")],
    by: By,
    replace: Annotated[bool, typer.Option(help="remplacer un projet déjà déclaré")] = False,
) -> None:
    """Déclare un projet de recherche (tables, période, autorisation, k, décalage des dates)."""
    try:
        project, state = declare(get_settings().home_dir, file, by, replace)
    except ProjectError as error:
        console.print(f"[red]Projet refusé :[/red] {escape(str(error))}")
        raise typer.Exit(code=2) from error
    words = {"declared": "déclaré", "unchanged": "inchangé (déjà déclaré)", "replaced": "remplacé"}
    console.print(f"Projet [bold]{project.id}[/bold] {words[state]} : {project.title}")


@research_app.command("list")
def list_projects() -> None:
    """Liste les projets déclarés."""
    table = Table(title="Projets de recherche")
    for column in ("projet", "titre", "autorisation", "période", "tables", "k", "dates décalées"):
        table.add_column(column)
    for p in projects(get_settings().home_dir):
        table.add_row(
            p.id,
            p.title,
            f"{p.approval.body} {p.approval.reference}",
            f"{p.period.start:%d/%m/%Y} – {p.period.end:%d/%m/%Y}",
            ", ".join(p.tables),
            str(p.k),
            "oui" if p.date_shift else "non",
        )
    console.print(table)


@research_app.command("extract")
def extract_project(
    project_id: Annotated[str, typer.Argument(metavar="PROJECT", help="identifiant du projet déclaré")],
    out: Annotated[Path, typer.Option("--out", help="dossier de sortie (vide)")],
    by: By,
    structure: StructureOption = None,
    reseau: NetworkOption = False,
    cpts: CptsOption = None,
    rattaches: AttributedOption = False,
) -> None:
    """Construit l'extrait OMOP du projet : ids recodés, opposants exclus, k-anonymat, journal.

    Seules les lignes du périmètre choisi sont lues ; avec --rattaches, les patients rattachés au périmètre
    à la fin de la période du projet."""
    from proxisante.research.extract import extract

    scope = chosen_scope(structure, reseau, cpts)
    try:
        if rattaches:
            scope = scope.attributed(project(get_settings().home_dir, project_id).period.end)
    except ProjectError as error:
        console.print(f"[red]Extrait refusé :[/red] {escape(str(error))}")
        raise typer.Exit(code=2) from error
    installation = open_installation()
    try:
        print_scope(scope, installation.settings)
        with working("Préparation de l'extrait…"):
            result = extract(installation, project_id, out, by, scope)
    except (ProjectError, ExportError) as error:
        console.print(f"[red]Extrait refusé :[/red] {escape(str(error))}")
        raise typer.Exit(code=2) from error
    except OSError as error:  # disk full, no permission: nothing was delivered nor logged
        console.print(f"[red]Extrait non écrit, rien de livré ni journalisé :[/red] {out} ({os_error_text(error)})")
        raise typer.Exit(code=2) from error
    finally:
        installation.close()
    report = result.report
    print_row_counts(f"Extrait {result.project.id} — {out}", result.rows)
    console.print(
        f"k = {report['k']} : {number(report['persons_released'])} personnes diffusées, "
        f"{number(report['persons_generalised'])} généralisées, {number(report['persons_suppressed'])} supprimées, "
        f"{number(report['excluded_objections'])} opposants exclus. Plus petit groupe : {report['smallest_group']}."
    )
    console.print(f"Manifeste SHA-256 {result.manifest_sha256} ; extrait inscrit au journal de la recherche.")
