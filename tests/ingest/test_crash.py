"""A load killed with SIGKILL at any stage of its commit leaves the warehouse and the identity vault in step.

The commit spans two DuckDB files: the batch's identities are first written to the vault as pending rows,
then the warehouse commits, then the pending rows are promoted. A kill before the warehouse commit leaves
both stores exactly as before (the pending rows are discarded when the installation next opens); a kill
after it leaves both with the batch once the installation has reopened (the pending rows are promoted).
"""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import tests.lib.pivot_fixture as fx
from proxisante.installation import Installation, open_installation
from proxisante.settings import Settings
from tests.ingest.pivot.test_load import load, snapshot, vault_snapshot

CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from proxisante.identity.vault import IdentityVault
    from proxisante.installation import open_installation
    from proxisante.ingest.pivot.load import load_pivot
    from proxisante.warehouse import load as load_module

    folder, marker, stage = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]

    def wait():
        marker.write_text(stage)
        time.sleep(120)

    if stage == "vault-staged":  # the batch's identities are pending in the vault, the warehouse untouched
        staged = IdentityVault.stage

        def stage_then_wait(self, *args, **kwargs):
            staged(self, *args, **kwargs)
            wait()

        IdentityVault.stage = stage_then_wait
    elif stage == "warehouse-commit":  # every upsert of the batch is done, not yet committed
        rebuild = load_module.rebuild_observation_periods

        def rebuild_then_wait(warehouse):
            rebuild(warehouse)
            wait()

        load_module.rebuild_observation_periods = rebuild_then_wait
    else:  # "before-promotion": the warehouse has committed, the vault's pending rows are not promoted
        def wait_instead(self, *args, **kwargs):
            wait()

        IdentityVault.promote = wait_instead
    inst = open_installation()
    load_pivot(folder, inst, source="ehr")
    """
)


def _second_extract(tmp_path: Path) -> Path:
    """500 more encounters, every patient renamed and a new one: the vault changes as much as the warehouse."""
    encounters = copy.deepcopy(fx.TABLES["encounters"])
    encounters += [{**encounters[0], "encounter_id": f"N{i}", "date": "02/05/2025"} for i in range(500)]
    patients = [{**p, "family_name": f"Renommé{i}", "phone": f"07000000{i:02d}"}
                for i, p in enumerate(fx.TABLES["patients"])]  # fmt: skip
    patients.append({**patients[0], "patient_id": "P4", "ins": fx.nir("1700175056123"), "family_name": "Nouveau"})
    return fx.write(tmp_path / "v2", {**fx.TABLES, "encounters": encounters, "patients": patients})


def _kill_at(stage: str, folder: Path, marker: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(folder), str(marker), stage], env=os.environ.copy())
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, f"the loading process ended before reaching the stage {stage}"
            assert time.monotonic() < deadline, f"the loading process never reached the stage {stage}"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()


def _in_step(inst: Installation) -> None:
    """Every person of the warehouse has its identity and its link, and the vault holds no one else."""
    persons = {p for (p,) in inst.warehouse.duckdb.execute("SELECT person_id FROM person").fetchall()}
    with inst.vault.connect() as con:
        identities = {p for (p,) in con.execute("SELECT person_id FROM identity").fetchall()}
        linked = {p for (p,) in con.execute("SELECT person_id FROM source_patient").fetchall()}
    assert identities == linked == persons


@pytest.mark.parametrize("stage", ["vault-staged", "warehouse-commit"])
def test_sigkill_before_the_warehouse_commit_leaves_both_stores_as_before(
    home: Path, tmp_path: Path, stage: str
) -> None:
    inst = open_installation(Settings())
    load(inst, fx.write(tmp_path / "v1"))
    before, vault_before = snapshot(inst), vault_snapshot(inst)
    inst.close()

    v2 = _second_extract(tmp_path)
    _kill_at(stage, v2, tmp_path / "marker")

    inst = open_installation(Settings())
    try:
        assert snapshot(inst) == before
        assert vault_snapshot(inst) == vault_before
        with inst.vault.connect() as con:  # nothing of the killed batch is left, not even pending
            assert con.execute("SELECT count(*) FROM pending_identity").fetchone() == (0,)
        # And the interrupted batch can simply be run again.
        report = load(inst, v2)
        assert report.committed and inst.warehouse.counts()["visit_occurrence"] == 503
        assert vault_snapshot(inst) != vault_before
        _in_step(inst)
    finally:
        inst.close()


def test_sigkill_between_the_warehouse_commit_and_the_promotion_is_completed_on_reopening(
    home: Path, tmp_path: Path
) -> None:
    v2 = _second_extract(tmp_path)
    inst = open_installation(Settings())
    load(inst, fx.write(tmp_path / "v1"))
    inst.close()

    _kill_at("before-promotion", v2, tmp_path / "marker")

    inst = open_installation(Settings())  # reopening reconciles: the committed batch's identities are promoted
    try:
        assert inst.warehouse.counts()["visit_occurrence"] == 503
        _in_step(inst)
        with inst.vault.connect() as con:
            names = {n for (n,) in con.execute("SELECT family_name FROM identity").fetchall()}
            assert con.execute("SELECT count(*) FROM pending_identity").fetchone() == (0,)
        assert names == {"Renommé0", "Renommé1", "Renommé2", "Nouveau"}
        after = vault_snapshot(inst)
        assert not load(inst, v2).committed  # already loaded: nothing runs again
        assert vault_snapshot(inst) == after
    finally:
        inst.close()
