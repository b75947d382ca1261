"""The registry of member structures: FINESS and its key, types as data, history of departures, French errors
naming the file, the entry and the field, atomic owner-only writes and a chained journal."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path

import pytest

from proxisante.identity.chain import AuditChain
from proxisante.network.structures import (
    NETWORK_LOG,
    PARAMETERS,
    Structure,
    StructureError,
    StructureRegistry,
    finess_problem,
    load_source,
    parse,
    structure_types,
    with_key,
)
from proxisante.settings import Settings

GUERET = with_key("23000001")
AUBUSSON = with_key("23000003")
SITE = with_key("23000002")


def entry(finess: str = GUERET, **extra: object) -> dict[str, object]:
    return {"finess": finess, "nom": "Centre de santé de Guéret", "type": "CDS", "adhesion": "2024-01-01", **extra}


BASE = "structures:\n  - finess: '230000010'\n    nom: X\n    type: CDS\n    adhesion: 2024-01-01\n"


@pytest.fixture()
def registry(tmp_path: Path) -> StructureRegistry:
    return StructureRegistry(tmp_path / "reseau" / "structures.yaml", AuditChain(tmp_path / "audit", NETWORK_LOG))


def test_finess_key_is_checked() -> None:
    assert finess_problem(GUERET) is None
    wrong = GUERET[:8] + str((int(GUERET[8]) + 1) % 10)
    assert "clé de contrôle" in (finess_problem(wrong) or "")
    assert "9 caractères" in (finess_problem("2300000") or "")
    assert "chiffres" in (finess_problem("23A000010") or "")
    corsica = with_key("2A000001")
    assert corsica.startswith("2A") and finess_problem(corsica) is None
    assert finess_problem(with_key("2B000001")) is None
    # The rule is a parameter with its source, tagged unconfirmed until the official text is checked.
    assert PARAMETERS.parameter("finess_check").unconfirmed


def test_a_wrong_key_is_refused_naming_the_field() -> None:
    with pytest.raises(StructureError, match=r"finess.*clé de contrôle"):
        parse(entry(GUERET[:8] + str((int(GUERET[8]) + 3) % 10)))


def test_types_are_data_with_french_labels() -> None:
    assert list(structure_types()) == ["CDS", "MSP", "ESP", "CPTS"]
    structure = parse(entry(type="msp"))
    assert structure.type == "MSP" and structure.type_label == "Maison de santé pluriprofessionnelle"
    with pytest.raises(StructureError, match=r"type.*type inconnu « EHPAD »"):
        parse(entry(type="EHPAD"))


def test_add_then_duplicate_refused(registry: StructureRegistry) -> None:
    registry.add(parse(entry(finess_geo=[SITE], commune="23096", cpts="CPTS Creuse Sud")), by="admin")
    with pytest.raises(StructureError, match="déjà dans le registre"):
        registry.add(parse(entry()))
    with pytest.raises(StructureError, match="finess_geo"):  # a site already declared by another structure
        registry.add(parse(entry(AUBUSSON, finess_geo=[SITE])))
    (structure,) = registry.all()
    assert structure.finess_geo == (SITE,) and structure.commune == "23096" and structure.cpts == "CPTS Creuse Sud"
    assert registry.get(GUERET) == structure and registry.get(AUBUSSON) is None


def test_file_format_and_owner_only(registry: StructureRegistry) -> None:
    registry.add(parse(entry(convention="CONV-2024-01")))
    text = registry.path.read_text(encoding="utf-8")
    assert text.startswith("# Structures membres du réseau")
    assert f"  - finess: '{GUERET}'" in text and "adhesion: 2024-01-01" in text and "convention: CONV-2024-01" in text
    assert stat.S_IMODE(registry.path.stat().st_mode) == 0o600
    assert not [p for p in registry.path.parent.iterdir() if p.suffix == ".tmp"]
    # What was written reads back the same (a hand edit keeps the same format).
    assert registry.all() == [parse(entry(convention="CONV-2024-01"))]


def test_leave_keeps_history_and_active(registry: StructureRegistry) -> None:
    registry.add(parse(entry()))
    assert registry.active(GUERET, dt.date(2024, 1, 1))
    assert not registry.active(GUERET, dt.date(2023, 12, 31))
    assert not registry.active(AUBUSSON, dt.date(2024, 6, 1))
    registry.leave(GUERET, dt.date(2025, 6, 1))
    (structure,) = registry.all()
    assert structure.left == dt.date(2025, 6, 1)
    assert registry.active(GUERET, dt.date(2025, 5, 31)) and not registry.active(GUERET, dt.date(2025, 6, 1))
    with pytest.raises(StructureError, match="a quitté le réseau le 01/06/2025"):
        registry.check_active(GUERET, dt.date(2025, 7, 1))
    with pytest.raises(StructureError, match="déjà quitté"):
        registry.leave(GUERET, dt.date(2025, 7, 1))
    with pytest.raises(StructureError, match="structure inconnue"):
        registry.check_active(AUBUSSON, dt.date(2025, 7, 1))


def test_leave_before_joining_is_refused(registry: StructureRegistry) -> None:
    registry.add(parse(entry()))
    with pytest.raises(StructureError, match=r"depart.*précède l'adhésion"):
        registry.leave(GUERET, dt.date(2023, 1, 1))


def test_journal_is_chained_and_verified(registry: StructureRegistry) -> None:
    registry.add(parse(entry()), by="alice")
    registry.leave(GUERET, dt.date(2025, 6, 1), by="bruno")
    history = registry.history()
    assert [(h["action"], h["by"], h["finess"]) for h in history] == [
        ("ajout", "alice", GUERET),
        ("depart", "bruno", GUERET),
    ]
    assert registry.verify_journal().intact and registry.verify_journal().rows == 2
    lines = registry.journal.read_text(encoding="utf-8").splitlines()
    edited = json.loads(lines[0])
    edited["by"] = "mallory"
    registry.journal.write_text("\n".join([json.dumps(edited), lines[1]]) + "\n", encoding="utf-8")
    check = registry.verify_journal()
    assert not check.intact and check.broken_at == 1
    registry.journal.write_text(lines[0] + "\n", encoding="utf-8")  # truncated: the anchor says 2 rows
    assert "tronqué" in (registry.verify_journal().reason or "")


def test_hand_edited_file_with_an_error_names_entry_and_field(registry: StructureRegistry) -> None:
    registry.add(parse(entry()))
    with registry.path.open("a", encoding="utf-8") as handle:
        handle.write(f'  - finess: "{AUBUSSON}"\n    nom: MSP\n    type: MSP\n    adhesion: 2024-02-30\n')
    with pytest.raises(StructureError) as caught:
        registry.all()
    message = str(caught.value)
    assert str(registry.path) in message and f"structure n° 2 (FINESS {AUBUSSON})" in message
    assert "champ « adhesion » : date invalide « 2024-02-30 »" in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [  # a base entry, then what breaks it
        ("structures:\n  - finess: 230000010\n    nom: X\n    type: CDS\n    adhesion: 2024-01-01\n", "guillemets"),
        (
            "structures:\n  - finess: '230000010'\n    type: CDS\n    adhesion: 2024-01-01\n",
            "« nom » : champ obligatoire",
        ),
        (
            "structures:\n  - finess: '230000010'\n    nom: X\n    type: CDS\n    adhesion: 2024-01-01\n    site: 1\n",
            "« site » : champ inconnu",
        ),
        (
            BASE + "    commune: '2309'\n",
            "« commune »",
        ),
        ("structures: {}\n", "une liste « structures: »"),
        ("structures: [\n", "YAML illisible"),
    ],
)
def test_hand_edit_errors_are_french(registry: StructureRegistry, body: str, expected: str) -> None:
    registry.path.parent.mkdir(parents=True)
    registry.path.write_text(body, encoding="utf-8")
    with pytest.raises(StructureError, match=expected):
        registry.all()


def test_a_duplicate_in_a_hand_edited_file_is_named(registry: StructureRegistry) -> None:
    registry.path.parent.mkdir(parents=True)
    one = f"  - finess: '{GUERET}'\n    nom: X\n    type: CDS\n    adhesion: 2024-01-01\n"
    registry.path.write_text("structures:\n" + one + one, encoding="utf-8")
    with pytest.raises(StructureError, match=r"structure n° 2.*\n.*finess.*déjà déclaré par la structure n° 1"):
        registry.all()


def test_absent_or_empty_file_is_an_empty_registry(registry: StructureRegistry) -> None:
    assert registry.all() == []
    registry.path.parent.mkdir(parents=True)
    registry.path.write_text("# rien encore\n", encoding="utf-8")
    assert registry.all() == []


def test_settings_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXISANTE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PROXISANTE_STRUCTURES_PATH", raising=False)
    assert Settings().structures == tmp_path / "home" / "reseau" / "structures.yaml"
    monkeypatch.setenv("PROXISANTE_STRUCTURES_PATH", str(tmp_path / "ailleurs.yaml"))
    settings = Settings()
    assert settings.structures == tmp_path / "ailleurs.yaml"
    assert StructureRegistry.installed(settings).chain.folder == settings.audit


def test_load_source() -> None:
    assert load_source(GUERET) == GUERET
    assert load_source(GUERET, "weda") == f"{GUERET}/weda"


def test_structure_model_uses_french_keys() -> None:
    structure = Structure.model_validate(
        {"finess": GUERET, "nom": "CDS", "type": "CDS", "adhesion": dt.date(2024, 1, 1)}
    )
    assert structure.record()["nom"] == "CDS" and structure.record()["depart"] is None
