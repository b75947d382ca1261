"""``proxisante report``: the activity and quality report of the structure, signed; ``verify``; ``public-key``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from proxisante.cli.common import console
from proxisante.cli.scope import AttributedOption, CptsOption, NetworkOption, StructureOption, print_scope, scope_label
from proxisante.cli.scope import scope_from_options as chosen_scope

FORMAT_HELP = "pdf, xlsx ou json (répétable ; défaut : les trois)"
OUT_HELP = "dossier du rapport (défaut : <données>/reports/rapport-<période>)"
report_app = typer.Typer(
    help="Rapport d'activité et de qualité (PDF, XLSX, JSON), signé par la clé de la structure.",
    invoke_without_command=True,
)


def _key():
    from proxisante.reporting.signing import key_path, load_or_create_signing_key
    from proxisante.settings import get_settings

    return load_or_create_signing_key(key_path(get_settings().home_dir))


@report_app.callback()
def report(
    ctx: typer.Context,
    period: Annotated[str, typer.Option(help="2025, 2025-T3 ou 12M:2025-06-30")] = "2025",
    formats: Annotated[list[str] | None, typer.Option("--format", help=FORMAT_HELP)] = None,
    out: Annotated[Path | None, typer.Option(help=OUT_HELP)] = None,
    replace: Annotated[bool, typer.Option(help="remplacer le dossier s'il existe déjà")] = False,
    costs: Annotated[Path | None, typer.Option(help="charges de la structure (YAML, CSV) ; défaut : EXEMPLE")] = None,
    economics: Annotated[bool, typer.Option(help="inclure le résumé économique")] = True,
    trend: Annotated[int, typer.Option(help="nombre de périodes précédentes pour la tendance")] = 2,
    structure: StructureOption = None,
    reseau: NetworkOption = False,
    cpts: CptsOption = None,
    rattaches: AttributedOption = False,
) -> None:
    """Produit le rapport d'une période : patientèle, activité, indicateurs, économie ; secret statistique
    appliqué à chaque case, patients opposés exclus, manifeste signé (Ed25519).

    Le rapport porte sur le périmètre choisi (une structure, dont l'en-tête donne le nom du registre, une
    CPTS ou le réseau) ; avec --rattaches, sur les patients rattachés au périmètre à la fin de la période."""
    if ctx.invoked_subcommand is not None:
        return
    from proxisante.identity.chain import anchored_heads
    from proxisante.installation import open_installation
    from proxisante.measures.periods import PeriodError, parse_period
    from proxisante.network.scope import ScopedTables
    from proxisante.reporting.build import Options, build_report
    from proxisante.reporting.publish import ReportFolderError, check_destination, write_report
    from proxisante.reporting.signing import fingerprint

    try:
        span = parse_period(period)
    except PeriodError as error:
        raise typer.BadParameter(str(error)) from error
    if trend < 0:
        raise typer.BadParameter("--trend : 0 ou plus")
    scope = chosen_scope(structure, reseau, cpts, rattaches, span.end)
    installation = open_installation()
    try:
        excluded = installation.objections.person_ids()
        target = out or installation.settings.home_dir / "reports" / f"rapport-{span.label.replace(':', '_')}"
        check_destination(target, replace)
        options = Options(
            trend_periods=trend,
            economics=economics,
            costs=costs,
            structure_name=None if scope.is_network else scope.name,
            scope_note=None
            if scope.is_network and scope.attributed_on is None
            else f"Périmètre : {scope_label(scope)}.",
        )
        print_scope(scope, installation.settings)
        with console.status("Calcul du rapport…") as status:
            built = build_report(
                ScopedTables(installation.warehouse, scope),
                span,
                excluded,
                options,
                progress=lambda step: status.update(f"Calcul du rapport : {step}…"),
            )
        key = _key()
        heads = anchored_heads(installation.settings.audit)
        names = write_report(built, target, key, formats or ("pdf", "xlsx", "json"), replace=replace, audit_heads=heads)
    except ReportFolderError as error:
        console.print(f"[red]Rapport non écrit :[/red] {error}")
        raise typer.Exit(code=2) from error
    finally:
        installation.close()
    console.print(f"Rapport {span.label} écrit dans [bold]{target}[/bold] :")
    for name in [*names, "manifest.json", "manifest.json.sig"]:
        console.print(f"  {name}")
    console.print("Patients opposés exclus de tous les effectifs : oui.")
    console.print(f"Seuil du secret statistique : {built.disclosure.threshold}.")
    console.print(f"Empreinte de la clé de signature : {fingerprint(key.public_key())}")
    for note in built.notes:
        console.print(f"[yellow]Note :[/yellow] {note}")


@report_app.command("verify")
def verify(
    folder: Annotated[Path, typer.Argument(help="dossier du rapport (avec manifest.json)")],
    public_key: Annotated[Path | None, typer.Option("--public-key", help="clé publique de confiance (PEM)")] = None,
) -> None:
    """Vérifie la signature du manifeste et l'empreinte de chaque fichier du rapport."""
    from proxisante.reporting.signing import load_public_key, verify_folder

    if not folder.is_dir():
        console.print(f"[red]Dossier introuvable :[/red] {folder}")
        raise typer.Exit(code=2)
    try:
        trusted = load_public_key(public_key) if public_key else None
    except (OSError, ValueError) as error:
        console.print(f"[red]Clé publique illisible :[/red] {error}")
        raise typer.Exit(code=2) from error
    result = verify_folder(folder, trusted)
    for problem in result.problems:
        console.print(f"[red]✗ {problem}[/red]")
    for warning in result.warnings:
        console.print(f"[yellow]! {warning}[/yellow]")
    if not result.ok:
        console.print("[red bold]Rapport NON VÉRIFIÉ : ne pas l'utiliser.[/red bold]")
        raise typer.Exit(code=1)
    for name in result.files:
        console.print(f"[green]✓[/green] {name}")
    console.print(
        f"[green bold]Rapport vérifié[/green bold] : signature valide, {len(result.files)} fichiers intacts "
        f"(clé {result.fingerprint})."
    )


@report_app.command("public-key")
def public_key(
    out: Annotated[Path | None, typer.Option(help="fichier PEM à écrire (défaut : affiché)")] = None,
) -> None:
    """Exporte la clé publique de la structure (à transmettre au destinataire des rapports)."""
    from proxisante.reporting.signing import fingerprint, public_pem

    public = _key().public_key()
    pem = public_pem(public)
    if out is None:
        typer.echo(pem, nl=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(pem)
        console.print(f"Clé publique écrite : {out}")
    typer.echo(f"Empreinte SHA-256 : {fingerprint(public)}", err=out is None)
