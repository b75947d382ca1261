"""Patient objection (droit d'opposition) to the reuse of their data outside the care team.

A patient may object to research and to reports that leave the structure (RGPD art. 21, CSP
L.1461-1 for the SNDS and its child systems). An objecting patient disappears from research extracts
and external reports, but stays in the care team's own lists: care is not a secondary use.

The registry lives in the identity vault, because it is keyed by the patient's INS; what the domain packages
receive is only the set of ``person_id`` values (pseudonyms) to leave out. Every change is appended to
``objection_log``, and listing the objections with their INS is a nominative read, audited like any
other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa

from proxisante.identity.pseudonym import Pseudonymiser
from proxisante.identity.vault import IdentityVault

_INS = re.compile(r"^[12378][0-9]{4}(?:[0-9]{2}|2A|2B)[0-9]{8}$")


_LIST_SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("ins", pa.string()),
        ("family_name", pa.string()),
        ("given_names", pa.string()),
        ("recorded_at", pa.timestamp("us")),
        ("recorded_by", pa.string()),
        ("note", pa.string()),
    ]
)


class InvalidINS(ValueError):
    """An INS that is not 15 characters with a valid control key."""


def check_ins(ins: str) -> str:
    """The INS (NIR format: 13 characters and a 2-digit key, Corsica as 2A/2B), stripped of spaces.

    The key is 97 - (number mod 97), with 2A read as 19 and 2B as 18, as for the NIR.
    """
    value = re.sub(r"\s", "", ins).upper()
    if not _INS.match(value):
        raise InvalidINS("INS invalide : 15 caractères attendus (13 + clé), par ex. 1 84 12 75 123 456 78")
    body = value[:13].replace("2A", "19", 1) if value[5:7] == "2A" else value[:13]
    body = body.replace("2B", "18", 1) if value[5:7] == "2B" else body
    if 97 - int(body) % 97 != int(value[13:]):
        raise InvalidINS("INS invalide : la clé de contrôle ne correspond pas")
    return value


class UnknownPatient(LookupError):
    """A local patient id that no load has linked to a person."""


@dataclass(frozen=True)
class Objection:
    person_id: int
    recorded_at: datetime
    recorded_by: str
    note: str | None


class ObjectionRegistry:
    """Objections recorded in the vault, by INS; the domain packages only ever see :meth:`person_ids`."""

    def __init__(self, vault: IdentityVault, pseudonymiser: Pseudonymiser) -> None:
        self.vault = vault
        self.pseudonymiser = pseudonymiser

    def resolve(self, ins: str) -> int:
        """``person_id`` of an INS: the vault's link if the patient is known, else the keyed hash.

        The hash of the INS is the ``person_id`` the patient will get at their first load, so an
        objection recorded before the data arrives still applies.
        """
        value = check_ins(ins)
        with self.vault.connect() as con:
            row = con.execute("SELECT person_id FROM identity WHERE ins = ? LIMIT 1", [value]).fetchone()
        return int(row[0]) if row else self.pseudonymiser.person_id(value, None, None)

    def resolve_local(self, source: str, patient_id: str) -> int:
        """``person_id`` of a patient known by a source's local id (an OMOP import has no INS)."""
        with self.vault.connect() as con:
            row = con.execute(
                "SELECT person_id FROM source_patient WHERE source = ? AND patient_id = ?", [source, patient_id]
            ).fetchone()
        if not row:
            raise UnknownPatient(f"aucun patient {patient_id!r} pour la source {source!r} dans le coffre d'identités")
        return int(row[0])

    def add(self, ins: str, recorded_by: str, note: str | None = None) -> tuple[int, bool]:
        """Record an objection by INS; returns ``(person_id, created)`` (False if already recorded)."""
        return self.add_person(self.resolve(ins), recorded_by, note)

    def remove(self, ins: str, recorded_by: str) -> tuple[int, bool]:
        """Withdraw an objection by INS; returns ``(person_id, removed)``."""
        return self.remove_person(self.resolve(ins), recorded_by)

    def add_person(self, person_id: int, recorded_by: str, note: str | None = None) -> tuple[int, bool]:
        """Record an objection for a resolved ``person_id`` (see :meth:`resolve`, :meth:`resolve_local`)."""
        who = _who(recorded_by)
        now = _now()
        with self.vault.connect() as con:
            con.begin()
            exists = con.execute("SELECT 1 FROM objection WHERE person_id = ?", [person_id]).fetchone()
            if not exists:
                con.execute("INSERT INTO objection VALUES (?, ?, ?, ?)", [person_id, now, who, note])
                con.execute("INSERT INTO objection_log VALUES (?, 'add', ?, ?)", [now, person_id, who])
            con.commit()
        return person_id, not exists

    def remove_person(self, person_id: int, recorded_by: str) -> tuple[int, bool]:
        who = _who(recorded_by)
        with self.vault.connect() as con:
            con.begin()
            exists = con.execute("SELECT 1 FROM objection WHERE person_id = ?", [person_id]).fetchone()
            if exists:
                con.execute("DELETE FROM objection WHERE person_id = ?", [person_id])
                con.execute("INSERT INTO objection_log VALUES (?, 'remove', ?, ?)", [_now(), person_id, who])
            con.commit()
        return person_id, bool(exists)

    def person_ids(self) -> frozenset[int]:
        """The pseudonyms to leave out of research extracts and external reports (no identifier)."""
        with self.vault.connect() as con:
            return frozenset(int(r[0]) for r in con.execute("SELECT person_id FROM objection").fetchall())

    def objections(self) -> list[Objection]:
        with self.vault.connect() as con:
            rows = con.execute("SELECT * FROM objection ORDER BY recorded_at, person_id").fetchall()
        return [Objection(int(r[0]), r[1], r[2], r[3]) for r in rows]

    def nominative_list(self, reader: str) -> pa.Table:
        """Objections with the patient's INS and names where the vault knows them: an audited read."""
        objections = self.objections()
        found = self.vault.lookup([o.person_id for o in objections], reader, "liste des oppositions")
        by_id = {row["person_id"]: row for row in found.to_pylist()}
        return pa.Table.from_pylist(
            [
                {
                    "person_id": o.person_id,
                    "ins": by_id.get(o.person_id, {}).get("ins"),
                    "family_name": by_id.get(o.person_id, {}).get("family_name"),
                    "given_names": by_id.get(o.person_id, {}).get("given_names"),
                    "recorded_at": o.recorded_at,
                    "recorded_by": o.recorded_by,
                    "note": o.note,
                }
                for o in objections
            ],
            schema=_LIST_SCHEMA,
        )

    def log(self) -> pa.Table:
        with self.vault.connect() as con:
            return con.execute("SELECT * FROM objection_log ORDER BY logged_at").to_arrow_table()


def _who(recorded_by: str) -> str:
    if not recorded_by.strip():
        raise ValueError("an objection is recorded by someone: give --by")
    return recorded_by


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
