"""`proxisante demo --no-serve` ends by creating the demo login (once) and printing the address and login."""

from __future__ import annotations

from typer.testing import CliRunner

from proxisante.cli import DEMO_PASSWORD, DEMO_USER, app
from proxisante.settings import Settings
from proxisante.web.security.accounts import AccountStore


def test_demo_creates_its_login_and_prints_it(home) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["demo", "--patients", "200", "--seed", "3", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8000/" in result.output and DEMO_USER in result.output
    account = AccountStore(Settings().accounts).verify(DEMO_USER, DEMO_PASSWORD)
    # Separation of duties: the demo login reads names, so it does not administer accounts.
    assert account is not None and set(account.roles) == {"coordinateur", "gestionnaire"}
    again = runner.invoke(app, ["demo", "--patients", "200", "--seed", "3", "--no-serve"])
    assert again.exit_code == 0, again.output
    assert len(AccountStore(Settings().accounts).list()) == 1
