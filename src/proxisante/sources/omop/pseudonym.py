"""``person_id`` of a person coming from an OMOP source: a keyed hash of the source's own person key.

An OMOP dataset has no INS or NIR; its persons are known by ``person_source_value`` (the id of the
system the dataset was built from) or, failing that, by its ``person_id``. Either is an identifier
that must not enter the warehouse, and a hash without a key could be reversed by trying every value,
so the ``person_id`` is HMAC-SHA256 with the installation's key (the same key as for INS and NIR,
with material that cannot collide with theirs: it starts with ``omop:``).
"""

from __future__ import annotations

import hashlib
import hmac


def omop_material(source: str, person_source_value: str | None, person_id: str) -> str:
    """What is hashed: ``omop:<source>:<person_source_value>``, else ``omop:<source>#<person_id>``."""
    if person_source_value:
        return f"omop:{source}:{person_source_value}"
    return f"omop:{source}#{person_id}"


def omop_person_id(key: bytes, source: str, person_source_value: str | None, person_id: str) -> int:
    """The 63-bit positive ``person_id`` of one OMOP person (the format of :mod:`proxisante.identity`)."""
    material = omop_material(source, person_source_value, person_id)
    digest = hmac.new(key, material.encode("utf-8"), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> 1
