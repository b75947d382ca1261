"""The yearly costs of a centre, from a YAML, CSV or XLSX file: salaries by profession, premises, IT,
coordination and other costs.

A salary line gives the gross salary per FTE and the employer charge rate; its FTE comes from the
profile's staff unless the line gives one (support staff, who are not in the warehouse). A profile
profession without a salary line is refused: its cost would silently be zero.

The same reader serves the command line (``--costs FILE``) and the web page (an uploaded file, or the
costs entered in its form), so that a file the one accepts the other accepts too. A structure's costs
entered on the web are kept under the data home, one file per scope (:func:`stored_path`), because the
costs are the structure's, not an account's: every manager of the structure sees the same figures.
Every message is French: a manager reads it beside the field at fault.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from proxisante.economics.profile import Profile, ProfileError

EXAMPLE = resources.files(__package__) / "examples" / "costs_example.yaml"
OTHER_ITEMS = ("premises", "it", "coordination", "other")
ITEM_LABELS = {
    "salaries": "Salaires et charges",
    "premises": "Locaux",
    "it": "Informatique",
    "coordination": "Coordination",
    "other": "Autres charges",
}
CSV_COLUMNS = ("item", "profession", "label", "fte", "gross_per_fte", "employer_charge_rate", "amount")
SUFFIXES = (".yaml", ".yml", ".csv", ".xlsx")
# The French name of each field, for the messages.
FIELD_LABELS = {
    "label": "libellé",
    "example": "exemple",
    "salaries": "salaires",
    "profession": "profession",
    "gross_per_fte": "salaire brut par ETP",
    "employer_charge_rate": "taux de charges patronales",
    "fte": "ETP",
    **{item: ITEM_LABELS[item].lower() for item in OTHER_ITEMS},
}


class CostsError(ProfileError):
    """A cost file or form that cannot be used; the message (French) names the field or line at fault."""


class SalaryLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profession: str = Field(min_length=1)
    label: str | None = None
    gross_per_fte: float = Field(ge=0)
    employer_charge_rate: float = Field(ge=0, le=1.5)
    fte: float | None = Field(default=None, ge=0)


class Costs(BaseModel):
    """A cost file: amounts in euros per year (the profile's year; later years grow by ``modelling.cost_growth``)."""

    model_config = ConfigDict(extra="forbid")

    label: str = "Charges"
    example: bool = False
    salaries: list[SalaryLine] = Field(min_length=1)
    premises: float = Field(default=0.0, ge=0)
    it: float = Field(default=0.0, ge=0)
    coordination: float = Field(default=0.0, ge=0)
    other: float = Field(default=0.0, ge=0)

    def salary_lines(self, profile: Profile) -> list[tuple[SalaryLine, float, float]]:
        """(line, FTE, gross salaries) for every salaried profession; refuses a profession of the
        profile's staff that has no salary line."""
        by_profession = {line.profession: line for line in self.salaries}
        missing = sorted({s.profession for s in profile.staff if s.fte > 0} - set(by_profession))
        if missing:
            raise CostsError(
                f"charges : champ salaries : aucune ligne de salaire pour la profession {', '.join(missing)} "
                "du personnel du profil (ajoutez-la : son coût serait nul)"
            )
        found = []
        for line in self.salaries:
            fte = line.fte if line.fte is not None else profile.fte(line.profession)
            found.append((line, fte, fte * line.gross_per_fte))
        return found

    def by_item(self, profile: Profile) -> dict[str, float]:
        salaries = sum(gross * (1 + line.employer_charge_rate) for line, _, gross in self.salary_lines(profile))
        return {"salaries": salaries, **{item: float(getattr(self, item)) for item in OTHER_ITEMS}}


def parse_costs(data: object, origin: object = "charges") -> Costs:
    """Costs from plain data (a YAML mapping, a CSV or a form), refused in French field by field."""
    try:
        return Costs.model_validate(data)
    except ValidationError as error:
        raise CostsError(french_errors(origin, error)) from error


def french_errors(origin: object, error: ValidationError) -> str:
    """Pydantic's errors in French, one per field, each with the field's path and French name."""
    parts = []
    for item in error.errors():
        path = ".".join(str(p) for p in item["loc"]) or "(fichier)"
        name = FIELD_LABELS.get(str(item["loc"][-1]), "") if item["loc"] else ""
        parts.append(f"champ {path}{f' ({name})' if name else ''} : {_french_message(item)}")
    return f"{origin} : " + " ; ".join(parts)


def _french_message(item: Any) -> str:
    kind, context = item["type"], item.get("ctx") or {}
    messages = {
        "missing": "obligatoire",
        "extra_forbidden": "champ inconnu",
        "greater_than_equal": f"doit être supérieur ou égal à {context.get('ge')}",
        "less_than_equal": f"doit être inférieur ou égal à {context.get('le')}",
        "float_parsing": "nombre attendu",
        "float_type": "nombre attendu",
        "finite_number": "nombre fini attendu",
        "string_type": "texte attendu",
        "string_too_short": "ne peut pas être vide",
        "too_short": "au moins une ligne attendue",
        "list_type": "liste de lignes attendue",
        "bool_parsing": "oui ou non attendu",
        "bool_type": "oui ou non attendu",
        "model_type": "tableau de champs attendu",
        "dict_type": "tableau de champs attendu",
    }
    return messages.get(kind, f"valeur refusée ({kind})")


def load_costs(path: Path | None = None) -> Costs:
    """A cost file (YAML; CSV or XLSX with the columns of :data:`CSV_COLUMNS`); the shipped EXAMPLE when
    ``path`` is None. A missing or unreadable file is a :class:`CostsError` (French), not an ``OSError``."""
    if path is None:
        return parse_costs(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")), "charges d'exemple")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise CostsError(f"{path} : format « {suffix or 'sans extension'} » ; attendu .yaml, .csv ou .xlsx")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CostsError(f"{path} : fichier introuvable") from None
    except IsADirectoryError:
        raise CostsError(f"{path} : c'est un dossier, pas un fichier de charges") from None
    except OSError as error:
        raise CostsError(f"{path} : fichier illisible ({error.strerror or error})") from error
    return read_costs(data, path.name, origin=path)


def read_costs(data: bytes, name: str, origin: object | None = None) -> Costs:
    """Costs from the bytes of a file called ``name`` (its suffix says the format): an upload or a file."""
    suffix = Path(name).suffix.lower()
    where = origin if origin is not None else name
    if suffix == ".csv":
        return parse_costs(_from_rows(_csv_rows(data, where), Path(name).stem, where), where)
    if suffix == ".xlsx":
        return parse_costs(_from_rows(_xlsx_rows(data, where), Path(name).stem, where), where)
    if suffix in (".yaml", ".yml"):
        return parse_costs(_yaml_mapping(data, where), where)
    raise CostsError(f"{where} : format « {suffix or 'sans extension'} » ; attendu .yaml, .csv ou .xlsx")


def _text(data: bytes, where: object) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CostsError(f"{where} : le fichier n'est pas un texte UTF-8") from None


def _yaml_mapping(data: bytes, where: object) -> dict:
    try:
        found = yaml.safe_load(_text(data, where))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" (ligne {mark.line + 1})" if mark is not None else ""
        raise CostsError(f"{where} : YAML illisible{line}") from error
    if not isinstance(found, dict):
        raise CostsError(f"{where} : un tableau de champs (salaries, premises…) est attendu")
    return found


def _csv_rows(data: bytes, where: object) -> list[tuple[int, dict[str, str]]]:
    text = _text(data, where)
    sample = text[:2048]
    reader = csv.DictReader(io.StringIO(text), delimiter=";" if sample.count(";") > sample.count(",") else ",")
    return [(number, {k.strip(): (v or "") for k, v in row.items() if k}) for number, row in enumerate(reader, 2)]


def _xlsx_rows(data: bytes, where: object) -> list[tuple[int, dict[str, str]]]:
    """The first sheet of a workbook, read as the CSV is: a header row then one row per item."""
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (BadZipFile, OSError, KeyError, ValueError) as error:
        raise CostsError(f"{where} : classeur Excel illisible") from error
    try:
        rows = list(book.worksheets[0].iter_rows(values_only=True))
    finally:
        book.close()
    if not rows:
        return []
    header = [str(cell).strip() if cell is not None else "" for cell in rows[0]]
    found = []
    for number, row in enumerate(rows[1:], start=2):
        if all(cell is None or str(cell).strip() == "" for cell in row):
            continue
        found.append((number, {h: "" if c is None else str(c) for h, c in zip(header, row, strict=False) if h}))
    return found


def _from_rows(rows: Iterable[tuple[int, dict[str, str]]], label: str, where: object) -> dict:
    """The costs mapping from table rows (CSV or XLSX): ``item`` is salary, premises, it, coordination or
    other; a decimal comma is read as a point."""
    data: dict = {"label": label, "salaries": []}
    for number, row in rows:
        values = {k: re.sub(r"\s", "", v).replace(",", ".") for k, v in row.items() if k != "label"}
        item = (row.get("item") or "").strip()
        if item == "salary":
            line: dict = {
                k: values[k] for k in ("profession", "gross_per_fte", "employer_charge_rate") if values.get(k)
            }
            if values.get("fte"):
                line["fte"] = values["fte"]
            if (row.get("label") or "").strip():
                line["label"] = row["label"].strip()
            data["salaries"].append(line)
        elif item in OTHER_ITEMS:
            data[item] = values.get("amount") or 0
        else:
            raise CostsError(
                f"{where} ligne {number} : champ item : « {item} » ; attendu salary, {', '.join(OTHER_ITEMS)}"
            )
    return data


# -- writing: the web's stored costs and the CSV template ---------------------------------------------------


def costs_csv(costs: Costs) -> str:
    """The costs as the CSV the reader takes (``;``-separated): a template to fill in, or a copy."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in costs.salaries:
        fte = "" if line.fte is None else _plain(line.fte)
        writer.writerow(
            ["salary", line.profession, line.label or "", fte, _plain(line.gross_per_fte),
             _plain(line.employer_charge_rate), ""]
        )  # fmt: skip
    for item in OTHER_ITEMS:
        writer.writerow([item, "", "", "", "", "", _plain(getattr(costs, item))])
    return out.getvalue()


def _plain(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.0f}"


def costs_yaml(costs: Costs) -> str:
    return yaml.safe_dump(costs.model_dump(exclude_none=True), allow_unicode=True, sort_keys=False)


def stored_path(home: Path, key: str) -> Path:
    """Where the costs of a scope (``key``: a FINESS, a CPTS, ``reseau``) entered on the web are kept."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", key)[:80] or "reseau"
    return home / "economics" / "charges" / f"{safe}.yaml"


def stored_costs(home: Path, key: str) -> Costs | None:
    """The costs kept for ``key``, or None when none were entered."""
    path = stored_path(home, key)
    return load_costs(path) if path.exists() else None


def store_costs(home: Path, key: str, costs: Costs) -> Path:
    """Keep ``costs`` for ``key`` (owner-only, replaced whole). The example is never kept as real costs."""
    from proxisante.identity.keys import write_whole

    if costs.example:
        raise CostsError("charges : ce sont les charges d'EXEMPLE ; donnez celles de la structure")
    path = stored_path(home, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_whole(path, costs_yaml(costs))
    return path


def forget_costs(home: Path, key: str) -> bool:
    """Remove the kept costs of ``key`` (back to the example); whether there were any."""
    path = stored_path(home, key)
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed
