"""A load killed with SIGKILL in the middle of its commit leaves the warehouse exactly as before."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pivot_fixture as fx
from proxisante.runtime import open_installation
from proxisante.settings import Settings
from test_ingest import load, snapshot

CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from proxisante.runtime import open_installation
    from proxisante.sources.pivot import load_pivot
    from proxisante.warehouse import load as load_module

    folder, marker = Path(sys.argv[1]), Path(sys.argv[2])
    rebuild = load_module.rebuild_observation_periods

    def rebuild_then_wait(warehouse):
        rebuild(warehouse)  # every upsert of the batch is done, not yet committed
        marker.write_text("in commit")
        time.sleep(120)

    load_module.rebuild_observation_periods = rebuild_then_wait
    inst = open_installation()
    load_pivot(folder, inst.warehouse, inst.vault, inst.pseudonymiser, source="ehr")
    """
)


def test_sigkill_during_commit_leaves_the_warehouse_as_before(home: Path, tmp_path: Path) -> None:
    inst = open_installation(Settings())
    load(inst, fx.write(tmp_path / "v1"))
    before = snapshot(inst)
    inst.close()

    encounters = copy.deepcopy(fx.TABLES["encounters"])
    encounters += [{**encounters[0], "encounter_id": f"N{i}", "date": "02/05/2025"} for i in range(500)]
    v2 = fx.write(tmp_path / "v2", {**fx.TABLES, "encounters": encounters})
    marker = tmp_path / "marker"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(v2), str(marker)], env=os.environ.copy())
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, "the loading process ended before reaching its commit"
            assert time.monotonic() < deadline, "the loading process never reached its commit"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()

    inst = open_installation(Settings())
    try:
        assert snapshot(inst) == before
        # And the interrupted batch can simply be run again.
        report = load(inst, v2)
        assert report.committed and inst.warehouse.counts()["visit_occurrence"] == 503
    finally:
        inst.close()
