"""``proxisante report``: the activity and quality report of the structure, signed; ``verify``; ``public-key``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from proxisante.cli.common import console, progress_bar
from proxisante.cli.scope import AttributedOption, CptsOption, NetworkOption, StructureOption, print_scope, scope_label
from proxisante.cli.scope import scope_from_options as chosen_scope

if TYPE_CHECKING:
    from proxisante.economics.costs import Costs
    from proxisante.measures.periods import Period

FORMAT_HELP = "pdf, xlsx ou json (répétable ; défaut : les trois)"
OUT_HELP = "dossier du rapport (défaut : <données>/reports/rapport-<période>)"
COSTS_HELP = (
    "charges réelles de la structure (YAML, CSV, XLSX) : ajoute le résumé économique ; sans elles, pas de résumé"
)
WRITE_STEP = "Signature et écriture"
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
    costs: Annotated[Path | None, typer.Option(help=COSTS_HELP)] = None,
    economics: Annotated[bool, typer.Option(help="inclure le résumé économique (avec --costs)")] = True,
    trend: Annotated[int, typer.Option(help="nombre de périodes précédentes pour la tendance")] = 2,
    structure: StructureOption = None,
    reseau: NetworkOption = False,
    cpts: CptsOption = None,
    rattaches: AttributedOption = False,
) -> None:
    """Produit le rapport d'une période : patientèle, activité, indicateurs, économie ; secret statistique
    appliqué à chaque case, patients opposés exclus, manifeste signé (Ed25519).

    Le rapport porte sur le périmètre choisi (une structure, dont l'en-tête donne le nom du registre, une
    CPTS ou le réseau) ; avec --rattaches, sur les patients rattachés au périmètre à la fin de la période.
    Le résumé économique n'y figure qu'avec les charges réelles de la structure (--costs), jamais l'exemple."""
    if ctx.invoked_subcommand is not None:
        return
    from proxisante.economics.profile import ProfileError
    from proxisante.identity.chain import anchored_heads
    from proxisante.installation import open_installation
    from proxisante.measures.periods import PeriodError, parse_period
    from proxisante.network.scope import ScopedTables
    from proxisante.reporting.build import Options, build_report, report_steps
    from proxisante.reporting.publish import ReportFolderError, check_destination, write_report
    from proxisante.reporting.signing import fingerprint
    from proxisante.settings import get_settings

    try:
        span = parse_period(period)
    except PeriodError as error:
        raise typer.BadParameter(str(error)) from error
    if trend < 0:
        raise typer.BadParameter("--trend : 0 ou plus")
    chosen_formats = _checked_formats(formats)
    real_costs = _checked_costs(costs, economics, span)
    target = out or get_settings().home_dir / "reports" / f"rapport-{span.label.replace(':', '_')}"
    try:
        check_destination(target, replace)
    except ReportFolderError as error:
        _refuse(str(error))
    scope = chosen_scope(structure, reseau, cpts, rattaches, span.end)
    installation = open_installation()
    try:
        from proxisante.cli.periods import check_data

        check_data(ScopedTables(installation.warehouse, scope), span, refused="Rapport refusé")
        excluded = installation.objections.person_ids()
        options = Options(
            trend_periods=trend,
            costs=real_costs,
            structure_name=None if scope.is_network else scope.name,
            scope_note=None
            if scope.is_network and scope.attributed_on is None
            else f"Périmètre : {scope_label(scope)}.",
        )
        print_scope(scope, installation.settings)
        if real_costs is None:
            console.print(
                "[yellow]Sans résumé économique :[/yellow] donnez les charges réelles de la structure avec "
                "--costs FICHIER pour l'ajouter (les charges d'exemple n'entrent jamais dans un rapport)."
            )
        steps = [*report_steps(options), WRITE_STEP]
        with progress_bar() as bar:
            task = bar.add_task(f"Rapport : {steps[0]}", total=len(steps))

            def announce(step: str) -> None:
                bar.update(task, description=f"Rapport : {step}", completed=steps.index(step))

            built = build_report(
                ScopedTables(installation.warehouse, scope), span, excluded, options, progress=announce
            )
            announce(WRITE_STEP)
            key = _key()
            heads = anchored_heads(installation.settings.audit)
            names = write_report(built, target, key, chosen_formats, replace=replace, audit_heads=heads)
            bar.update(task, description="Rapport : écrit", completed=len(steps))
    except ReportFolderError as error:
        console.print(f"[red]Rapport non écrit :[/red] {error}")
        raise typer.Exit(code=2) from error
    except ProfileError as error:
        console.print(f"[red]Rapport non écrit, résumé économique impossible :[/red] {error}")
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


def _refuse(message: str) -> NoReturn:
    """An option refused before anything is computed: French, exit 2."""
    console.print(f"[red]Rapport refusé :[/red] {message}")
    raise typer.Exit(code=2)


def _checked_formats(formats: list[str] | None) -> list[str]:
    """The formats asked (default: all), each known, checked before anything is computed."""
    from proxisante.reporting.publish import FORMATS

    chosen = [f.strip().lower() for f in formats] if formats else list(FORMATS)
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown:
        _refuse(f"format {', '.join(repr(f) for f in unknown)} inconnu : attendu {', '.join(FORMATS)}")
    return chosen


def _checked_costs(costs: Path | None, economics: bool, span: Period) -> Costs | None:
    """The structure's costs read and checked before anything is computed; None without --costs (no
    economic summary). The example costs, a period that is not a calendar year and an unreadable or invalid
    file are refused at once."""
    from proxisante.economics.costs import CostsError, load_costs
    from proxisante.reporting.build import economics_period_refusal

    if costs is None:
        return None
    if not economics:
        _refuse("--costs et --no-economics se contredisent : retirez l'un des deux")
    refusal = economics_period_refusal(span)
    if refusal:
        _refuse(f"--costs : {refusal}")
    try:
        found = load_costs(costs)
    except CostsError as error:
        _refuse(f"--costs : {error}")
    if found.example:
        _refuse(
            f"--costs : {costs} contient les charges d'EXEMPLE d'un centre fictif ; un rapport ne contient que "
            "les charges réelles de la structure"
        )
    return found


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
