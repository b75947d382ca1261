"""Sessions, CSRF tokens, login rate limiting, and the one dependency that authorises every route.

A session is a random id kept in the server's memory (so that logging out or disabling an account
ends it at once), sent to the browser in a cookie signed with the installation's own secret
(HttpOnly, SameSite=strict, Secure unless ``PROXISANTE_SECURE_COOKIES=false`` for plain HTTP on the
loopback). Each session has its CSRF token; every request that changes something (POST) must send
it back, in the ``X-CSRF-Token`` header (htmx, API clients) or the ``csrf_token`` form field.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request
from itsdangerous import BadSignature, Signer

from proxisante.definitions import ParameterFile
from proxisante.network.scope import ScopeError
from proxisante.web.security.accounts import Account
from proxisante.web.security.permissions import NOMINATIVE_ROUTES, PUBLIC, allowed, network_admin_only
from proxisante.web.security.scopes import registry_of, request_scope

SECURITY = ParameterFile(__package__, "security.yaml")
SESSION_COOKIE = "proxisante_session"
LOGIN_COOKIE = "proxisante_login"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class NotAuthenticated(Exception):
    """No valid session: pages redirect to the login form, the API answers 401."""


class Forbidden(Exception):
    """The account's roles do not allow this route (or this patient): 403."""

    def __init__(self, message: str = "Accès refusé : votre rôle ne permet pas cette page.") -> None:
        super().__init__(message)
        self.message = message


class CsrfError(Exception):
    """A POST without the session's CSRF token: 403."""


@dataclass(frozen=True)
class User:
    """The signed-in account, as the routes see it."""

    username: str
    display_name: str
    roles: tuple[str, ...]
    rpps: str | None
    csrf: str
    structure: str | None = None  # FINESS of the account's structure; None: the network (or a CPTS)
    cpts: str | None = None  # the CPTS of a ``cpts`` account

    @classmethod
    def of(cls, account: Account, csrf: str) -> User:
        return cls(
            account.username, account.display_name, account.roles, account.rpps, csrf, account.structure, account.cpts
        )

    def may(self, route: str) -> bool:
        return allowed(self.roles, route)

    @property
    def whole_structure(self) -> bool:
        """Nominative lists of every patient (coordinateur), not only one's own (soignant)."""
        return "coordinateur" in self.roles


def client_address(request: Request) -> str:
    """The address a request comes from, for the per-address login limit.

    The connection's peer, unless it is one of ``Settings.trusted_proxies`` (none by default): only
    then is ``X-Forwarded-For`` read, from the right, skipping the trusted proxies, so that a client
    cannot choose its own address by sending the header (``serve`` runs uvicorn without proxy headers).
    """
    peer = request.client.host if request.client else "?"
    trusted = set(request.app.state.web.settings.trusted_proxies)
    if peer not in trusted:
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if hop not in trusted:
            return hop
    return peer


def load_or_create_secret(path: Path) -> bytes:
    """The key that signs session cookies, created once per installation (mode 0600)."""
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    path.touch(mode=0o600)
    path.write_bytes(key)
    return key


@dataclass
class Session:
    username: str
    csrf: str
    expires: float


@dataclass
class Sessions:
    """Server-side sessions: id → (account, CSRF token, expiry)."""

    secret: bytes
    hours: float = field(default_factory=lambda: float(SECURITY.value("session_hours")))
    _items: dict[str, Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def signer(self) -> Signer:
        return Signer(self.secret, salt="proxisante-session")

    def open(self, username: str) -> tuple[str, Session]:
        """A new session; returns the signed cookie value."""
        sid = secrets.token_urlsafe(32)
        session = Session(username, secrets.token_urlsafe(32), time.time() + self.hours * 3600)
        with self._lock:
            self._items[sid] = session
        return self.signer.sign(sid).decode(), session

    def find(self, cookie: str | None) -> tuple[str, Session] | None:
        if not cookie:
            return None
        try:
            sid = self.signer.unsign(cookie).decode()
        except BadSignature:
            return None
        with self._lock:
            session = self._items.get(sid)
            if session is None or session.expires < time.time():
                self._items.pop(sid, None)
                return None
        return sid, session

    def close(self, sid: str) -> None:
        with self._lock:
            self._items.pop(sid, None)

    def close_user(self, username: str) -> None:
        """End every session of an account (it was disabled)."""
        with self._lock:
            for sid in [s for s, session in self._items.items() if session.username == username]:
                del self._items[sid]

    def login_token(self) -> tuple[str, str]:
        """A CSRF token for the login form (no session yet): (cookie value, form value)."""
        token = secrets.token_urlsafe(32)
        return Signer(self.secret, salt="proxisante-login").sign(token).decode(), token

    def check_login_token(self, cookie: str | None, submitted: str | None) -> bool:
        if not cookie or not submitted:
            return False
        try:
            token = Signer(self.secret, salt="proxisante-login").unsign(cookie).decode()
        except BadSignature:
            return False
        return hmac.compare_digest(token, submitted)


class RateLimiter:
    """Failed logins per account and per address in a sliding window (``security.yaml``).

    Kept in the server's memory, on purpose: a login attempt writes nothing to disk, and a restart forgets the
    failures (the limit slows guessing down; it is not a record, the audit log is). An administrator unlocks an
    account (:meth:`unlock`) from the administration page, or with ``proxisante users unlock NAME``, which runs in
    the server's process (``cli/web.py``) since only that process holds the counts.
    """

    def __init__(self) -> None:
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _limits(self, kind: str) -> tuple[int, float]:
        rule = SECURITY.value(f"login_failures_per_{kind}")
        return int(rule["failures"]), float(rule["minutes"]) * 60

    def blocked_for(self, username: str, address: str) -> float:
        """Seconds before a new attempt is allowed (0 when allowed)."""
        wait = 0.0
        with self._lock:
            for kind, key in (("account", username), ("ip", address)):
                limit, window = self._limits(kind)
                failures = self._prune(kind, key, window)
                if len(failures) >= limit:
                    wait = max(wait, failures[0] + window - time.time())
        return wait

    def failed(self, username: str, address: str) -> None:
        with self._lock:
            for kind, key in (("account", username), ("ip", address)):
                self._failures[(kind, key)].append(time.time())

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(("account", username), None)

    def unlock(self, username: str) -> bool:
        """Forget the account's failed logins (an administrator's decision); whether it was blocked. The
        addresses' counts stay: they limit whoever guesses from there, whatever the account."""
        wait = self.blocked_accounts().get(username, 0.0)
        self.succeeded(username)
        return wait > 0

    def blocked_accounts(self) -> dict[str, float]:
        """The accounts blocked now, with the seconds before a new attempt is allowed."""
        limit, window = self._limits("account")
        out: dict[str, float] = {}
        with self._lock:
            for kind, key in list(self._failures):
                if kind != "account":
                    continue
                failures = self._prune(kind, key, window)
                if len(failures) >= limit:
                    out[key] = failures[0] + window - time.time()
        return out

    def _prune(self, kind: str, key: str, window: float) -> deque[float]:
        failures = self._failures[(kind, key)]
        while failures and failures[0] < time.time() - window:
            failures.popleft()
        return failures


def route_name(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "name", "") or ""


async def authorize(request: Request) -> User | None:
    """The dependency of every router: session, then role × route, then CSRF on POST, then the scope.

    Stores the user on ``request.state.user`` for the route and the templates, and the scope the request
    reads (``scopes.request_scope``: the account's, narrowed by a ``structure`` query parameter or form
    field) on ``request.state.scope``, with the registry on ``request.state.registry``.
    """
    name = route_name(request)
    if name in PUBLIC:
        return None
    app = request.app.state.web
    found = app.sessions.find(request.cookies.get(SESSION_COOKIE))
    if found is None:
        raise NotAuthenticated()
    sid, session = found
    account = app.account(session.username)
    if account is None or not account.active:
        app.sessions.close(sid)
        raise NotAuthenticated()
    user = User.of(account, session.csrf)
    request.state.user, request.state.session_id = user, sid
    if not user.may(name):
        raise Forbidden()
    refusal = network_admin_only(name, user.structure, user.cpts)
    if refusal:
        raise Forbidden(refusal)
    if name in NOMINATIVE_ROUTES:  # the response is held back unless the read was audited (api.app)
        request.state.audit_required, request.state.audited = True, False
    form = request.method not in SAFE_METHODS and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    )
    if request.method not in SAFE_METHODS:
        submitted = request.headers.get(CSRF_HEADER)
        if submitted is None and form:
            submitted = str((await request.form()).get(CSRF_FIELD) or "")
        if not submitted or not hmac.compare_digest(submitted, session.csrf):
            raise CsrfError()
    wanted = request.query_params.get("structure")
    if wanted is None and form:
        field_value = (await request.form()).get("structure")
        wanted = field_value if isinstance(field_value, str) else None
    registry = registry_of(app.settings)
    try:
        request.state.scope = request_scope(user.roles, user.structure, user.cpts, name, wanted, registry)
    except ScopeError as error:
        raise Forbidden(str(error)) from error
    request.state.registry = registry
    return user
