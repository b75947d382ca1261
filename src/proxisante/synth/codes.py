"""Key digits of French identifiers, computed for whole arrays at once.

Why here: every NIR/INS, RPPS and CIP13 the generator writes must pass the loader's checks
(a wrong key is a defect we inject on purpose, never an accident).

- NIR / matricule INS (numéro d'inscription au répertoire): 13 characters + key = 97 - (number mod
  97), Corsica's departments 2A and 2B read as 19 and 18 for the computation;
- RPPS (répertoire partagé des professionnels de santé): 11 digits, the last one a Luhn key;
- CIP13 (code identifiant de présentation): EAN-13, key on weights 1, 3, 1, 3...
"""

from __future__ import annotations

import numpy as np


def nir_key(body: np.ndarray) -> np.ndarray:
    """Keys (1..97) of 13-character NIR bodies given as a numpy string array."""
    text = np.char.replace(np.char.replace(body.astype("U13"), "2A", "19"), "2B", "18")
    number = text.astype(np.int64)
    return 97 - number % 97


def nir_key_one(body: str) -> int:
    return 97 - int(body.replace("2A", "19").replace("2B", "18")) % 97


def luhn_key(digits: np.ndarray) -> np.ndarray:
    """Luhn check digit for rows of digits (shape n x k, most significant first)."""
    k = digits.shape[1]
    # Positions from the right of the *final* number (key at position 0): body digits at odd
    # positions are doubled.
    doubled = (np.arange(k)[::-1] % 2) == 0
    values = np.where(doubled, digits * 2, digits)
    values = np.where(values > 9, values - 9, values)
    return (10 - values.sum(axis=1) % 10) % 10


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def ean13_key(body12: str) -> int:
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body12))
    return (10 - total % 10) % 10


def digits_to_str(digits: np.ndarray) -> np.ndarray:
    """Rows of digits (n x k) as strings."""
    return np.array(["".join(map(str, row)) for row in digits]) if len(digits) else np.array([], dtype="U1")


def rpps_numbers(rng: np.random.Generator, count: int) -> list[str]:
    """Distinct, well-formed synthetic RPPS numbers: ``10`` + 8 random digits + Luhn key."""
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < count:
        body = np.concatenate([np.tile([1, 0], (count, 1)), rng.integers(0, 10, size=(count, 8))], axis=1).astype(
            np.int64
        )
        keys = luhn_key(body)
        for row, key in zip(body, keys, strict=True):
            number = "".join(map(str, row)) + str(key)
            if number not in seen and len(out) < count:
                seen.add(number)
                out.append(number)
    return out
