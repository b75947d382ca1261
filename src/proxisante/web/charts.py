"""Plotly figures of the pages, as JSON for ``static/app.js`` (French separators, no external resource)."""

from __future__ import annotations

import pandas as pd

from proxisante.disclosure import TOTAL

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
BLUE, RED, GREY = "#1d4f91", "#b3261e", "#5f6368"


def _layout(figure, title: str, height: int = 340):
    figure.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left"},
        height=height,
        separators=", ",
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        font={"family": FONT, "size": 13},
        plot_bgcolor="white",
        legend={"orientation": "h", "y": -0.2},
    )
    figure.update_xaxes(showgrid=False)
    figure.update_yaxes(gridcolor="#e0e0e0")
    return figure.to_json()


def pyramid(frame: pd.DataFrame) -> str:
    """Age pyramid: women to the right, men to the left."""
    import plotly.graph_objects as go

    order = list(dict.fromkeys(frame.age_band))
    women = frame[frame.sex == "F"].set_index("age_band").patients.reindex(order, fill_value=0)
    men = frame[frame.sex == "M"].set_index("age_band").patients.reindex(order, fill_value=0)
    figure = go.Figure(
        [
            go.Bar(
                y=order,
                x=-men.to_numpy(),
                orientation="h",
                name="Hommes",
                marker_color=BLUE,
                customdata=men.to_numpy(),
                hovertemplate="%{y} : %{customdata} hommes<extra></extra>",
            ),
            go.Bar(
                y=order,
                x=women.to_numpy(),
                orientation="h",
                name="Femmes",
                marker_color=RED,
                hovertemplate="%{y} : %{x} femmes<extra></extra>",
            ),
        ]
    )
    figure.update_layout(barmode="relative", bargap=0.05)
    figure.update_xaxes(title="patients", tickformat="d")
    return _layout(figure, "Pyramide des âges de la patientèle médecin traitant", height=480)


def panel_trend(flows: pd.DataFrame) -> str:
    import plotly.graph_objects as go

    months = flows[flows.month != TOTAL]
    figure = go.Figure(
        go.Scatter(
            x=list(months.month),
            y=list(months.panel_end),
            mode="lines+markers",
            line={"color": BLUE},
            hovertemplate="%{x} : %{y} patients<extra></extra>",
        )
    )
    figure.update_yaxes(title="patients", rangemode="tozero")
    figure.update_xaxes(tickformat="%m/%Y")  # French month/year, not plotly's English month names
    return _layout(figure, "Patientèle médecin traitant en fin de mois")


def series(
    frame: pd.DataFrame,
    label: str,
    percent: bool,
    target: float | None,
    intermediate: float | None,
    span: str = "12 mois glissants",
) -> str:
    """Trend (monthly, or one point per calendar year) with its 95 % interval and the objectives as lines."""
    import plotly.graph_objects as go

    scale = 100.0 if percent else 1.0
    x = [d.isoformat() if hasattr(d, "isoformat") else str(d) for d in frame.reference_date]
    rate = (frame.rate.astype("float64") * scale).round(2)
    low = (frame.ci_low.astype("float64") * scale).round(2)
    high = (frame.ci_high.astype("float64") * scale).round(2)
    figure = go.Figure(
        [
            go.Scatter(
                x=x + x[::-1],
                y=list(high) + list(low)[::-1],
                fill="toself",
                fillcolor="rgba(29,79,145,0.15)",
                line={"width": 0},
                hoverinfo="skip",
                name="IC 95 %",
            ),
            go.Scatter(x=x, y=list(rate), mode="lines+markers", line={"color": BLUE}, name="taux"),
        ]
    )
    for value, name, dash in ((target, "cible", "dash"), (intermediate, "intermédiaire", "dot")):
        if value is not None:
            figure.add_hline(y=value * scale, line={"color": GREY, "dash": dash}, annotation_text=name)
    figure.update_yaxes(title="%" if percent else "pour 100 patients", rangemode="tozero")
    figure.update_xaxes(tickformat="%m/%Y")
    return _layout(figure, f"{label} — {span}")


def economics(rows: list[dict], year: int) -> str:
    """Result of each payment model with its P5–P95 band."""
    import plotly.graph_objects as go

    labels = [r["label"] for r in rows]
    result = [r["result"] / 1000 for r in rows]
    upper = [(r["result_p95"] - r["result"]) / 1000 for r in rows]
    lower = [(r["result"] - r["result_p5"]) / 1000 for r in rows]
    colours = [BLUE if v >= 0 else RED for v in result]
    figure = go.Figure(
        go.Bar(
            x=labels,
            y=result,
            marker_color=colours,
            error_y={"type": "data", "array": upper, "arrayminus": lower, "color": GREY},
            hovertemplate="%{x} : %{y:,.0f} k€<extra></extra>",
        )
    )
    figure.update_yaxes(title="résultat (k€)", zeroline=True, zerolinecolor="#444")
    return _layout(figure, f"Résultat par modèle de paiement — {year} (barres : P5–P95)")


def completeness(frame: pd.DataFrame) -> str:
    import plotly.graph_objects as go

    figure = go.Figure()
    for label, rows in frame.groupby("label", sort=False):
        figure.add_trace(
            go.Scatter(x=[m.isoformat() for m in rows.month], y=list(rows.rows), mode="lines", name=str(label))
        )
    figure.update_yaxes(title="lignes par mois", rangemode="tozero")
    figure.update_xaxes(tickformat="%m/%Y")
    return _layout(figure, "Volume des tables cliniques par mois", height=380)
