"""``users add`` and ``serve`` on wrong input (issue 21 item 9): an RPPS of no professional, an unset password
variable, a busy port, each refused in French with exit 2, before anything is created or started."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from proxisante.cli import app
from proxisante.cli.common import console
from tests.lib.network import LoadedNetwork


@pytest.fixture()
def cli(network: LoadedNetwork, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(console, "_width", 200)
    monkeypatch.setenv("NEW_PASSWORD", "Correct-horse-1")
    return CliRunner()


def a_professional(network: LoadedNetwork) -> str:
    installation = network.open()
    try:
        provider = installation.warehouse.table("provider")
        return str(installation.warehouse.execute(provider.provider_source_value.min()))
    finally:
        installation.close()


def test_users_add_checks_the_rpps(cli: CliRunner, network: LoadedNetwork) -> None:
    base = ["users", "add", "--role", "soignant", "--structure", network.finess[0], "--password-env", "NEW_PASSWORD"]
    unknown = cli.invoke(app, [*base[:2], "dr-personne", *base[2:], "--rpps", "12345678901"])
    assert unknown.exit_code == 2
    assert "aucun professionnel de l'entrepôt n'a le RPPS 12345678901" in unknown.output
    assert "dr-personne" not in cli.invoke(app, ["users", "list"]).output
    known = cli.invoke(app, [*base[:2], "dr-connu", *base[2:], "--rpps", a_professional(network)])
    assert known.exit_code == 0, known.output
    assert "Compte dr-connu créé" in known.output


def test_users_add_names_an_unset_password_variable(cli: CliRunner, network: LoadedNetwork) -> None:
    args = ["users", "add", "coord", "--role", "coordinateur", "--structure", network.finess[0]]
    result = cli.invoke(app, [*args, "--password-env", "PROXISANTE_NO_SUCH_VARIABLE"])
    assert result.exit_code == 2
    assert "la variable d'environnement PROXISANTE_NO_SUCH_VARIABLE n'est pas définie" in result.output
    assert "trop court" not in result.output


@pytest.fixture()
def busy_port() -> Iterator[int]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def test_serve_on_a_busy_port(cli: CliRunner, busy_port: int) -> None:
    result = cli.invoke(app, ["serve", "--port", str(busy_port)])
    assert result.exit_code == 2, result.output
    assert f"Le port {busy_port} est déjà utilisé : choisissez --port " in result.output
    assert "Tableau de bord" not in result.output and "Traceback" not in result.output
    suggested = int(result.output.split("choisissez --port ")[1].split()[0])
    assert suggested > busy_port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", suggested))  # the suggestion was free (and still is)
