from __future__ import annotations

import stat
from pathlib import Path

import pyarrow as pa
import pytest

from proxisante.identity import IdentityVault, Pseudonymiser, load_or_create_key
from proxisante.identity.keys import create_secret
from proxisante.identity.vault import IDENTITY_COLUMNS


def test_key_is_created_once_with_owner_only_permissions(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "key"
    key = load_or_create_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_or_create_key(path) == key


def test_secret_is_never_overwritten_nor_generated_again(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "signing.pem"
    create_secret(path, lambda: b"first")
    calls: list[int] = []
    create_secret(path, lambda: calls.append(1) or b"second")
    assert path.read_bytes() == b"first"
    assert calls == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_short_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("abcd")
    with pytest.raises(ValueError, match="at least 32 bytes"):
        load_or_create_key(path)


def test_person_id_is_keyed_stable_and_63_bits() -> None:
    a, b = Pseudonymiser(b"a" * 32), Pseudonymiser(b"b" * 32)
    ins = "265017505612345"
    assert a.person_id(ins, None, None) == a.person_id(ins, "other", "2000-01-01")
    assert a.person_id(ins, None, None) != b.person_id(ins, None, None)
    assert 0 <= a.person_id(ins, None, None) < 2**63


def test_nir_alone_is_salted_with_birth_date_children_on_a_parents_card() -> None:
    p = Pseudonymiser(b"k" * 32)
    parent_card = "148035801204512"
    assert p.person_id(None, parent_card, "2015-04-01") != p.person_id(None, parent_card, "2018-07-12")
    with pytest.raises(ValueError):
        p.person_id(None, None, "2015-04-01")


def _identities(person_ids: list[int]) -> pa.Table:
    columns = {c: pa.array([f"{c}-{i}" for i in person_ids], pa.string()) for c in IDENTITY_COLUMNS}
    columns["birth_date"] = pa.array([None] * len(person_ids), pa.date32())
    return pa.table(
        {
            "person_id": pa.array(person_ids, pa.int64()),
            "patient_id": pa.array([f"P{i}" for i in person_ids]),
            **columns,
        }
    )


def test_vault_links_and_audited_lookup(tmp_path: Path) -> None:
    vault = IdentityVault(tmp_path / "vault.duckdb")
    vault.store("ehr", _identities([1, 2, 3]))
    vault.store("ehr", _identities([3, 4]))  # an upsert, not a duplicate
    assert vault.count() == 4
    links = vault.patient_links("ehr").to_pydict()
    assert dict(zip(links["patient_id"], links["person_id"], strict=True)) == {"P1": 1, "P2": 2, "P3": 3, "P4": 4}
    assert vault.patient_links("other").num_rows == 0
    assert vault.access_log().num_rows == 0
    found = vault.lookup([2, 4], reader="dr.martin", purpose="liste d'appel dépistage")
    assert found["family_name"].to_pylist() == ["family_name-2", "family_name-4"]
    log = vault.access_log().to_pylist()
    assert len(log) == 1 and log[0]["reader"] == "dr.martin" and log[0]["person_ids"] == [2, 4]
    with pytest.raises(ValueError):
        vault.lookup([1], reader="", purpose="x")
