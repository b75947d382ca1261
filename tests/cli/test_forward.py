"""Every command while ``proxisante serve`` runs (issue 15, item 4): a real server holds the warehouse of a real
data home (a small synthetic centre loaded); ``status``, ``measures run`` and ``report --out <relative>`` run by
the command line are run by the server and print what they print without it; a wrong token gets a 403; two
commands at once both succeed; a failing command's exit code and French message come through; ``serve`` and
``demo`` say that the server already runs."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from proxisante.cli import app
from proxisante.cli.common import console
from proxisante.cli.demo import DEMO_PATIENTS, DEMO_SEED
from proxisante.cli.forward import pin_paths, standard_input
from proxisante.ingest.pivot.load import load_pivot
from proxisante.installation import SERVER_FILE, open_installation, running_server
from proxisante.settings import Settings
from proxisante.synth import SynthOptions, generate_centre
from proxisante.web.internal import PATH, TOKEN_HEADER

pytestmark = pytest.mark.slow  # a real server in a process of its own
WIDTH = 120
CLEARED = ("PROXISANTE_WAREHOUSE_URL", "PROXISANTE_KEY_FILE", "PROXISANTE_VAULT_PATH")
MEASURE = ["measures", "run", "--measure", "rosp_diabetes_hba1c", "--period", "2025"]
REPORT = ["report", "--period", "2025", "--out", "rapport", "--trend", "0", "--format", "json"]
HANDED = "tient l'entrepôt : la commande s'exécute chez lui."


@dataclass
class Served:
    home: Path
    root: Path
    direct: dict[str, str]  # each command's output without the server
    server: subprocess.Popen
    port: int

    @property
    def env(self) -> dict[str, str]:
        clean = {k: v for k, v in os.environ.items() if k not in CLEARED}
        return {**clean, "PROXISANTE_HOME": str(self.home), "COLUMNS": str(WIDTH)}


def _untimed(output: str) -> str:
    """A command's output without the elapsed times of its progress bars (``0:00:03``)."""
    return re.sub(r"\b\d+:\d\d:\d\d\b", "0:00:00", output)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _invoke(args: list[str]):
    return CliRunner().invoke(app, args)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("forward")
    home = root / "home"
    generate_centre(SynthOptions(patients=300, seed=8, out=root / "centre"))
    direct: dict[str, str] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(console, "_width", WIDTH)
        patch.setenv("PROXISANTE_HOME", str(home))
        for name in CLEARED:
            patch.delenv(name, raising=False)
        installation = open_installation(Settings())
        try:
            load_pivot(root / "centre", installation, source="centre")
        finally:
            installation.close()
        (root / "direct").mkdir()
        patch.chdir(root / "direct")
        for name, args in {"status": ["status"], "measure": MEASURE, "report": REPORT}.items():
            result = _invoke(args)
            assert result.exit_code == 0, result.output
            direct[name] = result.stdout
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in CLEARED} | {"PROXISANTE_HOME": str(home)}
    with (root / "serveur.log").open("w") as log:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "proxisante"), "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    served = Served(home, root, direct, server, port)
    try:
        _wait_until_up(served)
        yield served
    finally:
        server.terminate()
        server.wait(60)


def _wait_until_up(served: Served) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = running_server(Settings(home=served.home))
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{served.port}/connexion", timeout=2)
            if found is not None and found.pid == served.server.pid:
                return
        except OSError:
            pass
        assert served.server.poll() is None, (served.root / "serveur.log").read_text()
        time.sleep(0.2)
    raise AssertionError("the server did not start")


@pytest.fixture
def here(served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's command line: the served data home, the same console width, its own working directory."""
    monkeypatch.setattr(console, "_width", WIDTH)
    monkeypatch.setenv("PROXISANTE_HOME", str(served.home))
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_server_file_is_the_owners_and_holds_a_token(served: Served) -> None:
    path = served.home / SERVER_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    record = json.loads(path.read_text(encoding="utf-8"))
    assert record["pid"] == served.server.pid and len(record["token"]) >= 40


def test_status_and_measures_run_on_the_server_with_the_same_output(served: Served, here: Path) -> None:
    status = _invoke(["status"])
    assert status.exit_code == 0, status.output
    assert status.stdout == served.direct["status"]
    assert f"Le serveur web (processus {served.server.pid}" in status.stderr and HANDED in status.stderr
    measure = _invoke(MEASURE)
    assert measure.exit_code == 0, measure.output
    assert measure.stdout == served.direct["measure"] and "Diabète" in measure.stdout


def test_a_report_with_a_relative_out_is_written_where_the_command_was_typed(served: Served, here: Path) -> None:
    result = _invoke(REPORT)
    assert result.exit_code == 0, result.output
    assert _untimed(result.stdout) == _untimed(served.direct["report"])  # the progress bar times its steps
    assert "Rapport 2025 écrit dans rapport :" in result.stdout
    assert sorted(p.name for p in (here / "rapport").iterdir()) == [
        "manifest.json",
        "manifest.json.sig",
        "rapport-activite-qualite-2025.json",
    ]
    verified = _invoke(["report", "verify", "rapport"])
    assert verified.exit_code == 0 and "Rapport vérifié" in " ".join(verified.output.split())


def test_a_failing_command_gives_its_code_and_french_message(served: Served, here: Path) -> None:
    (here / "rapport").mkdir()
    (here / "rapport" / "autre.txt").write_text("déjà là")
    result = _invoke(REPORT)  # the folder exists: refused before the warehouse is opened, so not sent
    assert result.exit_code == 2
    assert "Rapport refusé" in result.stdout and HANDED not in result.stderr
    assert (here / "rapport" / "autre.txt").read_text() == "déjà là"
    unknown = _invoke(["gaps", "--provider", "99999999999"])  # refused by the command, in the server
    assert unknown.exit_code == 2 and HANDED in unknown.stderr
    assert "RPPS inconnu" in " ".join(unknown.output.split())


def test_two_commands_at_once_both_succeed(served: Served, here: Path) -> None:
    cli = str(Path(sys.executable).parent / "proxisante")
    results: list[subprocess.CompletedProcess] = []

    def run() -> None:
        done = subprocess.run([cli, "status"], env=served.env, cwd=here, capture_output=True, text=True)
        results.append(done)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    assert [r.stdout for r in results] == [served.direct["status"]] * 2
    assert all(HANDED in " ".join(r.stderr.split()) and "Traceback" not in r.stderr for r in results)


def test_a_wrong_token_gets_a_403(served: Served, here: Path) -> None:
    body = {"argv": ["status"], "cwd": str(here), "home": str(served.home)}
    for token in ("faux", ""):
        request = urllib.request.Request(
            f"http://127.0.0.1:{served.port}{PATH}",
            data=json.dumps(body).encode(),
            headers={TOKEN_HEADER: token, "Content-Type": "application/json"},
            method="POST",
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 403
        assert "Accès refusé" in json.loads(refused.value.read())["detail"]


def test_serve_and_demo_say_that_the_server_runs(served: Served, here: Path) -> None:
    url = f"http://127.0.0.1:{served.port}/"
    serve = _invoke(["serve", "--port", str(_free_port())])
    assert serve.exit_code == 2 and "Le serveur web tourne déjà" in serve.stderr and url in serve.stderr
    demo = _invoke(["demo", "--no-serve"])
    assert demo.exit_code == 2
    assert "la démonstration ne peut pas y charger ses données" in " ".join(demo.stderr.split())
    assert not (served.home / "demo").exists()  # nothing synthesised
    centre = served.home / "demo" / f"centre-{DEMO_PATIENTS}-{DEMO_SEED}"
    centre.mkdir(parents=True)
    (centre / "patients.csv").write_text("")
    try:
        again = _invoke(["demo", "--no-serve"])
    finally:
        (centre / "patients.csv").unlink()
    assert again.exit_code == 0 and "les données de démonstration sont là" in again.stderr and url in again.stderr


def test_a_value_asked_on_a_terminal_is_refused_and_piped_input_is_sent(tmp_path: Path) -> None:
    leader, follower = os.openpty()
    with os.fdopen(leader, "rb"), open(follower, encoding="utf-8") as terminal:
        assert standard_input(["users", "add", "x", "-r", "admin"], terminal) == 2
        assert standard_input(["users", "add", "x", "--password-env", "PW"], terminal) is None
    piped = tmp_path / "stdin.txt"
    piped.write_text("secret\nsecret\n", encoding="utf-8")
    with piped.open(encoding="utf-8") as stream:
        assert standard_input(["users", "add", "x", "-r", "admin"], stream) == "secret\nsecret\n"
    assert standard_input(["status"], None) is None


def test_the_servers_file_settings_become_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    environ = {
        "PROXISANTE_HOME": "donnees",
        "PROXISANTE_VAULT_PATH": "/absolu/coffre.duckdb",
        "PROXISANTE_WAREHOUSE_URL": "duckdb://entrepot.duckdb?threads=2",
    }
    pin_paths(environ)
    assert environ == {
        "PROXISANTE_HOME": str(tmp_path / "donnees"),
        "PROXISANTE_VAULT_PATH": "/absolu/coffre.duckdb",
        "PROXISANTE_WAREHOUSE_URL": f"duckdb://{tmp_path / 'entrepot.duckdb'}?threads=2",
    }
