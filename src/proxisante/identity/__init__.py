"""Pseudonymisation and the identity vault.

The warehouse only ever sees ``person_id``, a keyed hash (HMAC-SHA256) of the patient's INS (or NIR).
The key lives in a file outside the warehouse; names, NIR/INS, address and phone live in a separate
identity vault that only the care team's nominative lists read, each read being audited.
"""

from proxisante.identity.keys import load_or_create_key
from proxisante.identity.pseudonym import Pseudonymiser
from proxisante.identity.vault import IdentityVault

__all__ = ["IdentityVault", "Pseudonymiser", "load_or_create_key"]
