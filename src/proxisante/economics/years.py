"""The years of a simulation as the user writes them, on the command line and in the web form alike:
``2025``, ``2024-2027`` (a range) or ``2024,2026`` (a list). One parser, so that the page accepts what the
command accepts; its refusals are French (a manager reads them beside the field)."""

from __future__ import annotations

from proxisante.economics.profile import ProfileError

EXPECTED = "attendu 2025, 2024-2027 ou 2024,2026"
FIRST, LAST = 2020, 2040  # the years the dated parameters of the catalogue cover
MAX_YEARS = 10


class YearsError(ProfileError):
    """Years the simulation cannot take (French)."""


def parse_years(text: str | None) -> list[int]:
    """The years written in ``text`` (empty: none, i.e. the profile's year), sorted, each once."""
    cleaned = (text or "").replace(" ", "").replace("–", "-")
    if not cleaned:
        return []
    try:
        if "-" in cleaned and "," not in cleaned:
            first, last = (int(part) for part in cleaned.split("-", 1))
            years = list(range(first, last + 1))
            if last < first:
                raise YearsError(f"années « {text} » : la fin précède le début ; {EXPECTED}")
        else:
            years = [int(part) for part in cleaned.split(",") if part]
    except YearsError:
        raise
    except ValueError:
        raise YearsError(f"années « {text} » : {EXPECTED}") from None
    outside = [y for y in years if not FIRST <= y <= LAST]
    if outside:
        raise YearsError(f"années « {text} » : de {FIRST} à {LAST} seulement")
    if len(set(years)) > MAX_YEARS:
        raise YearsError(f"années « {text} » : {MAX_YEARS} années au plus")
    return sorted(set(years))
