"""The economics page and API (issue 21 item 5): the structure's costs uploaded (YAML, CSV, XLSX, as the CLI
reads them) or entered, kept per scope under the data home and audited, the example labelled wherever it is
used; the years in the command's syntax; every refusal French and beside its field (htmx swaps a 200 only);
break-even, revenue by line, the difference with the current model, each model explained (from YAML), one
chart per simulated year."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import Workbook

from proxisante.economics.costs import costs_csv, load_costs, read_costs, stored_path
from proxisante.economics.explain import model_texts
from proxisante.network.scope import Scope
from proxisante.web.economics_view import ScenarioIn, costs_key

HTMX = {"HX-Request": "true"}
SMALL = {"draws": "200", "seed": "2026", "tornado": "acte"}


def _post(client, csrf: str, path: str, data: dict, htmx: bool = True, files=None):
    headers = {"X-CSRF-Token": csrf, **(HTMX if htmx else {})}
    return client.post(path, data=data, files=files, headers=headers)


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def manager(clients, centre):
    """The gestionnaire's client; the costs it keeps are removed after the test (the app is shared)."""
    client, csrf = clients["gestionnaire"]
    yield client, csrf
    stored_path(centre.settings.home_dir, "reseau").unlink(missing_ok=True)


def test_the_page_labels_the_example_and_shows_what_the_cli_shows(manager) -> None:
    client, _ = manager
    page = client.get("/economie")
    assert page.status_code == 200
    text = _text(page.text)
    assert "Charges : exemple" in text and "Résultats calculés avec les charges d'exemple" in text
    assert "Écart avec le modèle actuel" in text and "modèle actuel" in text
    assert "Point mort" in text and "patients médecin traitant par ETP de généraliste" in text
    assert "Recettes par ligne" in text and "Actes —" in text
    assert "modèle CSV (exemple)" in text and "charges : exemple" in text  # the template and the workbook link
    for explained in model_texts().models.values():  # each model explained, from economics/models.yaml
        assert " ".join(explained.explanation.split())[:60].replace("'", "&#39;") in " ".join(page.text.split())
    assert len(re.findall(r'id="chart-economics-\d{4}"', page.text)) == 2  # the figure and its JSON: one year


def test_years_in_the_command_s_syntax_give_one_chart_and_table_per_year(manager) -> None:
    client, csrf = manager
    answer = _post(client, csrf, "/economie/simulation", {"years": "2025-2027", **SMALL})
    assert answer.status_code == 200
    assert sorted(set(re.findall(r'id="chart-economics-(\d{4})"', answer.text))) == ["2025", "2026", "2027"]
    assert sorted(re.findall(r'id="modeles-(\d{4})"', answer.text)) == ["2025", "2026", "2027"]
    assert 'value="2025-2027"' in answer.text  # the form keeps what was typed
    difference = re.search(r'data-model="fmt">.*?class="num difference">([^<]+)<', answer.text, re.S)
    assert difference is not None and "k€" in difference.group(1)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("years", "2025-20x7", "années « 2025-20x7 » : attendu 2025, 2024-2027 ou 2024,2026"),
        ("years", "2027-2025", "la fin précède le début"),
        ("years", "1990", "de 2020 à 2040 seulement"),
        ("draws", "5", "tirages Monte Carlo : un nombre entier de 100 à 20 000"),
        ("seed", "graine", "graine : un nombre entier"),
    ],
)
def test_a_wrong_scenario_field_is_said_beside_it_and_the_old_result_goes(manager, field, value, message) -> None:
    client, csrf = manager
    data = {"years": "", **SMALL, field: value}
    swapped = _post(client, csrf, "/economie/simulation", data)
    assert swapped.status_code == 200  # htmx swaps a 200 only: the block comes back with the message
    error = re.search(rf'id="{field}-erreur" class="error" role="alert">([^<]+)<', swapped.text)
    assert error is not None and message in error.group(1).replace("&#39;", "'")
    assert f'id="{field}"' in swapped.text and 'aria-invalid="true"' in swapped.text
    assert "modeles-" not in swapped.text and "Aucun résultat : corrigez le scénario" in swapped.text
    plain = _post(client, csrf, "/economie/simulation", data, htmx=False)  # without htmx: the page, 422
    assert plain.status_code == 422 and message in plain.text.replace("&#39;", "'")


def test_costs_uploaded_as_csv_are_kept_used_and_audited_then_removed(app, manager, centre) -> None:
    client, csrf = manager
    before = _post(client, csrf, "/economie/simulation", {"years": "", **SMALL}).text
    csv = costs_csv(load_costs()).replace("salary;MG;", "salary;MG;").encode()
    files = {"fichier": ("budget-2025.csv", csv, "text/csv")}
    answer = _post(client, csrf, "/economie/charges", {"action": "fichier", "years": "", **SMALL}, files=files)
    assert answer.status_code == 200
    text = _text(answer.text)
    assert "Charges « budget-2025 » enregistrées" in text and "Charges utilisées : budget-2025" in text
    assert "Charges : exemple" not in text and "charges d'exemple" not in text.lower().replace(
        "revenir à l'exemple", ""
    )
    assert stored_path(centre.settings.home_dir, "reseau").exists()
    assert "budget-2025" in _text(client.get("/economie").text)  # kept for the scope, not for the request
    audit = app.state.web.audit.entries(5)
    assert "charges enregistrées" in set(audit.action)
    template = client.get("/economie/charges.csv")
    assert template.status_code == 200 and 'filename="charges-reseau.csv"' in template.headers["content-disposition"]
    assert read_costs(template.content, "t.csv").salaries == load_costs().salaries
    results = re.findall(r'class="num result">([^<]+)<', before)
    assert results == re.findall(r'class="num result">([^<]+)<', answer.text)  # same amounts, not "example"
    back = _post(client, csrf, "/economie/charges", {"action": "exemple", **SMALL})
    assert "Charges : exemple" in _text(back.text) and not stored_path(centre.settings.home_dir, "reseau").exists()


def test_costs_from_a_workbook_and_from_the_form(manager, centre) -> None:
    client, csrf = manager
    book = Workbook()
    for line in costs_csv(load_costs()).splitlines():
        book.active.append([float(c) if re.fullmatch(r"[\d.]+", c) else (c or None) for c in line.split(";")])
    buffer = io.BytesIO()
    book.save(buffer)
    files = {"fichier": ("budget.xlsx", buffer.getvalue(), "application/octet-stream")}
    sent = _post(client, csrf, "/economie/charges", {"action": "fichier", **SMALL}, files=files)
    assert "Charges utilisées : budget" in _text(sent.text)
    costs = load_costs()
    form = {
        "action": "saisie",
        "label": "Budget saisi",
        "profession": [s.profession for s in costs.salaries],
        "line_label": ["" for _ in costs.salaries],
        "fte": ["" if s.fte is None else str(s.fte) for s in costs.salaries],
        "gross_per_fte": [f"{s.gross_per_fte:,.0f}".replace(",", " ") for s in costs.salaries],  # 85 000
        "employer_charge_rate": [str(s.employer_charge_rate).replace(".", ",") for s in costs.salaries],  # 0,45
        "premises": "200 000",
        "it": "45000",
        "coordination": "",
        "other": "0",
        **SMALL,
    }
    entered = _post(client, csrf, "/economie/charges", form)
    assert "Charges utilisées : Budget saisi" in _text(entered.text)
    kept = load_costs(stored_path(centre.settings.home_dir, "reseau"))
    assert (kept.premises, kept.coordination, kept.salaries[0].gross_per_fte) == (200000, 0, 85000)


@pytest.mark.parametrize(
    ("files", "form", "field", "message"),
    [
        ({"fichier": ("c.csv", b"item;amount\nloyer;5\n", "text/csv")}, {}, "fichier", "champ item : « loyer »"),
        ({"fichier": ("c.docx", b"x", "application/octet-stream")}, {}, "fichier", "attendu .yaml, .csv ou .xlsx"),
        (None, {}, "fichier", "choisissez un fichier de charges"),
        (
            None,
            {"action": "saisie", "profession": ["MG"], "line_label": [""], "fte": [""], "gross_per_fte": ["85000"],
             "employer_charge_rate": ["0.45"]},
            "saisie",
            "aucune ligne de salaire pour la profession",
        ),
        (
            None,
            {"action": "saisie", "profession": ["MG"], "line_label": [""], "fte": [""], "gross_per_fte": ["beaucoup"],
             "employer_charge_rate": ["0.45"]},
            "saisie",
            "salaire brut par ETP",
        ),
    ],
)  # fmt: skip
def test_wrong_costs_are_refused_beside_the_field_and_nothing_is_kept(manager, centre, files, form, field, message):
    client, csrf = manager
    answer = _post(client, csrf, "/economie/charges", {"action": "fichier", **form, **SMALL}, files=files)
    assert answer.status_code == 200
    error = re.search(rf'id="{field}-erreur" class="error" role="alert">([^<]+)<', answer.text)
    assert error is not None and message in error.group(1).replace("&#39;", "'").replace("&#34;", '"')
    assert not stored_path(centre.settings.home_dir, "reseau").exists()
    assert "Charges : exemple" in _text(answer.text)


def test_the_api_takes_the_command_s_years_and_says_the_difference(clients) -> None:
    client, csrf = clients["gestionnaire"]
    headers = {"X-CSRF-Token": csrf}
    answer = client.post("/api/economics/simulate", json={"years": "2025-2026", "draws": 200}, headers=headers)
    assert answer.status_code == 200
    body = answer.json()
    assert [y["year"] for y in body["years"]] == [2025, 2026] and body["costs_example"] is True
    first = {m["model"]: m for m in body["years"][0]["models"]}
    assert first["acte"]["difference_with_current"] is None
    assert first["fmt"]["difference_with_current"] == pytest.approx(
        first["fmt"]["result"] - first["acte"]["result"], abs=0.02
    )
    assert body["years"][0]["lines"] and {e["model"] for e in body["explanations"]} == set(first)
    refused = client.post("/api/economics/simulate", json={"years": "vingt"}, headers=headers)
    assert refused.status_code == 422 and "attendu 2025, 2024-2027 ou 2024,2026" in refused.text


def test_costs_are_kept_per_scope() -> None:
    assert costs_key(Scope.of(["870000002"])) == "870000002"
    assert costs_key(Scope.network()) == "reseau"
    assert costs_key(Scope.of(["870000002", "870000003"], "CPTS Vienne")) == "ensemble-CPTS Vienne"
    assert (
        ScenarioIn(years="2025,2027").years_text == "2025,2027"
        and ScenarioIn(years="2025-2027").years_text == "2025-2027"
    )
