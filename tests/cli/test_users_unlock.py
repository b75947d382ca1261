"""``proxisante users unlock NAME``: the failed logins are counted in the memory of the running server, so the
command runs there (``cli/forward.py``) and the account signs in again at once; without a server there is nothing
to unlock, and an unknown account is refused."""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxisante.definitions import ParameterFile
from proxisante.installation import running_server
from proxisante.settings import Settings
from proxisante.web.security.accounts import AccountStore
from proxisante.web.security.audit import AuditLog

pytestmark = pytest.mark.slow  # a real server in a process of its own
SECURITY = ParameterFile("proxisante.web.security", "security.yaml")
PASSWORD = "Deverrouiller-2026!"
CLEARED = ("PROXISANTE_WAREHOUSE_URL", "PROXISANTE_KEY_FILE", "PROXISANTE_VAULT_PATH", "PROXISANTE_ACCOUNTS_PATH")
PROGRAM = str(Path(sys.executable).parent / "proxisante")


def _env(home: Path) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in CLEARED} | {"PROXISANTE_HOME": str(home)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _command(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROGRAM, *args], env=_env(home), capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("unlock") / "home"
    AccountStore(Settings(home=home).accounts).add("alice", PASSWORD, ["gestionnaire"])
    return home


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[str]:
    port = _free_port()
    with (home.parent / "serveur.log").open("w") as log:
        process = subprocess.Popen(
            [PROGRAM, "serve", "--port", str(port)], env=_env(home), stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            found = running_server(Settings(home=home))
            try:
                urllib.request.urlopen(f"{url}/connexion", timeout=2)
                if found is not None and found.pid == process.pid:
                    break
            except OSError:
                pass
            assert process.poll() is None, (home.parent / "serveur.log").read_text()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(60)


def _login(url: str, password: str) -> int:
    """One attempt through the form, as a browser (its own cookies): the status of the answer."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), urllib.request.ProxyHandler({}), _NoRedirect()
    )
    page = opener.open(f"{url}/connexion").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]  # type: ignore[index]
    body = urllib.parse.urlencode({"username": "alice", "password": password, "csrf_token": token}).encode()
    try:
        return int(opener.open(f"{url}/connexion", data=body).status)
    except urllib.error.HTTPError as error:
        return error.code


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def test_without_a_server_there_is_nothing_to_unlock(home: Path) -> None:
    result = _command(home, "users", "unlock", "alice")
    assert result.returncode == 0, result.stderr
    assert "Aucun serveur web ne tourne : le compte alice n'est pas bloqué" in result.stdout
    unknown = _command(home, "users", "unlock", "personne")
    assert unknown.returncode == 2 and "Compte inconnu" in unknown.stdout


def test_the_running_server_forgets_the_failures(home: Path, server: str) -> None:
    failures = int(SECURITY.value("login_failures_per_account")["failures"])
    assert [_login(server, "mauvais-mot-de-passe") for _ in range(failures)] == [401] * failures
    assert _login(server, PASSWORD) == 429  # blocked, even with the right password
    result = _command(home, "users", "unlock", "alice")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Compte alice débloqué."
    assert "la commande s'exécute chez lui" in result.stderr  # run by the server, which holds the counts
    assert _login(server, PASSWORD) == 303
    again = _command(home, "users", "unlock", "alice")
    assert again.stdout.strip() == "Le compte alice n'était pas bloqué."
    rows = AuditLog.installed(Settings(home=home)).entries(10)
    unlocked = rows[rows.action == "compte débloqué"]
    assert len(unlocked) == 2 and set(unlocked.detail) == {"alice"} and set(unlocked.route) == {"users unlock"}
