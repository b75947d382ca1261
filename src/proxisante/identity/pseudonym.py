"""``person_id`` as a keyed hash of the patient's national identifier.

The INS is the patient's own qualified identifier; a NIR read from a carte Vitale may be the insured
parent's (a child is often on a parent's card), so a NIR alone is salted with the birth date to keep
two children of one card apart.
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
        digest = hmac.new(self._key, material.encode("ascii"), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big") >> 1

    def person_ids(
        self, ins: Iterable[str | None], nir: Iterable[str | None], birth_date: Iterable[str | None]
    ) -> list[int]:
        return [self.person_id(i, n, b) for i, n, b in zip(ins, nir, birth_date, strict=True)]
