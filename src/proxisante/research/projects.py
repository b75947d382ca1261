"""Research projects: declared once from a YAML file, kept under the data home, listed, extracted.

A project says who may receive what: the requested OMOP tables and period, the approval that allows
it (CNIL decision, CESREES opinion, ethics committee), the k of its k-anonymity and whether dates
are shifted. Declaring the same file again is a no-op; changing a declared project needs
``replace=True``, and both are written to the research log.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from proxisante.definitions import ParameterFile
from proxisante.ingest.files import os_error_words
from proxisante.messages import french_validation_text
from proxisante.omop.cdm import VOCABULARY_TABLES
from proxisante.research.export import warehouse_cdm_tables

PARAMETERS = ParameterFile(__package__)
QuasiIdentifier = Literal["age_band", "sex", "commune"]
QUASI_IDENTIFIERS: tuple[QuasiIdentifier, ...] = ("age_band", "sex", "commune")
# A project id names a file under the data home: lower-case letters, digits, - and _, never a path.
PROJECT_ID = r"^[a-z0-9][a-z0-9_-]{1,63}$"


class ProjectError(ValueError):
    """A project file that cannot be declared, or a project that does not exist."""


class Period(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.start > self.end:
            raise ValueError("le début est après la fin")
        return self


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    body: Literal["CNIL", "CESREES", "comité"] = Field(description="who approved")
    reference: str = Field(min_length=3, description="decision, opinion or deliberation number")
    date: dt.date | None = None


class Project(BaseModel):
    """One research project, as declared."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=PROJECT_ID)
    title: str = Field(min_length=3)
    purpose: str = Field(min_length=10)
    tables: list[str] = Field(min_length=1)
    period: Period
    approval: Approval
    k: int = Field(default_factory=lambda: int(PARAMETERS.value("k_anonymity")), ge=2)
    date_shift: bool = False
    quasi_identifiers: list[QuasiIdentifier] = Field(default_factory=lambda: list(QUASI_IDENTIFIERS))
    format: Literal["csv", "parquet"] = "csv"
    vocabulary: bool = True

    @field_validator("tables")
    @classmethod
    def _known_tables(cls, tables: list[str]) -> list[str]:
        held = {t.name for t in warehouse_cdm_tables()} - VOCABULARY_TABLES
        unknown = sorted(set(tables) - held)
        if unknown:
            raise ValueError(f"table(s) inconnue(s) {', '.join(unknown)} ; connues : {', '.join(sorted(held))}")
        return tables

    @field_validator("quasi_identifiers")
    @classmethod
    def _age_and_sex(cls, values: list[str]) -> list[str]:
        if not {"age_band", "sex"} <= set(values):
            raise ValueError("age_band et sex sont toujours diffusés (généralisés) : listez-les")
        return values


def research_home(home: Path) -> Path:
    path = home / "research"
    (path / "projects").mkdir(parents=True, exist_ok=True)
    return path


def read_project_file(path: Path) -> Project:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ProjectError(f"{path} : lecture impossible ({os_error_words(error)})") from error
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (ligne {mark.line + 1})" if mark is not None else ""
        raise ProjectError(f"{path.name} : YAML illisible{where}") from error
    try:
        return Project.model_validate(data)
    except ValidationError as error:
        raise ProjectError(f"{path.name} : {french_validation_text(error.errors())}") from error


def declare(home: Path, path: Path, by: str, replace: bool = False) -> tuple[Project, str]:
    """Store a project; returns it and what happened: ``declared``, ``unchanged`` or ``replaced``."""
    project = read_project_file(path)
    target = research_home(home) / "projects" / f"{project.id}.yaml"
    text = yaml.safe_dump(project.model_dump(mode="json"), allow_unicode=True, sort_keys=False)
    state = "declared"
    if target.exists():
        if target.read_text(encoding="utf-8") == text:
            return project, "unchanged"
        if not replace:
            raise ProjectError(f"le projet {project.id} est déjà déclaré avec un autre contenu (--replace)")
        state = "replaced"
    target.write_text(text, encoding="utf-8")
    append_log(
        home,
        {
            "event": f"project {state}",
            "by": by,
            "project": project.id,
            "approval": project.approval.model_dump(mode="json"),
        },
    )
    return project, state


def projects(home: Path) -> list[Project]:
    folder = research_home(home) / "projects"
    return [read_project_file(p) for p in sorted(folder.glob("*.yaml"))]


def check_project_id(project_id: str) -> str:
    """``project_id`` if it is a valid id (see ``PROJECT_ID``); a French error otherwise (never used as a path)."""
    if not isinstance(project_id, str) or re.fullmatch(PROJECT_ID, project_id) is None:
        raise ProjectError(
            f"identifiant de projet invalide : {project_id!r} (2 à 64 caractères : lettres minuscules, chiffres, "
            "- et _, en commençant par une lettre ou un chiffre)"
        )
    return project_id


def project(home: Path, project_id: str) -> Project:
    """The declared project ``project_id``: only a valid id is looked up, and the file must declare that id."""
    path = research_home(home) / "projects" / f"{check_project_id(project_id)}.yaml"
    if not path.is_file():
        raise ProjectError(f"projet inconnu : {project_id} (déclarer d'abord : proxisante research declare FICHIER)")
    spec = read_project_file(path)
    if spec.id != project_id:
        raise ProjectError(f"le fichier du projet {project_id} déclare un autre projet ({spec.id}) : extrait refusé")
    return spec


def log_path(home: Path) -> Path:
    return research_home(home) / "extracts.jsonl"


def append_log(home: Path, entry: dict[str, Any]) -> None:
    """Append one JSON line (who, when, what): the file is only ever opened for appending."""
    if not str(entry.get("by", "")).strip():
        raise ProjectError("qui fait l'extraction ? (--by)")
    line = {"at": datetime.now(UTC).isoformat(timespec="seconds"), **entry}
    with log_path(home).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")


def read_log(home: Path) -> list[dict[str, Any]]:
    path = log_path(home)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
