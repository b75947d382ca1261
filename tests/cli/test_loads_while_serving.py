"""The command line while ``proxisante serve`` holds the warehouse (issue 15, item 4): ``ingest`` deposits the
export in the drop folder and prints the server's report; ``status`` says in French who holds the warehouse
and what to do, never a DuckDB traceback, when it cannot be run by the server (``tests/cli/test_forward.py``:
when it can); ``depot traiter`` loads the drop folders once."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tests.lib.pivot_fixture as fx
from proxisante.cli import app
from proxisante.cli.common import console
from proxisante.ingest.dropfolders import ARCHIVE, MARKER, REJECTS, depot_root, process
from proxisante.installation import SERVER_FILE, open_installation, running_server
from proxisante.network.structures import Structure, StructureRegistry, with_key
from proxisante.settings import Settings

FINESS = with_key("19000001")


@pytest.fixture
def settings(home: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr(console, "_width", 200)
    settings = Settings(home=home)
    StructureRegistry.installed(settings).add(
        Structure(finess=FINESS, name="Centre de santé de Tulle", type="CDS", joined=dt.date(2024, 1, 1)), by="test"
    )
    return settings


def said(result) -> str:
    """The command's output on one line (the console wraps long paths)."""
    return " ".join(result.output.split())


def fake_server(settings: Settings, pid: int) -> None:
    record = {"pid": pid, "host": "127.0.0.1", "port": 8765, "started": "2026-12-05T09:30:00"}
    (settings.home_dir / SERVER_FILE).write_text(json.dumps(record), encoding="utf-8")


def test_ingest_while_the_server_runs_deposits_and_prints_its_report(settings: Settings, tmp_path: Path) -> None:
    fake_server(settings, os.getpid())
    assert running_server(settings) is not None
    installation = open_installation(settings)  # the "server": processes the drop folder in a thread
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            process(installation)
            done.wait(0.05)

    server = threading.Thread(target=serve)
    server.start()
    try:
        export = fx.write(tmp_path / "export")
        result = CliRunner().invoke(app, ["ingest", str(export), "--structure", FINESS, "--timeout", "120"])
    finally:
        done.set()
        server.join()
    try:
        assert result.exit_code == 0, result.output
        assert "tient l'entrepôt : export déposé dans" in said(result)
        assert f"de la structure {FINESS} : chargé." in said(result)
        [archived] = (depot_root(settings) / FINESS / ARCHIVE).iterdir()
        assert (archived / MARKER).is_file()
        batch = installation.warehouse.execute(installation.warehouse.table("etl_batch"))
        assert list(batch.source) == [FINESS] and list(batch.structure) == [FINESS]
    finally:
        installation.close()


def test_ingest_while_the_server_runs_needs_a_structure(settings: Settings, tmp_path: Path) -> None:
    fake_server(settings, os.getpid())
    result = CliRunner().invoke(app, ["ingest", str(fx.write(tmp_path / "export"))])
    assert result.exit_code == 2
    assert "--structure FINESS" in said(result) and "Traceback" not in said(result)
    assert not (depot_root(settings)).exists()


def test_ingest_gives_up_waiting_but_leaves_the_export(settings: Settings, tmp_path: Path) -> None:
    fake_server(settings, os.getpid())
    result = CliRunner().invoke(
        app, ["ingest", str(fx.write(tmp_path / "export")), "--structure", FINESS, "--timeout", "0.2"]
    )
    assert result.exit_code == 1
    assert "Pas encore de rapport après 0.2 s" in said(result)
    [waiting] = [p for p in (depot_root(settings) / FINESS).iterdir() if not p.name.startswith(".")]
    assert (waiting / MARKER).is_file()


@pytest.fixture
def held_warehouse(settings: Settings):
    """Another process holding the warehouse file, as ``proxisante serve`` does."""
    open_installation(settings).close()
    path = settings.home_dir / "warehouse.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time\ncon = duckdb.connect({str(path)!r})\nprint('ok', flush=True)\ntime.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
    yield holder
    holder.kill()
    holder.wait()


def test_status_while_the_server_holds_the_warehouse(settings: Settings, held_warehouse: subprocess.Popen) -> None:
    fake_server(settings, held_warehouse.pid)
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)  # no traceback: a French message
    assert "Entrepôt occupé" in said(result)
    assert f"Le serveur web le tient (proxisante serve, processus {held_warehouse.pid}" in said(result)
    assert "arrêtez-le" in said(result) and "IOException" not in said(result)


def test_status_while_another_command_holds_the_warehouse(settings: Settings, held_warehouse: subprocess.Popen) -> None:
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert f"processus (PID {held_warehouse.pid})" in said(result)
    assert "Attendez la fin de l'autre commande" in said(result)


def test_a_dead_servers_file_is_ignored(settings: Settings, tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    fake_server(settings, dead.pid)
    assert running_server(settings) is None
    result = CliRunner().invoke(app, ["ingest", str(fx.write(tmp_path / "export")), "--structure", FINESS])
    assert result.exit_code == 0, result.output
    assert "Lot chargé" in said(result)  # loaded here, not deposited


def test_depot_traiter_loads_once_and_prints_each_report(settings: Settings) -> None:
    loaded = fx.write(depot_root(settings) / FINESS / "export-1")
    (loaded / MARKER).touch()
    fx.write(depot_root(settings) / FINESS / "export-2")  # no COMPLET yet
    refused = fx.write(depot_root(settings) / with_key("19000009") / "export-1")
    (refused / MARKER).touch()
    result = CliRunner().invoke(app, ["depot", "traiter"])
    assert result.exit_code == 0, result.output
    assert f"Extrait export-1 de la structure {FINESS} : chargé." in said(result)
    assert "structure inconnue" in said(result)
    assert "En attente (pas encore de fichier COMPLET)" in said(result) and "export-2" in said(result)
    assert (depot_root(settings) / FINESS / ARCHIVE / "export-1").is_dir()
    assert (depot_root(settings) / with_key("19000009") / REJECTS / "export-1").is_dir()
    again = CliRunner().invoke(app, ["depot", "traiter"])
    assert again.exit_code == 0 and "chargé" not in again.output.replace("chargés", "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_real_server_then_status_and_ingest(settings: Settings, home: Path, tmp_path: Path) -> None:
    """``proxisante serve`` in a process of its own; ``status`` and ``ingest`` in others."""
    open_installation(settings).close()
    port = _free_port()
    env = {**os.environ, "PROXISANTE_HOME": str(home)}
    cli = [str(Path(sys.executable).parent / "proxisante")]
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/connexion", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        assert running_server(settings) is not None and running_server(settings).pid == server.pid  # type: ignore[union-attr]
        status = subprocess.run([*cli, "status"], env=env, capture_output=True, text=True, timeout=120)
        assert status.returncode == 0, status.stdout + status.stderr  # run by the server (cli/forward.py)
        assert "la commande s'exécute chez lui" in " ".join(status.stderr.split()) and "Traceback" not in status.stderr
        assert "Entrepôt (duckdb)" in status.stdout
        export = fx.write(tmp_path / "export")
        ingest = subprocess.run(
            [*cli, "ingest", str(export), "--structure", FINESS, "--timeout", "120"],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert ingest.returncode == 0, ingest.stdout + ingest.stderr
        assert f"de la structure {FINESS} : chargé." in " ".join(ingest.stdout.split())
    finally:
        server.terminate()
        server.wait(60)
    assert not (home / SERVER_FILE).exists()  # removed on exit
    status = subprocess.run([*cli, "status"], env=env, capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stdout + status.stderr
