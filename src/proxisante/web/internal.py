"""The running server's door for its own command line (issue 15, item 4).

While ``proxisante serve`` runs it holds the DuckDB warehouse file, and DuckDB lets one process open it. A
command of the same data home that finds it held hands its command line to this route, and the server runs it
in its own process, where opening the warehouse again works (DuckDB shares one database instance per process,
as the drop-folder worker does with its own connection). The route answers with the command's output and exit
code; ``cli/forward.py`` is the other side.

Not a route of the web application's users: no session, no role. The door is guarded by a random token that
the server writes, with its pid and address, into its owner-only ``serveur.json`` (who can read it can already
read the warehouse file itself), and by where the call comes from: the loopback (or the very address the server
listens on, which only this machine can use), never through a proxy. Anything else gets a 403.

The command itself runs through a callable given to ``create_app`` (``run_command``: the web layer does not
import the command line), in a worker thread so that the event loop keeps serving pages, one command at a time:
a second waits its turn, and is told so.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

log = logging.getLogger(__name__)

PATH = "/interne/commande"
ROUTE_NAME = "internal_command"  # in ``permissions.PUBLIC``: no session, the token below instead
TOKEN_HEADER = "X-Proxisante-Token"
PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")  # a proxy in front: a remote client, refused
MEDIA_TYPE = "application/x-ndjson"

# The events of the answer, one JSON object a line.
QUEUED = "queued"  # another command runs: this one waits its turn
STARTED = "started"
DONE = "done"


@dataclass(frozen=True)
class CommandRequest:
    """A command line as the client typed it (without the program's name), where it was typed, the width of
    its terminal (so that tables wrap as they would there), and its standard input when it has to be given."""

    argv: list[str]
    cwd: str
    home: str
    width: int | None = None
    stdin: str | None = None

    @classmethod
    def of(cls, data: Any) -> CommandRequest:
        """The request from its JSON body; ValueError when it is not one."""
        if not isinstance(data, dict):
            raise ValueError("a JSON object is expected")
        argv, cwd, home = data.get("argv"), data.get("cwd"), data.get("home")
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv) or not argv:
            raise ValueError("argv: a non-empty list of strings")
        if not isinstance(cwd, str) or not isinstance(home, str):
            raise ValueError("cwd and home: strings")
        width, stdin = data.get("width"), data.get("stdin")
        if width is not None and (not isinstance(width, int) or isinstance(width, bool) or width <= 0):
            raise ValueError("width: a positive integer")
        if stdin is not None and not isinstance(stdin, str):
            raise ValueError("stdin: a string")
        return cls(argv, cwd, home, width, stdin)


@dataclass(frozen=True)
class CommandResult:
    """What the command printed on each stream, and its exit code."""

    exit_code: int
    stdout: str = ""
    stderr: str = ""


CommandRunner = Callable[[CommandRequest], CommandResult]


@dataclass
class CommandDoor:
    """The runner of commands and the token that opens the door; one command at a time (the runner
    redirects the process's standard streams)."""

    run: CommandRunner
    token: str
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)


def event(name: str, **values: Any) -> bytes:
    return (json.dumps({"event": name, **values}, ensure_ascii=False) + "\n").encode("utf-8")


def refused(message: str, status: int = 403) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def from_this_machine(request: Request) -> bool:
    """The caller is on this machine: the loopback, or the address the server itself listens on (a server bound
    to one interface is reached through it); and no proxy header (a proxy relays remote clients)."""
    if any(name in request.headers for name in PROXY_HEADERS):
        return False
    client = request.client.host if request.client else ""
    server = request.scope.get("server") or ("", 0)
    try:
        return ipaddress.ip_address(client).is_loopback or client == str(server[0])
    except ValueError:  # "testclient" and other names that are not addresses
        return False


def token_matches(request: Request, door: CommandDoor | None) -> bool:
    given = request.headers.get(TOKEN_HEADER, "")
    return door is not None and bool(door.token) and hmac.compare_digest(given.encode(), door.token.encode())


def mount_internal(app: FastAPI, door: CommandDoor | None) -> None:
    """The route, mounted whether or not a door is given (without one, every call is refused)."""
    router = APIRouter()

    @router.post(PATH, name=ROUTE_NAME, include_in_schema=False)
    async def internal_command(request: Request) -> Response:
        if door is None or not token_matches(request, door) or not from_this_machine(request):
            return refused("Accès refusé : réservé à la ligne de commande de ce serveur (jeton de serveur.json).")
        try:
            command = CommandRequest.of(await request.json())
        except ValueError as error:  # json.JSONDecodeError is one too
            return refused(f"Requête invalide : {error}.", 422)
        return StreamingResponse(_answer(door, command), media_type=MEDIA_TYPE)

    app.include_router(router)


async def _answer(door: CommandDoor, command: CommandRequest) -> AsyncIterator[bytes]:
    """Queued (when another command runs), started, then done with the output. A client that leaves while its
    command runs does not stop it: the worker thread finishes, and holds the turn until then."""
    if door.turn.locked():
        yield event(QUEUED)
    async with door.turn:
        yield event(STARTED)
        log.info("command line forwarded to the server: %s", command.argv[:2])
        result = await anyio.to_thread.run_sync(door.run, command)
    yield event(DONE, **asdict(result))
