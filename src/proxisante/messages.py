"""The French a user reads when something is refused, in one home: the reasons a row is quarantined for
(pivot, FHIR and OMOP loads), the French of the reasons that older versions stored in English, and
pydantic's validation errors in French (the web pages, the API and the command line all validate with
pydantic, whose own messages are English).

Reasons are stored as free text in ``etl_quarantine.reason`` (they carry values: a field, a date, a
line), so a warehouse loaded by an older version holds English reasons. They are not rewritten in place
(the quarantine is a record of what a load said): :func:`french_reason` translates them when they are
shown, by pattern. A reason already in French passes through unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# Every reason a pivot row is quarantined for (``{...}``: filled by the check).
REASONS = {
    "missing": "champ obligatoire vide",
    "control": "caractère de contrôle (octet nul, retour chariot, tabulation…) dans le champ",
    "too_long": "champ de plus de {limit} caractères",
    "date": "date invalide (jj/mm/aaaa ou aaaa-mm-jj attendu)",
    "too_early": "date invraisemblable (avant le {date})",
    "future": "date dans le futur (après le {date})",
    "number": "pas un nombre",
    "non_finite": "nombre non fini (NaN ou infini)",
    "min": "sous le minimum plausible {limit}",
    "min_exclusive": "doit être supérieur à {limit}",
    "max": "au-dessus du maximum plausible {limit}",
    "key_length": "identifiant de plus de {limit} caractères",
    # The line number follows: the status page and the FHIR loader read it (see DUPLICATE_LINE).
    "duplicate": "{field} en double (première occurrence ligne ",
    "reference": "{field} inconnu (ni dans ce lot ni dans l'entrepôt)",
    "one_of": "l'un de {fields} est requis",
    "end_order": "end_date avant start_date",
    "death_order": "décès avant la naissance",
    "before_birth": "date antérieure à la naissance du patient",
    "after_death": "date postérieure au décès du patient",
}

# Reasons of the FHIR loader beyond the pivot's checks.
FHIR_REASONS = {
    "practitioner": (
        "référence de praticien non résolue (aucun Practitioner avec un RPPS dans ce lot, aucun RPPS de cet "
        "identifiant dans l'entrepôt)"
    ),
    "left_out": "ressource écartée par la vue {view}",
}

# The reason of each code system's check (pivot columns of that kind), by kind.
CODE_REASONS = {
    "nir": "NIR/INS invalide (15 caractères avec une clé valide attendus)",
    "rpps": "numéro RPPS invalide (11 chiffres avec une clé de Luhn valide attendus)",
    "finess": "numéro FINESS invalide (9 caractères attendus)",
    "cim10": "code CIM-10 invalide (par exemple E11.9)",
    "atc": "code ATC invalide (par exemple A10BA02)",
    "cip13": "code CIP13 invalide (13 chiffres commençant par 3400 avec une clé valide attendus)",
    "nabm": "code NABM invalide (4 chiffres attendus)",
    "loinc": "code LOINC invalide (par exemple 4548-4)",
    "ccam": "code CCAM invalide (4 lettres et 3 chiffres attendus)",
    "ngap": "code NGAP inconnu",
    "act": "code d'acte inconnu (une lettre-clé NGAP ou un code CCAM attendu)",
    "sex": "code de sexe inconnu (M/F/I)",
    "profession": "code de profession inconnu",
    "coverage_type": "type de couverture inconnu",
    "payer": "payeur inconnu",
    "structure_type": "type de structure inconnu",
    "postcode": "code postal invalide (5 chiffres)",
    "commune": "code commune INSEE invalide (5 caractères)",
}

# Reasons of the OMOP CDM loader (``bad_*``: a value that does not parse as its column's kind).
OMOP_REASONS = {
    "missing": "valeur obligatoire absente",
    "bad_integer": "pas un entier",
    "bad_numeric": "pas un nombre",
    "bad_date": "pas une date (AAAA-MM-JJ)",
    "bad_timestamp": "pas une date-heure (AAAA-MM-JJ HH:MM:SS)",
    "int32": "entier hors limites (32 bits)",
    "duplicate": "{field} en double (déjà sur une ligne précédente)",
    "unknown_person": "personne inconnue (aucune ligne de person n'a ce person_id)",
}

# Reasons stored in English by versions before 2026-12-05, with their French (a regular expression over
# the whole reason; ``\1``… keep the values it carries). Dates stay as they were stored (ISO).
_LEGACY: tuple[tuple[str, str], ...] = (
    (r"missing required field", REASONS["missing"]),
    (r"missing required value", OMOP_REASONS["missing"]),
    (r"invalid date \(dd/mm/yyyy or yyyy-mm-dd expected\)", REASONS["date"]),
    (r"date in the future \(after (.+)\)", r"date dans le futur (après le \1)"),
    (r"implausible date \(before (.+)\)", r"date invraisemblable (avant le \1)"),
    (r"not a number", REASONS["number"]),
    (r"not an integer", OMOP_REASONS["bad_integer"]),
    (r"not a date \(YYYY-MM-DD\)", OMOP_REASONS["bad_date"]),
    (r"not a date-time \(YYYY-MM-DD HH:MM:SS\)", OMOP_REASONS["bad_timestamp"]),
    (r"identifier longer than (\d+) characters", r"identifiant de plus de \1 caractères"),
    (r"below the plausible minimum (.+)", r"sous le minimum plausible \1"),
    (r"must be greater than (.+)", r"doit être supérieur à \1"),
    (r"above the plausible maximum (.+)", r"au-dessus du maximum plausible \1"),
    (r"duplicate (\S+) \(first seen at line (\d+)\)", r"\1 en double (première occurrence ligne \2)"),
    (r"duplicate (\S+) \(first seen at (.+)\)", r"\1 en double (première occurrence \2)"),
    (r"duplicate (\S+) \(an earlier line has it\)", r"\1 en double (déjà sur une ligne précédente)"),
    (r"duplicate (\S+)", r"\1 en double"),  # its first line dropped to count duplicates as one reason
    (r"unknown (\S+) \(in neither this batch nor the warehouse\)", r"\1 inconnu (ni dans ce lot ni dans l'entrepôt)"),
    (
        r"unknown person \(no row of person has this person_id\)",
        "personne inconnue (aucune ligne de person n'a ce person_id)",
    ),
    (r"one of (.+) is required", r"l'un de \1 est requis"),
    (r"end_date before start_date", REASONS["end_order"]),
    (r"death before birth", REASONS["death_order"]),
    (r"date before the patient's birth", REASONS["before_birth"]),
    (r"date after the patient's death", REASONS["after_death"]),
    (r"an ALD needs its CIM-10 code", "une ALD exige son code CIM-10"),
    (r"malformed line: (\d+) field\(s\), (\d+) expected", r"ligne mal formée : \1 champ(s), \2 attendu(s)"),
    (r"invalid NIR/INS \(15 characters with a valid key expected\)", CODE_REASONS["nir"]),
    (r"invalid RPPS number \(11 digits with a valid Luhn key expected\)", CODE_REASONS["rpps"]),
    (r"invalid FINESS number \(9 characters expected\)", CODE_REASONS["finess"]),
    (r"invalid CIM-10 code \(e\.g\. E11\.9 expected\)", CODE_REASONS["cim10"]),
    (r"invalid ATC code \(e\.g\. A10BA02 expected\)", CODE_REASONS["atc"]),
    (r"invalid CIP13 code \(13 digits starting 3400 with a valid key expected\)", CODE_REASONS["cip13"]),
    (r"invalid NABM code \(4 digits expected\)", CODE_REASONS["nabm"]),
    (r"invalid LOINC code \(e\.g\. 4548-4 expected\)", CODE_REASONS["loinc"]),
    (r"invalid CCAM code \(4 letters and 3 digits expected\)", CODE_REASONS["ccam"]),
    (r"unknown NGAP code", CODE_REASONS["ngap"]),
    (r"unknown act code \(an NGAP key or a CCAM code expected\)", CODE_REASONS["act"]),
    (r"unknown sex code \(M/F/I\)", CODE_REASONS["sex"]),
    (r"unknown profession code", CODE_REASONS["profession"]),
    (r"unknown coverage type", CODE_REASONS["coverage_type"]),
    (r"unknown payer", CODE_REASONS["payer"]),
    (r"unknown structure type", CODE_REASONS["structure_type"]),
    (r"invalid postcode \(5 digits\)", CODE_REASONS["postcode"]),
    (r"invalid INSEE commune code \(5 characters\)", CODE_REASONS["commune"]),
    (r"invalid JSON", "JSON invalide"),
    (r"not a FHIR resource \(no resourceType\)", "pas une ressource FHIR (resourceType absent)"),
    (r"unsupported resource type (.+)", r"type de ressource non pris en charge : \1"),
    (r"status (\S+) \(recorded in error\)", r"statut \1 (saisie erronée)"),
    (r"missing subject \(no reference to a Patient\)", "sujet absent (aucune référence à un Patient)"),
    (r"code system not accepted here \((.+); expected (.+)\)", r"système de codes non accepté ici (\1 ; attendu : \2)"),
    (r"unknown code system", "système de codes inconnu"),
    (r"resource left out by view (.+)", r"ressource écartée par la vue \1"),
    (
        r"practitioner reference not resolved \(no Practitioner with an RPPS in this batch, no RPPS of that id in "
        r"the warehouse\)",
        FHIR_REASONS["practitioner"],
    ),
)
_LEGACY_COMPILED = tuple((re.compile(pattern), french) for pattern, french in _LEGACY)


def french_reason(reason: str | None) -> str:
    """A stored quarantine reason in French: an English one of an older version translated, any other as
    it is (every reason written since 2026-12-05 is French already)."""
    if not reason:
        return ""
    for pattern, french in _LEGACY_COMPILED:
        match = pattern.fullmatch(reason)
        if match:
            return match.expand(french) if "\\" in french else french
    return reason


# How sure a parameter's value is (``confidence`` of the parameter files), in words a manager reads.
CONFIDENCE = {"C": "confirmé", "P": "partiellement confirmé", "U": "non confirmé"}


# pydantic's error types in French (``{...}``: the error's context), for the types this project can meet.
_PYDANTIC: dict[str, str] = {
    "missing": "obligatoire",
    "extra_forbidden": "champ inconnu",
    "int_parsing": "nombre entier attendu",
    "int_type": "nombre entier attendu",
    "int_from_float": "nombre entier attendu (sans décimales)",
    "float_parsing": "nombre attendu",
    "float_type": "nombre attendu",
    "decimal_parsing": "nombre attendu",
    "finite_number": "nombre fini attendu",
    "bool_parsing": "oui ou non attendu (true/false)",
    "bool_type": "oui ou non attendu (true/false)",
    "string_type": "texte attendu",
    "list_type": "liste attendue",
    "dict_type": "objet attendu",
    "model_type": "objet attendu",
    "model_attributes_type": "objet attendu",
    "date_parsing": "date attendue au format AAAA-MM-JJ",
    "date_from_datetime_parsing": "date attendue au format AAAA-MM-JJ",
    "date_from_datetime_inexact": "date sans heure attendue (AAAA-MM-JJ)",
    "date_type": "date attendue au format AAAA-MM-JJ",
    "datetime_parsing": "date et heure attendues (AAAA-MM-JJTHH:MM)",
    "datetime_from_date_parsing": "date et heure attendues (AAAA-MM-JJTHH:MM)",
    "datetime_type": "date et heure attendues (AAAA-MM-JJTHH:MM)",
    "json_invalid": "JSON invalide",
    "string_pattern_mismatch": "format attendu : {pattern}",
    "string_too_short": "au moins {min_length} caractère(s)",
    "string_too_long": "au plus {max_length} caractère(s)",
    "too_short": "au moins {min_length} élément(s)",
    "too_long": "au plus {max_length} élément(s)",
    "greater_than": "doit être supérieur à {gt}",
    "greater_than_equal": "doit être supérieur ou égal à {ge}",
    "less_than": "doit être inférieur à {lt}",
    "less_than_equal": "doit être inférieur ou égal à {le}",
    "literal_error": "valeur attendue : {expected}",
    "enum": "valeur attendue : {expected}",
    "uuid_parsing": "identifiant UUID attendu",
    "url_parsing": "adresse URL attendue",
    "path_type": "chemin de fichier attendu",
}
# The patterns of the web's parameters, in words (a regular expression is not for a user to read).
PATTERN_WORDS = {
    r"^\d{4}-\d{2}$": "un mois AAAA-MM (par exemple 2025-06)",
    r"^[0-9]{11}$": "11 chiffres (un RPPS)",
    r"^\d{9}$": "9 chiffres (un SIREN)",
    r"^[0-9][0-9AB][0-9]{3}$": "un code commune INSEE de 5 caractères",
    r"^(csv|xlsx)$": "csv ou xlsx",
}
# Where FastAPI found the value: the first part of an error's location.
_PLACES = {"query": "paramètre", "path": "paramètre", "header": "en-tête", "cookie": "cookie", "form": "champ"}


def _context(ctx: Mapping[str, Any]) -> dict[str, str]:
    """An error's context as French text (pydantic's "'a', 'b' or 'c'" lists join with "ou")."""
    return {key: str(value).replace(" or ", " ou ") for key, value in ctx.items()}


def french_validation_message(error: Mapping[str, Any]) -> str:
    """One pydantic error's message in French, without its location. A ``ValueError`` raised by the
    project's own validators is French already: its text is kept (pydantic's "Value error, " dropped)."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind in ("value_error", "assertion_error"):
        cause = ctx.get("error")
        return str(cause) if cause is not None else str(error.get("msg", "")).split(", ", 1)[-1]
    pattern = str(ctx.get("pattern", ""))
    if kind == "string_pattern_mismatch" and pattern in PATTERN_WORDS:
        return f"format attendu : {PATTERN_WORDS[pattern]}"
    choices = re.fullmatch(r"\^\(([\w|-]+)\)\??\$", pattern)
    if kind == "string_pattern_mismatch" and choices:
        return "valeur attendue : " + " ou ".join(c for c in choices.group(1).split("|"))
    template = _PYDANTIC.get(kind)
    if template is None:
        return f"valeur invalide ({kind})" if kind else "valeur invalide"
    try:
        return template.format(**_context(ctx))
    except (KeyError, IndexError):
        return template.split(" : ")[0].split(" {")[0]


def french_location(location: Sequence[Any]) -> str:
    """Where the error is, named for a user: ``paramètre limit``, ``champ approval.body``, ``tables[2]``."""
    parts = [str(p) for p in location]
    place = ""
    if len(parts) > 1 and parts[0] in _PLACES:  # FastAPI's place of a request's value; alone, a field's name
        place, parts = _PLACES[parts[0]], parts[1:]
    elif len(parts) > 1 and parts[0] == "body":
        place, parts = "champ", parts[1:]
    name = ""
    for part in parts:
        name += f"[{part}]" if part.isdigit() else (f".{part}" if name else part)
    return f"{place} {name}".strip() if name else place


def french_validation_errors(errors: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """Each pydantic error as (where, what), in French."""
    return [(french_location(e.get("loc", ())), french_validation_message(e)) for e in errors]


def french_validation_text(errors: Iterable[Mapping[str, Any]]) -> str:
    """pydantic errors as one French sentence: ``paramètre limit : nombre entier attendu ; …``."""
    return " ; ".join(f"{where} : {what}" if where else what for where, what in french_validation_errors(errors))
