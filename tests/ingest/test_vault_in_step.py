"""The identity vault is written in step with the warehouse: a batch that does not commit changes neither.

A batch writes its identities to the vault as pending rows, commits the warehouse, then promotes them;
reads never see pending rows, and opening the installation promotes or discards what a dead batch left.
"""

from __future__ import annotations

import copy
import errno
from pathlib import Path

import pytest

import tests.lib.pivot_fixture as fx
from proxisante.identity.vault import IdentityVault
from proxisante.ingest.files import InputFileError
from proxisante.installation import Installation, open_installation
from proxisante.settings import Settings
from tests.ingest.pivot.test_load import load, snapshot, vault_snapshot, with_changes


def _renamed() -> list[dict[str, str]]:
    return [{**p, "family_name": f"Autre{i}", "phone": f"07999999{i:02d}"} for i, p in enumerate(fx.TABLES["patients"])]


def _second_extract(folder: Path) -> Path:
    encounters = [*fx.TABLES["encounters"], {**fx.TABLES["encounters"][0], "encounter_id": "E5"}]
    return fx.write(folder, with_changes(patients=_renamed(), encounters=encounters))


def _disk_full(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def _pending(inst: Installation) -> int:
    with inst.vault.connect() as con:
        return sum(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("pending_identity", "pending_link"))


def test_a_refused_batch_changes_no_identity(installation: Installation, tmp_path: Path) -> None:
    load(installation, fx.write(tmp_path / "v1"))
    before, vault_before = snapshot(installation), vault_snapshot(installation)
    folder = _second_extract(tmp_path / "v2")
    # patients.csv is valid and read first; a later file has a duplicated column: the batch is refused.
    lab = folder / "lab_results.csv"
    lab.write_text(lab.read_text(encoding="utf-8").replace(";unit", ";value", 1), encoding="utf-8")
    with pytest.raises(InputFileError, match=r"lab_results\.csv"):
        load(installation, folder)
    assert snapshot(installation) == before
    assert vault_snapshot(installation) == vault_before
    assert _pending(installation) == 0


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("proxisante.warehouse.load", "rebuild_observation_periods"),
        ("proxisante.identity.vault", "IdentityVault.stage"),
    ],
    ids=["warehouse-commit", "vault-staging"],
)
def test_a_full_disk_in_either_store_changes_neither(
    installation: Installation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, name: str
) -> None:
    """A full disk inside the warehouse's commit, or while the vault stages the batch's identities."""
    load(installation, fx.write(tmp_path / "v1"))
    before, vault_before = snapshot(installation), vault_snapshot(installation)
    monkeypatch.setattr(f"{module}.{name}", _disk_full)
    with pytest.raises(OSError, match="No space left"):
        load(installation, _second_extract(tmp_path / "v2"))
    assert snapshot(installation) == before
    assert vault_snapshot(installation) == vault_before
    assert _pending(installation) == 0


def test_a_failed_promotion_is_completed_when_the_installation_opens(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inst = open_installation(Settings())
    load(inst, fx.write(tmp_path / "v1"))
    with monkeypatch.context() as patch:
        patch.setattr(IdentityVault, "promote", _disk_full)
        report = load(inst, _second_extract(tmp_path / "v2"))
    assert report.committed  # the warehouse has the batch
    # Until the promotion, reads see the identities of the last promoted batch, never pending rows.
    names = {r["family_name"] for r in inst.vault.lookup([1], reader="t", purpose="t").to_pylist()}
    assert not names
    links = inst.vault.patient_links("ehr").num_rows
    assert links == 3 and _pending(inst) > 0
    inst.close()

    inst = open_installation(Settings())
    try:
        assert _pending(inst) == 0
        with inst.vault.connect() as con:
            names = {n for (n,) in con.execute("SELECT family_name FROM identity").fetchall()}
        assert names == {"Autre0", "Autre1", "Autre2"}
    finally:
        inst.close()


def test_pending_rows_of_a_batch_the_warehouse_never_committed_are_discarded(home: Path, tmp_path: Path) -> None:
    inst = open_installation(Settings())
    load(inst, fx.write(tmp_path / "v1"))
    vault_before = vault_snapshot(inst)
    with inst.vault.connect() as con:  # what a process killed before its warehouse commit leaves
        con.execute(
            "INSERT INTO pending_identity (batch_id, person_id, family_name, staged_at) "
            "SELECT '20200101T000000-deadbeef', person_id, 'Fantôme', now() FROM identity"
        )
        con.execute("INSERT INTO pending_link SELECT '20200101T000000-deadbeef', 'ehr', 'P9', 1")
    inst.close()
    inst = open_installation(Settings())
    try:
        assert _pending(inst) == 0
        assert vault_snapshot(inst) == vault_before
    finally:
        inst.close()


def test_reads_never_see_pending_identities(tmp_path: Path) -> None:
    vault = IdentityVault(tmp_path / "vault.duckdb")
    rows = copy.deepcopy({"patient_id": ["P1"], "person_id": [7], "family_name": ["Durand"]})
    import pyarrow as pa

    vault.stage("b1", "ehr", pa.table(rows))
    assert vault.patient_links("ehr").num_rows == 0 and vault.count() == 0
    assert vault.lookup([7], reader="t", purpose="t").num_rows == 0
    vault.promote("b1")
    assert vault.patient_links("ehr").to_pylist() == [{"patient_id": "P1", "person_id": 7}]
    assert vault.lookup([7], reader="t", purpose="t").to_pylist()[0]["family_name"] == "Durand"
