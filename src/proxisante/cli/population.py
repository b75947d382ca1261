"""``proxisante patientele``: the patientèle médecin traitant of the structure on a date, in French."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from proxisante import formats
from proxisante.cli.common import console, date, number, percent, working
from proxisante.cli.measures import provider_names
from proxisante.cli.periods import check_data, check_day, day_option, period_option
from proxisante.cli.scope import AttributedOption, CptsOption, NetworkOption, StructureOption, print_scope
from proxisante.cli.scope import scope_from_options as chosen_scope
from proxisante.installation import open_installation
from proxisante.measures.periods import FORMS


def patientele(
    at: Annotated[str, typer.Option("--date", help="date de référence (AAAA-MM-JJ ou JJ/MM/AAAA)")] = "2025-12-31",
    period: Annotated[str, typer.Option(help=f"période des flux de déclarations ({FORMS})")] = "2025",
    provider: Annotated[bool, typer.Option("--by-provider", help="détail par médecin traitant")] = False,
    structure: StructureOption = None,
    reseau: NetworkOption = False,
    cpts: CptsOption = None,
    rattaches: AttributedOption = False,
) -> None:
    """Patientèle médecin traitant du périmètre choisi : composition, registres, accès aux soins, risque, flux.

    Avec --rattaches, les patients rattachés au périmètre à la date de référence (--date)."""
    from proxisante.main import patientele as tables_on
    from proxisante.main import scoped

    reference, span = day_option(at), period_option(period)
    scope = chosen_scope(structure, reseau, cpts, rattaches, reference)
    installation = open_installation()
    try:
        check_day(scoped(installation, scope), reference)
        check_data(scoped(installation, scope), span)
        with working("Calcul de la patientèle…"):
            tables = tables_on(installation, reference, span, scope=scope, by_provider=provider)
        names = provider_names(scoped(installation, scope)) if provider else {}
    finally:
        installation.close()
    print_scope(scope, installation.settings)
    _composition(tables["by_provider" if provider else "composition"], reference, provider, names)
    _access(tables["access"])
    _risk(tables["risk"])
    _flows(tables["flows"], span.label, provider, names)


def _who(rpps: object, names: dict[str, str]) -> str:
    """The doctor's name beside the RPPS (the total row and an unknown RPPS as they are)."""
    key = str(rpps)
    return f"{names[key]} ({key})" if key in names else key


def _composition(frame: pd.DataFrame, reference: dt.date, provider: bool, names: dict[str, str]) -> None:
    table = Table(title=f"Patientèle médecin traitant au {date(reference)}")
    headers = list(formats.COMPOSITION_HEADERS.values())
    for column in (*(["médecin"] if provider else []), *headers):
        table.add_column(column, justify="right" if column in headers[1:] else "left")
    for row in frame.itertuples():
        cells = [str(row.label), number(row.patients), number(row.panel), percent(row.share)]
        table.add_row(*([_who(row.mt_rpps, names)] if provider else []), *cells)
    console.print(table)


def _access(frame: pd.DataFrame) -> None:
    table = Table(title=formats.ACCESS_TITLE)
    for key, column in formats.ACCESS_HEADERS.items():
        table.add_column(column, justify="left" if key == "age_band" else "right")
    for row in frame.itertuples():
        counts = (row.seen, row.with_mt, row.without_mt, row.without_mt_ald, row.without_mt_c2s)
        table.add_row(str(row.age_band), *map(number, counts), percent(row.share_without_mt))
    console.print(table)


def _risk(frame: pd.DataFrame) -> None:
    table = Table(title="Niveaux de risque (âge, maladies chroniques, polymédication, hospitalisation)")
    for key, column in formats.RISK_HEADERS.items():
        table.add_column(column, justify="left" if key == "level" else "right")
    for row in frame.itertuples():
        table.add_row(str(row.level), number(row.patients), percent(row.share))
    console.print(table)


def _flows(frame: pd.DataFrame, label: str, provider: bool, names: dict[str, str]) -> None:
    table = Table(title=f"Flux de déclarations médecin traitant — {label}")
    keys = [k for k in formats.FLOW_HEADERS if provider or k != "mt_rpps"]
    for key in keys:
        table.add_column(formats.FLOW_HEADERS[key], justify="left" if key in ("mt_rpps", "month") else "right")
    for row in frame.itertuples():
        cells = [
            formats.month(row.month),
            number(row.panel_start),
            number(row.arrivals),
            number(row.arrivals_from_colleague),
            number(row.departures),
            number(row.departures_to_colleague),
            number(row.deaths),
            formats.signed(int(row.net_change)),
            number(row.panel_end),
        ]
        table.add_row(*([_who(row.mt_rpps, names)] if provider else []), *cells)
    console.print(table)
