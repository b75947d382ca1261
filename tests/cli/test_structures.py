"""``proxisante structures add|list|show|leave`` and ``proxisante users add --structure``: French messages, errors
exit 2 naming the field, a duplicate FINESS refused, the accounts file of an earlier version gets the column."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from proxisante.cli import app
from proxisante.cli.common import console
from proxisante.network.structures import StructureRegistry, with_key
from proxisante.settings import Settings
from proxisante.web.security.accounts import AccountStore

GUERET, AUBUSSON, SITE = with_key("23000001"), with_key("23000003"), with_key("23000002")
PASSWORD = "Structures-2026!"


@pytest.fixture()
def runner(home: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(console, "_width", 200)
    monkeypatch.setenv("PASSWORD_FOR_TEST", PASSWORD)
    return CliRunner()


def run(runner: CliRunner, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def add_gueret(runner: CliRunner) -> str:
    return run(
        runner,
        *("structures", "add", "--finess", GUERET, "--nom", "Centre de santé de Guéret", "--type", "CDS"),
        *("--commune", "23096", "--cpts", "CPTS Creuse Sud", "--finess-geo", SITE, "--convention", "CONV-2024-01"),
        *("--adhesion", "2024-01-01"),
    )


def test_add_list_show_leave(runner: CliRunner) -> None:
    assert "inscrite au réseau le 01/01/2024" in add_gueret(runner)
    run(runner, "structures", "add", "--finess", AUBUSSON, "--nom", "MSP d'Aubusson", "--type", "msp")
    table = run(runner, "structures", "list")
    assert "Structures du réseau" in table and "Centre de santé de Guéret" in table and "MSP d'Aubusson" in table
    records = json.loads(run(runner, "structures", "list", "--format", "json"))
    assert [r["finess"] for r in records] == [GUERET, AUBUSSON]
    assert records[0]["finess_geo"] == [SITE] and records[0]["convention"] == "CONV-2024-01"
    assert records[1]["type"] == "MSP" and records[1]["depart"] is None
    rows = list(csv.DictReader(io.StringIO(run(runner, "structures", "list", "--format", "csv")), delimiter=";"))
    assert rows[0]["commune"] == "23096" and rows[0]["cpts"] == "CPTS Creuse Sud"
    shown = run(runner, "structures", "show", GUERET)
    assert "Centre de santé (CDS)" not in shown and "CDS (Centre de santé)" in shown and SITE in shown
    assert "ajout par" in shown
    assert "départ du réseau le 30/06/2025" in run(runner, "structures", "leave", GUERET, "--date", "2025-06-30")
    again = json.loads(run(runner, "structures", "list", "--format", "json"))
    assert again[0]["depart"] == "2025-06-30" and len(again) == 2  # it stays: the registry is a history
    assert "non membre aujourd'hui" in run(runner, "structures", "show", GUERET)
    assert StructureRegistry.installed(Settings()).verify_journal().rows == 3


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--finess", GUERET[:8] + str((int(GUERET[8]) + 1) % 10), "--nom", "X", "--type", "CDS"), "clé de contrôle"),
        (("--finess", GUERET, "--nom", "X", "--type", "EHPAD"), "champ « type » : type inconnu « EHPAD »"),
        (("--finess", GUERET, "--nom", "X", "--type", "CDS", "--commune", "230"), "champ « commune »"),
        (("--finess", GUERET, "--nom", " ", "--type", "CDS"), "champ « nom »"),
        (("--finess", GUERET, "--nom", "X", "--type", "CDS", "--finess-geo", "12"), "champ « finess_geo"),
    ],
)
def test_add_refusals_name_the_field(runner: CliRunner, args: tuple[str, ...], expected: str) -> None:
    output = run(runner, "structures", "add", *args, code=2)
    assert "Structure refusée" in output and expected in output
    assert run(runner, "structures", "list", "--format", "json").strip() == "[]"


def test_duplicate_finess_is_refused(runner: CliRunner) -> None:
    add_gueret(runner)
    output = run(runner, "structures", "add", "--finess", GUERET, "--nom", "Autre", "--type", "MSP", code=2)
    assert "champ « finess »" in output and "déjà dans le registre" in output


def test_bad_dates_and_unknown_structures(runner: CliRunner) -> None:
    result = CliRunner().invoke(
        app, ["structures", "add", "--finess", GUERET, "--nom", "X", "--type", "CDS", "--adhesion", "2024-02-30"]
    )
    assert result.exit_code == 2 and "--adhesion" in result.output and "impossible" in result.output
    assert "structure inconnue" in run(runner, "structures", "show", GUERET, code=2)
    assert "structure inconnue" in run(runner, "structures", "leave", GUERET, code=2)
    add_gueret(runner)
    assert "précède l'adhésion" in run(runner, "structures", "leave", GUERET, "--date", "2023-01-01", code=2)


def test_a_broken_registry_is_said_in_french(runner: CliRunner) -> None:
    path = Settings().structures
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("structures:\n  - finess: '230000010'\n    nom: X\n    type: CDX\n    adhesion: 2024-01-01\n")
    output = run(runner, "structures", "list", code=2)
    assert "Registre illisible" in output and "structure n° 1 (FINESS 230000010)" in output and "« type »" in output


def test_users_add_with_a_structure(runner: CliRunner) -> None:
    user = ("users", "add", "--role", "gestionnaire", "--password-env", "PASSWORD_FOR_TEST")
    output = run(runner, *user[:2], "alice", *user[2:], "--structure", GUERET, code=2)
    assert "Compte refusé" in output and "--structure" in output and "structure inconnue" in output
    add_gueret(runner)
    assert f"structure {GUERET}" in run(runner, *user[:2], "alice", *user[2:], "--structure", GUERET)
    assert "réseau" in run(runner, *user[:2], "bruno", *user[2:])
    listing = run(runner, "users", "list")
    assert GUERET in listing and "réseau" in listing
    store = AccountStore(Settings().accounts)
    assert store.get("alice").structure == GUERET and store.get("bruno").structure is None  # type: ignore[union-attr]


def test_an_accounts_file_without_the_structure_column_opens(tmp_path: Path) -> None:
    path = tmp_path / "accounts.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE account (username VARCHAR PRIMARY KEY, display_name VARCHAR NOT NULL, password_hash VARCHAR "
        "NOT NULL, roles VARCHAR[] NOT NULL, rpps VARCHAR, active BOOLEAN NOT NULL, created_at TIMESTAMP NOT NULL, "
        "disabled_at TIMESTAMP)"
    )
    con.execute("INSERT INTO account VALUES ('ancien', 'Ancien', 'x', ['admin'], NULL, true, now(), NULL)")
    con.close()
    store = AccountStore(path)
    (old,) = store.list()
    assert old.username == "ancien" and old.structure is None
    store.add("nouveau", PASSWORD, ["gestionnaire"], structure=GUERET)
    assert store.get("nouveau").structure == GUERET  # type: ignore[union-attr]


def test_audit_verify_covers_the_registry_journal(runner: CliRunner) -> None:
    add_gueret(runner)
    output = run(runner, "audit", "verify")
    assert "journal du registre des structures" in output
    journal = StructureRegistry.installed(Settings()).journal
    line = json.loads(journal.read_text(encoding="utf-8"))
    line["by"] = "quelqu'un d'autre"
    journal.write_text(json.dumps(line) + "\n", encoding="utf-8")
    assert "entrée n° 1 a été modifiée" in run(runner, "audit", "verify", code=1)
