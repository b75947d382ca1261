"""A synthetic network of structures (réseau synthétique): CDS and MSP of neighbouring communes, of different
sizes, a few percent of their people seen by two of them, each exporting through its own EHR.

Why: the network warehouse (issue 15) loads many structures into one warehouse, each through its drop folder;
it must keep their ids apart, give one ``person_id`` to a person two structures have seen (the keyed INS
hash), and read each export source with its own format and defects. This writes such a network:

    from proxisante.synth.network import NetworkOptions, generate_network
    summary = generate_network(NetworkOptions(structures=12, patients=20_000, seed=42, out=Path("reseau")))

and its layout is the one the product reads:

- ``out/structures.yaml``: the registry of the structures (the format of ``proxisante.network.structures``),
  FINESS juridique and géographiques with their Luhn key;
- ``out/depot/<FINESS>/<extract>/``: each structure's export, with ``format.txt`` (pivot or fhir) and the
  empty completion marker ``COMPLET``, written last (after the registry), so that copying ``out/depot`` into
  the data home hands the whole network to the drop folders;
- ``out/defects/<FINESS>.json``: the defects injected in a structure's files (the ground truth, outside its
  export); ``out/network.json``: what was written (sizes, sources, shared people).

The model (every figure in ``parameters.yaml``, section ``network``): structures in the most populous
communes around the centre commune, each with the patients of its own catchment (the single centre's model);
panel sizes from a log-normal law, the largest in the largest communes; a CDS or an MSP; an export source
(format, encoding, defect rate) per structure. A shared person is followed by one structure (a regular
patient with a visit there and a qualified INS) and seen occasionally by a neighbour (1-3 contacts within a
year): that neighbour's patients file carries the same identity (INS, NIR, names, birth, address), the
structure that follows the person drawn among the earlier ones by size and distance. Structures are
generated one after the other, each in chunks as a single centre is, so memory stays that of one centre.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import yaml

from proxisante.synth.chunk import Chunk
from proxisante.synth.codes import luhn_key, nir_key_one
from proxisante.synth.frames import Cat, Frame
from proxisante.synth.generator import SynthOptions, SynthSummary, generate_centre
from proxisante.synth.geography import distance_km, load_communes
from proxisante.synth.parameters import Parameters, load_parameters
from proxisante.synth.population import Imposed
from proxisante.synth.timeline import NEVER, rng

REGISTRY_FILE = "structures.yaml"
DEPOT = "depot"
COMPLETE_MARKER = "COMPLET"
FORMAT_FILE = "format.txt"
# The drop folders' format names (format.txt) of the synthetic file formats.
DROP_FORMATS = {"csv": "pivot", "parquet": "pivot", "fhir": "fhir"}
# The columns of the patients table that make a person's identity: the same in every structure that sees them.
IDENTITY_COLUMNS = (
    "ins",
    "nir",
    "family_name",
    "birth_name",
    "given_names",
    "address",
    "postcode",
    "commune_insee",
    "phone",
)
REGISTRY_HEADER = (
    "# Structures membres du réseau (proxisante structures add/leave écrit ce fichier ; il peut aussi être "
    "édité à la main)\n# Réseau synthétique écrit par proxisante synth --network : aucune structure réelle.\n"
)

VOWELS = "AEIOUYÂÉÈÊÎÔ"  # French spelling: « de » becomes « d' » before these
NetworkProgress = Callable[[int, str, int, int], None]


@dataclass(frozen=True)
class NetworkOptions:
    """What to generate: ``structures`` structures and ``patients`` patient files in all (a person seen by two
    structures counts in both), split by the size law, or ``sizes`` (one per structure) instead."""

    structures: int = 12
    patients: int = 20_000
    seed: int = 42
    out: Path = Path("synthetic-network")
    sizes: tuple[int, ...] | None = None
    start: date = date(2021, 1, 1)
    end: date = date(2026, 6, 30)

    @property
    def extract(self) -> str:
        """The name of each structure's extract folder in its drop folder."""
        return f"extraction-{self.end.isoformat()}"


@dataclass(frozen=True)
class ExportSource:
    """An EHR's export: its file format, the encoding of its CSV files and its defect rate (None: no defects)."""

    name: str
    file_format: str
    encoding: str
    defect_rate: float | None

    @property
    def drop_format(self) -> str:
        return DROP_FORMATS[self.file_format]


@dataclass(frozen=True)
class StructurePlan:
    """One structure of the network, decided before anything is generated."""

    index: int
    finess: str
    finess_geo: tuple[str, ...]  # for its sites, in site order (a structure has one or two sites)
    kind: str  # CDS | MSP
    name: str
    commune: str  # INSEE code
    commune_index: int
    patients: int
    seed: int
    source: ExportSource
    cpts: str | None
    adhesion: date
    convention: str
    visitor_sources: np.ndarray  # for each person followed elsewhere and seen here: the index of that structure

    def folder(self, options: NetworkOptions) -> Path:
        return options.out / DEPOT / self.finess / options.extract


@dataclass
class NetworkSummary:
    """What was written: the structures (plan and files), the people seen by two structures."""

    options: NetworkOptions
    plans: list[StructurePlan]
    centres: list[SynthSummary]
    finess_geo: dict[str, list[str]]
    shared: int  # people seen by two structures
    seconds: float
    shared_by_structure: dict[str, int] = field(default_factory=dict)

    @property
    def patient_files(self) -> int:
        """Rows of the patients files (persons of the cohorts, without defect rows)."""
        return sum(p.patients for p in self.plans)

    @property
    def persons(self) -> int:
        return self.patient_files - self.shared

    @property
    def shared_share(self) -> float:
        return self.shared / self.persons if self.persons else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.options.seed,
            "start": self.options.start.isoformat(),
            "end": self.options.end.isoformat(),
            "extract": self.options.extract,
            "patients": self.patient_files,
            "persons": self.persons,
            "shared": self.shared,
            "shared_share": round(self.shared_share, 6),
            "structures": [
                {
                    "finess": plan.finess,
                    "finess_geo": self.finess_geo[plan.finess],
                    "name": plan.name,
                    "type": plan.kind,
                    "commune": plan.commune,
                    "patients": plan.patients,
                    "seed": plan.seed,
                    "source": plan.source.name,
                    "file_format": plan.source.file_format,
                    "encoding": plan.source.encoding,
                    "defect_rate": plan.source.defect_rate,
                    "seen_here_followed_elsewhere": self.shared_by_structure.get(plan.finess, 0),
                    "rows": centre.rows,
                    "defect_counts": centre.defect_counts,
                }
                for plan, centre in zip(self.plans, self.centres, strict=True)
            ],
        }


# --- the plan ----------------------------------------------------------------------------------------------


def _finess_numbers(generator: np.random.Generator, department: str, count: int, taken: set[str]) -> list[str]:
    """Distinct FINESS numbers of a department: its 2 digits, 6 digits, and the Luhn key of those 8."""
    out: list[str] = []
    while len(out) < count:
        digits = [int(c) for c in department[:2]] + [int(d) for d in generator.integers(0, 10, 6)]
        number = "".join(map(str, digits)) + str(int(luhn_key(np.array([digits]))[0]))
        if number not in taken:
            taken.add(number)
            out.append(number)
    return out


def _split(total: int, weights: np.ndarray, minimum: int) -> np.ndarray:
    """``total`` split in proportion to ``weights`` (largest remainders), each part at least ``minimum``."""
    free = total - minimum * len(weights)
    exact = free * weights / weights.sum()
    parts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - parts), kind="stable")
    parts[order[: free - int(parts.sum())]] += 1
    return parts + minimum


def _sizes(options: NetworkOptions, net: dict[str, Any], generator: np.random.Generator) -> np.ndarray:
    n = options.structures
    minimum = int(net["min_patients"]["value"])
    if options.sizes is not None:
        if len(options.sizes) != n:
            raise ValueError(f"{len(options.sizes)} tailles données pour {n} structures : il en faut une par structure")
        if min(options.sizes) < 1:
            raise ValueError("chaque structure doit avoir au moins un patient")
        return np.array(options.sizes, dtype=np.int64)
    if options.patients < minimum * n:
        raise ValueError(f"{options.patients} patients pour {n} structures : il en faut au moins {minimum * n}")
    weights = np.sort(np.exp(generator.normal(0.0, float(net["size_sigma"]["value"]), n)))[::-1]
    return _split(options.patients, weights, minimum)


def _sources(net: dict[str, Any]) -> list[ExportSource]:
    return [
        ExportSource(str(s["name"]), str(s["format"]), str(s["encoding"]), s["defect_rate"])
        for s in net["sources"]["values"]
    ]


def _site_name(pattern: str, commune: str) -> str:
    """``pattern`` with the commune's name, « de » elided before a vowel (« Maison de santé d'Orval »)."""
    de = "d'" if commune[:1].upper() in VOWELS else "de "
    return pattern.format(de=de, commune=commune)


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _visitors(
    sizes: np.ndarray, distances: np.ndarray, net: dict[str, Any], generator: np.random.Generator
) -> list[np.ndarray]:
    """For each structure, the structures following the people it sees occasionally (one entry per person).

    People seen by two structures: ``share`` of the distinct people, so ``share x files / (1 + share)`` of the
    patient files; the first structure follows only (its people are seen later by the others)."""
    n = len(sizes)
    empty = [np.zeros(0, dtype=np.int64) for _ in range(n)]
    if n < 2:
        return empty
    share = float(net["shared_patients_share"]["value"])
    wanted = round(share * int(sizes.sum()) / (1 + share))
    room = sizes[1:] // 2  # at most half of a structure's patients are followed elsewhere
    counts = np.minimum(_split(wanted, sizes[1:].astype(np.float64), 0), room) if wanted else room * 0
    decay = float(net["shared_distance_decay_km"]["value"])
    for i in range(1, n):
        weights = sizes[:i] * np.exp(-distances[i, :i] / decay)
        empty[i] = generator.choice(i, size=int(counts[i - 1]), p=weights / weights.sum()).astype(np.int64)
    return empty


def plan_network(options: NetworkOptions, params: Parameters | None = None) -> list[StructurePlan]:
    """The structures of the network, decided from the options (seed included) and ``parameters.yaml``."""
    params = params or load_parameters()
    net = params.section("network")
    n = options.structures
    if n < 1:
        raise ValueError("un réseau compte au moins une structure")
    communes = load_communes()
    centre = communes.index(str(net["centre_commune"]["value"]))
    around = distance_km(communes.latitude[centre], communes.longitude[centre], communes.latitude, communes.longitude)
    members = np.flatnonzero((around <= float(net["radius_km"]["value"])) & (communes.population > 0))
    members = members[np.argsort(-communes.population[members], kind="stable")]
    if n > len(members):
        raise ValueError(
            f"au plus {len(members)} structures dans le territoire du réseau synthétique "
            f"({len(members)} communes à moins de {net['radius_km']['value']} km de {communes.name[centre]})"
        )
    chosen = members[:n]
    generator = rng(options.seed, "network", "plan")
    sizes = _sizes(options, net, generator)
    kinds = np.where(generator.random(n) < float(net["msp_share"]["value"]), "MSP", "CDS")
    kinds[0] = "CDS"
    if n >= 2 and "MSP" not in kinds:
        kinds[-1] = "MSP"
    sources = _sources(net)
    order = generator.permutation(n)
    source_of = {int(structure): sources[k % len(sources)] for k, structure in enumerate(order)}
    taken: set[str] = set()
    low, high = (_day(d) for d in net["adhesion_range"]["value"])
    cpts = net["cpts"]
    distances = np.array(
        [
            distance_km(
                communes.latitude[c], communes.longitude[c], communes.latitude[chosen], communes.longitude[chosen]
            )
            for c in chosen
        ]
    )
    visitors = _visitors(sizes, distances, net, generator)
    plans = []
    for i, commune in enumerate(chosen):
        department = str(communes.department[commune])
        finess = _finess_numbers(generator, department, 1, taken)[0]
        geo = tuple(_finess_numbers(generator, department, 2, taken))
        adhesion = low + timedelta(days=int(generator.integers(0, (high - low).days + 1)))
        kind = str(kinds[i])
        plans.append(
            StructurePlan(
                index=i,
                finess=finess,
                finess_geo=geo,
                kind=kind,
                name=_site_name(str(net["site_names"][kind]), str(communes.name[commune])),
                commune=str(communes.insee[commune]),
                commune_index=int(commune),
                patients=int(sizes[i]),
                seed=int(rng(options.seed, "network", "structure", i).integers(0, 2**31)),
                source=source_of[i],
                cpts=str(cpts["name"]) if around[commune] <= float(cpts["radius_km"]["value"]) else None,
                adhesion=adhesion,
                convention=f"CONV-{adhesion.year}-{i + 1:02d}",
                visitor_sources=visitors[i],
            )
        )
    return plans


# --- one structure's generation ----------------------------------------------------------------------------


@dataclass
class _Identities:
    """Identities captured from a structure's patients, to be seen by another: columns as Python lists."""

    female: list[bool] = field(default_factory=list)
    birth: list[int] = field(default_factory=list)
    commune: list[int] = field(default_factory=list)
    columns: dict[str, list[Any]] = field(default_factory=lambda: {c: [] for c in IDENTITY_COLUMNS})

    def __len__(self) -> int:
        return len(self.birth)

    def take(self, rows: np.ndarray) -> _Identities:
        return _Identities(
            [self.female[r] for r in rows],
            [self.birth[r] for r in rows],
            [self.commune[r] for r in rows],
            {c: [v[r] for r in rows] for c, v in self.columns.items()},
        )


class _Member:
    """One structure of the network, as :func:`generate_centre` sees it (``generator.Member``)."""

    def __init__(
        self, plan: StructurePlan, capture: float, guests: _Identities, positions: np.ndarray, taken: set[str]
    ) -> None:
        self.plan = plan
        self.capture = capture  # probability of keeping an eligible patient's identity for another structure
        self.captured = _Identities()
        self.guests = guests  # identities of people followed elsewhere, seen here at cohort ``positions``
        self.positions = positions
        self.taken = taken  # every INS written in the network so far
        self.finess_geo: list[str] = []

    def imposed(self) -> Imposed | None:
        if not len(self.guests):
            return None
        return Imposed(
            index=self.positions,
            female=np.array(self.guests.female, dtype=bool),
            birth=np.array(self.guests.birth, dtype=np.int64),
            commune=np.array(self.guests.commune, dtype=np.int64),
        )

    def tables(self, chunk: Chunk | None, tables: dict[str, Frame]) -> dict[str, Frame]:
        if chunk is None:
            return self._team(tables)
        patients = tables["patients"]
        self._unique_ins(chunk, patients)
        if len(self.guests):
            self._welcome(chunk, patients)
        if self.capture > 0:
            self._capture(chunk, patients, tables["encounters"])
        return tables

    def _team(self, tables: dict[str, Frame]) -> dict[str, Frame]:
        """The sites carry the structure's type, name and FINESS géographiques."""
        sites = dict(tables["sites"])
        count = len(np.asarray(sites["site_id"]))
        self.finess_geo = list(self.plan.finess_geo[:count])
        names = sites["name"]
        assert isinstance(names, Cat)
        labels = list(names.decoded())
        labels[0] = self.plan.name
        sites["name"] = Cat.of(np.arange(count), [str(x) for x in labels])
        sites["finess"] = Cat.of(np.arange(count), self.finess_geo)
        sites["structure_type"] = Cat.of(np.zeros(count), [self.plan.kind])
        return {**tables, "sites": sites}

    def _unique_ins(self, chunk: Chunk, patients: Frame) -> None:
        """No two people of the network share an INS by chance (drawn independently per structure, a few
        pairs of different people in 100,000 patient files get the same one, which would make them one
        person): a repeated one gets other order digits (and key), in the INS and in the NIR when it is the
        person's own. Guests are left alone: their INS is that of the structure that follows them."""
        ins_array, nir_array = patients["ins"], patients["nir"]
        assert isinstance(ins_array, pa.Array) and isinstance(nir_array, pa.Array)
        ins, nir = ins_array.to_pylist(), nir_array.to_pylist()
        guests = set((self.positions[(self.positions >= chunk.lo) & (self.positions < chunk.hi)] - chunk.lo).tolist())
        generator = rng(self.plan.seed, "network", "ins", chunk.index)
        changed = False
        for row, number in enumerate(ins):
            if number is None or row in guests:
                continue
            if number in self.taken:
                new = number
                while new in self.taken:
                    body = number[:10] + f"{int(generator.integers(1, 1000)):03d}"
                    new = body + f"{nir_key_one(body):02d}"
                if nir[row] == number:
                    nir[row] = new
                ins[row] = number = new
                changed = True
            self.taken.add(number)
        if changed:
            patients["ins"] = pa.array(ins, type=pa.string())
            patients["nir"] = pa.array(nir, type=pa.string())

    def _welcome(self, chunk: Chunk, patients: Frame) -> None:
        """The identity of people followed elsewhere, on their rows of this chunk."""
        inside = (self.positions >= chunk.lo) & (self.positions < chunk.hi)
        if not inside.any():
            return
        rows = self.positions[inside] - chunk.lo
        which = np.flatnonzero(inside)
        for column in IDENTITY_COLUMNS:
            array = patients[column]
            assert isinstance(array, pa.Array)
            values = array.to_pylist()
            for row, k in zip(rows, which, strict=True):
                values[row] = self.guests.columns[column][k]
            patients[column] = pa.array(values, type=pa.string())

    def _capture(self, chunk: Chunk, patients: Frame, encounters: Frame) -> None:
        """Keep, at random, identities of patients followed here (regular, alive, with a qualified INS and a
        visit) that a neighbour may see."""
        ins = patients["ins"]
        assert isinstance(ins, pa.Array)
        seen = np.isin(chunk.patient_id, np.asarray(encounters["patient_id"]))
        eligible = chunk.regular & (chunk.death == NEVER) & ~np.asarray(ins.is_null()) & seen
        draw = rng(self.plan.seed, "network", "capture", chunk.index).random(chunk.n)
        rows = np.flatnonzero(eligible & (draw < self.capture))
        if not len(rows):
            return
        self.captured.female.extend(bool(x) for x in chunk.female[rows])
        self.captured.birth.extend(int(x) for x in chunk.birth[rows])
        self.captured.commune.extend(int(x) for x in chunk.cohort("commune")[rows])
        for column in IDENTITY_COLUMNS:
            array = patients[column]
            assert isinstance(array, pa.Array)
            self.captured.columns[column].extend(array.take(pa.array(rows)).to_pylist())


# --- the network -------------------------------------------------------------------------------------------


def _check_out(out: Path, plans: list[StructurePlan]) -> None:
    depot = out / DEPOT
    if not depot.is_dir():
        return
    ours = {p.finess for p in plans}
    foreign = sorted(p.name for p in depot.iterdir() if p.name not in ours)
    if foreign:
        raise ValueError(
            f"{depot} contient déjà les dépôts d'un autre réseau ({', '.join(foreign[:3])}…) : "
            "choisir un dossier de sortie vide"
        )


def registry_document(plans: list[StructurePlan], finess_geo: dict[str, list[str]]) -> dict[str, Any]:
    """The registry file's content (``structures.yaml``), French keys as ``proxisante.network.structures``
    reads them."""
    return {
        "structures": [
            {
                "finess": plan.finess,
                "nom": plan.name,
                "type": plan.kind,
                "finess_geo": finess_geo.get(plan.finess, list(plan.finess_geo[:1])),
                "commune": plan.commune,
                "cpts": plan.cpts,
                "adhesion": plan.adhesion,
                "depart": None,
                "convention": plan.convention,
            }
            for plan in plans
        ]
    }


def write_registry(path: Path, plans: list[StructurePlan], finess_geo: dict[str, list[str]]) -> None:
    text = yaml.safe_dump(registry_document(plans, finess_geo), allow_unicode=True, sort_keys=False)
    path.write_text(REGISTRY_HEADER + text, encoding="utf-8")


def generate_network(options: NetworkOptions, progress: NetworkProgress | None = None) -> NetworkSummary:
    """Write a synthetic network to ``options.out``; see the module docstring. ``progress(structure, table,
    rows_written, patients_done)`` counts patients over the whole network."""
    began = time.perf_counter()
    params = load_parameters()
    plans = plan_network(options, params)
    _check_out(options.out, plans)
    taken: set[str] = set()
    demand = np.zeros(len(plans), dtype=np.int64)
    for plan in plans:
        np.add.at(demand, plan.visitor_sources, 1)
    pools: dict[int, _Identities] = {}
    used = np.zeros(len(plans), dtype=np.int64)
    centres: list[SynthSummary] = []
    finess_geo: dict[str, list[str]] = {}
    shared: dict[str, int] = {}
    done = 0
    for plan in plans:
        guests, positions = _guests(options, plan, pools, used)
        capture = min(1.0, (3 * int(demand[plan.index]) + 10) / plan.patients) if demand[plan.index] else 0.0
        member = _Member(plan, capture, guests, positions, taken)
        folder = plan.folder(options)
        source = plan.source

        def report(table: str, rows: int, patients: int, index: int = plan.index, base: int = done) -> None:
            if progress:
                progress(index, table, rows, base + patients)

        synth = SynthOptions(
            patients=plan.patients,
            seed=plan.seed,
            out=folder,
            start=options.start,
            end=options.end,
            file_format=source.file_format,
            defects=source.defect_rate is not None,
            centre_commune=plan.commune,
            encoding=source.encoding if source.file_format == "csv" else "utf-8",
            defect_rate=source.defect_rate,
        )
        (folder / COMPLETE_MARKER).unlink(missing_ok=True)
        centre = generate_centre(synth, report, member)
        if centre.defects:
            target = options.out / "defects" / f"{plan.finess}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            (folder / "defects.json").replace(target)
        (folder / FORMAT_FILE).write_text(source.drop_format + "\n", encoding="utf-8")
        pool = member.captured
        if len(pool):
            order = rng(plan.seed, "network", "pool").permutation(len(pool))
            pools[plan.index] = pool.take(order[: int(demand[plan.index])])
        centres.append(centre)
        finess_geo[plan.finess] = member.finess_geo
        shared[plan.finess] = len(guests)
        done += plan.patients

    write_registry(options.out / REGISTRY_FILE, plans, finess_geo)
    summary = NetworkSummary(
        options, plans, centres, finess_geo, sum(shared.values()), time.perf_counter() - began, shared
    )
    (options.out / "network.json").write_text(
        json.dumps(summary.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    for plan in plans:  # complete last: the registry knows every structure before any extract is taken
        (plan.folder(options) / COMPLETE_MARKER).write_bytes(b"")
    return summary


def _guests(
    options: NetworkOptions, plan: StructurePlan, pools: dict[int, _Identities], used: np.ndarray
) -> tuple[_Identities, np.ndarray]:
    """The people followed by earlier structures that this one sees, and their positions in its cohort."""
    picked: list[tuple[int, int]] = []
    for source in plan.visitor_sources:
        pool = pools.get(int(source))
        if pool is not None and used[source] < len(pool):
            picked.append((int(source), int(used[source])))
            used[source] += 1
    guests = _Identities()
    for source, row in picked:
        one = pools[source].take(np.array([row]))
        guests.female += one.female
        guests.birth += one.birth
        guests.commune += one.commune
        for column in IDENTITY_COLUMNS:
            guests.columns[column] += one.columns[column]
    generator = rng(options.seed, "network", "guests", plan.index)
    positions = np.sort(generator.choice(plan.patients, size=len(picked), replace=False)).astype(np.int64)
    # Sorted positions, shuffled guests: who is seen where is random, and rows are found chunk by chunk.
    order = generator.permutation(len(picked))
    return guests.take(order), positions
