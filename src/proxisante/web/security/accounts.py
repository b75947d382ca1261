"""Local accounts of the web application, in a DuckDB file of their own (``Settings.accounts``).

Passwords are stored as argon2id hashes (argon2-cffi's RFC 9106 defaults), never in clear, and
rehashed on login when the parameters change. An account is disabled, never deleted, so that the
audit log always names someone who existed. A ``soignant`` account carries the RPPS of the
clinician: it is what restricts their nominative lists to their own patients (médecin traitant). An
account belongs to one structure of the network (its FINESS, ``structure``) or, without one, to the
network itself; a ``cpts`` account to a CPTS (``cpts``, its name in the registry). Both columns are
added to an accounts file created before them. Which belonging fits which role is
``permissions.check_membership``'s decision, made here when the account is created.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from proxisante.definitions import ParameterFile
from proxisante.identity.keys import private_store
from proxisante.web.security.permissions import check_membership, check_roles

SECURITY = ParameterFile(__package__, "security.yaml")
_DDL = """
CREATE TABLE IF NOT EXISTS account (
    username VARCHAR PRIMARY KEY, display_name VARCHAR NOT NULL, password_hash VARCHAR NOT NULL,
    roles VARCHAR[] NOT NULL, rpps VARCHAR, active BOOLEAN NOT NULL, created_at TIMESTAMP NOT NULL,
    disabled_at TIMESTAMP, structure VARCHAR, cpts VARCHAR
);
ALTER TABLE account ADD COLUMN IF NOT EXISTS structure VARCHAR;
ALTER TABLE account ADD COLUMN IF NOT EXISTS cpts VARCHAR;
CREATE SEQUENCE IF NOT EXISTS audit_seq;
CREATE TABLE IF NOT EXISTS audit_log (
    seq BIGINT PRIMARY KEY, logged_at TIMESTAMP NOT NULL, username VARCHAR NOT NULL, roles VARCHAR[] NOT NULL,
    action VARCHAR NOT NULL, route VARCHAR NOT NULL, detail VARCHAR NOT NULL, person_count BIGINT NOT NULL,
    person_ids BIGINT[] NOT NULL, previous_hash VARCHAR NOT NULL, hash VARCHAR NOT NULL
);
"""
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
RPPS = re.compile(r"^[0-9]{11}$")
_hasher = PasswordHasher()


class AccountError(ValueError):
    """An account cannot be created or changed as asked (message in French, for the CLI and the page)."""


@dataclass(frozen=True)
class Account:
    username: str
    display_name: str
    roles: tuple[str, ...]
    rpps: str | None
    active: bool
    created_at: datetime
    disabled_at: datetime | None
    structure: str | None = None  # FINESS of the account's structure; None: the network
    cpts: str | None = None  # the CPTS of a ``cpts`` account (its name in the registry)


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class AccountStore:
    """Accounts and the audit log share one small DuckDB file, opened per operation (the CLI may
    add an account while the server runs)."""

    def __init__(self, path: Path) -> None:
        self.path = path.expanduser()
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self.connect():
            pass

    def connect(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return private_store(self.path, _DDL)

    def add(
        self,
        username: str,
        password: str,
        roles: list[str],
        *,
        rpps: str | None = None,
        display_name: str | None = None,
        structure: str | None = None,
        cpts: str | None = None,
        registry_has_structures: bool = False,
    ) -> Account:
        """A new active account; refused with the reason when the name, password, roles, RPPS or belonging are
        wrong. ``structure`` is the FINESS of its structure, ``cpts`` the name of its CPTS (the caller checks
        both against the registry), neither: the network. ``registry_has_structures``: care roles then need
        a structure."""
        chosen = _check(username, password, roles, rpps)
        try:
            check_membership(chosen, structure, cpts, registry_has_structures)
        except ValueError as error:
            raise AccountError(str(error)) from error
        with self.connect() as con:
            if con.execute("SELECT 1 FROM account WHERE username = ?", [username]).fetchone():
                raise AccountError(f"le compte {username!r} existe déjà")
            con.execute(
                "INSERT INTO account (username, display_name, password_hash, roles, rpps, active, created_at, "
                "disabled_at, structure, cpts) VALUES (?, ?, ?, ?, ?, true, ?, NULL, ?, ?)",
                [username, display_name or username, _hasher.hash(password), chosen, rpps, now(), structure, cpts],
            )
        account = self.get(username)
        assert account is not None
        return account

    def get(self, username: str) -> Account | None:
        with self.connect() as con:
            row = con.execute(
                "SELECT username, display_name, roles, rpps, active, created_at, disabled_at, structure, cpts "
                "FROM account "
                "WHERE username = ?",
                [username],
            ).fetchone()
        return _account(row) if row else None

    def list(self) -> list[Account]:
        with self.connect() as con:
            rows = con.execute(
                "SELECT username, display_name, roles, rpps, active, created_at, disabled_at, structure, cpts "
                "FROM account "
                "ORDER BY username"
            ).fetchall()
        return [_account(row) for row in rows]

    def disable(self, username: str) -> Account:
        with self.connect() as con:
            if not con.execute("SELECT 1 FROM account WHERE username = ?", [username]).fetchone():
                raise AccountError(f"compte inconnu : {username!r}")
            con.execute(
                "UPDATE account SET active = false, disabled_at = coalesce(disabled_at, ?) WHERE username = ?",
                [now(), username],
            )
        account = self.get(username)
        assert account is not None
        return account

    def verify(self, username: str, password: str) -> Account | None:
        """The account if the password is right and the account active; rehashes an outdated hash."""
        with self.connect() as con:
            row = con.execute("SELECT password_hash, active FROM account WHERE username = ?", [username]).fetchone()
            if row is None:
                _hasher.hash(password)  # same work as a real check: no timing difference for unknown names
                return None
            stored, active = row
            try:
                _hasher.verify(stored, password)
            except (VerificationError, InvalidHashError):
                return None
            if _hasher.check_needs_rehash(stored):
                con.execute(
                    "UPDATE account SET password_hash = ? WHERE username = ?", [_hasher.hash(password), username]
                )
        return self.get(username) if active else None


def _check(username: str, password: str, roles: list[str], rpps: str | None) -> list[str]:
    if not USERNAME.match(username):
        raise AccountError("identifiant : 2 à 40 caractères, minuscules, chiffres, « . », « _ » ou « - »")
    minimum = int(SECURITY.value("password_min_length"))
    if len(password) < minimum:
        raise AccountError(f"mot de passe trop court : {minimum} caractères au moins (recommandation CNIL)")
    if not (
        re.search(r"[a-z]", password)
        and re.search(r"[A-Z]", password)
        and re.search(r"[0-9]", password)
        and re.search(r"[^A-Za-z0-9]", password)
    ):
        raise AccountError("mot de passe : minuscules, majuscules, chiffres et caractères spéciaux sont requis")
    try:
        chosen = check_roles(roles)
    except ValueError as error:
        raise AccountError(str(error)) from error
    if rpps is not None and not RPPS.match(rpps):
        raise AccountError("RPPS : 11 chiffres")
    if "soignant" in chosen and rpps is None:
        raise AccountError("un compte soignant est lié à son RPPS (--rpps) : il ne voit que ses patients")
    return chosen


def _account(row: tuple) -> Account:
    username, display_name, roles, rpps, active, created_at, disabled_at, structure, cpts = row
    return Account(username, display_name, tuple(roles), rpps, bool(active), created_at, disabled_at, structure, cpts)
