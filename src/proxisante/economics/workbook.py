"""What a manager opens: the workbook (one sheet per model, the parameters with their sources) and
the chart (the models compared with their bands, and the tornado). Labels in French."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from matplotlib.figure import Figure
from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from proxisante.economics.catalogue import CONFIDENCE_LABELS, catalogue
from proxisante.economics.costs import ITEM_LABELS
from proxisante.economics.explain import describe, describe_centre
from proxisante.economics.payments import MODELS
from proxisante.economics.profile import Profile
from proxisante.economics.uncertainty import Simulation
from proxisante.spreadsheet import save_workbook, set_widths, write_header

EUROS = '#,##0" €";-#,##0" €"'
SHEET_NAMES = {
    "acte": "Acte",
    "fmt": "FMT 2026",
    "peps_all": "PEPS tous",
    "peps_65": "PEPS 65 ans et plus",
    "peps_diabetics": "PEPS diabétiques",
    "ipep": "IPEP",
}

# Sources are quoted in their own language (most are English notes on French texts): the header says so.
SOURCE_HEADER = "source (en anglais le plus souvent)"
SUMMARY_HEADER = [
    "modèle",
    "année",
    "recettes",
    "charges",
    "résultat",
    "marge",
    "résultat P5",
    "résultat P50",
    "résultat P95",
    "probabilité résultat > 0",
    "point mort (patients MT / ETP MG)",
    "point mort P5",
    "point mort P95",
]


def _unconfirmed_note(simulation: Simulation) -> str:
    names = ", ".join(p.label for p in simulation.unconfirmed())
    return f"Paramètres non confirmés utilisés : {names} (voir la feuille Paramètres)."


def write_workbook(simulation: Simulation, path: Path) -> None:
    """An .xlsx workbook: Synthèse, one sheet per model, Sensibilité, Paramètres, Profil, Charges."""
    book = Workbook()
    _summary_sheet(book, simulation)
    for key, title in SHEET_NAMES.items():
        _model_sheet(book, simulation, key, title)
    _sensitivity_sheet(book, simulation)
    _parameters_sheet(book, simulation)
    _profile_sheet(book, simulation.profile)
    _costs_sheet(book, simulation)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_workbook(book, path)


def _sheet(
    book: Workbook,
    title: str,
    header: list[str],
    rows: list[list],
    money: Collection[int] = frozenset(),
    first: bool = False,
) -> Worksheet:
    """A sheet (the workbook's first one if ``first``) with a bold header, its rows, € in the ``money`` columns."""
    ws = book.active if first else book.create_sheet()
    ws.title = title
    write_header(ws, header, freeze="B2")
    for row in rows:
        ws.append(row)
    for column in money:
        for (cell,) in ws.iter_rows(min_row=2, min_col=column, max_col=column):
            cell.number_format = EUROS
    set_widths(ws, [48 if i == 1 else 16 for i in range(1, len(header) + 1)])
    return ws


def _summary_sheet(book: Workbook, simulation: Simulation) -> None:
    """Synthèse: every model and year with its bands and break-even, then the profile, the draws and the sources."""
    profile, costs = simulation.profile, simulation.costs
    rows = [_summary_row(simulation, year, key) for year in simulation.years for key in MODELS]
    ws = _sheet(book, "Synthèse", SUMMARY_HEADER, rows, money={3, 4, 5, 7, 8, 9}, first=True)
    for (cell,) in ws.iter_rows(min_row=2, min_col=6, max_col=6):
        cell.number_format = "0.0 %"
    for (cell,) in ws.iter_rows(min_row=2, min_col=10, max_col=10):
        cell.number_format = "0 %"
    ws.append([])
    ws.append(
        [
            f"{profile.centre} — profil {profile.year} ({profile.source}) : {profile.patients} patients "
            f"médecin traitant, {profile.fte('MG'):.1f} ETP de médecin généraliste."
        ]
    )
    ws.append(
        [
            f"Bandes : {simulation.draws} tirages Monte Carlo, graine {simulation.seed}, lois triangulaires "
            "sur les plages des paramètres incertains."
        ]
    )
    ws.append([_unconfirmed_note(simulation)])
    for line in describe(profile, simulation.years[-1]) + describe_centre(profile, simulation.years[0]):
        ws.append(["Source — " + line])
    if costs.example:
        ws.append([f"ATTENTION : {costs.label}."])
    for note in profile.notes:
        ws.append([note])


def _summary_row(simulation: Simulation, year: int, key: str) -> list:
    """One model in one year: revenue, cost, result and margin, the result's bands, the break-even and its bands."""
    r, b = simulation.results[year][key], simulation.bands[year][key]
    money = [float(r.revenue), float(r.cost), float(r.result), float(r.margin), b.result[5], b.result[50], b.result[95]]
    even = [float(r.break_even_per_gp_fte), b.break_even_per_gp_fte[5], b.break_even_per_gp_fte[95]]
    return [MODELS[key], year, *money, b.probability_positive, *even]


def _model_sheet(book: Workbook, simulation: Simulation, key: str, title: str) -> None:
    """One payment model: its revenue lines, cost items and result by year, and the parameters it used."""
    years = simulation.years
    results = {year: simulation.results[year][key] for year in years}
    names: list[str] = []
    for year in years:
        names += [n for n in results[year].lines if n not in names]
    rows = [["Recettes — " + n, *(float(results[y].lines.get(n, 0.0)) for y in years)] for n in names]
    rows.append(["Total des recettes", *(float(results[y].revenue) for y in years)])
    items = list(results[years[0]].costs)
    rows += [["Charges — " + n, *(float(results[y].costs[n]) for y in years)] for n in items]
    rows.append(["Total des charges", *(float(results[y].cost) for y in years)])
    rows.append(["Résultat", *(float(results[y].result) for y in years)])
    ws = _sheet(book, title, [MODELS[key], *map(str, years)], rows, money=set(range(2, len(years) + 2)))
    used = sorted(set().union(*(results[y].used for y in years)))
    ws.append([])
    ws.append(["Paramètres utilisés : " + ", ".join(catalogue()[n].label for n in used)])
    ws.append(["dont non confirmés : " + ", ".join(catalogue()[n].label for n in used if catalogue()[n].unconfirmed)])


def _sensitivity_sheet(book: Workbook, simulation: Simulation) -> None:
    """Sensibilité: the tornado, the result at each uncertain parameter's low and high."""
    header = ["paramètre", "nom", "plage", "résultat au bas", "résultat au haut", "écart", "confiance"]
    rows = [
        [
            r.label,
            r.name,
            catalogue()[r.name].display_range(),
            r.result_low,
            r.result_high,
            r.swing,
            CONFIDENCE_LABELS[r.confidence],
        ]
        for r in simulation.tornado
    ]
    _sheet(book, "Sensibilité", header, rows, money={4, 5, 6})


def _parameters_sheet(book: Workbook, simulation: Simulation) -> None:
    """Paramètres: every parameter of the catalogue with its dated values, range, confidence and source."""
    header = [
        "libellé",
        "nom",
        "valeurs (date d'effet)",
        "unité",
        "plage",
        "confiance",
        "utilisé",
        SOURCE_HEADER,
        "adresse",
    ]
    rows = [
        [
            p.label,
            name,
            p.display_values(),
            p.unit,
            p.display_range(),
            CONFIDENCE_LABELS[p.confidence],
            "oui" if name in simulation.used else "non",
            " ".join(p.source.split()),
            p.url or "",
        ]
        for name, p in catalogue().items()
    ]
    _sheet(book, "Paramètres", header, rows)


def _profile_sheet(book: Workbook, profile: Profile) -> None:
    """Profil: the panel cells, then the acts, the staff, the measures and the optional parts of the profile."""
    header = ["tranche d'âge", "ALD", "C2S", "patients", "diabétiques", "non vus 24 mois", "AME"]
    rows = [
        [c.age_band, "oui" if c.ald else "non", "oui" if c.c2s else "non", c.patients, c.diabetics, c.unseen, c.ame]
        for c in profile.panel
    ]
    ws = _sheet(book, "Profil", header, rows)
    ws.append([])
    ws.append(
        [
            "code",
            "profession",
            "actes patients MT",
            "dont ≥ 65 ans",
            "dont diabétiques",
            "actes autres patients",
            "montant facturé",
        ]
    )
    for a in profile.acts:
        ws.append([a.code, a.profession, a.acts_mt, a.acts_mt_65, a.acts_mt_diabetic, a.acts_other, a.amount_observed])
    ws.append([])
    ws.append(["profession", "ETP"])
    for s in profile.staff:
        ws.append([s.profession, s.fte])
    if profile.measures:
        ws.append([])
        ws.append(["mesure (ROSP, FMT, IPEP)", "éligibles", "numérateur", "taux", "publiable", "taux année précédente"])
        for m in profile.measures:
            ws.append([m.id, m.eligible, m.numerator, m.rate, "oui" if m.reportable else "non", m.previous_rate])
    _profile_extras(ws, profile)


def _profile_extras(ws: Worksheet, profile: Profile) -> None:
    """Communes, GP sites, IPEP indicators and ANCS engagements of the profile, when given."""
    parts: list[tuple[list[str], list[list]]] = [
        (
            ["commune (patients MT)", "patients", "taux de pauvreté"],
            [[c.commune, c.patients, c.poverty_rate] for c in profile.communes],
        ),
        (
            ["commune d'exercice des généralistes", "ETP", "dont 67 ans et plus", "ZIP"],
            [[s.commune, s.fte, s.fte_67_plus, "oui" if s.zip else "non"] for s in profile.gp_sites],
        ),
        (
            ["indicateur IPEP (profil)", "valeur", "année précédente"],
            [[i.id, i.value, i.previous] for i in profile.ipep_indicators],
        ),
        (["engagement ANCS rempli", "nombre"], [[k, n] for k, n in (profile.ancs_engagements or {}).items()]),
    ]
    for header, rows in parts:
        if rows:
            ws.append([])
            ws.append(header)
            for row in rows:
                ws.append(row)


def _costs_sheet(book: Workbook, simulation: Simulation) -> None:
    """Charges: the salaries by profession, then the other cost items, and which cost file they come from."""
    profile, costs = simulation.profile, simulation.costs
    header = ["poste", "profession", "ETP", "salaire brut par ETP", "taux de charges", "coût annuel"]
    rows: list[list] = [
        [
            line.label or line.profession,
            line.profession,
            fte,
            line.gross_per_fte,
            line.employer_charge_rate,
            gross * (1 + line.employer_charge_rate),
        ]
        for line, fte, gross in costs.salary_lines(profile)
    ]
    rows += [
        [ITEM_LABELS[item], "", "", "", "", float(getattr(costs, item))]
        for item in ("premises", "it", "coordination", "other")
    ]
    ws = _sheet(book, "Charges", header, rows, money={4, 6})
    ws.append([])
    ws.append([costs.label + (" — fichier d'EXEMPLE, à remplacer par votre budget" if costs.example else "")])


def write_chart(simulation: Simulation, path: Path) -> None:
    """PNG or SVG: the models' results with their P5–P95 bands (first year), and the tornado."""
    year = simulation.years[0]
    keys = list(MODELS)
    results = [float(simulation.results[year][k].result) / 1000 for k in keys]
    low = [simulation.bands[year][k].result[5] / 1000 for k in keys]
    high = [simulation.bands[year][k].result[95] / 1000 for k in keys]
    errors = [[r - lo for r, lo in zip(results, low, strict=True)], [h - r for r, h in zip(results, high, strict=True)]]
    rows = simulation.tornado[:10][::-1]
    # A Figure of its own rather than pyplot's: no global backend chosen, no figure registry to close.
    figure = Figure(figsize=(15, 6.5))
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.25]})
    colours = ["#2a9d8f" if r >= 0 else "#e76f51" for r in results]
    left.bar(range(len(keys)), results, yerr=errors, color=colours, capsize=5)
    left.axhline(0, color="black", linewidth=0.8)
    left.set_xticks(range(len(keys)), [MODELS[k] for k in keys], rotation=25, ha="right", fontsize=8)
    left.set_ylabel("résultat annuel (k€)")
    left.set_title(f"Résultat par modèle de paiement, {year} (barres : P5–P95)")
    base = simulation.tornado_base / 1000
    for i, r in enumerate(rows):
        lo, hi = r.result_low / 1000 - base, r.result_high / 1000 - base
        right.barh(i, lo, left=base, color="#264653", label="paramètre au bas de sa plage" if i == 0 else None)
        right.barh(i, hi, left=base, color="#e9c46a", label="paramètre au haut de sa plage" if i == 0 else None)
    right.legend(loc="lower right", fontsize=8)
    right.axvline(base, color="black", linewidth=0.8)
    right.set_yticks(
        range(len(rows)), [_short(r.label) + (" *" if r.confidence == "U" else "") for r in rows], fontsize=8
    )
    right.set_xlabel("résultat annuel (k€)")
    right.set_title(f"Sensibilité — {MODELS[simulation.tornado_model]}, {year}")
    figure.text(
        0.01,
        0.01,
        "* paramètre non confirmé" + (" — charges : fichier d'EXEMPLE" if simulation.costs.example else ""),
        fontsize=8,
    )
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format=path.suffix.lower().lstrip("."), dpi=120)


def _short(label: str, width: int = 48) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"
