"""Tamper-evident logs: a keyed hash chain over every field of every row, and a signed anchor kept apart.

Used by the two logs that record who read what: the web application's audit log and the identity
vault's access log. A plain hash chain only detects an edit made by someone who does not bother to
recompute the hashes; it does not detect a truncated, wiped or rewritten log. Hence two locks:

- **the chain is keyed**: each row's hash is an HMAC-SHA256, with a secret kept outside the log's
  database, of the previous row's hash and *every* field of the row (sequence number and counts
  included). Rewriting rows and recomputing the chain needs the key;
- **the anchor**: after each append, the number of rows and the head hash are written, with their own
  HMAC, to a small file beside the key (the secrets folder, not the log's folder). Dropping the last
  rows, wiping the log or replacing the anchor by an older one no longer matches: the anchor holds a
  count the log no longer reaches, or a head the log no longer has. A missing anchor is itself a
  failure once the key exists (the anchor is written when the key is created).

What this does not stop: someone holding both the secrets folder and the log can forge anything;
``docs/security.md`` says so.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from proxisante.identity.keys import KEY_BYTES, create_secret, write_whole

GENESIS = "0" * 64
WEB_LOG, VAULT_LOG = "web", "vault"  # the two chained logs: the web application's audit, the vault's access log


@dataclass(frozen=True)
class ChainCheck:
    """The verdict on a log: intact, or the first row (``seq``) where it stops being trustworthy."""

    rows: int
    anchored_rows: int | None
    broken_at: int | None = None
    reason: str | None = None  # French, shown to the administrator

    @property
    def intact(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class ChainedRow:
    """One row of a chained log as stored: its sequence number, its fields, the hashes it holds."""

    seq: int
    fields: Sequence[Any]
    previous_hash: str | None
    hash: str | None


def _canonical(value: Any) -> Any:
    """A JSON-stable form of a field, so that a value read back from the database hashes as written."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars read back by pandas
        return _canonical(value.tolist())
    return value


class AuditChain:
    """The key and the anchor of one log. ``name`` tells the logs apart (``web``, ``vault``)."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder.expanduser()
        self.name = name
        self.key_path = self.folder / f"audit-{name}.key"
        self.anchor_path = self.folder / f"audit-{name}.anchor"
        self._key: bytes | None = None

    @property
    def key(self) -> bytes:
        if self._key is None:
            created: list[bool] = []

            def generate() -> bytes:
                created.append(True)
                return secrets.token_hex(KEY_BYTES).encode("ascii")

            create_secret(self.key_path, generate)
            self._key = bytes.fromhex(self.key_path.read_text().strip())
            if created:  # a new chain: its empty state is anchored at once, so that a missing anchor is news
                self.write_anchor(0, GENESIS)
        return self._key

    def _mac(self, *parts: Any) -> str:
        payload = json.dumps([_canonical(p) for p in parts], ensure_ascii=False, separators=(",", ":"))
        return hmac.new(self.key, payload.encode(), hashlib.sha256).hexdigest()

    def link(self, previous: str, seq: int, fields: Sequence[Any]) -> str:
        """The hash of a row: keyed, over the previous hash, the row's ``seq`` and every other field."""
        return self._mac("row", previous, seq, *fields)

    def write_anchor(self, rows: int, head: str) -> None:
        """Record the log's length and head hash, replacing the file whole (never half written)."""
        record = {"log": self.name, "rows": rows, "head": head, "mac": self._mac("anchor", self.name, rows, head)}
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_whole(self.anchor_path, json.dumps(record))

    def read_anchor(self) -> tuple[int, str] | None:
        """``(rows, head)`` of the anchor if it is present and its own MAC holds, else None."""
        try:
            record = json.loads(self.anchor_path.read_text())
            rows, head, mac = int(record["rows"]), str(record["head"]), str(record["mac"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not hmac.compare_digest(mac, self._mac("anchor", self.name, rows, head)):
            return None
        return rows, head

    def append(self, con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str], fields: Sequence[Any]) -> None:
        """Append one row to ``table`` (which has ``seq``, ``previous_hash`` and ``hash`` besides ``columns``)
        with its link, in one transaction, then move the anchor. The caller holds the only writer: the
        database file's lock (and a thread lock where threads share a process)."""
        con.begin()
        row = con.execute(f"SELECT count(*), max(seq), arg_max(hash, seq) FROM {table}").fetchone()
        count, last_seq, last_hash = row if row else (0, None, None)
        seq = int(last_seq or 0) + 1
        previous = last_hash or GENESIS
        digest = self.link(previous, seq, fields)
        con.execute(
            f"INSERT INTO {table} (seq, {', '.join(columns)}, previous_hash, hash) "
            f"VALUES ({', '.join('?' * (len(columns) + 3))})",
            [seq, *fields, previous, digest],
        )
        con.commit()
        self.write_anchor(int(count) + 1, digest)

    def check(
        self, con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str], witnesses: Mapping[int, str] = {}
    ) -> ChainCheck:
        """Verify ``table`` (see :meth:`append`), reading it in batches so that a long log fits in memory."""
        width = len(columns)
        cursor = con.execute(
            f"SELECT seq, {', '.join(columns)}, previous_hash, hash FROM {table} ORDER BY seq NULLS FIRST"
        )
        batches = iter(lambda: cursor.fetchmany(10_000), [])
        return self.verify(
            (
                ChainedRow(int(r[0] or 0), list(r[1 : width + 1]), r[width + 1], r[width + 2])
                for batch in batches
                for r in batch
            ),
            witnesses,
        )

    def verify(self, rows: Iterable[ChainedRow], witnesses: Mapping[int, str] = {}) -> ChainCheck:
        """Walk the chain row by row (in constant memory), then hold it against the anchor and ``witnesses``:
        ``{rows: head}`` pairs recorded elsewhere (the signed reports), which the log must still hold."""
        key_existed = self.key_path.exists()
        self.key  # noqa: B018 (creates the key and the anchor of a new log)
        anchor = self.read_anchor()
        expected = dict(witnesses)
        if anchor is not None:
            expected[anchor[0]] = anchor[1] if expected.get(anchor[0], anchor[1]) == anchor[1] else ""
        anchored_rows = anchor[0] if anchor else None
        previous, count = GENESIS, 0
        for row in rows:
            linked = row.hash is not None and row.previous_hash == previous
            if not linked or row.hash != self.link(previous, row.seq, row.fields):
                reason = f"l'entrée n° {row.seq} a été modifiée, insérée ou supprimée"
                return ChainCheck(count, anchored_rows, row.seq, reason)
            previous = row.hash
            count += 1
            if expected.get(count, previous) != previous:
                return ChainCheck(count, anchored_rows, count, "le journal a été réécrit depuis son ancre")
        if anchor is None and key_existed:
            return ChainCheck(count, None, count + 1, "l'ancre du journal est absente ou falsifiée")
        if expected.get(0, GENESIS) != GENESIS:
            return ChainCheck(count, anchored_rows, 0, "le journal a été réécrit depuis son ancre")
        if expected and max(expected) > count:
            reason = f"le journal a été tronqué : {max(expected)} entrées attendues, {count} présentes"
            return ChainCheck(count, anchored_rows, count + 1, reason)
        # Rows past the anchor are valid links (a crash between the append and the anchor's update).
        return ChainCheck(count, anchored_rows)


def anchored_heads(folder: Path) -> dict[str, dict[str, int | str]]:
    """The anchored ``rows`` and ``head`` of both logs, for a signed report to witness (empty if none yet)."""
    heads: dict[str, dict[str, int | str]] = {}
    for name in (WEB_LOG, VAULT_LOG):
        chain = AuditChain(folder, name)
        anchor = chain.read_anchor() if chain.key_path.exists() else None
        if anchor is not None:
            heads[name] = {"rows": anchor[0], "head": anchor[1]}
    return heads
