"""``person_id`` as a keyed hash: of the patient's national identifier, or of an OMOP source's person key.

The INS is the patient's own qualified identifier; a NIR read from a carte Vitale may be the insured
parent's (a child is often on a parent's card), so a NIR alone is salted with the birth date to keep
two children of one card apart.

An OMOP dataset has no INS or NIR; its persons are known by ``person_source_value`` (the id of the
system the dataset was built from) or, failing that, by its ``person_id``. Either is an identifier
that must not enter the warehouse, and a hash without a key could be reversed by trying every value,
so it goes through the same keyed hash, with material that cannot collide with an INS or a NIR (it
starts with ``omop:``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable


class Pseudonymiser:
    """Turns identifiers into 63-bit positive ``person_id`` values with HMAC-SHA256."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def person_id(self, ins: str | None, nir: str | None, birth_date: str | None) -> int:
        """The ``person_id`` of one patient; ``birth_date`` is the ISO date, used with a NIR only."""
        if ins:
            material = f"INS:{ins}"
        elif nir:
            material = f"NIR:{nir}:{birth_date or ''}"
        else:
            raise ValueError("a patient needs an INS or a NIR to be pseudonymised")
        return self._hash(material.encode("ascii"))

    def omop_person_id(self, source: str, person_source_value: str | None, person_id: str) -> int:
        """The ``person_id`` of one person of an OMOP source (see :func:`omop_material`)."""
        return self._hash(omop_material(source, person_source_value, person_id).encode("utf-8"))

    def _hash(self, material: bytes) -> int:
        """HMAC-SHA256 with the installation's key, cut to a 63-bit positive integer."""
        digest = hmac.new(self._key, material, hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big") >> 1

    def person_ids(
        self, ins: Iterable[str | None], nir: Iterable[str | None], birth_date: Iterable[str | None]
    ) -> list[int]:
        return [self.person_id(i, n, b) for i, n, b in zip(ins, nir, birth_date, strict=True)]


def omop_material(source: str, person_source_value: str | None, person_id: str) -> str:
    """What is hashed for an OMOP person: ``omop:<source>:<person_source_value>``, else
    ``omop:<source>#<person_id>``."""
    if person_source_value:
        return f"omop:{source}:{person_source_value}"
    return f"omop:{source}#{person_id}"
