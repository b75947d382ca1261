"""The objects of one installation, built from its settings: warehouse, vault, pseudonymiser.

Kept apart from the CLI and the web layer so that both (and scripts) open an installation the same
way.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import ibis

from proxisante.identity import IdentityVault, Pseudonymiser, load_or_create_key
from proxisante.identity.chain import VAULT_LOG, AuditChain
from proxisante.identity.keys import make_private, owner_only_umask
from proxisante.identity.objection import ObjectionRegistry
from proxisante.settings import Settings, get_settings
from proxisante.warehouse.connection import Warehouse, WarehouseBusy
from proxisante.warehouse.load import reconcile_vault


@dataclass
class Installation:
    settings: Settings
    warehouse: Warehouse
    vault: IdentityVault
    pseudonymiser: Pseudonymiser

    @property
    def objections(self) -> ObjectionRegistry:
        """Patients who objected to research and external reports (droit d'opposition)."""
        return ObjectionRegistry(self.vault, self.pseudonymiser)

    def another_connection(self) -> Installation | None:
        """The same installation on a warehouse connection of its own, for a load or a read beside the others:
        on DuckDB a cursor of the same database (each has its own transaction and sees the last commit), on
        PostgreSQL a second connection. None on an engine whose connection cannot be doubled safely (Spark:
        its session is the process's). The vault and the pseudonymiser are shared (the vault opens its file
        per operation); closing the copy leaves this installation's connection open."""
        warehouse = self.warehouse
        if warehouse.engine == "duckdb":
            other = Warehouse(ibis.duckdb.from_connection(warehouse.duckdb.cursor()), warehouse.url)
        elif warehouse.engine == "postgres":
            other = Warehouse.connect(warehouse.url)
        else:
            return None
        return Installation(self.settings, other, self.vault, self.pseudonymiser)

    def close(self) -> None:
        self.warehouse.close()


def open_installation(settings: Settings | None = None) -> Installation:
    settings = settings or get_settings()
    owner_only_umask()  # health data: every file created from here on is 0600, every folder 0700
    for path in (settings.home_dir, settings.vault, settings.accounts, settings.key_path.parent):
        make_private(path)  # files an older version created readable by others
    try:
        warehouse = Warehouse.connect(settings.warehouse)
    except WarehouseBusy as error:
        raise busy(settings, error) from error
    installation = Installation(
        settings,
        warehouse,
        IdentityVault(settings.vault, AuditChain(settings.audit, VAULT_LOG)),
        Pseudonymiser(load_or_create_key(settings.key_path)),
    )
    try:  # a batch killed between its two stores is completed or undone (every load does it too, strictly)
        reconcile_vault(installation.warehouse, installation.vault)
    except duckdb.Error:
        logging.getLogger(__name__).warning("the identity vault could not be reconciled now", exc_info=True)
    return installation


# -- the web server's file: who holds the warehouse ------------------------------------------------

SERVER_FILE = "serveur.json"


@dataclass(frozen=True)
class Server:
    """A running ``proxisante serve``, as its file ``$PROXISANTE_HOME/serveur.json`` says; ``token`` opens its
    door for the command line (``web/internal.py``): the file is the owner's only, like the warehouse itself."""

    pid: int
    host: str
    port: int
    started: str
    token: str = field(default="", repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"


def server_file(settings: Settings) -> Path:
    return settings.home_dir / SERVER_FILE


def new_server_token() -> str:
    """The random token of a server's door for the command line (a new one at every start)."""
    return secrets.token_urlsafe(32)


def write_server_file(settings: Settings, host: str, port: int, token: str = "") -> Server:
    """Say that this process serves the installation (removed by :func:`remove_server_file` on exit); the
    file is created 0600, whatever the umask, since it holds the token."""
    server = Server(os.getpid(), host, port, dt.datetime.now().replace(microsecond=0).isoformat(), token)
    path = server_file(settings)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(json.dumps(asdict(server), indent=2))
    os.replace(temporary, path)
    return server


def remove_server_file(settings: Settings) -> None:
    """Remove the server file if this process wrote it."""
    server = _read_server_file(server_file(settings))
    if server is not None and server.pid == os.getpid():
        server_file(settings).unlink(missing_ok=True)


def running_server(settings: Settings) -> Server | None:
    """The server serving this installation, or None (no file, or the file of a process that died)."""
    server = _read_server_file(server_file(settings))
    return server if server is not None and _alive(server.pid) else None


def _read_server_file(path: Path) -> Server | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        token = str(data.get("token", ""))  # a file without one: a server of an earlier version
        return Server(int(data["pid"]), str(data["host"]), int(data["port"]), str(data["started"]), token)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    except OSError:
        return False
    return True


def busy(settings: Settings, error: WarehouseBusy) -> WarehouseBusy:
    """The lock error said in French, with what to do: the web server holds the warehouse, or another command."""
    server = running_server(settings)
    if server is not None and error.holder in ("", str(server.pid)):
        started = dt.datetime.fromisoformat(server.started)
        advice = (
            f"Le serveur web le tient (proxisante serve, processus {server.pid}, {server.url}, démarré le "
            f"{started:%d/%m/%Y à %H:%M}). Pendant qu'il sert, les commandes lui sont transmises et il les exécute, "
            "et « proxisante ingest » dépose l'extrait dans le dossier de dépôt, qu'il charge ; celle-ci n'a pas pu "
            "l'être : arrêtez-le (Ctrl+C dans son terminal), lancez la commande, puis relancez « proxisante serve »."
        )
        return WarehouseBusy(error.path, str(server.pid), advice)
    return WarehouseBusy(
        error.path, error.holder, "Attendez la fin de l'autre commande (un chargement, un rapport...) puis relancez."
    )
