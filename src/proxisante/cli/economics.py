"""``proxisante economie``: the economic model of the centre under each payment model, in French."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from proxisante.cli.common import console, decimal, number, percent, working
from proxisante.cli.scope import AttributedOption, CptsOption, NetworkOption, StructureOption, print_scope
from proxisante.cli.scope import scope_from_options as chosen_scope
from proxisante.formats import keuros
from proxisante.network.scope import Scope

SHORT = {
    "acte": "acte",
    "fmt": "FMT 2026",
    "peps_all": "PEPS tous",
    "peps_65": "PEPS ≥ 65",
    "peps_diabetics": "PEPS diab.",
    "ipep": "IPEP",
}
economie_app = typer.Typer(help="Modèle économique du centre : acte, forfaits, PEPS, IPEP.", no_args_is_help=True)


def parse_years(text: str | None) -> list[int] | None:
    """The years of ``--years`` (``economics.years``: the web form reads them the same way)."""
    from proxisante.economics.years import YearsError
    from proxisante.economics.years import parse_years as parse

    try:
        return parse(text) or None
    except YearsError as error:
        raise typer.BadParameter(str(error)) from None


@economie_app.command()
def simulate(
    profile_file: Annotated[Path | None, typer.Option("--profile", help="profil YAML/XLSX ; défaut : entrepôt")] = None,
    costs_file: Annotated[
        Path | None, typer.Option("--costs", help="charges (YAML, CSV, XLSX) ; défaut : EXEMPLE")
    ] = None,
    years: Annotated[str | None, typer.Option(help="années simulées : 2025, 2024-2027")] = None,
    year: Annotated[int | None, typer.Option("--profile-year", help="année d'activité lue dans l'entrepôt")] = None,
    xlsx: Annotated[Path | None, typer.Option(help="classeur Excel de sortie (.xlsx)")] = None,
    chart: Annotated[Path | None, typer.Option(help="graphique de sortie (.png ou .svg)")] = None,
    draws: Annotated[int, typer.Option(help="tirages Monte Carlo")] = 10_000,
    seed: Annotated[int, typer.Option(help="graine des tirages")] = 2026,
    tornado_model: Annotated[str, typer.Option("--tornado", help="modèle de l'analyse de sensibilité")] = "acte",
    poverty_file: Annotated[Path | None, typer.Option("--pauvrete", help="CSV commune;taux_pauvrete")] = None,
    zip_file: Annotated[Path | None, typer.Option("--zip", help="CSV des communes en ZIP (colonne commune)")] = None,
    structure: StructureOption = None,
    reseau: NetworkOption = False,
    cpts: CptsOption = None,
    rattaches: AttributedOption = False,
) -> None:
    """Compare le paiement à l'acte, le FMT 2026, le PEPS et l'IPEP : recettes, charges, résultat, point mort.

    Le profil lu dans l'entrepôt est celui du périmètre choisi ; avec --rattaches, des patients rattachés
    au périmètre le 31 décembre de l'année du profil."""
    from proxisante.economics.payments import MODELS
    from proxisante.economics.profile import ProfileError
    from proxisante.economics.profile_files import load_profile
    from proxisante.main import payment_simulation

    if tornado_model not in MODELS:
        raise typer.BadParameter(f"modèle {tornado_model!r} : attendu {', '.join(MODELS)}")
    if chart is not None and chart.suffix.lower() not in (".png", ".svg"):
        raise typer.BadParameter("le graphique s'écrit en .png ou .svg")
    if draws < 100:
        raise typer.BadParameter("au moins 100 tirages")
    if xlsx is not None and xlsx.suffix.lower() != ".xlsx":
        raise typer.BadParameter("le classeur s'écrit en .xlsx")
    chosen = parse_years(years)
    _check_costs(costs_file)
    if profile_file is not None and (structure or reseau or cpts is not None or rattaches):
        console.print(
            "[red]Périmètre refusé :[/red] --structure, --reseau, --cpts et --rattaches choisissent le profil lu "
            "dans l'entrepôt ; ils ne s'appliquent pas à un profil donné par --profile"
        )
        raise typer.Exit(code=2)
    scope = chosen_scope(structure, reseau, cpts)
    try:
        profile = load_profile(profile_file) if profile_file else _warehouse_profile(year, scope, rattaches)
        profile = _with_communes(profile, poverty_file, zip_file)
        simulation = payment_simulation(
            profile, costs_file, chosen or (), draws=draws, seed=seed, tornado_model=tornado_model
        )
    except (ProfileError, OSError) as error:
        console.print(f"[red]Profil ou charges refusés :[/red] {error}")
        raise typer.Exit(code=2) from error
    if profile_file is None:
        print_scope(profile_scope(scope, rattaches, profile.year))
    print_simulation(simulation)
    if xlsx is not None:
        from proxisante.economics.workbook import write_workbook

        write_workbook(simulation, xlsx)
        console.print(f"Classeur écrit : {xlsx}")
    if chart is not None:
        from proxisante.economics.workbook import write_chart

        write_chart(simulation, chart)
        console.print(f"Graphique écrit : {chart}")


def _check_costs(costs_file: Path | None) -> None:
    """The costs file read and checked before the warehouse is (seconds): a wrong file is refused at once."""
    from proxisante.economics.costs import CostsError, load_costs

    try:
        load_costs(costs_file)
    except CostsError as error:
        console.print(f"[red]Charges refusées :[/red] {error}")
        raise typer.Exit(code=2) from error


@economie_app.command("profil-exemple")
def profile_example(
    out: Annotated[Path, typer.Argument(help="fichier à écrire : .xlsx (classeur) ou .yaml")],
) -> None:
    """Écrit le profil d'EXEMPLE (centre de démonstration) à remplir pour un centre sans entrepôt."""
    import shutil

    from proxisante.economics.profile_files import EXAMPLE_PROFILE, load_profile

    if out.suffix.lower() == ".xlsx":
        from proxisante.economics.profile_files import write_profile_xlsx

        write_profile_xlsx(load_profile(EXAMPLE_PROFILE), out)
    elif out.suffix.lower() in (".yaml", ".yml"):
        out.parent.mkdir(parents=True, exist_ok=True)
        with EXAMPLE_PROFILE.open("rb") as source, out.open("wb") as target:
            shutil.copyfileobj(source, target)
    else:
        raise typer.BadParameter("le profil s'écrit en .xlsx ou .yaml")
    console.print(f"Profil d'exemple écrit : {out} (feuilles et champs : docs/economics.md)")


def _with_communes(profile, poverty_file: Path | None, zip_file: Path | None):
    """The profile with the user's poverty rates and ZIP communes, when given."""
    from proxisante.economics.communes import (
        load_poverty_rates,
        load_zip_communes,
        with_poverty_rates,
        with_zip_communes,
    )

    if poverty_file is not None:
        profile = with_poverty_rates(profile, load_poverty_rates(poverty_file), poverty_file.name)
    if zip_file is not None:
        profile = with_zip_communes(profile, load_zip_communes(zip_file), zip_file.name)
    return profile


def profile_scope(scope: Scope, attributed: bool, year: int) -> Scope:
    """The scope of a profile of ``year``: in the attributed view, the persons attributed on 31 December
    (the day the profile counts its panel)."""
    return scope.attributed(dt.date(year, 12, 31)) if attributed else scope


def _warehouse_profile(year: int | None, scope: Scope, attributed: bool = False):
    """The profile of ``scope`` (``main.warehouse_profile``); its year is chosen in the *seen here* view
    before the attributed view is taken on its last day. An empty warehouse is refused with the option that
    does without it."""
    from proxisante.economics.profile import ProfileError
    from proxisante.economics.profile_warehouse import last_full_year
    from proxisante.installation import open_installation
    from proxisante.main import NoBilledActs, scoped, warehouse_profile

    installation = open_installation()
    try:
        chosen = year or last_full_year(scoped(installation, scope))
        wanted = profile_scope(scope, attributed, chosen) if chosen is not None else scope
        with working("Lecture du profil de la structure dans l'entrepôt…"):
            return warehouse_profile(installation, chosen, scope=wanted)
    except NoBilledActs as error:
        raise ProfileError(f"{error} ou donnez --profile") from error
    finally:
        installation.close()


def print_simulation(simulation) -> None:
    from proxisante.economics.payments import MODELS

    profile, costs = simulation.profile, simulation.costs
    console.print(
        f"[bold]{profile.centre}[/bold] — profil {profile.year} ({profile.source}) : "
        f"{number(profile.patients)} patients médecin traitant, {decimal(profile.fte('MG'), 1)} ETP de généraliste"
    )
    observed = sum(a.amount_observed or 0.0 for a in profile.acts)
    if observed:
        from proxisante.economics.payments import Rates, Volume, fee_for_service

        valued = sum(fee_for_service(profile, Rates(profile.year), Volume()).values())
        console.print(
            f"Actes {profile.year} : {keuros(observed)} facturés (tous payeurs), {keuros(valued)} "
            f"valorisés aux tarifs des paramètres {profile.year}."
        )
    if costs.example:
        console.print(f"[yellow]Charges : {costs.label}. Donnez les vôtres avec --costs.[/yellow]")
    from proxisante.economics.explain import describe, describe_centre

    for line in describe(profile, simulation.years[-1]) + describe_centre(profile, simulation.years[0]):
        console.print(f"Source — {line}")
    for year in simulation.years:
        table = Table(
            title=f"Modèles de paiement — {year} "
            f"(bandes P5–P95 : {number(simulation.draws)} tirages, graine {simulation.seed})"
        )
        for column in (
            "modèle",
            "recettes",
            "charges",
            "résultat [P5 ; P95]",
            "marge",
            "P(>0)",
            "point mort¹ [P5 ; P95]",
        ):
            table.add_column(column, justify="left" if column == "modèle" else "right")
        for key, label in MODELS.items():
            r, b = simulation.results[year][key], simulation.bands[year][key]
            table.add_row(
                label,
                keuros(r.revenue),
                keuros(r.cost),
                f"{keuros(r.result)} [{keuros(b.result[5], unit=False)} ; {keuros(b.result[95], unit=False)}]",
                percent(float(r.margin)),
                percent(b.probability_positive, 0),
                f"{_patients(float(r.break_even_per_gp_fte))} "
                f"[{_patients(b.break_even_per_gp_fte[5])} ; {_patients(b.break_even_per_gp_fte[95])}]",
            )
        console.print(table)
    console.print(
        f"¹ Point mort : patients médecin traitant par ETP de généraliste pour un résultat nul, à activité par "
        f"patient inchangée ; aujourd'hui {number(profile.patients / profile.fte('MG'))} patients MT par ETP."
    )
    _lines(simulation, simulation.years[0])
    _tornado(simulation)
    unconfirmed = simulation.unconfirmed()
    console.print(
        f"[yellow]Paramètres non confirmés utilisés ({len(unconfirmed)}) :[/yellow] "
        + " ; ".join(p.label for p in unconfirmed)
        + " — voir docs/parameters.md ; les bandes P5–P95 portent sur leurs plages."
    )
    for note in profile.notes:
        console.print(f"[yellow]Note :[/yellow] {note}")


def _patients(value: float) -> str:
    return "∞" if value == float("inf") else number(round(value))


def _lines(simulation, year: int) -> None:
    from proxisante.economics.payments import MODELS

    results = simulation.results[year]
    names: list[str] = []
    for r in results.values():
        names += [n for n in r.lines if n not in names]
    table = Table(title=f"Recettes par ligne — {year}")
    table.add_column("ligne")
    for key in MODELS:
        table.add_column(SHORT[key], justify="right")
    for name in names:
        table.add_row(name, *(keuros(results[k].lines[name]) if name in results[k].lines else "" for k in MODELS))
    console.print(table)


def _tornado(simulation, top: int = 10) -> None:
    from proxisante.economics.catalogue import CONFIDENCE_LABELS
    from proxisante.economics.payments import MODELS

    table = Table(
        title=f"Sensibilité du résultat — {MODELS[simulation.tornado_model]}, {simulation.years[0]} "
        f"(résultat central {keuros(simulation.tornado_base)})"
    )
    for column in ("paramètre", "plage", "résultat au bas", "résultat au haut", "écart", "confiance"):
        table.add_column(column, justify="left" if column in ("paramètre", "plage", "confiance") else "right")
    from proxisante.economics.catalogue import parameter

    for row in simulation.tornado[:top]:
        table.add_row(
            row.label,
            parameter(row.name).display_range(),
            keuros(row.result_low),
            keuros(row.result_high),
            keuros(row.swing),
            CONFIDENCE_LABELS[row.confidence],
        )
    console.print(table)
