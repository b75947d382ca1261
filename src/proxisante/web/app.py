"""The FastAPI application over one installation: JSON API (``/api``), French pages, static files.

``create_app()`` opens the installation named by the settings (or takes one, for tests), the
accounts file and the session secret, mounts the routers (each with the ``authorize`` dependency)
and turns every expected failure into a clear answer: 401/303 without a session, 403 for a role or
a CSRF token, 404, 422 for malformed input, 503 when a reference is not built yet, never a 500.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from proxisante.definitions import ParameterFile
from proxisante.ingest.dropfolders import DropFolderWorker
from proxisante.installation import Installation, open_installation
from proxisante.settings import Settings, get_settings
from proxisante.web.api import router as api_router
from proxisante.web.internal import CommandDoor, CommandRunner, mount_internal
from proxisante.web.pages import UPLOAD_PATH, error_page, mount_pages
from proxisante.web.security.accounts import Account, AccountStore
from proxisante.web.security.audit import AuditLog
from proxisante.web.security.auth import (
    CsrfError,
    Forbidden,
    NotAuthenticated,
    RateLimiter,
    Sessions,
    load_or_create_secret,
)
from proxisante.web.services import InputError, Services, Unavailable
from proxisante.web.validation import french_detail, french_errors
from proxisante.web.warming import Warmer

log = logging.getLogger(__name__)
SECURITY = ParameterFile("proxisante.web.security", "security.yaml")
ACCOUNT_TTL_SECONDS = 2.0  # a disabled account is refused within this delay, even mid-session
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; worker-src 'self' blob:; child-src blob:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


def too_large_message(limit: int) -> str:
    return f"Requête trop volumineuse : {limit // 1024} Kio au plus."


class BodyLimit:
    """Refuse a request body over ``limit`` bytes (``security.yaml``: ``max_request_bytes``) with a 413 in
    French: at once when ``Content-Length`` says so, and while reading when the body comes in chunks,
    so that no route ever holds more than ``limit`` bytes of it in memory. ``per_path`` gives a path its own
    limit: the upload of an extract (``max_upload_bytes``), whose body the form parser spools to disk."""

    def __init__(self, app: ASGIApp, limit: int, per_path: dict[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.per_path = dict(per_path or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope["path"], self.limit)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            message = too_large_message(limit)
            if scope["path"].startswith("/api"):
                response: Response = JSONResponse({"detail": message}, status_code=413)
            else:
                response = Response(message, status_code=413, media_type="text/plain; charset=utf-8")
            await response(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise StarletteHTTPException(413, too_large_message(limit))
            return message

        await self.app(scope, limited, send)


@dataclass
class WebApp:
    """What the routes share: settings, services, accounts, audit, sessions, rate limiter."""

    settings: Settings
    installation: Installation
    services: Services
    accounts: AccountStore
    audit: AuditLog
    sessions: Sessions
    limiter: RateLimiter = field(default_factory=RateLimiter)
    _accounts_seen: dict[str, tuple[float, Account | None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def account(self, username: str) -> Account | None:
        """The account, read again from the file every few seconds (so that disabling it takes effect)."""
        seen = self._accounts_seen.get(username)
        if seen and time.monotonic() - seen[0] < ACCOUNT_TTL_SECONDS:
            return seen[1]
        account = self.accounts.get(username)
        with self._lock:
            self._accounts_seen[username] = (time.monotonic(), account)
        return account

    def forget(self, username: str) -> None:
        with self._lock:
            self._accounts_seen.pop(username, None)


def create_app(
    settings: Settings | None = None,
    installation: Installation | None = None,
    *,
    poll_seconds: float | None = None,
    run_command: CommandRunner | None = None,
    command_token: str = "",
    warm: bool = False,
) -> FastAPI:
    """The application; it owns (and closes at shutdown) the installation it opened itself. While it serves,
    a background thread loads the extracts of the drop folders every ``poll_seconds`` (default:
    ``poll_seconds`` of ``ingest/dropfolders.yaml``) on a connection of its own, so that pages keep reading
    the last committed state during a load (``ingest/dropfolders.py``). With ``run_command`` and
    ``command_token`` (``proxisante serve`` gives both), the command line of this data home runs its commands
    here while the server holds the warehouse (``web/internal.py``). With ``warm`` (``serve`` sets it), a
    background thread computes the default views of every scope at start and again for each structure as
    soon as one of its loads commits (``web/warming.py``), so that no first visitor waits for them."""
    settings = settings or get_settings()
    owned = installation is None
    installation = installation or open_installation(settings)
    accounts = AccountStore(settings.accounts)
    secret = load_or_create_secret(settings.accounts.parent / "session.key")
    web = WebApp(
        settings,
        installation,
        Services(installation),
        accounts,
        AuditLog.installed(settings, accounts),
        Sessions(secret),
    )

    drop_folders = DropFolderWorker(installation, poll_seconds)
    warmer = Warmer(web.services, settings) if warm else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        drop_folders.start()
        if warmer:
            warmer.start()
        yield
        drop_folders.stop()  # the extract under way finishes; no other starts
        if warmer:
            warmer.stop(timeout=0)  # the view under way stops with the services below
        if owned:  # an installation given by the caller is the caller's to close
            web.services.close()

    app = FastAPI(
        lifespan=lifespan,
        title="proxisante",
        description="API de l'entrepôt de santé de proximité : patientèle, indicateurs, écarts de soins, "
        "économie, territoire. Authentification par session (cookie) ; les requêtes POST portent le jeton "
        "CSRF de la session dans l'en-tête X-CSRF-Token.",
        version="1.0",
        docs_url=None,  # Swagger UI would load its scripts from a CDN: the spec alone is served
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.web = web
    app.state.drop_folders = drop_folders
    app.state.warmer = warmer
    _handlers(app)
    app.include_router(api_router)
    mount_pages(app)
    mount_internal(app, CommandDoor(run_command, command_token) if run_command and command_token else None)
    app.add_middleware(  # inside the headers below; the upload of an extract has its own, larger limit
        BodyLimit,
        limit=int(SECURITY.value("max_request_bytes")),
        per_path={UPLOAD_PATH: int(SECURITY.value("max_upload_bytes"))},
    )

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response = unaudited_read_withheld(request, response)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app


def unaudited_read_withheld(request: Request, response: Response) -> Response:
    """The response of a nominative route (``permissions.NOMINATIVE_ROUTES``) that wrote no audit row is
    replaced by an error before its body leaves: auditing is enforced here, not remembered by each route."""
    state = request.state
    if not getattr(state, "audit_required", False) or getattr(state, "audited", False) or response.status_code >= 400:
        return response
    log.error("nominative route %s answered without an audit row: response withheld", request.url.path)
    message = "Lecture nominative non journalisée : la réponse n'a pas été envoyée."
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=500)
    return error_page(request, 500, "Erreur", message)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api")


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(request: Request, _: NotAuthenticated) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": "Connexion requise."}, status_code=401)
        target = "/connexion?suite=" + request.url.path
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, error: Forbidden) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": error.message}, status_code=403)
        return error_page(request, 403, "Accès refusé", error.message)

    @app.exception_handler(CsrfError)
    async def csrf(request: Request, _: CsrfError) -> Response:
        message = "Jeton CSRF absent ou invalide : rechargez la page et recommencez."
        if _wants_json(request):
            return JSONResponse({"detail": message}, status_code=403)
        return error_page(request, 403, "Requête refusée", message)

    @app.exception_handler(InputError)
    async def bad_input(request: Request, error: InputError) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": str(error)}, status_code=422)
        return error_page(request, 422, "Requête invalide", str(error))

    @app.exception_handler(Unavailable)
    async def unavailable(request: Request, error: Unavailable) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": str(error)}, status_code=503)
        return error_page(request, 503, "Pas encore disponible", str(error))

    @app.exception_handler(RequestValidationError)
    async def validation(request: Request, error: RequestValidationError) -> Response:
        errors = french_errors(error)
        detail = french_detail(errors)
        if _wants_json(request):
            return JSONResponse({"detail": detail, "erreurs": errors}, status_code=422)
        return error_page(request, 422, "Requête invalide", detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if _wants_json(request) or error.status_code == 405:
            return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)
        return error_page(request, error.status_code, "Erreur", str(error.detail))
