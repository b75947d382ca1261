"""Patient objection: recorded by INS in the vault, exposed to engines only as pseudonyms."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from proxisante.cli import app
from proxisante.cli.common import console
from proxisante.identity.objection import InvalidINS, check_ins
from proxisante.identity.vault import IDENTITY_COLUMNS
from proxisante.installation import Installation


def _ins(body: str) -> str:
    """A valid INS from its 13 first characters (key = 97 - n mod 97, Corsica 2A/2B as 19/18)."""
    digits = body.replace("2A", "19") if body[5:7] == "2A" else body.replace("2B", "18") if body[5:7] == "2B" else body
    return f"{body}{97 - int(digits) % 97:02d}"


KNOWN = _ins("1841275123456")
UNKNOWN = _ins("2900699123456")
CORSICA = _ins("191052A001001")


def test_ins_key_is_checked() -> None:
    assert check_ins(KNOWN[:1] + " " + KNOWN[1:]) == KNOWN
    assert check_ins(CORSICA.lower()) == CORSICA
    broken = KNOWN[:-2] + f"{(int(KNOWN[-2:]) + 1) % 100:02d}"
    with pytest.raises(InvalidINS, match="clé"):
        check_ins(broken)
    with pytest.raises(InvalidINS, match="15 caractères"):
        check_ins("12345")


def _store_known(installation: Installation) -> int:
    person_id = 42
    row = dict.fromkeys(IDENTITY_COLUMNS) | {"ins": KNOWN, "family_name": "DUPONT", "given_names": "Marie"}
    table = pa.Table.from_pylist([{"person_id": person_id, "patient_id": "P1", **row}])
    installation.vault.store("ehr", table.cast(pa.schema([("person_id", pa.int64()), ("patient_id", pa.string())]
        + [(c, pa.date32() if c == "birth_date" else pa.string()) for c in IDENTITY_COLUMNS])))  # fmt: skip
    return person_id


def test_objection_resolves_through_the_vault_and_before_the_first_load(installation: Installation) -> None:
    registry = installation.objections
    known = _store_known(installation)
    assert registry.add(KNOWN, "accueil") == (known, True)
    assert registry.add(KNOWN, "accueil") == (known, False)
    unknown_id, created = registry.add(UNKNOWN, "dr.martin", note="courrier du 02/11")
    assert created and unknown_id == installation.pseudonymiser.person_id(UNKNOWN, None, None)
    assert registry.person_ids() == {known, unknown_id}
    assert registry.remove(KNOWN, "accueil") == (known, True)
    assert registry.remove(KNOWN, "accueil") == (known, False)
    assert registry.person_ids() == {unknown_id}
    assert [row["action"] for row in registry.log().to_pylist()] == ["add", "add", "remove"]
    with pytest.raises(ValueError, match="--by"):
        registry.add(KNOWN, " ")


def test_listing_is_an_audited_nominative_read(installation: Installation) -> None:
    known = _store_known(installation)
    installation.objections.add(KNOWN, "accueil")
    installation.objections.add(UNKNOWN, "accueil")
    rows = installation.objections.nominative_list("coordination").to_pylist()
    assert [(r["person_id"] == known, r["family_name"]) for r in rows] == [(True, "DUPONT"), (False, None)]
    log = installation.vault.access_log().to_pylist()
    assert len(log) == 1 and log[0]["reader"] == "coordination" and known in log[0]["person_ids"]


def test_cli_add_list_remove(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "_width", 200)
    runner = CliRunner()
    added = runner.invoke(app, ["objection", "add", UNKNOWN, "--by", "accueil"])
    assert added.exit_code == 0, added.output
    assert "Opposition enregistrée" in added.output
    listed = runner.invoke(app, ["objection", "list", "--reader", "coordination"])
    assert "Oppositions (1)" in listed.output and "accueil" in listed.output
    refused = runner.invoke(app, ["objection", "add", "123", "--by", "accueil"])
    assert refused.exit_code == 2 and "INS invalide" in refused.output
    removed = runner.invoke(app, ["objection", "remove", UNKNOWN, "--by", "accueil"])
    assert "Opposition retirée" in removed.output
    assert "Oppositions (0)" in runner.invoke(app, ["objection", "list", "--reader", "coordination"]).output


def test_a_patient_loaded_without_ins_is_found_by_its_source_link(
    installation: Installation, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An OMOP import has no INS: the objection goes through the vault's (source, local id) link."""
    _store_known(installation)  # links ("ehr", "P1") to person 42
    registry = installation.objections
    assert registry.add_person(registry.resolve_local("ehr", "P1"), "accueil") == (42, True)
    with pytest.raises(LookupError, match="P2"):
        registry.resolve_local("ehr", "P2")
    monkeypatch.setattr(console, "_width", 200)
    runner = CliRunner()
    removed = runner.invoke(app, ["objection", "remove", "--source", "ehr", "--patient-id", "P1", "--by", "accueil"])
    assert "Opposition retirée" in removed.output, removed.output
    assert registry.person_ids() == frozenset()
    both = runner.invoke(app, ["objection", "add", KNOWN, "--source", "ehr", "--patient-id", "P1", "--by", "x"])
    assert both.exit_code == 2
    unknown = runner.invoke(app, ["objection", "add", "--source", "ehr", "--patient-id", "P9", "--by", "x"])
    assert unknown.exit_code == 2 and "P9" in unknown.output
