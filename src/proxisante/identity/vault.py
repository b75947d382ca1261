"""The identity vault (coffre d'identités): the only store that maps ``person_id`` back to a person.

A separate DuckDB file, never attached to the warehouse. It keeps the direct identifiers of each
person, and which local patient ids of which source (EHR) point to that person, so that a later
extract holding only events can be linked without any identifier entering the warehouse. Every
nominative read goes through :meth:`IdentityVault.lookup`, which appends to the access log first; the
access log is a keyed hash chain with an anchor kept apart (:mod:`.chain`), so that a truncated, wiped
or rewritten log is detected (:meth:`IdentityVault.verify_access_log`).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from proxisante.identity.chain import VAULT_LOG, AuditChain, ChainCheck
from proxisante.identity.keys import owner_only_umask, private_store

IDENTITY_COLUMNS = (
    "ins",
    "nir",
    "family_name",
    "birth_name",
    "given_names",
    "birth_date",
    "address",
    "postcode",
    "commune_insee",
    "phone",
)

ACCESS_COLUMNS = ("read_at", "reader", "purpose", "person_count", "person_ids")

_DDL = """
CREATE TABLE IF NOT EXISTS identity (
    person_id BIGINT PRIMARY KEY,
    ins VARCHAR, nir VARCHAR, family_name VARCHAR, birth_name VARCHAR, given_names VARCHAR,
    birth_date DATE, address VARCHAR, postcode VARCHAR, commune_insee VARCHAR, phone VARCHAR,
    updated_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS source_patient (
    source VARCHAR NOT NULL, patient_id VARCHAR NOT NULL, person_id BIGINT NOT NULL,
    PRIMARY KEY (source, patient_id)
);
CREATE TABLE IF NOT EXISTS access_log (
    read_at TIMESTAMP NOT NULL, reader VARCHAR NOT NULL, purpose VARCHAR NOT NULL,
    person_count BIGINT NOT NULL, person_ids BIGINT[] NOT NULL
);
ALTER TABLE access_log ADD COLUMN IF NOT EXISTS seq BIGINT;
ALTER TABLE access_log ADD COLUMN IF NOT EXISTS previous_hash VARCHAR;
ALTER TABLE access_log ADD COLUMN IF NOT EXISTS hash VARCHAR;
CREATE TABLE IF NOT EXISTS objection (
    person_id BIGINT PRIMARY KEY, recorded_at TIMESTAMP NOT NULL, recorded_by VARCHAR NOT NULL,
    note VARCHAR
);
CREATE TABLE IF NOT EXISTS objection_log (
    logged_at TIMESTAMP NOT NULL, action VARCHAR NOT NULL, person_id BIGINT NOT NULL, recorded_by VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS pending_identity (
    batch_id VARCHAR NOT NULL, person_id BIGINT NOT NULL,
    ins VARCHAR, nir VARCHAR, family_name VARCHAR, birth_name VARCHAR, given_names VARCHAR,
    birth_date DATE, address VARCHAR, postcode VARCHAR, commune_insee VARCHAR, phone VARCHAR,
    staged_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS pending_link (
    batch_id VARCHAR NOT NULL, source VARCHAR NOT NULL, patient_id VARCHAR NOT NULL, person_id BIGINT NOT NULL
);
"""


@dataclass(frozen=True)
class VaultPurge:
    """What :meth:`IdentityVault.purge_sources` removed: links, identities, pending rows of unfinished batches."""

    links: int
    identities: int
    pending: int


class IdentityVault:
    """A DuckDB file holding identities, local-id links and the audit log of nominative reads."""

    def __init__(self, path: Path, chain: AuditChain | None = None) -> None:
        """``chain`` holds the access log's key and anchor: the installation keeps them in its secrets
        folder; by default they sit in an ``audit`` folder beside the vault."""
        self.path = path.expanduser()
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.chain = chain or AuditChain(self.path.parent / "audit", VAULT_LOG)

    def connect(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return private_store(self.path, _DDL)

    def store(self, source: str, identities: pa.Table) -> None:
        """Upsert identities and the ``(source, patient_id) -> person_id`` links now (outside any batch).

        ``identities`` has ``person_id``, ``patient_id`` and the :data:`IDENTITY_COLUMNS`.
        """
        batch_id = f"direct-{uuid.uuid4().hex}"
        self.stage(batch_id, source, identities)
        self.promote(batch_id)

    # A batch writes the vault in step with the warehouse (docs/architecture.md, "Atomicity across two
    # stores"): its identities and links are staged as pending rows under its batch id, the warehouse
    # commits, then the pending rows are promoted. Reads never see pending rows; :meth:`reconcile` settles
    # what a dead batch left, from the warehouse's list of committed batches.

    def stage(self, batch_id: str, source: str, rows: pa.Table) -> None:
        """Pending rows of a batch, in one transaction: the ``(source, patient_id) -> person_id`` links, and
        the identities when ``rows`` has identity columns (the others are NULL)."""
        now = datetime.now(UTC).replace(tzinfo=None)
        with _IN_FLIGHT_LOCK:
            _IN_FLIGHT.add((str(self.path), batch_id))
        try:
            with self.connect() as con:
                con.register("incoming", rows)
                present = [c for c in IDENTITY_COLUMNS if c in rows.column_names]
                con.begin()
                if present:
                    columns = ", ".join(present)
                    con.execute(
                        f"INSERT INTO pending_identity (batch_id, person_id, {columns}, staged_at) "
                        f"SELECT ?, person_id, {columns}, ? FROM incoming",
                        [batch_id, now],
                    )
                con.execute(
                    "INSERT INTO pending_link SELECT ?, ?, patient_id, person_id FROM incoming", [batch_id, source]
                )
                con.commit()
        except BaseException:
            self.release(batch_id)
            raise

    def promote(self, batch_id: str) -> None:
        """Make a batch's pending rows the vault's identities and links (its warehouse rows are committed)."""
        now = datetime.now(UTC).replace(tzinfo=None)
        columns = ", ".join(IDENTITY_COLUMNS)
        with self.connect() as con:
            con.begin()
            con.execute(
                f"""
                INSERT OR REPLACE INTO identity (person_id, {columns}, updated_at)
                SELECT person_id, {columns}, ? FROM pending_identity WHERE batch_id = ?
                QUALIFY row_number() OVER (PARTITION BY person_id) = 1
                """,
                [now, batch_id],
            )
            con.execute(
                "INSERT OR REPLACE INTO source_patient SELECT source, patient_id, person_id FROM pending_link "
                "WHERE batch_id = ? QUALIFY row_number() OVER (PARTITION BY source, patient_id) = 1",
                [batch_id],
            )
            _drop_pending(con, batch_id)
            con.commit()
        _settled(self.path, batch_id)

    def discard(self, batch_id: str) -> None:
        """Forget a batch's pending rows (its warehouse rows were not committed)."""
        with self.connect() as con:
            con.begin()
            _drop_pending(con, batch_id)
            con.commit()
        _settled(self.path, batch_id)

    def release(self, batch_id: str) -> None:
        """This process no longer runs the batch: :meth:`reconcile` may settle its pending rows."""
        _settled(self.path, batch_id)

    def pending_batches(self) -> list[str]:
        """Batch ids with pending rows, oldest first (batch ids sort by start time)."""
        if not self.path.exists():
            return []
        with self.connect() as con:
            rows = con.execute(
                "SELECT batch_id FROM pending_link UNION SELECT batch_id FROM pending_identity ORDER BY 1"
            ).fetchall()
        return [b for (b,) in rows]

    def reconcile(self, committed: Callable[[list[str]], set[str]]) -> None:
        """Settle the pending rows of batches no longer running: promote those whose warehouse commit
        happened (``committed`` tells which of the given batch ids the warehouse has), discard the others.
        Batches running in this process are left alone; another process cannot be running a batch while
        the caller holds the warehouse (DuckDB locks its file)."""
        with _IN_FLIGHT_LOCK:
            running = {b for p, b in _IN_FLIGHT if p == str(self.path)}
        dead = [b for b in self.pending_batches() if b not in running]
        if not dead:
            return
        done = committed(dead)
        for batch_id in dead:  # oldest first: a later batch's identities win, as they did when it ran
            if batch_id in done:
                self.promote(batch_id)
            else:
                self.discard(batch_id)

    def patient_links(self, source: str) -> pa.Table:
        """``patient_id -> person_id`` for one source: pseudonyms only, no identifier."""
        with self.connect() as con:
            return con.execute(
                "SELECT patient_id, person_id FROM source_patient WHERE source = ?", [source]
            ).to_arrow_table()

    def lookup(self, person_ids: Sequence[int], reader: str, purpose: str) -> pa.Table:
        """Identities of some persons, for the care team. The read is logged before it happens."""
        if not reader or not purpose:
            raise ValueError("a nominative read needs a reader and a purpose")
        ids = [int(i) for i in person_ids]
        now = datetime.now(UTC).replace(tzinfo=None)
        with self.connect() as con:
            self.chain.append(con, "access_log", ACCESS_COLUMNS, [now, reader, purpose, len(ids), ids])
            return con.execute(
                f"SELECT person_id, {', '.join(IDENTITY_COLUMNS)} FROM identity "
                "WHERE person_id IN (SELECT unnest(?::BIGINT[])) ORDER BY person_id",
                [ids],
            ).to_arrow_table()

    def access_log(self, limit: int | None = None) -> pa.Table:
        """The access log in order; with ``limit``, only the newest ``limit`` reads, newest first."""
        order = "ORDER BY seq" if limit is None else "ORDER BY seq DESC LIMIT ?"
        with self.connect() as con:
            return con.execute(
                f"SELECT read_at, reader, purpose, person_count, person_ids FROM access_log {order}",
                [] if limit is None else [limit],
            ).to_arrow_table()

    def verify_access_log(self, witnesses: Mapping[int, str] = {}) -> ChainCheck:
        """Whether the access log is whole and unedited (see :class:`~proxisante.identity.chain.AuditChain`);
        ``witnesses`` are ``{rows: head}`` pairs a signed report recorded."""
        with self.connect() as con:
            return self.chain.check(con, "access_log", ACCESS_COLUMNS, witnesses)

    def purge_sources(self, finess: str) -> VaultPurge:
        """Forget a structure that left the network (``proxisante structures purger``), in one transaction:
        the links of its sources (``finess`` and ``finess/<export>``, see
        :func:`proxisante.network.structures.load_source`), the pending rows of its batches, and the
        identities of the persons that no remaining source links. A person another structure also saw
        keeps that structure's links and the identity. Objections stay: they are the patient's choice,
        hold no identifier, and must still hold if another structure sees the patient later; the access
        log stays whole (its chain would break otherwise, and it names pseudonyms only). Running it again
        finds nothing left to remove."""
        sources = "(source = ? OR starts_with(source, ?))"
        parameters = [finess, f"{finess}/"]
        with self.connect() as con:
            con.begin()
            identities = _deleted(
                con,
                f"DELETE FROM identity WHERE person_id IN (SELECT person_id FROM source_patient WHERE {sources}) "
                f"AND person_id NOT IN (SELECT person_id FROM source_patient WHERE NOT {sources})",
                parameters * 2,
            )
            links = _deleted(con, f"DELETE FROM source_patient WHERE {sources}", parameters)
            batches = f"batch_id IN (SELECT batch_id FROM pending_link WHERE {sources})"
            pending = _deleted(con, f"DELETE FROM pending_identity WHERE {batches}", parameters)
            pending += _deleted(con, f"DELETE FROM pending_link WHERE {batches}", parameters)
            con.commit()
        return VaultPurge(links, identities, pending)

    def compact(self) -> None:
        """Rewrite the vault into a fresh file, so that deleted identities leave the disk and not only the
        tables: DuckDB reuses freed blocks but never wipes them (a purged address stays readable in the
        file). The copy is made while this connection holds the file, so no other process can open the
        vault meanwhile (DuckDB's file lock), then renamed over it; a crash leaves the old file whole and
        a stray copy that the next compaction replaces. Run it in a process of its own
        (:func:`proxisante.network.purge.compact_vault`): threads of one process share DuckDB's handle, so
        another thread could write to the old file meanwhile, and DuckDB may write leftover memory of the
        process into the new blocks (duckdb/duckdb#23382)."""
        fresh = self.path.with_name(f".{self.path.name}.compact")
        for stale in (fresh, fresh.with_name(f"{fresh.name}.wal")):
            stale.unlink(missing_ok=True)
        owner_only_umask()
        with self.connect() as con:
            (name,) = con.execute("SELECT current_database()").fetchone() or ("",)
            con.execute("CHECKPOINT")
            # Compressed text segments are written with the unused tail of their buffer, leftover memory
            # that may hold the deleted rows (duckdb/duckdb#23382): the copy stores text uncompressed.
            con.execute("SET force_compression = 'uncompressed'")
            con.execute(f"ATTACH '{_quoted(fresh)}' AS compacted")
            try:
                con.execute(f'COPY FROM DATABASE "{name}" TO compacted')
            finally:
                con.execute("DETACH compacted")
            os.chmod(fresh, 0o600)
            os.replace(fresh, self.path)

    def count(self) -> int:
        with self.connect() as con:
            row = con.execute("SELECT count(*) FROM identity").fetchone()
            return int(row[0]) if row else 0


# Batches of this process whose pending rows are written and not yet promoted or discarded: (vault, batch).
_IN_FLIGHT: set[tuple[str, str]] = set()
_IN_FLIGHT_LOCK = threading.Lock()


def _deleted(con: duckdb.DuckDBPyConnection, statement: str, parameters: Sequence[object]) -> int:
    """Run a DELETE; how many rows it removed (DuckDB returns the count as its result)."""
    row = con.execute(statement, parameters).fetchone()
    return int(row[0]) if row else 0


def _quoted(path: Path) -> str:
    """A path inside a single-quoted SQL literal."""
    return str(path).replace("'", "''")


def _drop_pending(con: duckdb.DuckDBPyConnection, batch_id: str) -> None:
    con.execute("DELETE FROM pending_identity WHERE batch_id = ?", [batch_id])
    con.execute("DELETE FROM pending_link WHERE batch_id = ?", [batch_id])


def _settled(path: Path, batch_id: str) -> None:
    with _IN_FLIGHT_LOCK:
        _IN_FLIGHT.discard((str(path), batch_id))
