"""The server's door for its own command line (``web/internal.py``): the token of ``serveur.json`` and this
machine only, never a session; a command run there answers with its output and exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import tests.lib.pivot_fixture as fx
from proxisante.cli import app as command_line
from proxisante.cli.common import console
from proxisante.cli.forward import CommandRunner
from proxisante.ingest.pivot.load import load_pivot
from proxisante.installation import open_installation
from proxisante.settings import Settings
from proxisante.web.app import create_app
from proxisante.web.internal import PATH, TOKEN_HEADER, CommandRequest

TOKEN = "jeton-de-test-0123456789"


@pytest.fixture
def app(home: Path, tmp_path: Path):
    settings = Settings(secure_cookies=False)
    installation = open_installation(settings)
    load_pivot(fx.write(tmp_path / "export"), installation, source="centre")
    app = create_app(settings, installation, run_command=CommandRunner(command_line, console), command_token=TOKEN)
    yield app
    installation.close()


def body(home: Path, cwd: Path, *argv: str) -> dict:
    return {"argv": list(argv), "cwd": str(cwd), "home": str(home), "width": 120}


def events(response) -> list[dict]:
    return [json.loads(line) for line in response.text.splitlines()]


def test_a_command_runs_in_the_server_and_answers_its_output(app, home: Path, tmp_path: Path) -> None:
    with TestClient(app, client=("127.0.0.1", 40000)) as client:
        response = client.post(PATH, json=body(home, tmp_path, "status"), headers={TOKEN_HEADER: TOKEN})
    assert response.status_code == 200
    started, done = events(response)
    assert started == {"event": "started"} and done["event"] == "done"
    assert done["exit_code"] == 0 and done["stderr"] == ""
    assert "Entrepôt (duckdb)" in done["stdout"] and "person" in done["stdout"]


@pytest.mark.parametrize(
    ("client", "headers"),
    [
        (("127.0.0.1", 40000), {TOKEN_HEADER: "faux"}),  # wrong token
        (("127.0.0.1", 40000), {}),  # no token
        (("192.0.2.10", 40000), {TOKEN_HEADER: TOKEN}),  # another machine
        (("127.0.0.1", 40000), {TOKEN_HEADER: TOKEN, "X-Forwarded-For": "192.0.2.10"}),  # through a proxy
        (("testclient", 50000), {TOKEN_HEADER: TOKEN}),  # not an address
    ],
)
def test_refused_without_the_token_or_from_elsewhere(app, home: Path, tmp_path: Path, client, headers) -> None:
    with TestClient(app, client=client) as http:
        response = http.post(PATH, json=body(home, tmp_path, "status"), headers=headers)
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Accès refusé : réservé à la ligne de commande de ce serveur (jeton de serveur.json)."
    }


def test_an_app_without_a_runner_refuses_every_call(home: Path, tmp_path: Path) -> None:
    settings = Settings(secure_cookies=False)
    installation = open_installation(settings)
    try:
        with TestClient(create_app(settings, installation), client=("127.0.0.1", 40000)) as client:
            response = client.post(PATH, json=body(home, tmp_path, "status"), headers={TOKEN_HEADER: ""})
    finally:
        installation.close()
    assert response.status_code == 403


def test_a_malformed_request_is_a_422_in_french(app, home: Path, tmp_path: Path) -> None:
    with TestClient(app, client=("127.0.0.1", 40000)) as client:
        response = client.post(PATH, json={"argv": [], "cwd": str(tmp_path)}, headers={TOKEN_HEADER: TOKEN})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("Requête invalide : argv")


def test_the_runner_refuses_what_must_not_run_in_the_server(home: Path, tmp_path: Path) -> None:
    runner = CommandRunner(command_line, console)
    served = runner(CommandRequest(["serve"], str(tmp_path), str(home)))
    assert served.exit_code == 2 and "ne passe pas par le serveur web" in served.stderr
    elsewhere = runner(CommandRequest(["status"], str(tmp_path), str(tmp_path / "autre")))
    assert elsewhere.exit_code == 2 and "sert le dossier de données" in elsewhere.stderr
    missing = runner(CommandRequest(["status"], str(tmp_path / "absent"), str(home)))
    assert missing.exit_code == 2 and "Dossier introuvable sur le serveur" in missing.stderr


def test_the_runner_works_in_the_clients_directory_and_comes_back(home: Path, tmp_path: Path) -> None:
    import os

    before = os.getcwd()
    runner = CommandRunner(command_line, console)
    result = runner(CommandRequest(["report", "public-key", "--out", "cle.pem"], str(tmp_path), str(home)))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert (tmp_path / "cle.pem").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert os.getcwd() == before
