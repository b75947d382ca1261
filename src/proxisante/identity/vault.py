"""The identity vault (coffre d'identités): the only store that maps ``person_id`` back to a person.

A separate DuckDB file, never attached to the warehouse. It keeps the direct identifiers of each
person, and which local patient ids of which source (EHR) point to that person, so that a later
extract holding only events can be linked without any identifier entering the warehouse. Every
nominative read goes through :meth:`IdentityVault.lookup`, which appends to the access log first; the
access log is a keyed hash chain with an anchor kept apart (:mod:`.chain`), so that a truncated, wiped
or rewritten log is detected (:meth:`IdentityVault.verify_access_log`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from proxisante.identity.chain import AuditChain, ChainCheck

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
"""


class IdentityVault:
    """A DuckDB file holding identities, local-id links and the audit log of nominative reads."""

    def __init__(self, path: Path, chain: AuditChain | None = None) -> None:
        """``chain`` holds the access log's key and anchor: the installation keeps them in its secrets
        folder; by default they sit in an ``audit`` folder beside the vault."""
        self.path = path.expanduser()
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.chain = chain or AuditChain(self.path.parent / "audit", "vault")

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = duckdb.connect(str(self.path))
        try:
            con.execute(_DDL)
            yield con
        finally:
            con.close()

    def store(self, source: str, identities: pa.Table) -> None:
        """Upsert identities and the ``(source, patient_id) -> person_id`` links, in one transaction.

        ``identities`` has ``person_id``, ``patient_id`` and the :data:`IDENTITY_COLUMNS`.
        """
        now = datetime.now(UTC).replace(tzinfo=None)
        with self.connect() as con:
            con.register("incoming", identities)
            con.begin()
            columns = ", ".join(IDENTITY_COLUMNS)
            con.execute(
                f"""
                INSERT OR REPLACE INTO identity (person_id, {columns}, updated_at)
                SELECT person_id, {columns}, ? FROM incoming
                QUALIFY row_number() OVER (PARTITION BY person_id) = 1
                """,
                [now],
            )
            con.execute(
                "INSERT OR REPLACE INTO source_patient SELECT ?, patient_id, person_id FROM incoming",
                [source],
            )
            con.commit()

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

    def access_log(self) -> pa.Table:
        with self.connect() as con:
            return con.execute(
                "SELECT read_at, reader, purpose, person_count, person_ids FROM access_log ORDER BY seq"
            ).to_arrow_table()

    def verify_access_log(self) -> ChainCheck:
        """Whether the access log is whole and unedited (see :class:`~proxisante.identity.chain.AuditChain`)."""
        with self.connect() as con:
            return self.chain.check(con, "access_log", ACCESS_COLUMNS)

    def count(self) -> int:
        with self.connect() as con:
            row = con.execute("SELECT count(*) FROM identity").fetchone()
            return int(row[0]) if row else 0
