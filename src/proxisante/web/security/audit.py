"""The append-only audit log of the web application: who read what, when, and which persons.

Every nominative read (a list of patients, a prevention plan, a CSV export) appends one row, before
the data is returned. Rows form a keyed hash chain with an anchor kept apart
(:class:`~proxisante.identity.chain.AuditChain`): an edited, inserted, deleted or reordered row, a
truncated or wiped log, or a log rewritten with recomputed hashes is detected (:meth:`AuditLog.check`).
This module has no update and no delete. Names are never written here: only pseudonymised
``person_id``; the identity vault's own access log records the names' lookup as well.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

import pandas as pd

from proxisante.identity.chain import WEB_LOG, AuditChain, ChainCheck
from proxisante.settings import Settings
from proxisante.web.security.accounts import AccountStore, now

COLUMNS = ("logged_at", "username", "roles", "action", "route", "detail", "person_count", "person_ids")
_append_lock = threading.Lock()  # one writer at a time, so that the chain never forks


class AuditLog:
    """Appends to and reads the ``audit_log`` table of the accounts file."""

    def __init__(self, store: AccountStore, chain: AuditChain) -> None:
        """``chain`` holds the key and the anchor, kept apart from ``store`` (see :meth:`installed`)."""
        self.store = store
        self.chain = chain

    @classmethod
    def installed(cls, settings: Settings, store: AccountStore | None = None) -> AuditLog:
        """The installation's log: in its accounts file, anchored in its audit folder."""
        return cls(store or AccountStore(settings.accounts), AuditChain(settings.audit, WEB_LOG))

    def append(
        self, username: str, roles: Sequence[str], action: str, route: str, detail: str, person_ids: Sequence[int] = ()
    ) -> None:
        ids = sorted({int(p) for p in person_ids})
        with _append_lock, self.store.connect() as con:
            self.chain.append(
                con, "audit_log", COLUMNS, [now(), username, list(roles), action, route, detail, len(ids), ids]
            )

    def entries(self, limit: int = 200) -> pd.DataFrame:
        """The newest entries first."""
        with self.store.connect() as con:
            return con.execute(
                "SELECT seq, logged_at, username, roles, action, route, detail, person_count, person_ids "
                "FROM audit_log "
                "ORDER BY seq DESC LIMIT ?",
                [limit],
            ).df()

    def check(self, witnesses: Mapping[int, str] = {}) -> ChainCheck:
        """Whether the log is whole and unedited, and if not, from which entry and why (in French);
        ``witnesses`` are ``{rows: head}`` pairs a signed report recorded."""
        with self.store.connect() as con:
            return self.chain.check(con, "audit_log", COLUMNS, witnesses)

    def verify(self) -> int | None:
        """The ``seq`` of the first entry that cannot be trusted, or None when the log is intact."""
        return self.check().broken_at
