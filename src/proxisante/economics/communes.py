"""Commune data the user gives: poverty rates (PEPS supplement) and the ZIP communes (FMT +10 %).

Neither is shipped: the poverty rate per commune comes from INSEE (Filosofi) and the ZIP list from
the regional zoning of the ARS, both change and both are the user's to choose. Two CSV files, ``;``
or ``,`` separated, UTF-8, with a header row:

- poverty: ``commune;taux_pauvrete`` — the INSEE code and the share of inhabitants under the poverty
  line, as a share (0.183) or a percentage (18,3 or 18.3 %);
- ZIP: ``commune`` — one INSEE code per row (other columns, such as the name, are ignored).

A bad row is refused with the file, the row and the field named. :func:`with_poverty_rates` and
:func:`with_zip_communes` return a copy of the profile with the rates put on its ``communes`` and the
ZIP flag put on its ``gp_sites``, and a note for the communes the file does not cover; the payment model
then computes the shares (the poverty threshold is a parameter, drawn in the Monte Carlo).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from proxisante.economics.profile import Profile, ProfileError

COMMUNE = re.compile(r"^(\d[0-9AB]\d{3})$")


def _rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ProfileError(f"{path}: cannot read the file ({error})") from error
    first = text.splitlines()[0] if text.strip() else ""
    reader = csv.DictReader(io.StringIO(text), delimiter=";" if first.count(";") >= first.count(",") else ",")
    header = [h.strip().lower() for h in reader.fieldnames or []]
    reader.fieldnames = header
    rows = [(n, {k: (v or "").strip() for k, v in row.items() if k}) for n, row in enumerate(reader, start=2)]
    return header, [(n, r) for n, r in rows if any(r.values())]


def _commune(path: Path, number: int, value: str) -> str:
    code = value.zfill(5) if value.isdigit() else value.upper()
    if not COMMUNE.match(code):
        raise ProfileError(f"{path}: row {number}, field commune: {value!r} is not an INSEE commune code")
    return code


def load_poverty_rates(path: Path) -> dict[str, float]:
    """Commune → poverty rate (0 to 1) from a ``commune;taux_pauvrete`` CSV."""
    header, rows = _rows(path)
    for column in ("commune", "taux_pauvrete"):
        if column not in header:
            raise ProfileError(f"{path}: column {column} missing (expected commune;taux_pauvrete)")
    rates: dict[str, float] = {}
    for number, row in rows:
        code = _commune(path, number, row["commune"])
        text = row["taux_pauvrete"].replace("%", "").replace(",", ".").strip()
        try:
            value = float(text)
        except ValueError:
            raise ProfileError(
                f"{path}: row {number}, field taux_pauvrete: {row['taux_pauvrete']!r} is not a number"
            ) from None
        percent = "%" in row["taux_pauvrete"] or value > 1
        value = value / 100 if percent else value
        if not 0 <= value <= 1:
            raise ProfileError(f"{path}: row {number}, field taux_pauvrete: {row['taux_pauvrete']!r} outside 0-100 %")
        if code in rates:
            raise ProfileError(f"{path}: row {number}, field commune: {code} given twice")
        rates[code] = value
    return rates


def load_zip_communes(path: Path) -> set[str]:
    """The INSEE codes of the ZIP communes from a CSV with a ``commune`` column."""
    header, rows = _rows(path)
    if "commune" not in header:
        raise ProfileError(f"{path}: column commune missing")
    return {_commune(path, number, row["commune"]) for number, row in rows}


def with_poverty_rates(profile: Profile, rates: dict[str, float], origin: str = "fichier") -> Profile:
    """The profile with each commune's poverty rate; a note counts the patients of communes not covered."""
    if not profile.communes:
        raise ProfileError("the profile has no communes: the poverty rates cannot be weighted by the patients")
    communes = [c.model_copy(update={"poverty_rate": rates.get(c.commune)}) for c in profile.communes]
    missing = profile.patients - sum(c.patients for c in communes if c.poverty_rate is not None)
    notes = list(profile.notes)
    if missing:
        notes.append(
            f"taux de pauvreté ({origin}) : {missing} patients MT dans des communes absentes du fichier "
            "(ou de commune inconnue), comptés hors communes pauvres"
        )
    return profile.model_copy(update={"communes": communes, "notes": notes, "poverty_source": origin})


def with_zip_communes(profile: Profile, zips: set[str], origin: str = "fichier") -> Profile:
    """The profile with each GP site flagged when its commune is a ZIP."""
    if not profile.gp_sites:
        raise ProfileError("the profile has no gp_sites: the ZIP communes cannot be matched to the GPs")
    sites = [s.model_copy(update={"zip": s.commune in zips}) for s in profile.gp_sites]
    notes = list(profile.notes)
    unknown = [s.commune for s in sites if not COMMUNE.match(s.commune)]
    if unknown:
        notes.append(
            f"zones ZIP ({origin}) : commune d'exercice inconnue pour "
            f"{sum(s.fte for s in sites if s.commune in unknown):g} ETP de généraliste"
        )
    return profile.model_copy(update={"gp_sites": sites, "notes": notes})
