"""Commands while ``proxisante serve`` runs (issue 15, item 4): no lock error ever reaches a user.

The server holds the DuckDB warehouse file, and DuckDB lets one process open it. A command that finds it held
by the running server of its data home (``serveur.json``: pid, address, token) hands its command line to that
server (``web/internal.py``), which runs it in its own process, where opening the warehouse again works; the
command prints what the server sends back and exits with its code. Relative paths (``--out rapport``) mean
the same there, since the server runs the command in the directory where it was typed.

Client side: :func:`before` (``demo`` while the server runs) and :func:`on_busy` (everything else), called
by ``common.BusyAwareGroup``. Server side: :class:`CommandRunner`, which ``web.run_server`` gives
``create_app``. Not forwarded: ``serve`` (one server per data home), ``demo`` (its server already runs),
``ingest`` (it deposits the extract in the drop folder, which the server loads), and a command that would ask
for a password on a terminal (the server has none).

This module does not import ``cli.common`` (which calls it): its messages go to the standard error directly.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import threading
import traceback
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from proxisante.installation import Server, running_server
from proxisante.settings import Settings, get_settings
from proxisante.warehouse.connection import WarehouseBusy
from proxisante.web.internal import DONE, PATH, QUEUED, TOKEN_HEADER, CommandRequest, CommandResult

NOT_FORWARDED = ("serve", "demo", "ingest")
# Commands that ask for a value on the terminal, and the option that gives it another way.
INTERACTIVE: Mapping[tuple[str, ...], str] = {("users", "add"): "--password-env"}
# Settings that name files: made absolute when the server starts, since it runs commands in their directory.
PATH_SETTINGS = ("HOME", "KEY_FILE", "VAULT_PATH", "ACCOUNTS_PATH", "STRUCTURES_PATH", "AUDIT_DIR")
INTERRUPTED = 130  # the shell's code for Ctrl+C


def say(message: str) -> None:
    """A message of the forwarding itself: on the standard error, so that the command's output stays as is."""
    print(message, file=sys.stderr, flush=True)


# -- client side -------------------------------------------------------------------------------------------


def serving(settings: Settings | None = None) -> Server | None:
    """The server of this data home, unless it is this very process (a command it runs is not sent back)."""
    server = running_server(settings or get_settings())
    return server if server is not None and server.pid != os.getpid() else None


def before(argv: list[str], demo_params: Mapping[str, Any] | None) -> int | None:
    """``demo`` while the server runs: its data is there (exit 0, the server's address), or it cannot be loaded
    now (exit 2, what to do). None: carry on (another command, or no server)."""
    if argv[:1] != ["demo"] or demo_params is None or "--help" in argv:
        return None
    settings = get_settings()
    server = serving(settings)
    if server is None:
        return None
    if demo_data_present(settings.home_dir, demo_params):
        say(
            f"Le serveur web tourne déjà (processus {server.pid}) et les données de démonstration sont là : "
            f"tableau de bord sur {server.url}"
        )
        return 0
    say(
        f"Le serveur web tourne déjà (processus {server.pid}, {server.url}) et tient l'entrepôt : la démonstration "
        "ne peut pas y charger ses données. Arrêtez-le (Ctrl+C dans son terminal) puis relancez « proxisante demo » "
        "(elle charge les données et sert elle-même le tableau de bord)."
    )
    return 2


def demo_data_present(home: Path, params: Mapping[str, Any]) -> bool:
    """Whether ``proxisante demo`` with these options already ran: the folders it leaves once its data is
    written and, for a network, deposited (``cli/demo.py``)."""
    patients, seed, network = params.get("patients"), params.get("seed"), params.get("network")
    if network:
        return (home / "demo" / f"reseau-{network}-{patients}-{seed}" / ".deposes").exists()
    return (home / "demo" / f"centre-{patients}-{seed}" / "patients.csv").exists()


def on_busy(error: WarehouseBusy, argv: list[str], width: int | None) -> int | None:
    """The exit code of the command run by the server that holds the warehouse; None when it is not for the
    server (another process holds it, ``ingest``, a server without a token): the caller says it is busy."""
    server = serving()
    if server is None or error.holder != str(server.pid) or not argv:
        return None
    if argv[0] == "serve":
        say(f"Le serveur web tourne déjà (processus {server.pid}) : {server.url} — un seul par dossier de données.")
        return 2
    if argv[0] in NOT_FORWARDED or not server.token:
        return None
    stdin = standard_input(argv, sys.stdin)
    if isinstance(stdin, int):
        return stdin
    return forward(server, argv, width, stdin)


def standard_input(argv: list[str], stream: Any) -> str | int | None:
    """What to send as the command's input: nothing for most commands; for one that asks for a value, the
    input when it is piped in, and a refusal (exit code 2) on a terminal, where the server could not ask."""
    words = [a for a in argv if not a.startswith("-")]
    for command, option in INTERACTIVE.items():
        if tuple(words[: len(command)]) == command and not any(a.split("=")[0] == option for a in argv):
            if stream is None or stream.isatty():
                say(
                    f"« proxisante {' '.join(command)} » demande une valeur au clavier, ce que le serveur web "
                    f"ne peut pas faire : donnez-la avec {option}, ou arrêtez le serveur le temps de la commande."
                )
                return 2
            text: str = stream.read()
            return text
    return None


def forward(server: Server, argv: list[str], width: int | None, stdin: str | None = None) -> int:
    """Send the command to the server, wait for it (as long as it takes), print its output; its exit code."""
    say(f"Le serveur web (processus {server.pid}, {server.url}) tient l'entrepôt : la commande s'exécute chez lui.")
    body = CommandRequest(argv, os.getcwd(), str(get_settings().home_dir), width, stdin)
    request = urllib.request.Request(
        _local_url(server) + PATH.lstrip("/"),
        data=json.dumps(body.__dict__).encode("utf-8"),
        headers={TOKEN_HEADER: server.token, "Content-Type": "application/json"},
        method="POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through an HTTP proxy
    try:
        with opener.open(request) as response:  # no timeout: a long command takes as long as it takes
            result = _read_events(response)
    except urllib.error.HTTPError as error:
        say(f"Le serveur a refusé la commande ({error.code}) : {_detail(error)}")
        return 2
    except urllib.error.URLError as error:
        say(
            f"Le serveur web ne répond pas à {server.url} ({error.reason}) : s'il démarre, réessayez dans un instant ; "
            "sinon arrêtez-le (Ctrl+C dans son terminal) et relancez la commande."
        )
        return 2
    except KeyboardInterrupt:
        say("Interrompu : la commande continue sur le serveur jusqu'à sa fin.")
        return INTERRUPTED
    except (http.client.HTTPException, OSError):
        result = None
    if result is None:
        say("La connexion au serveur s'est interrompue avant la fin de la commande : vérifiez son effet.")
        return 2
    sys.stdout.write(result.stdout)
    sys.stdout.flush()
    sys.stderr.write(result.stderr)
    sys.stderr.flush()
    return result.exit_code


def _local_url(server: Server) -> str:
    """The server's address as this machine reaches it (a server on every interface answers on the loopback)."""
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(server.host, server.host)
    return f"http://[{host}]:{server.port}/" if ":" in host else f"http://{host}:{server.port}/"


def _read_events(response: Any) -> CommandResult | None:
    """The answer's events, one JSON object a line: the result, or None when the answer stops before it."""
    for line in response:
        found = json.loads(line)
        if found.get("event") == QUEUED:
            say("Une autre commande s'exécute sur le serveur : celle-ci attend son tour…")
        elif found.get("event") == DONE:
            return CommandResult(int(found["exit_code"]), str(found["stdout"]), str(found["stderr"]))
    return None


def _detail(error: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(error.read())["detail"])
    except (ValueError, KeyError, TypeError, OSError):
        return str(error.reason)


# -- server side -------------------------------------------------------------------------------------------


class CommandRunner:
    """Runs a forwarded command in this process, as the command line would, output captured: Typer's test runner
    (which redirects the process's standard streams: one command at a time), in the client's directory, with the
    client's terminal width on the console."""

    def __init__(self, app: Any, console: Any) -> None:  # the Typer app and cli.common's rich console
        self.app = app
        self.console = console
        self._lock = threading.Lock()

    def __call__(self, request: CommandRequest) -> CommandResult:
        if request.argv[0] in NOT_FORWARDED:
            return CommandResult(2, stderr=f"« proxisante {request.argv[0]} » ne passe pas par le serveur web.\n")
        here = get_settings().home_dir.resolve()
        if Path(request.home).resolve() != here:
            return CommandResult(2, stderr=f"Ce serveur web sert le dossier de données {here}, pas {request.home}.\n")
        from typer.testing import CliRunner

        with self._lock, self._directory(request.cwd) as moved:
            if not moved:
                return CommandResult(2, stderr=f"Dossier introuvable sur le serveur : {request.cwd}\n")
            with self._width(request.width):
                result = CliRunner().invoke(self.app, request.argv, input=request.stdin, prog_name="proxisante")
        stderr = result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            stderr += "".join(traceback.format_exception(result.exception))
        return CommandResult(result.exit_code, result.stdout, stderr)

    @contextmanager
    def _directory(self, cwd: str) -> Iterator[bool]:
        """In the client's directory for the command (the server's own paths are absolute: :func:`pin_paths`)."""
        before = os.getcwd()
        try:
            os.chdir(cwd)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            os.chdir(before)

    @contextmanager
    def _width(self, width: int | None) -> Iterator[None]:
        before = self.console._width
        self.console._width = width
        try:
            yield
        finally:
            self.console._width = before


def pin_paths(environ: MutableMapping[str, str] = os.environ) -> None:
    """Make the server's ``PROXISANTE_*`` file settings absolute, once, as it starts: a forwarded command runs in
    the client's directory, where a relative data home would name another folder."""
    for name in PATH_SETTINGS:
        value = environ.get(f"PROXISANTE_{name}")
        if value:
            environ[f"PROXISANTE_{name}"] = str(Path(value).expanduser().absolute())
    url = environ.get("PROXISANTE_WAREHOUSE_URL", "")
    if url.startswith("duckdb://"):
        path, mark, query = url.removeprefix("duckdb://").partition("?")
        if path and path != ":memory:" and not Path(path).is_absolute():
            environ["PROXISANTE_WAREHOUSE_URL"] = f"duckdb://{Path(path).expanduser().absolute()}{mark}{query}"
