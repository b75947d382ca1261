"""Professionals as a researcher sees them: a stable pseudonym, never a name or an RPPS (issue 21, personas).

A doctor's results compared with their colleagues' are personal data of that doctor (RGPD art. 4: an RPPS or a
name identifies them), and a research use has no need of who they are, only that two rows are two doctors and
that a doctor is the same from one period to the next. So the accounts named by
``permissions.PSEUDONYMOUS_PROFESSIONALS`` see « Professionnel 3F9A0C »: the first characters of an HMAC-SHA256 of
the RPPS under a key of the installation (``professionnels.key`` beside the accounts file, created once, owner
only). Keyed, because the RPPS directory is public: an unkeyed hash of an 11-digit number is reversed by hashing
the directory. The same RPPS gives the same pseudonym on every page, in the API and across loads; another
installation (another key) gives other pseudonyms.

This module is the one home of the rule: the pages and the API call :func:`providers_shown` on any table with a
column of RPPS before it leaves the server.
"""

from __future__ import annotations

import hmac
import threading
from hashlib import sha256
from pathlib import Path

import pandas as pd
from fastapi import Request

from proxisante.disclosure import TOTAL
from proxisante.web.security.auth import User, load_or_create_secret
from proxisante.web.security.permissions import names_professionals

KEY_FILE = "professionnels.key"
LABEL = "Professionnel"
GROUP_COLUMNS = ("measure_id", "period", "stratifier", "stratum")  # a table's rows per professional come in groups
DIGITS = 6  # hexadecimal characters: 16.7 million values, no two doctors of a network alike in practice

_keys: dict[Path, bytes] = {}
_lock = threading.Lock()


def key_of(accounts: Path) -> bytes:
    """The installation's pseudonym key (beside the accounts file), created on first use, read once."""
    path = accounts.expanduser().parent / KEY_FILE
    with _lock:
        if path not in _keys:
            _keys[path] = load_or_create_secret(path)
        return _keys[path]


def pseudonym(key: bytes, rpps: str) -> str:
    """« Professionnel 3F9A0C »: the same for the same RPPS and key, nothing of the RPPS readable in it."""
    digest = hmac.new(key, f"rpps:{rpps}".encode(), sha256).hexdigest()
    return f"{LABEL} {digest[:DIGITS].upper()}"


def pseudonymised(user: User) -> bool:
    """Whether the account sees professionals under a pseudonym (a researcher without another role)."""
    return not names_professionals(user.roles)


def providers_shown(request: Request, frame: pd.DataFrame, column: str = "provider") -> pd.DataFrame:
    """``frame`` with its column of RPPS as the signed-in account may see it: unchanged for an account that names
    professionals, each RPPS replaced by its pseudonym otherwise (the total row's marker kept)."""
    user: User = request.state.user
    if not pseudonymised(user) or column not in frame.columns or frame.empty:
        return frame
    key = key_of(request.app.state.web.settings.accounts)
    shown = frame[column].map(lambda r: r if pd.isna(r) or r == TOTAL else pseudonym(key, str(r)))
    return _in_pseudonym_order(frame.assign(**{column: shown}), column)


def _in_pseudonym_order(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """The rows of each group (measure, stratum...) ordered by pseudonym, the total first: rows in the order of
    the RPPS would give each pseudonym back to whoever holds the structure's list of RPPS (a public directory)."""
    groups = [c for c in frame.columns if c in GROUP_COLUMNS]
    rank = frame.groupby(groups, sort=False, dropna=False).ngroup() if groups else pd.Series(0, index=frame.index)
    label = frame[column].astype("string").fillna("")
    order = pd.DataFrame({"rank": rank, "total": label != TOTAL, "label": label}, index=frame.index)
    return frame.loc[order.sort_values(["rank", "total", "label"], kind="stable").index].reset_index(drop=True)
