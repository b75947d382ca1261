"""The registry of the network's member structures: one YAML file, written by ``proxisante structures``
and editable by hand (``docs/network.md``).

A structure (CDS, MSP, ESP, CPTS) is data: its FINESS juridique (9 characters, check key verified),
its FINESS géographiques, name, type, commune, CPTS, dates of joining (``adhesion``) and leaving
(``depart``) and the reference of its data-sharing agreement. A structure that leaves stays in the file
with its ``depart`` date: the file is the network's history, and :meth:`StructureRegistry.active` says
whether a structure may load on a given day.

Writes replace the file whole (temporary file, then rename), owner-only, under a lock file; each change
(and each purge of a structure's data, :mod:`proxisante.network.purge`) is appended to a journal beside
the file (``structures.journal.jsonl``), chained with the keyed hash of
:mod:`proxisante.identity.chain` and anchored in the audit folder, so that ``proxisante audit verify``
tells an edited or truncated journal. A hand edit of the registry itself is not journaled.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import getpass
import json
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from proxisante.definitions import ParameterFile
from proxisante.identity.chain import GENESIS, AuditChain, ChainCheck, ChainedRow
from proxisante.identity.keys import owner_only_umask, write_whole

if TYPE_CHECKING:
    from proxisante.settings import Settings

PARAMETERS = ParameterFile(__package__)
NETWORK_LOG = "reseau"  # the name of the journal's chain (key and anchor in the audit folder)
HEADER = (
    "# Structures membres du réseau (proxisante structures add/leave écrit ce fichier ; "
    "il peut aussi être édité à la main)\n"
)
FIELD_LABELS = {  # the file's keys, as the French messages name them
    "finess": "finess",
    "nom": "nom",
    "type": "type",
    "finess_geo": "finess_geo",
    "commune": "commune",
    "cpts": "cpts",
    "adhesion": "adhesion",
    "depart": "depart",
    "convention": "convention",
}
_COMMUNE = re.compile(r"^(\d{5}|2[AB]\d{3})$")


class _Dumper(yaml.SafeDumper):
    """Lists indented under their key, as a person writes them (``structures:`` then ``  - finess: ...``)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


class _Loader(yaml.SafeLoader):
    """Dates stay text until pydantic reads them, so that a bad date is named with its entry and field."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class StructureError(ValueError):
    """A registry file, an entry or a request the registry refuses; French, naming the file, entry and field."""


def structure_types() -> dict[str, str]:
    """The structure types, code → French label (``parameters.yaml``)."""
    return dict(PARAMETERS.value("structure_types"))


def finess_problem(value: str) -> str | None:
    """Why ``value`` is not a valid FINESS number (French), or None. The check key's algorithm and the
    handling of Corsica are parameters (``finess_check``, confidence U: not confirmed)."""
    if len(value) != 9:
        return f"un numéro FINESS a 9 caractères, « {value} » en a {len(value)}"
    rule = PARAMETERS.value("finess_check")
    head, rest = value[:2].upper(), value[2:]
    corsica: dict[str, str] = rule.get("corsica", {})
    if not (head.isdigit() or head in corsica) or not rest.isdigit():
        return f"« {value} » : un numéro FINESS n'a que des chiffres (2A ou 2B en tête pour la Corse)"
    digits = corsica.get(head, head) + rest
    if rule["algorithm"] != "luhn":  # pragma: no cover (the one algorithm known so far)
        raise StructureError(f"algorithme de clé FINESS inconnu : {rule['algorithm']}")
    if luhn_sum(digits) % 10:
        return f"« {value} » : la clé de contrôle du numéro FINESS est fausse"
    return None


def luhn_sum(digits: str) -> int:
    """The Luhn sum of ``digits`` (every second digit from the right doubled, 9 taken off above 9)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        n = int(char) * (2 if position % 2 else 1)
        total += n - 9 if n > 9 else n
    return total


def with_key(first_eight: str) -> str:
    """The FINESS number made of ``first_eight`` characters and their check key (tests, synthetic networks)."""
    rule = PARAMETERS.value("finess_check")
    head = first_eight[:2].upper()
    digits = rule.get("corsica", {}).get(head, head) + first_eight[2:]
    return first_eight + str((10 - luhn_sum(digits + "0") % 10) % 10)


def load_source(finess: str, source: str | None = None) -> str:
    """The source name of a structure's load: its FINESS, or ``FINESS/<source>`` when the structure has
    several exports. Ids are namespaced by source (``ingest/pivot/mapping.py``), so the ids of two
    structures never collide; ``person_id`` is keyed on the INS alone, so one person is one ``person_id``."""
    return f"{finess}/{source}" if source else finess


def _finess(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError("écrire le numéro FINESS entre guillemets (sinon YAML en fait un nombre)")
    if not isinstance(value, str):
        raise ValueError("un numéro FINESS est attendu")
    value = value.strip().upper()
    problem = finess_problem(value)
    if problem:
        raise ValueError(problem)
    return value


class Structure(BaseModel):
    """One member structure; the file's keys are French (the aliases), the attributes English."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    finess: str
    name: str = Field(alias="nom", min_length=1)
    type: str
    finess_geo: tuple[str, ...] = ()
    commune: str | None = None
    cpts: str | None = None
    joined: dt.date = Field(alias="adhesion")
    left: dt.date | None = Field(default=None, alias="depart")
    agreement: str | None = Field(default=None, alias="convention")

    @field_validator("finess", mode="before")
    @classmethod
    def _check_finess(cls, value: Any) -> str:
        return _finess(value)

    @field_validator("finess_geo", mode="before")
    @classmethod
    def _check_geo(cls, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str | int):
            value = [value]
        return tuple(_finess(item) for item in value)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("le nom ne peut pas être vide")
        return value.strip()

    @field_validator("type", mode="before")
    @classmethod
    def _check_type(cls, value: Any) -> str:
        types = structure_types()
        code = str(value).strip().upper() if value is not None else ""
        if code not in types:
            raise ValueError(f"type inconnu « {value} » (types possibles : {', '.join(types)})")
        return code

    @field_validator("commune", mode="before")
    @classmethod
    def _check_commune(cls, value: Any) -> str | None:
        if value is None or value == "":
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            raise ValueError("écrire le code INSEE entre guillemets (sinon YAML en fait un nombre)")
        text = str(value).strip().upper()
        if not _COMMUNE.match(text):
            raise ValueError(f"« {value} » n'est pas un code INSEE de commune (5 caractères, 2A/2B pour la Corse)")
        return text

    @property
    def type_label(self) -> str:
        return structure_types()[self.type]

    def active_on(self, day: dt.date) -> bool:
        """Member on ``day``: joined on or before it, not left (the ``depart`` day itself is outside)."""
        return self.joined <= day and (self.left is None or day < self.left)

    def record(self) -> dict[str, Any]:
        """The entry as the file writes it (French keys)."""
        data = self.model_dump(by_alias=True)
        data["finess_geo"] = list(self.finess_geo)
        return data


def _french(item: Any) -> str:
    """pydantic's message for one field, in French."""
    kind, message = item.get("type", ""), str(item.get("msg", ""))
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    if kind == "missing":
        return "champ obligatoire absent"
    if kind == "extra_forbidden":
        return "champ inconnu"
    if kind.startswith("date"):
        return f"date invalide « {item.get('input')} » (attendu AAAA-MM-JJ)"
    if kind == "string_too_short":
        return "ne peut pas être vide"
    if kind.startswith("string"):
        return "texte attendu"
    return f"valeur invalide « {item.get('input')} »"


def explain(error: ValidationError, where: str) -> StructureError:
    """One French message naming ``where`` (the file and the entry) and each bad field."""
    lines = [where]
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "(entrée)"
        lines.append(f"  champ « {field} » : {_french(item)}")
    return StructureError("\n".join(lines))


def parse(data: dict[str, Any], where: str = "structure") -> Structure:
    """A structure from its French keys, or a French :class:`StructureError` naming ``where`` and the field."""
    try:
        return Structure.model_validate(data)
    except ValidationError as error:
        raise explain(error, where) from None


class StructureRegistry:
    """The registry file at ``path``; its journal beside it, chained by ``chain`` (audit folder)."""

    def __init__(self, path: Path, chain: AuditChain | None = None) -> None:
        self.path = path.expanduser()
        self.journal = self.path.with_name(f"{self.path.stem}.journal.jsonl")
        self.chain = chain or AuditChain(self.path.parent / "audit", NETWORK_LOG)

    @classmethod
    def installed(cls, settings: Settings) -> StructureRegistry:
        """The installation's registry (``Settings.structures``), its journal anchored in the audit folder."""
        return cls(settings.structures, AuditChain(settings.audit, NETWORK_LOG))

    # -- reading ------------------------------------------------------------------------------------

    def all(self) -> list[Structure]:
        """Every structure of the file, in its order (an absent file: none)."""
        if not self.path.exists():
            return []
        try:
            data = yaml.load(self.path.read_text(encoding="utf-8"), Loader=_Loader)  # a safe loader
        except yaml.YAMLError as error:
            raise StructureError(f"{self.path} : fichier YAML illisible : {error}") from None
        except OSError as error:
            raise StructureError(f"{self.path} : lecture impossible : {error.strerror}") from None
        if data is None:
            return []
        entries = data.get("structures") if isinstance(data, dict) else None
        if entries is None and isinstance(data, dict) and not data:
            return []
        if not isinstance(entries, list):
            raise StructureError(f"{self.path} : une liste « structures: » est attendue au premier niveau")
        found: list[Structure] = []
        seen: dict[str, int] = {}
        for number, entry in enumerate(entries, start=1):
            label = f"{self.path} : structure n° {number}"
            if isinstance(entry, dict) and entry.get("finess") is not None:
                label += f" (FINESS {entry['finess']})"
            if not isinstance(entry, dict):
                raise StructureError(f"{label} : une entrée avec ses champs (finess, nom, type...) est attendue")
            structure = parse(entry, label)
            if structure.finess in seen:
                raise StructureError(
                    f"{label}\n  champ « finess » : déjà déclaré par la structure n° {seen[structure.finess]}"
                )
            seen[structure.finess] = number
            found.append(structure)
        return found

    def get(self, finess: str) -> Structure | None:
        wanted = finess.strip().upper()
        return next((s for s in self.all() if s.finess == wanted), None)

    def require(self, finess: str) -> Structure:
        """The structure, or a French refusal naming the FINESS and the file."""
        structure = self.get(finess)
        if structure is None:
            raise StructureError(f"structure inconnue : FINESS {finess} n'est pas dans le registre ({self.path})")
        return structure

    def active(self, finess: str, on: dt.date | None = None) -> bool:
        """Whether ``finess`` is a member on ``on`` (today by default): registered, joined, not left."""
        structure = self.get(finess)
        return structure is not None and structure.active_on(on or dt.date.today())

    def check_active(self, finess: str, on: dt.date | None = None) -> Structure:
        """The structure if it may load on ``on`` (today by default), else a French refusal saying why."""
        day = on or dt.date.today()
        structure = self.require(finess)
        if structure.left is not None and day >= structure.left:
            raise StructureError(
                f"la structure {structure.name} (FINESS {structure.finess}) a quitté le réseau le "
                f"{structure.left:%d/%m/%Y} : elle ne peut plus charger de données"
            )
        if day < structure.joined:
            raise StructureError(
                f"la structure {structure.name} (FINESS {structure.finess}) n'adhère au réseau qu'à partir du "
                f"{structure.joined:%d/%m/%Y}"
            )
        return structure

    # -- writing ------------------------------------------------------------------------------------

    def add(self, structure: Structure, *, by: str | None = None) -> Structure:
        """Register a new structure; a FINESS already in the file (juridique or géographique) is refused."""
        with self._locked():
            structures = self.all()
            for other in structures:
                if structure.finess == other.finess:
                    raise StructureError(
                        f"champ « finess » : la structure FINESS {structure.finess} est déjà dans le registre "
                        f"({other.name})"
                    )
                taken = {other.finess, *other.finess_geo} & {structure.finess, *structure.finess_geo}
                if taken:
                    raise StructureError(
                        f"champ « finess_geo » : FINESS {', '.join(sorted(taken))} déjà déclaré par {other.name} "
                        f"(FINESS {other.finess})"
                    )
            self._write([*structures, structure])
            self._log("ajout", structure.finess, structure.record(), by)
        return structure

    def leave(self, finess: str, on: dt.date | None = None, *, by: str | None = None) -> Structure:
        """Record that ``finess`` leaves the network on ``on`` (today by default); it stays in the file."""
        day = on or dt.date.today()
        with self._locked():
            structures = self.all()
            current = next((s for s in structures if s.finess == finess.strip().upper()), None)
            if current is None:
                raise StructureError(f"structure inconnue : FINESS {finess} n'est pas dans le registre ({self.path})")
            if current.left is not None:
                raise StructureError(
                    f"champ « depart » : la structure {current.name} a déjà quitté le réseau le {current.left:%d/%m/%Y}"
                )
            if day < current.joined:
                raise StructureError(
                    f"champ « depart » : le {day:%d/%m/%Y} précède l'adhésion ({current.joined:%d/%m/%Y})"
                )
            updated = current.model_copy(update={"left": day})
            self._write([updated if s.finess == current.finess else s for s in structures])
            self._log("depart", current.finess, {"depart": day.isoformat()}, by)
        return updated

    def record_purge(self, finess: str, detail: dict[str, Any], *, by: str | None = None) -> dict[str, Any]:
        """Journal that the data of ``finess`` were purged (:mod:`proxisante.network.purge`), with what was
        removed; the entry itself stays in the file, the network's history. Its journal line."""
        with self._locked():
            structure = self.require(finess)
            self._log("purge", structure.finess, detail, by)
        return self.history()[-1]

    def purges(self, finess: str) -> list[dict[str, Any]]:
        """The journal's purge lines of ``finess``, oldest first: whether and when its data were purged."""
        wanted = finess.strip().upper()
        return [e for e in self.history() if e.get("action") == "purge" and e.get("finess") == wanted]

    def _write(self, structures: list[Structure]) -> None:
        """Replace the file whole: a temporary file in the same folder, flushed, then renamed (owner-only)."""
        owner_only_umask()
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        body = yaml.dump(
            {"structures": [s.record() for s in structures]},
            Dumper=_Dumper,
            allow_unicode=True,
            sort_keys=False,
            width=120,
        )
        write_whole(self.path, HEADER + body)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time (a lock file beside the registry)."""
        owner_only_umask()
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.path.with_name(f".{self.path.name}.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # -- the journal --------------------------------------------------------------------------------

    def _rows(self) -> Iterator[ChainedRow]:
        if not self.journal.exists():
            return
        with self.journal.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                try:
                    row = json.loads(line)
                    fields = [row["at"], row["by"], row["action"], row["finess"], row["detail"]]
                    yield ChainedRow(int(row["seq"]), fields, row.get("previous_hash"), row.get("hash"))
                except (ValueError, KeyError, TypeError):
                    yield ChainedRow(number, [], None, None)  # unreadable: the chain breaks here

    def _log(self, action: str, finess: str, detail: dict[str, Any], by: str | None) -> None:
        """Append one chained line (who, when, what) and move the anchor; the caller holds the lock."""
        previous, count = GENESIS, 0
        for row in self._rows():
            previous, count = row.hash or GENESIS, count + 1
        at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        fields = [at, by or _user(), action, finess, json.loads(json.dumps(detail, default=str))]
        digest = self.chain.link(previous, count + 1, fields)
        line = dict(zip(("at", "by", "action", "finess", "detail"), fields, strict=True))
        line.update(seq=count + 1, previous_hash=previous, hash=digest)
        with self.journal.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.chain.write_anchor(count + 1, digest)

    def history(self) -> list[dict[str, Any]]:
        """The journal's lines, oldest first (who, when, what)."""
        if not self.journal.exists():
            return []
        return [json.loads(line) for line in self.journal.read_text(encoding="utf-8").splitlines() if line.strip()]

    def verify_journal(self) -> ChainCheck:
        """Whether the journal is whole and unedited (chain and anchor, :mod:`proxisante.identity.chain`)."""
        return self.chain.verify(self._rows())


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        return f"uid {os.getuid()}"


# -- CPTS -------------------------------------------------------------------------------------------------


def cpts_members(structures: Sequence[Structure], cpts: str) -> list[str]:
    """The FINESS of a CPTS's member structures (their ``cpts`` is its name), and of the CPTS itself if
    registered as a structure."""
    wanted = cpts.strip().casefold()
    return sorted(
        s.finess
        for s in structures
        if (s.cpts or "").strip().casefold() == wanted or (s.type == "CPTS" and s.name.strip().casefold() == wanted)
    )


def known_cpts(structures: Sequence[Structure]) -> list[str]:
    """The CPTS names the registry knows (a ``cpts`` field, or a structure of type CPTS)."""
    names = {s.cpts for s in structures if s.cpts} | {s.name for s in structures if s.type == "CPTS"}
    return sorted(names)
