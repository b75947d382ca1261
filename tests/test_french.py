"""Everything a user reads is French: the outputs of the main commands and their help, the web pages, the
signed PDF's text and the workbooks' cells are scanned for English words, on a small synthetic centre
loaded with export defects (so that the quarantine speaks) and one reason an older version stored in
English.

The scan looks for a short list of English words that French never uses (:data:`ENGLISH`). Sources quoted in
their own language are allowed when they are labelled (« en anglais »), and so are addresses and the
internal names of files and options (:func:`english_words`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from proxisante.cli import app
from proxisante.cli.common import console
from proxisante.ingest.pivot.load import load_pivot
from proxisante.installation import open_installation
from proxisante.settings import Settings
from proxisante.synth import SynthOptions, generate_centre
from proxisante.web.security.accounts import AccountStore
from tests.lib.paths import TEST_DATA
from tests.lib.pdf_text import pdf_text
from tests.lib.web import PASSWORD, login, make_app

# English words that no French sentence holds (each a whole word, any case).
ENGLISH = (
    "the",
    "and",
    "of",
    "with",
    "is",
    "are",
    "not",
    "should",
    "missing",
    "invalid",
    "unknown",
    "required",
    "expected",
    "error",
    "commands",
    "help",
    "try",
    "duplicate",
    "before",
    "after",
    "aborted",
    "this",
    "must",
    "which",
    "value",
)
_WORDS = re.compile(r"\b(" + "|".join(ENGLISH) + r")\b", re.IGNORECASE)
# A line that quotes a source in its own language says so; an address or a file name is not a sentence.
_ALLOWED = re.compile(r"en anglais|https?://|\S+\.(?:yaml|csv|xlsx|json|pdf|md)\b", re.IGNORECASE)
_OPTION = re.compile(r"(?<![\w-])--?[a-z][\w-]*")
COMMUNES = TEST_DATA / "territory" / "communes-23-87.csv"
ROLES = ("coordinateur", "gestionnaire", "admin")
LEGACY = "unknown patient_id (in neither this batch nor the warehouse)"


def english_words(text: str, wrapped: bool = False) -> list[str]:
    """The English words of a text, each with its line: lines quoting a labelled source left out (with
    their continuation up to a blank line when the output is ``wrapped`` by the console), and the names of
    options (``--help``)."""
    found = []
    quoting = False
    for line in text.splitlines():
        quoting = wrapped and quoting and bool(line.strip(" │"))
        if _ALLOWED.search(line) or quoting:
            quoting = wrapped
            continue
        words = _OPTION.sub(" ", line)
        found += [f"{m.group(1)!r} in {line.strip()[:160]!r}" for m in _WORDS.finditer(words)]
    return found


def test_the_scan_finds_english_and_allows_labelled_sources() -> None:
    assert english_words("Input should be a valid integer") == ["'should' in 'Input should be a valid integer'"]
    assert english_words("source (en anglais) : the value of the ACI") == []
    assert english_words("patient_id inconnu (ni dans ce lot ni dans l'entrepôt)") == []
    assert english_words("│ --help   affiche cette aide et quitte │") == []
    assert english_words("source (en anglais) : the ACI\nwith all missions\n\nthe end", wrapped=True) == [
        "'the' in 'the end'"
    ]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data home with a small centre loaded (export defects on), one English reason of an older load,
    the communes reference and one account per role read here."""
    root = tmp_path_factory.mktemp("french")
    settings = Settings(home=root / "home", secure_cookies=False)
    generate_centre(SynthOptions(patients=300, seed=7, out=root / "centre", file_format="csv", defects=True))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROXISANTE_HOME", str(settings.home_dir))
        for name in ("PROXISANTE_WAREHOUSE_URL", "PROXISANTE_KEY_FILE", "PROXISANTE_VAULT_PATH"):
            patch.delenv(name, raising=False)
        installation = open_installation(settings)
        try:
            load_pivot(root / "centre", installation, source="centre")
            installation.warehouse.duckdb.execute(
                "INSERT INTO etl_quarantine SELECT batch_id, source, pivot_table, file_name, line + 100000, field, ?, "
                "value, record, structure FROM etl_quarantine LIMIT 1",
                [LEGACY],
            )
        finally:
            installation.close()
        store = AccountStore(settings.accounts)
        for role in ROLES:
            store.add(role, PASSWORD, [role], display_name=role.title())
        yield settings.home_dir


def _cli(*words: str) -> str:
    """A command's output on a wide console, whatever an earlier test or the terminal left (a cell wrapped
    or cut by a narrow table would hide the words looked for)."""
    saved = console._width, console._height
    console._width, console._height = 300, 50
    try:
        result = CliRunner().invoke(app, list(words), prog_name="proxisante", env={"COLUMNS": "300"})
    finally:
        console._width, console._height = saved
    assert result.exit_code == 0, result.output[-2000:]
    return result.output


COMMANDS = [
    ("status",),
    ("quarantine",),
    ("measures", "list"),
    ("measures", "run", "--period", "2025"),
    ("gaps", "--period", "2025"),
    ("patientele", "--date", "2025-12-31"),
    ("economie", "simulate", "--years", "2025", "--draws", "100"),
    ("territoire", "apl", "--departement", "23", "--referentiel", str(COMMUNES)),
    ("territoire", "cpts", "--communes", "23096,23176", "--referentiel", str(COMMUNES)),
]


@pytest.mark.parametrize("words", COMMANDS, ids=[" ".join(w[:2]) for w in COMMANDS])
def test_the_main_commands_speak_french(home: Path, words: tuple[str, ...]) -> None:
    assert english_words(_cli(*words), wrapped=True) == []


def _every_command(group: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, command in getattr(group, "commands", {}).items():
        yield from _every_command(command, (*path, name))


def test_every_help_speaks_french(home: Path) -> None:
    import typer.main

    found = {}
    for path in _every_command(typer.main.get_command(app)):
        words = english_words(_cli(*path, "--help"), wrapped=True)
        if words:
            found[" ".join(path)] = words
    assert found == {}


def test_the_quarantine_shows_an_older_english_reason_in_french(home: Path) -> None:
    out = " ".join(_cli("quarantine", "--limit", "100000").split())
    assert "patient_id inconnu (ni dans ce lot ni dans l'entrepôt)" in out
    assert "in neither" not in out


@pytest.fixture(scope="module")
def clients(home: Path) -> Iterator[dict[str, TestClient]]:
    application = make_app(Settings(home=home, secure_cookies=False))
    out = {}
    for role in ROLES:
        client = TestClient(application, base_url="http://127.0.0.1")
        login(client, role)
        out[role] = client
    yield out
    application.state.web.installation.close()


def _page_text(page: str) -> str:
    """A page's text as read: tags, scripts and styles left out, one line per block."""
    page = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", page)
    page = re.sub(r"(?i)<(br|/p|/tr|/li|/h\d|/div|/caption|/th|/td|/option)\b[^>]*>", "\n", page)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


PAGES = [
    ("coordinateur", "/"),
    ("coordinateur", "/patientele"),
    ("coordinateur", "/indicateurs"),
    ("coordinateur", "/indicateurs/rosp_diabetes_hba1c"),
    ("coordinateur", "/actions"),
    ("coordinateur", "/qualite"),
    ("coordinateur", "/territoire?departement=23"),
    ("gestionnaire", "/economie"),
    ("admin", "/administration"),
]


@pytest.mark.parametrize(("role", "path"), PAGES, ids=[p for _, p in PAGES])
def test_the_pages_speak_french(clients: dict[str, TestClient], role: str, path: str) -> None:
    answer = clients[role].get(path)
    assert answer.status_code == 200, answer.text[:500]
    assert english_words(_page_text(answer.text)) == []


def test_the_quality_page_shows_an_older_english_reason_in_french(clients: dict[str, TestClient]) -> None:
    text = _page_text(clients["coordinateur"].get("/qualite").text)
    assert "patient_id inconnu (ni dans ce lot ni dans l'entrepôt)" in text and "in neither" not in text


@pytest.fixture(scope="module")
def report(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("french-report") / "rapport"
    _cli("report", "--period", "2025", "--out", str(out), "--format", "pdf", "--format", "xlsx")
    return out


def _cells(path: Path) -> str:
    """Every text cell of a workbook, one per line."""
    book = openpyxl.load_workbook(path, read_only=True)
    cells = [str(v) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for v in row]
    return "\n".join(c for c in cells if c and c != "None")


def test_the_signed_pdf_speaks_french(report: Path) -> None:
    text = pdf_text(next(report.glob("*.pdf")).read_bytes())
    assert "Méthode" in text and "Source détaillée (en anglais) : disclosure.yaml" in text
    assert english_words(text) == []
    assert "registries_2plus" not in text and "coronary_disease" not in text  # codes: their labels instead


def test_the_report_workbook_speaks_french(report: Path) -> None:
    assert english_words(_cells(next(report.glob("*.xlsx")))) == []


def test_the_economics_workbook_speaks_french_but_for_its_labelled_sources(
    clients: dict[str, TestClient], tmp_path: Path
) -> None:
    answer = clients["gestionnaire"].get("/economie/classeur.xlsx", params={"draws": 100})
    assert answer.status_code == 200
    path = tmp_path / "classeur.xlsx"
    path.write_bytes(answer.content)
    book = openpyxl.load_workbook(path, read_only=True)
    sheet = book["Paramètres"]
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    source = header.index("source (en anglais le plus souvent)")
    text = "\n".join(
        str(v)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for i, v in enumerate(row)
        if v is not None and not (sheet.title == "Paramètres" and i == source)
    )
    assert english_words(text) == []


def test_measures_list_names_its_groups_in_french(home: Path) -> None:
    out = _cli("measures", "list")
    assert "Maladies chroniques" in out and "Prévention" in out
    assert "chronic" not in out and "prevention" not in out


def test_deserts_heads_its_area_column_with_an_accent(home: Path) -> None:
    out = _cli("territoire", "deserts", "--referentiel", str(COMMUNES))
    assert "┃ département" in out and "departement" not in out
