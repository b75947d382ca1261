"""The append-only audit log of the web application: who read what, when, and which persons.

Every nominative read (a list of patients, a prevention plan, a CSV export) appends one row, before
the data is returned. Rows are chained: each holds the SHA-256 of its content and of the previous
row's hash, so that an edited or deleted row breaks the chain (:meth:`AuditLog.verify`). This module
has no update and no delete. Names are never written here: only pseudonymised ``person_id``; the
identity vault's own access log records the names' lookup as well.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from proxisante.api.accounts import AccountStore, now

GENESIS = "0" * 64
_append_lock = threading.Lock()  # one writer at a time, so that the chain never forks


@dataclass(frozen=True)
class Entry:
    username: str
    roles: tuple[str, ...]
    action: str
    route: str
    detail: str
    person_ids: tuple[int, ...]


def _digest(previous: str, at: datetime, entry: Entry) -> str:
    content = json.dumps(
        [
            previous,
            at.isoformat(),
            entry.username,
            list(entry.roles),
            entry.action,
            entry.route,
            entry.detail,
            list(entry.person_ids),
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(content.encode()).hexdigest()


class AuditLog:
    """Appends to and reads the ``audit_log`` table of the accounts file."""

    def __init__(self, store: AccountStore) -> None:
        self.store = store

    def append(
        self, username: str, roles: Sequence[str], action: str, route: str, detail: str, person_ids: Sequence[int] = ()
    ) -> None:
        entry = Entry(username, tuple(roles), action, route, detail, tuple(sorted({int(p) for p in person_ids})))
        with _append_lock, self.store.connect() as con:
            at = now()
            con.begin()
            row = con.execute("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            previous = row[0] if row else GENESIS
            con.execute(
                "INSERT INTO audit_log VALUES (nextval('audit_seq'), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    at,
                    entry.username,
                    list(entry.roles),
                    entry.action,
                    entry.route,
                    entry.detail,
                    len(entry.person_ids),
                    list(entry.person_ids),
                    previous,
                    _digest(previous, at, entry),
                ],
            )
            con.commit()

    def entries(self, limit: int = 200) -> pd.DataFrame:
        """The newest entries first."""
        with self.store.connect() as con:
            return con.execute(
                "SELECT seq, logged_at, username, roles, action, route, detail, person_count, person_ids "
                "FROM audit_log "
                "ORDER BY seq DESC LIMIT ?",
                [limit],
            ).df()

    def verify(self) -> int | None:
        """The ``seq`` of the first row whose chain is broken, or None when the log is intact."""
        with self.store.connect() as con:
            rows = con.execute(
                "SELECT seq, logged_at, username, roles, action, route, detail, person_ids, previous_hash, hash "
                "FROM audit_log ORDER BY seq"
            ).fetchall()
        previous = GENESIS
        for seq, at, username, roles, action, route, detail, ids, prev, digest in rows:
            entry = Entry(username, tuple(roles), action, route, detail, tuple(ids))
            if prev != previous or _digest(previous, at, entry) != digest:
                return int(seq)
            previous = digest
        return None
