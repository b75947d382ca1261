"""``proxisante serve`` and ``proxisante users add|list|disable|unlock``: the web application and its accounts."""

from __future__ import annotations

import errno
import getpass
import os
import signal
import socket
import threading
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypedDict

import typer
from rich import box
from rich.table import Table

from proxisante.cli.common import console, date

if TYPE_CHECKING:
    from proxisante.network.structures import StructureRegistry

users_app = typer.Typer(
    help="Comptes de l'application web (rôles : soignant, coordinateur, gestionnaire, chercheur, reseau, cpts, admin).",
    no_args_is_help=True,
)


def _store():
    from proxisante.settings import get_settings
    from proxisante.web.security.accounts import AccountStore

    return AccountStore(get_settings().accounts)


@users_app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="identifiant (minuscules, chiffres, . _ -)")],
    role: Annotated[list[str], typer.Option("--role", "-r", help="rôle (répétable)")],
    rpps: Annotated[str | None, typer.Option(help="RPPS du soignant (obligatoire pour le rôle soignant)")] = None,
    name: Annotated[str | None, typer.Option(help="nom affiché")] = None,
    structure: Annotated[
        str | None,
        typer.Option(
            "--structure", help="FINESS de la structure du compte (inscrite au registre ; défaut : le réseau)"
        ),
    ] = None,
    cpts: Annotated[
        str | None,
        typer.Option("--cpts", help="nom de la CPTS d'un compte cpts (connue du registre des structures)"),
    ] = None,
    password_env: Annotated[
        str | None, typer.Option("--password-env", help="lire le mot de passe dans cette variable d'environnement")
    ] = None,
) -> None:
    """Crée un compte ; le mot de passe est demandé (jamais en argument : il resterait dans l'historique)."""
    from proxisante.web.security.accounts import AccountError

    if structure is not None:
        structure = _registered(structure)
    if cpts is not None:
        cpts = _registered_cpts(cpts)
    if rpps is not None:
        _known_rpps(rpps)
    if password_env:
        if password_env not in os.environ:
            _refuse_account(f"la variable d'environnement {password_env} n'est pas définie (--password-env)")
        password = os.environ[password_env]
    else:
        password = getpass.getpass("Mot de passe : ")
        if getpass.getpass("Confirmation : ") != password:
            raise typer.BadParameter("les deux mots de passe diffèrent")
    try:
        account = _store().add(
            username,
            password,
            role,
            rpps=rpps,
            display_name=name,
            structure=structure,
            cpts=cpts,
            registry_has_structures=_has_structures(),
        )
    except AccountError as error:
        console.print(f"[red]Compte refusé :[/red] {error}", highlight=False)
        raise typer.Exit(code=2) from error
    where = _belonging(account.structure, account.cpts)
    console.print(f"Compte {account.username} créé ({', '.join(account.roles)} ; {where}).", highlight=False)


def _refuse_account(message: str) -> NoReturn:
    console.print(f"[red]Compte refusé :[/red] {message}", highlight=False)
    raise typer.Exit(code=2)


def _known_rpps(rpps: str) -> None:
    """``--rpps``: a professional of the warehouse, else a French refusal (exit 2): an account bound to an RPPS
    of no professional would see an empty list without a word. Not checked while the web server holds the
    warehouse (said so), nor before the first load (no professional at all)."""
    from proxisante.settings import get_settings
    from proxisante.warehouse.connection import Warehouse, WarehouseBusy
    from proxisante.web.security.accounts import RPPS

    if not RPPS.match(rpps):
        return  # the account store refuses its form, with its own message
    try:
        warehouse = Warehouse.connect(get_settings().warehouse)
    except WarehouseBusy:
        console.print("[yellow]RPPS non vérifié :[/yellow] l'entrepôt est tenu par le serveur web.", highlight=False)
        return
    try:
        provider = warehouse.table("provider")
        known = warehouse.execute(provider.count())
        found = warehouse.execute(provider.filter(provider.provider_source_value == rpps).count())
    finally:
        warehouse.close()
    if not known:
        console.print("[yellow]RPPS non vérifié :[/yellow] l'entrepôt ne contient encore aucun professionnel.")
    elif not found:
        _refuse_account(
            f"champ --rpps : aucun professionnel de l'entrepôt n'a le RPPS {rpps} "
            "(les RPPS des médecins traitants : proxisante patientele --by-provider)"
        )


def _belonging(structure: str | None, cpts: str | None) -> str:
    return f"structure {structure}" if structure else f"CPTS {cpts}" if cpts else "réseau"


def _registry() -> StructureRegistry:
    from proxisante.network.structures import StructureRegistry
    from proxisante.settings import get_settings

    return StructureRegistry.installed(get_settings())


def _has_structures() -> bool:
    """Whether the registry has structures (care roles then need one); an unreadable registry refuses (exit 2)."""
    from proxisante.network.structures import StructureError

    try:
        return bool(_registry().all())
    except StructureError as error:
        console.print(f"[red]Compte refusé :[/red] {error}", highlight=False)
        raise typer.Exit(code=2) from error


def _registered_cpts(name: str) -> str:
    """``--cpts``: a CPTS the registry knows (a structure's ``cpts``, or a structure of type CPTS), spelt as
    the registry spells it; else a French refusal (exit 2)."""
    from proxisante.network.structures import StructureError, known_cpts

    try:
        known = known_cpts(_registry().all())
    except StructureError as error:
        console.print(f"[red]Compte refusé :[/red] champ --cpts : {error}", highlight=False)
        raise typer.Exit(code=2) from error
    found = next((k for k in known if k.casefold() == name.strip().casefold()), None)
    if found is None:
        listed = ", ".join(known) or "aucune"
        console.print(
            f"[red]Compte refusé :[/red] champ --cpts : CPTS inconnue du registre « {name} » (CPTS connues : {listed})",
            highlight=False,
        )
        raise typer.Exit(code=2)
    return found


def _registered(finess: str) -> str:
    """``--structure``: a FINESS of the registry of structures, else a French refusal (exit 2)."""
    from proxisante.network.structures import StructureError, StructureRegistry
    from proxisante.settings import get_settings

    try:
        return StructureRegistry.installed(get_settings()).require(finess).finess
    except StructureError as error:
        console.print(f"[red]Compte refusé :[/red] champ --structure : {error}", highlight=False)
        raise typer.Exit(code=2) from error


@users_app.command("list")
def list_users() -> None:
    """Liste les comptes, leurs rôles et leur état."""
    accounts = _store().list()
    # Seven columns on an 80-character terminal: no inner borders, and the identifier and the state kept whole.
    table = Table(title="Comptes", box=box.SIMPLE_HEAD)
    table.add_column("identifiant", min_width=max((len(a.username) for a in accounts), default=0))
    for column in ("nom", "rôles", "RPPS", "structure", "créé le"):
        table.add_column(column)
    table.add_column("état", min_width=10)
    for a in accounts:
        table.add_row(
            a.username,
            a.display_name,
            ", ".join(a.roles),
            a.rpps or "",
            _belonging(a.structure, a.cpts),
            date(a.created_at),
            "actif" if a.active else f"désactivé le {date(a.disabled_at)}",
        )
    console.print(table)


@users_app.command("disable")
def disable(username: Annotated[str, typer.Argument(help="identifiant")]) -> None:
    """Désactive un compte (il n'est jamais supprimé : le journal d'audit le nomme)."""
    from proxisante.web.security.accounts import AccountError

    try:
        _store().disable(username)
    except AccountError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(code=2) from error
    console.print(f"Compte {username} désactivé.")


@users_app.command("unlock")
def unlock(username: Annotated[str, typer.Argument(help="identifiant")]) -> None:
    """Débloque un compte bloqué après trop d'échecs de connexion : son titulaire peut se reconnecter aussitôt.

    Les échecs sont comptés en mémoire par le serveur web : la commande s'exécute chez lui s'il tourne."""
    from proxisante.cli.forward import forward, serving

    if _store().get(username) is None:
        console.print(f"[red]Compte inconnu :[/red] {username}", highlight=False)
        raise typer.Exit(code=2)
    web = SERVED.get("web")
    if web is None:
        server = serving()
        if server is None:
            console.print(
                f"Aucun serveur web ne tourne : le compte {username} n'est pas bloqué (les échecs de connexion sont "
                "comptés par le serveur, en mémoire, et oubliés quand il s'arrête).",
                highlight=False,
            )
            return
        raise typer.Exit(code=forward(server, ["users", "unlock", username], console.width))
    was_blocked = web.limiter.unlock(username)
    web.audit.append(f"cli:{_system_user()}", ("serveur",), "compte débloqué", "users unlock", username)
    console.print(
        f"Compte {username} débloqué." if was_blocked else f"Le compte {username} n'était pas bloqué.", highlight=False
    )


def _system_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        return f"uid {os.getuid()}"


# The web application this process serves (``run_server``), for the commands that act on its memory: a command
# sent to the server (``cli/forward.py``) runs in this process and finds it here.
SERVED: dict[str, Any] = {}


def serve(
    host: Annotated[str, typer.Option(help="adresse d'écoute")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    insecure_cookies: Annotated[
        bool | None, typer.Option(help="cookies sans l'attribut Secure (HTTP simple ; défaut : oui sur 127.0.0.1)")
    ] = None,
) -> None:
    """Sert l'application web (tableau de bord, API) sur l'adresse donnée."""
    run_server(host, port, insecure_cookies)


def run_server(host: str, port: int, insecure_cookies: bool | None = None) -> None:
    """Plain HTTP on the loopback needs cookies without Secure (browsers drop them otherwise); anywhere
    else, put a TLS proxy in front and keep them Secure. While it serves, the other commands of this data home
    are run here (``cli/forward.py``): ``serveur.json`` gives them the address and the token."""
    import uvicorn

    from proxisante.cli import app as command_line
    from proxisante.cli.forward import CommandRunner, pin_paths
    from proxisante.installation import new_server_token, remove_server_file, write_server_file
    from proxisante.settings import get_settings
    from proxisante.web.app import create_app

    check_port(host, port)  # before anything starts or is printed: a busy port is said in French, exit 2
    pin_paths()  # the commands of the command line run here, each in its own directory (cli/forward.py)
    settings = get_settings()
    loopback = host in ("127.0.0.1", "localhost", "::1")
    if insecure_cookies if insecure_cookies is not None else loopback:
        settings = settings.model_copy(update={"secure_cookies": False})
    token = new_server_token()
    app = create_app(settings, run_command=CommandRunner(command_line, console), command_token=token, warm=True)
    SERVED["web"] = app.state.web  # ``users unlock`` forgets failed logins held in this process's memory
    console.print(
        f"Tableau de bord : [bold]http://{host}:{port}/[/bold] — API : http://{host}:{port}/api/openapi.json "
        "(Ctrl+C pour arrêter)"
    )
    # serveur.json tells the other commands who holds the warehouse (``proxisante ingest`` then deposits)
    write_server_file(settings, host, port, token)
    # uvicorn shuts down on SIGTERM, then raises it again: leave through ``finally`` rather than die at once
    main = threading.current_thread() is threading.main_thread()  # signals are the main thread's only
    previous = signal.signal(signal.SIGTERM, _terminated) if main else None
    try:
        uvicorn.run(app, **server_options(host, port))
    finally:
        SERVED.pop("web", None)
        remove_server_file(settings)
        if main:
            signal.signal(signal.SIGTERM, previous)


def check_port(host: str, port: int) -> None:
    """Bind the address as uvicorn will (``SO_REUSEADDR``, IPv6 when the host has a colon) and let it go: a port
    another program listens on, a reserved port or an address of another machine is refused in French (exit 2)
    before the dashboard's address is printed, rather than uvicorn's English error after it."""
    try:
        _bind(host, port).close()
    except OSError as error:
        console.print(f"[red]Serveur non démarré :[/red] {_bind_problem(host, port, error)}", highlight=False)
        raise typer.Exit(code=2) from error


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _bind_problem(host: str, port: int, error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return f"Le port {port} est déjà utilisé : choisissez --port {_free_port(host, port)}"
    if error.errno == errno.EACCES:
        return f"Le port {port} est réservé à l'administrateur du système : choisissez --port 8000 ou plus"
    return f"L'adresse {host} n'est pas une adresse de cette machine : essayez --host 127.0.0.1"


def _free_port(host: str, port: int) -> int:
    """The first port after ``port`` that is free now (``port + 1`` if none of the next 50 is)."""
    for candidate in range(port + 1, min(port + 51, 65536)):
        try:
            _bind(host, candidate).close()
        except OSError:
            continue
        return candidate
    return port + 1


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


class ServerOptions(TypedDict):
    """The keyword arguments given to ``uvicorn.run``."""

    host: str
    port: int
    log_level: str
    proxy_headers: bool
    forwarded_allow_ips: str


def server_options(host: str, port: int) -> ServerOptions:
    """uvicorn's options. Its proxy headers stay off: by default uvicorn believes ``X-Forwarded-For`` from
    the loopback, so any local client (or a proxy passing the header through) would choose the address
    that the per-address login limit counts. The application reads the header itself, and only from
    the proxies named in the settings (``PROXISANTE_TRUSTED_PROXIES``, ``api.auth.client_address``)."""
    return {"host": host, "port": port, "log_level": "warning", "proxy_headers": False, "forwarded_allow_ips": ""}
