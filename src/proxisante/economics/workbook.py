"""What a manager opens: the workbook (one sheet per model, the parameters with their sources) and
the chart (the models compared with their bands, and the tornado). Labels in French."""

from __future__ import annotations

from pathlib import Path

from proxisante.economics.catalogue import CONFIDENCE_LABELS, catalogue
from proxisante.economics.costs import ITEM_LABELS
from proxisante.economics.payments import MODELS
from proxisante.economics.uncertainty import Simulation
from proxisante.spreadsheet import save_workbook

EUROS = '#,##0" €";-#,##0" €"'
SHEET_NAMES = {"acte": "Acte", "fmt": "FMT 2026", "peps_all": "PEPS tous", "peps_65": "PEPS 65 ans et plus",
               "peps_diabetics": "PEPS diabétiques", "ipep": "IPEP"}  # fmt: skip


def _unconfirmed_note(simulation: Simulation) -> str:
    names = ", ".join(p.name for p in simulation.unconfirmed())
    return f"Paramètres non confirmés utilisés : {names} (voir la feuille Paramètres)."


def write_workbook(simulation: Simulation, path: Path) -> None:
    """An .xlsx workbook: Synthèse, one sheet per model, Sensibilité, Paramètres, Profil, Charges."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    bold = Font(bold=True)

    def sheet(title: str, header: list[str], rows: list[list], money: set[int] = frozenset(), first: bool = False):
        ws = book.active if first else book.create_sheet()
        ws.title = title
        ws.append(header)
        for cell in ws[1]:
            cell.font = bold
        for row in rows:
            ws.append(row)
        for column in money:
            for (cell,) in ws.iter_rows(min_row=2, min_col=column, max_col=column):
                cell.number_format = EUROS
        for i, _ in enumerate(header, start=1):
            ws.column_dimensions[get_column_letter(i)].width = 48 if i == 1 else 16
        ws.freeze_panes = "B2"
        return ws

    profile, costs = simulation.profile, simulation.costs
    rows = []
    for year in simulation.years:
        for key, label in MODELS.items():
            r, b = simulation.results[year][key], simulation.bands[year][key]
            rows.append([label, year, float(r.revenue), float(r.cost), float(r.result), float(r.margin),
                         b.result[5], b.result[50], b.result[95], b.probability_positive,
                         float(r.break_even_per_gp_fte), b.break_even_per_gp_fte[5],
                         b.break_even_per_gp_fte[95]])  # fmt: skip
    ws = sheet("Synthèse", ["modèle", "année", "recettes", "charges", "résultat", "marge", "résultat P5",
                            "résultat P50", "résultat P95", "probabilité résultat > 0",
                            "point mort (patients MT / ETP MG)", "point mort P5", "point mort P95"],
               rows, money={3, 4, 5, 7, 8, 9}, first=True)  # fmt: skip
    for (cell,) in ws.iter_rows(min_row=2, min_col=6, max_col=6):
        cell.number_format = "0.0 %"
    for (cell,) in ws.iter_rows(min_row=2, min_col=10, max_col=10):
        cell.number_format = "0 %"
    ws.append([])
    ws.append([f"{profile.centre} — profil {profile.year} ({profile.source}) : {profile.patients} patients "
               f"médecin traitant, {profile.fte('MG'):.1f} ETP de médecin généraliste."])  # fmt: skip
    ws.append([f"Bandes : {simulation.draws} tirages Monte Carlo, graine {simulation.seed}, lois triangulaires "
               "sur les plages des paramètres incertains."])  # fmt: skip
    ws.append([_unconfirmed_note(simulation)])
    from proxisante.economics.explain import describe, describe_centre

    for line in describe(profile, simulation.years[-1]) + describe_centre(profile, simulation.years[0]):
        ws.append(["Source — " + line])
    if costs.example:
        ws.append([f"ATTENTION : {costs.label}."])
    for note in profile.notes:
        ws.append([note])

    for key, title in SHEET_NAMES.items():
        names: list[str] = []
        for year in simulation.years:
            names += [n for n in simulation.results[year][key].lines if n not in names]
        rows = [["Recettes — " + n, *(float(simulation.results[y][key].lines.get(n, 0.0)) for y in simulation.years)]
                for n in names]  # fmt: skip
        rows.append(["Total des recettes", *(float(simulation.results[y][key].revenue) for y in simulation.years)])
        items = list(simulation.results[simulation.years[0]][key].costs)
        rows += [["Charges — " + n, *(float(simulation.results[y][key].costs[n]) for y in simulation.years)]
                 for n in items]  # fmt: skip
        rows.append(["Total des charges", *(float(simulation.results[y][key].cost) for y in simulation.years)])
        rows.append(["Résultat", *(float(simulation.results[y][key].result) for y in simulation.years)])
        ws = sheet(title, [MODELS[key], *map(str, simulation.years)], rows,
                   money=set(range(2, len(simulation.years) + 2)))  # fmt: skip
        used = sorted(set().union(*(simulation.results[y][key].used for y in simulation.years)))
        ws.append([])
        ws.append(["Paramètres utilisés : " + ", ".join(used)])
        ws.append(["dont non confirmés : " + ", ".join(n for n in used if catalogue()[n].unconfirmed)])

    sheet("Sensibilité",
          ["paramètre", "nom", "plage", "résultat au bas", "résultat au haut", "écart", "confiance"],
          [[r.label, r.name, catalogue()[r.name].display_range(), r.result_low, r.result_high, r.swing,
            CONFIDENCE_LABELS[r.confidence]] for r in simulation.tornado],
          money={4, 5, 6})  # fmt: skip
    sheet("Paramètres",
          ["libellé", "nom", "valeurs (date d'effet)", "unité", "plage", "confiance", "utilisé", "source", "adresse"],
          [[p.label, name, p.display_values(), p.unit, p.display_range(), CONFIDENCE_LABELS[p.confidence],
            "oui" if name in simulation.used else "non", " ".join(p.source.split()), p.url or ""]
           for name, p in catalogue().items()])  # fmt: skip
    ws = sheet("Profil", ["tranche d'âge", "ALD", "C2S", "patients", "diabétiques", "non vus 24 mois", "AME"],
               [[c.age_band, "oui" if c.ald else "non", "oui" if c.c2s else "non", c.patients, c.diabetics, c.unseen,
                 c.ame] for c in profile.panel])  # fmt: skip
    ws.append([])
    ws.append(["code", "profession", "actes patients MT", "dont ≥ 65 ans", "dont diabétiques", "actes autres patients",
               "montant facturé"])  # fmt: skip
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
    lines = costs.salary_lines(profile)
    ws = sheet("Charges", ["poste", "profession", "ETP", "salaire brut par ETP", "taux de charges", "coût annuel"],
               [[line.label or line.profession, line.profession, fte, line.gross_per_fte, line.employer_charge_rate,
                 gross * (1 + line.employer_charge_rate)] for line, fte, gross in lines]
               + [[ITEM_LABELS[item], "", "", "", "", float(getattr(costs, item))]
                  for item in ("premises", "it", "coordination", "other")],
               money={4, 6})  # fmt: skip
    ws.append([])
    ws.append([costs.label + (" — fichier d'EXEMPLE, à remplacer par votre budget" if costs.example else "")])
    path.parent.mkdir(parents=True, exist_ok=True)
    save_workbook(book, path)


def _profile_extras(ws, profile) -> None:
    """Communes, GP sites, IPEP indicators and ANCS engagements of the profile, when given."""
    parts = [
        (["commune (patients MT)", "patients", "taux de pauvreté"],
         [[c.commune, c.patients, c.poverty_rate] for c in profile.communes]),
        (["commune d'exercice des généralistes", "ETP", "dont 67 ans et plus", "ZIP"],
         [[s.commune, s.fte, s.fte_67_plus, "oui" if s.zip else "non"] for s in profile.gp_sites]),
        (["indicateur IPEP (profil)", "valeur", "année précédente"],
         [[i.id, i.value, i.previous] for i in profile.ipep_indicators]),
        (["engagement ANCS rempli", "nombre"], [[k, n] for k, n in (profile.ancs_engagements or {}).items()]),
    ]  # fmt: skip
    for header, rows in parts:
        if rows:
            ws.append([])
            ws.append(header)
            for row in rows:
                ws.append(row)


def write_chart(simulation: Simulation, path: Path) -> None:
    """PNG or SVG: the models' results with their P5–P95 bands (first year), and the tornado."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    year = simulation.years[0]
    keys = list(MODELS)
    results = [float(simulation.results[year][k].result) / 1000 for k in keys]
    low = [simulation.bands[year][k].result[5] / 1000 for k in keys]
    high = [simulation.bands[year][k].result[95] / 1000 for k in keys]
    errors = [[r - lo for r, lo in zip(results, low, strict=True)], [h - r for r, h in zip(results, high, strict=True)]]
    rows = simulation.tornado[:10][::-1]
    figure, (left, right) = plt.subplots(1, 2, figsize=(15, 6.5), gridspec_kw={"width_ratios": [1, 1.25]})
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
    right.set_yticks(range(len(rows)), [_short(r.label) + (" *" if r.confidence == "U" else "") for r in rows],
                     fontsize=8)  # fmt: skip
    right.set_xlabel("résultat annuel (k€)")
    right.set_title(f"Sensibilité — {MODELS[simulation.tornado_model]}, {year}")
    figure.text(0.01, 0.01, "* paramètre non confirmé" + (" — charges : fichier d'EXEMPLE" if simulation.costs.example
                else ""), fontsize=8)  # fmt: skip
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format=path.suffix.lower().lstrip("."), dpi=120)
    plt.close(figure)


def _short(label: str, width: int = 48) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"
