"""A département typed by a user (CLI option, web form, API parameter): one reading, French refusals.

Codes are written as INSEE writes them: two digits (``01``… ``95``), ``2A`` and ``2B`` for Corsica, three
digits overseas (``971``…). ``2a`` is read as ``2A`` and ``1`` as ``01``; ``20`` (Corsica before 1976) is
refused with the two codes to use. A code that no commune of the reference has is refused, naming it,
rather than silently showing another département.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

CORSICA = "utilisez 2A (Corse-du-Sud) ou 2B (Haute-Corse)"
_CODE = re.compile(r"^(\d{2,3}|2A|2B)$")
_LISTED = 12  # known départements listed in a refusal, at most


class DepartementError(ValueError):
    """A département code that is not one, or that no commune of the reference has (French message)."""


def departement_code(text: str) -> str:
    """The INSEE code of a typed département (``2a`` → ``2A``, ``1`` → ``01``), refused in French otherwise."""
    code = text.strip().upper()
    if re.fullmatch(r"\d", code):
        code = f"0{code}"
    if code == "20":
        raise DepartementError(f"le département 20 n'existe plus depuis 1976 : {CORSICA}")
    if not _CODE.match(code):
        raise DepartementError(f"code de département « {text} » non reconnu : attendu 01 à 95, 2A, 2B ou 971 à 976")
    return code


def departement_mask(communes: pd.DataFrame, text: str) -> tuple[str, np.ndarray]:
    """The code and the communes (a mask of ``communes``) of a typed département; refused in French when no
    commune of the reference belongs to it, naming the départements the reference has."""
    code = departement_code(text)
    mask = (communes["departement"] == code).to_numpy()
    if not mask.any():
        known = sorted(str(c) for c in communes["departement"].dropna().unique())
        listed = ", ".join(known[:_LISTED]) + (f"… ({len(known)} en tout)" if len(known) > _LISTED else "")
        raise DepartementError(
            f"aucune commune du référentiel pour le département {code} (départements du référentiel : {listed})"
        )
    return code, mask


def departement_label(communes: pd.DataFrame, code: str) -> str:
    """« Creuse (23) », or « département 23 » when the reference has no name for it."""
    names = communes.loc[communes["departement"] == code, "departement_name"].dropna()
    return f"{names.iloc[0]} ({code})" if len(names) else f"département {code}"
