"""Commands over the measure engine: ``measures list|run``, ``gaps``. Thin: parse, call, print."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from proxisante import formats
from proxisante.cli.common import console, date, number, working
from proxisante.cli.periods import PeriodOption, check_data, month_option, period_option
from proxisante.cli.scope import AttributedOption, CptsOption, NetworkOption, StructureOption, print_scope
from proxisante.cli.scope import scope_from_options as chosen_scope
from proxisante.installation import open_installation
from proxisante.measures.definition import GROUPS, Measure, library
from proxisante.measures.periods import FORMS, Period, PeriodError, parse_period
from proxisante.network.scope import ScopedTables
from proxisante.warehouse.tables import Tables

measures_app = typer.Typer(help="Indicateurs de qualité et de pertinence (ROSP, FMT, HAS).", no_args_is_help=True)

FORMATS = ("table", "json", "csv")


def _period(text: str):
    try:
        return parse_period(text)
    except PeriodError as error:
        raise typer.BadParameter(str(error)) from error


def _selected(ids: list[str] | None) -> list[Measure]:
    known = library()
    if not ids:
        return list(known.values())
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise typer.BadParameter(f"indicateur inconnu : {', '.join(unknown)} (voir `proxisante measures list`)")
    return [known[i] for i in ids]


@measures_app.command("list")
def list_measures() -> None:
    """Liste les indicateurs de la bibliothèque, avec leur source."""
    table = Table(title=f"Bibliothèque d'indicateurs ({len(library())})")
    table.add_column("id", no_wrap=True)
    for column in ("indicateur", "groupe", "programme", "sens", "objectifs", "source"):
        table.add_column(column, overflow="fold")
    for m in library().values():
        goals = " / ".join(_goal(m, v) for v in (m.objectives.intermediate, m.objectives.target) if v is not None)
        table.add_row(
            m.id,
            m.short_label,
            GROUPS[m.group],
            ", ".join(m.programme),
            "↑" if m.direction == "higher" else "↓",
            goals,
            f"{m.source.text[:70]}… ({m.source.date:%Y}, {m.source.confidence})",
        )
    console.print(table)


def _goal(measure: Measure, value: float) -> str:
    return formats.goal(value, measure.scoring)


@measures_app.command("run")
def run_measures(
    period: PeriodOption = "2025",
    by: Annotated[str | None, typer.Option(help="provider (par médecin traitant) ou care_site")] = None,
    stratify: Annotated[bool, typer.Option(help="ajouter les strates (âge, sexe, C2S, ALD, commune)")] = False,
    measure: Annotated[list[str] | None, typer.Option("--measure", "-m", help="seulement cet indicateur")] = None,
    output: Annotated[str, typer.Option("--format", help="table, json ou csv")] = "table",
    protect: Annotated[bool, typer.Option(help="masquer les petits effectifs (diffusion hors structure)")] = False,
    threshold: Annotated[int | None, typer.Option(help="seuil des petits effectifs (défaut : disclosure.yaml)")] = None,
    structure: StructureOption = None,
    reseau: NetworkOption = False,
    cpts: CptsOption = None,
    rattaches: AttributedOption = False,
) -> None:
    """Calcule les indicateurs sur une période, pour le périmètre choisi et par médecin traitant.

    Avec --protect, tout effectif sous le seuil est masqué, avec suppression secondaire : la
    sortie peut quitter la structure. Avec --rattaches, les patients rattachés au périmètre à la fin
    de la période."""
    if output not in FORMATS:
        raise typer.BadParameter(f"format {output!r} : attendu {', '.join(FORMATS)}")
    if by not in (None, "provider", "care_site"):
        raise typer.BadParameter("--by attend provider ou care_site")
    from proxisante.measures.results import run

    chosen, span = _selected(measure), _period(period)
    scope = chosen_scope(structure, reseau, cpts, rattaches, span.end)
    installation = open_installation()
    try:
        tables = ScopedTables(installation.warehouse, scope)
        check_data(tables, span, note=output == "table")
        with working("Calcul des indicateurs…"):
            result = run(tables, span, chosen, by=[by] if by else [], stratify=stratify)
        # The doctor's name beside the RPPS, for the care team only: not in an output that leaves the structure.
        names = provider_names(tables) if by == "provider" and not (protect or threshold is not None) else None
    finally:
        installation.close()
    frame = result.table
    if protect or threshold is not None:
        from proxisante.measures.results import protect as protected

        frame = protected(frame, by=[by] if by else [], threshold=threshold)
    if output == "json":
        json.dump(json.loads(frame.to_json(orient="records", date_format="iso")), sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    elif output == "csv":
        shown = formats.indicator_table(frame, {m.id: m for m in chosen}, names)
        sys.stdout.write(formats.csv_text(shown))
    else:
        print_scope(scope, installation.settings)
        title = f"Indicateurs — période {span.describe(chosen)}"
        print_measure_table(frame, chosen, title, by, names)


def provider_names(tables: Tables) -> dict[str, str]:
    """RPPS → the professional's name (public directory data), to show beside the RPPS."""
    provider = tables.table("provider")
    frame = tables.execute(provider.select(rpps=provider.provider_source_value, name=provider.provider_name))
    frame = frame.dropna(subset=["rpps", "name"]).drop_duplicates("rpps")
    return {str(r): str(n) for r, n in zip(frame.rpps, frame.name, strict=True)}


def print_measure_table(
    frame: pd.DataFrame,
    measures: list[Measure],
    title: str,
    by: str | None = None,
    names: dict[str, str] | None = None,
) -> None:
    """The indicator table a care team reads: rate, interval, objectives, status; ``names`` (RPPS → name)
    shows the doctor's name beside the RPPS."""
    by_id = {m.id: m for m in measures}
    table = Table(title=title)
    columns = ["indicateur", *(["médecin"] if by else []), "dénom.", "excl.", "num.", "taux", "IC 95 %"]
    columns += ["objectifs", "statut"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("indicateur", "médecin", "statut") else "right")
    rows = frame[frame.stratifier == ""] if "stratifier" in frame else frame
    order = {group: rank for rank, group in enumerate(GROUPS)}  # the order a care team reads them
    rows = rows.assign(_rank=rows.measure_id.map(lambda i: (order[by_id[i].group], i))).sort_values(
        "_rank", kind="stable"
    )
    for row in rows.itertuples():
        m = by_id[row.measure_id]
        if getattr(row, "suppressed", ""):
            shown = ("s", "")
        else:
            shown = _rate_text(m, row.rate, row.ci_low, row.ci_high) if row.reportable else ("n.s.", "")
        goals = " / ".join(_goal(m, v) for v in (m.objectives.intermediate, m.objectives.target) if v is not None)
        arrow = "↑" if m.direction == "higher" else "↓"
        cells = [
            f"{m.short_label} {arrow}",
            *([_who(str(getattr(row, by)), names or {})] if by else []),
            number(row.denominator),
            number(row.exclusions),
            number(row.numerator),
            *shown,
            goals,
            row.objective,
        ]
        table.add_row(*cells)
    console.print(table)
    console.print(
        f"{formats.DENOMINATOR_NOTE} n.s. : dénominateur sous le minimum de l'indicateur ; s : secret statistique "
        "(petit effectif) ; ↑ plus haut est mieux, ↓ plus bas est mieux."
    )


def _who(key: str, names: dict[str, str]) -> str:
    return f"{names[key]} ({key})" if key in names else key


def _rate_text(measure: Measure, rate: float, low: float, high: float) -> tuple[str, str]:
    return formats.rate(rate, measure.scoring), formats.interval(low, high, measure.scoring)


def gaps(
    period: Annotated[
        str | None, typer.Option(help=FORMS + " ; défaut : les 12 mois jusqu'à la dernière donnée")
    ] = None,
    provider: Annotated[str | None, typer.Option(help="RPPS du médecin traitant")] = None,
    measure: Annotated[list[str] | None, typer.Option("--measure", "-m", help="seulement cet indicateur")] = None,
    par_action: Annotated[
        bool, typer.Option("--par-action", help="une ligne par action (écart de soins) au lieu d'une par patient")
    ] = False,
    sans_medecin: Annotated[
        bool, typer.Option("--sans-medecin-traitant", help="les patients vus sans médecin traitant de la structure")
    ] = False,
    nominative: Annotated[bool, typer.Option(help="avec les noms (équipe de soins, lecture tracée)")] = False,
    reader: Annotated[
        str | None, typer.Option(help="qui lit la liste nominative (obligatoire avec --nominative)")
    ] = None,
    output: Annotated[str, typer.Option("--format", help="table ou csv")] = "table",
    limit: Annotated[int, typer.Option(help="lignes affichées (table)")] = 50,
    structure: StructureOption = None,
    reseau: NetworkOption = False,
    cpts: CptsOption = None,
    rattaches: AttributedOption = False,
) -> None:
    """Liste de travail du périmètre choisi : une ligne par patient avec toutes ses actions à mener (indicateurs
    sur lesquels agir), les plus anciennes d'abord ; --par-action : une ligne par écart de soins.

    Période par défaut : les 12 mois jusqu'à la dernière donnée de l'entrepôt."""
    from proxisante.measures.gaps import actionable_measures, care_gaps, closed_since
    from proxisante.measures.gaps import nominative as with_names
    from proxisante.population import worklist

    if nominative and not reader:
        raise typer.BadParameter("--nominative demande --reader (la lecture est tracée dans le journal d'accès)")
    if output not in ("table", "csv"):
        raise typer.BadParameter(f"format {output!r} : attendu table ou csv")
    chosen = _selected(measure) if measure else actionable_measures()
    span = period_option(period) if period else None
    # The scope is checked before anything is opened; --rattaches without --period is resolved again on the
    # default period's end, once the last data is known.
    scope = chosen_scope(structure, reseau, cpts, rattaches, span.end if span else dt.date.today())
    installation = open_installation()
    try:
        last = worklist.data_end(installation.warehouse)
        if span is None:
            span = worklist.default_period(installation.warehouse)
            scope = chosen_scope(structure, reseau, cpts, rattaches, span.end) if rattaches else scope
        tables = ScopedTables(installation.warehouse, scope)
        if provider is not None:
            _check_provider(tables, provider)
        check_data(tables, span, note=output == "table")
        with working("Calcul de la liste de travail…"):
            frame = care_gaps(tables, span, chosen, provider_rpps=provider, without_mt=sans_medecin)
            done = closed_since(tables, frame, span, last, without_mt=sans_medecin) if last else None
            if not par_action:
                frame = worklist.work_list(frame, span.end, worklist.risk_levels(tables, span.end), done)
            else:
                frame = frame.assign(done_since=done if done is not None else None)
        names = provider_names(tables)
        if nominative:
            name = f"liste de travail {span.label}" + (f", médecin {provider}" if provider else "")
            frame = with_names(frame, installation.vault, reader=str(reader), list_name=name)
    finally:
        installation.close()
    if output == "table":
        print_scope(scope, installation.settings)
    if par_action:
        _gaps_output(frame, span, nominative, limit, output, last, names)
    else:
        _worklist_output(frame, span, nominative, limit, output, last, names)


def _check_provider(tables: Tables, rpps: str) -> None:
    """Refuse (exit 2, French) an RPPS of no professional of the scope: an empty list would look like "nothing
    to do"."""
    if rpps not in provider_names(tables) and rpps not in _rpps_of(tables):
        raise typer.BadParameter(
            f"RPPS inconnu : {rpps} n'est celui d'aucun professionnel du périmètre "
            "(voir « proxisante patientele » pour les médecins traitants)",
            param_hint="--provider",
        )


def _rpps_of(tables: Tables) -> set[str]:
    provider = tables.table("provider")
    frame = tables.execute(provider.select(rpps=provider.provider_source_value))
    return {str(r) for r in frame.rpps.dropna()}


def _since(last: dt.date | None) -> str:
    return f" — données jusqu'au {date(last)}" if last else ""


def _worklist_output(
    frame: pd.DataFrame,
    span: Period,
    nominative: bool,
    limit: int,
    output: str,
    last: dt.date | None,
    names: dict[str, str],
) -> None:
    """The work list: one row per patient, the CSV with French headers and dates."""
    from proxisante.population.worklist import export_frame

    shown = export_frame(frame, names)
    if not nominative:
        shown = shown.drop(columns=["nom", "prénoms", "né(e) le", "téléphone"])
    if output == "csv":
        sys.stdout.write(formats.csv_text(shown))
        return
    patients, actions = len(frame), int(frame.n_actions.sum()) if len(frame) else 0
    title = f"Liste de travail — {span.label}{_since(last)} ({number(patients)} patients, {number(actions)} actions)"
    table = Table(title=title)
    who = ["patient", "né(e) le", "téléphone"] if nominative else ["patient (pseudonyme)"]
    for column in (*who, "âge", "médecin traitant", "risque", "à faire depuis", "échéance", "indicateurs"):
        table.add_column(column, overflow="fold")
    labels = [_labels(items) for items in frame["items"].head(limit)]
    for cells, todo in zip(shown.head(limit).to_dict("records"), labels, strict=True):
        person = (
            [f"{cells['nom']} {cells['prénoms']}".strip(), cells["né(e) le"], cells["téléphone"]]
            if nominative
            else [cells["pseudonyme"]]
        )
        table.add_row(
            *person,
            str(cells["âge"]),
            cells["médecin traitant"],
            cells["niveau de risque"],
            cells["à faire depuis"],
            cells["échéance"],
            todo,
        )
    console.print(table)
    if len(shown) > limit:
        console.print(f"… {number(len(shown) - limit)} autres patients (--limit, ou --format csv pour tout exporter)")


def _labels(items: tuple) -> str:
    """The indicators of a row, short: the open ones, then those done since the period ("fait le ...")."""
    todo = [i.label for i in items if i.done_since is None]
    done = [f"{i.label} (fait le {date(i.done_since)})" for i in items if i.done_since is not None]
    return " ; ".join(todo + done)


def _gaps_output(
    frame: pd.DataFrame,
    span: Period,
    nominative: bool,
    limit: int,
    output: str,
    last: dt.date | None,
    names: dict[str, str] | None = None,
) -> None:
    """One row per gap (``--par-action``); its CSV is the presenter's (French headers and dates, the doctor's
    name beside the RPPS)."""
    if output == "csv":
        sys.stdout.write(formats.csv_text(formats.gap_table(frame, library(), names)))
        return
    counts = f"{number(len(frame))} actions, {number(frame.person_id.nunique())} patients"
    table = Table(title=f"Écarts de soins — {span.label}{_since(last)} ({counts})")
    who = ["patient", "né(e) le"] if nominative else ["patient (pseudonyme)"]
    for column in (*who, "âge", "médecin", "action", "dernier acte", "à faire depuis", "fait depuis"):
        table.add_column(column)
    for row in frame.head(limit).itertuples():
        person = (
            [f"{row.family_name or ''} {row.given_names or ''}".strip(), date(row.birth_date)]
            if nominative
            else [str(row.person_id)]
        )
        table.add_row(
            *person,
            str(row.age),
            "" if pd.isna(row.mt_rpps) else str(row.mt_rpps),
            row.action,
            date(row.evidence_date) or "jamais réalisé",
            date(row.due_since),
            date(row.done_since),
        )
    console.print(table)
    if len(frame) > limit:
        console.print(f"… {number(len(frame) - limit)} autres lignes (--limit, ou --format csv pour tout exporter)")


@measures_app.command("series")
def series_command(
    measure: Annotated[str, typer.Option("--measure", "-m", help="l'indicateur")],
    first: Annotated[str, typer.Option("--from", help="premier mois (AAAA-MM)")] = "2025-01",
    last: Annotated[str, typer.Option("--to", help="dernier mois (AAAA-MM)")] = "2025-12",
    structure: StructureOption = None,
    reseau: NetworkOption = False,
    cpts: CptsOption = None,
    rattaches: AttributedOption = False,
) -> None:
    """Série mensuelle d'un indicateur : 12 mois glissants à la fin de chaque mois, pour le périmètre choisi.

    Les mois après les dernières données ne sont pas calculés. Avec --rattaches, les patients rattachés au
    périmètre à la fin du dernier mois."""
    from proxisante.measures.results import series

    (chosen,) = _selected([measure])
    start, end = month_option(first, "--from"), month_option(last, "--to")
    if start.start > end.start:
        raise typer.BadParameter(f"--from {first} est après --to {last}")
    months = Period(f"{start.label} à {end.label}", start.start, end.end)
    scope = chosen_scope(structure, reseau, cpts, rattaches, months.end)
    installation = open_installation()
    try:
        tables = ScopedTables(installation.warehouse, scope)
        known = check_data(tables, months) or months.end  # months after the last data: not computed
        with working("Calcul de la série mensuelle…"):
            frame = series(tables, chosen, months.start, min(months.end, known))
    finally:
        installation.close()
    print_scope(scope, installation.settings)
    table = Table(title=f"{chosen.short_label} — 12 mois glissants")
    for column in ("fin de période", "dénom.", "num.", "taux", "IC 95 %"):
        table.add_column(column, justify="left" if column == "fin de période" else "right")
    for row in frame.itertuples():
        shown = _rate_text(chosen, row.rate, row.ci_low, row.ci_high) if row.reportable else ("n.s.", "")
        table.add_row(date(row.reference_date), number(row.eligible), number(row.numerator), *shown)
    console.print(table)
