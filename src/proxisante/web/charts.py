"""Plotly figures of the pages, as JSON for ``static/app.js`` (French separators, no external resource).

Axes are French: numbers grouped with a narrow space and never abbreviated ("10 000", not "10k"), months
written by ``formats.month`` (Plotly's own month names are English), a monthly point drawn at its month
(the 12 months ending 31/12/2025 are under "déc. 2025", not under the next January), the age pyramid as
``formats`` draws it for the PDF too."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import pandas as pd

from proxisante import formats
from proxisante.disclosure import TOTAL

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
BLUE, RED, GREY = "#1d4f91", "#b3261e", "#5f6368"


def _layout(figure, title: str, height: int = 340):
    figure.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left"},
        height=height,
        separators="," + formats.NARROW_SPACE,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        font={"family": FONT, "size": 13},
        plot_bgcolor="white",
        legend={"orientation": "h", "y": -0.2},
    )
    figure.update_xaxes(showgrid=False)
    figure.update_yaxes(gridcolor="#e0e0e0", separatethousands=True, exponentformat="none")
    return figure.to_json()


def _month_start(value: object) -> dt.date:
    """The first day of a value's month: a point of a month is drawn under that month's tick."""
    day = pd.Timestamp(value)  # "2025-01", a date, a timestamp
    return dt.date(day.year, day.month, 1)


def _month_axis(figure, months: Sequence[dt.date], most: int = 12) -> None:
    """French month ticks (janv. 2025), at most ``most`` of them (every other month, every quarter...)."""
    step = max(1, -(-len(months) // most))
    shown = list(months)[::step]
    figure.update_xaxes(
        tickvals=[m.isoformat() for m in shown], ticktext=[formats.month(m) for m in shown], tickangle=0
    )


def _sorted_months(values: Iterable[dt.date]) -> list[dt.date]:
    return sorted(set(values))


def pyramid(frame: pd.DataFrame) -> str:
    """Age pyramid as ``formats.PYRAMID_SIDES`` draws it (men left, women right, the PDF's colours), the axis
    in absolute numbers of patients on both sides."""
    import plotly.graph_objects as go

    order = list(dict.fromkeys(frame.age_band))
    bars, largest = [], 0.0
    for side, (sex, label, colour) in zip((-1, 1), formats.PYRAMID_SIDES, strict=True):
        counts = frame[frame.sex == sex].set_index("age_band").patients.reindex(order, fill_value=0)
        largest = max(largest, float(counts.max()) if len(counts) else 0.0)
        bars.append(
            go.Bar(
                y=order,
                x=[int(side * v) for v in counts],
                orientation="h",
                name=label,
                marker_color=colour,
                customdata=[formats.number(v) for v in counts],
                hovertemplate=f"%{{y}} : %{{customdata}} {label.lower()}<extra></extra>",
            )
        )
    figure = go.Figure(bars)
    ticks = formats.pyramid_ticks(largest)
    figure.update_layout(barmode="relative", bargap=0.05)
    figure.update_xaxes(
        title="patients", tickvals=ticks, ticktext=[formats.number(abs(t)) for t in ticks], zeroline=True
    )
    return _layout(figure, formats.PYRAMID_TITLE, height=480)


def panel_trend(flows: pd.DataFrame) -> str:
    import plotly.graph_objects as go

    months = flows[flows.month != TOTAL]
    x = [_month_start(m) for m in months.month]
    figure = go.Figure(
        go.Scatter(
            x=[m.isoformat() for m in x],
            y=list(months.panel_end),
            mode="lines+markers",
            line={"color": BLUE},
            customdata=[[formats.month(m), formats.number(v)] for m, v in zip(x, months.panel_end, strict=True)],
            hovertemplate="fin %{customdata[0]} : %{customdata[1]} patients<extra></extra>",
        )
    )
    figure.update_yaxes(title="patients", rangemode="tozero")
    _month_axis(figure, x)
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
    months = [_month_start(d) for d in frame.reference_date]
    x = [m.isoformat() for m in months]
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
            go.Scatter(
                x=x,
                y=list(rate),
                mode="lines+markers",
                line={"color": BLUE},
                name="taux",
                customdata=[formats.month(m) for m in months],
                hovertemplate="%{customdata} : %{y:.1f}" + ("\u00a0%" if percent else " pour 100") + "<extra></extra>",
            ),
        ]
    )
    for value, name, dash in ((target, "cible", "dash"), (intermediate, "intermédiaire", "dot")):
        if value is not None:
            figure.add_hline(y=value * scale, line={"color": GREY, "dash": dash}, annotation_text=name)
    figure.update_yaxes(title="%" if percent else "pour 100 patients", rangemode="tozero")
    _month_axis(figure, months)
    return _layout(figure, f"{label} — {span} (chaque point : la période finissant ce mois)")


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
            hovertemplate="%{x} : %{y:,.0f}\u00a0k€<extra></extra>",
        )
    )
    figure.update_yaxes(title="résultat (k€)", zeroline=True, zerolinecolor="#444")
    return _layout(figure, f"Résultat par modèle de paiement — {year} (barres : P5–P95)")


def completeness(frame: pd.DataFrame) -> str:
    import plotly.graph_objects as go

    figure = go.Figure()
    for label, rows in frame.groupby("label", sort=False):
        months = [_month_start(m) for m in rows.month]
        figure.add_trace(
            go.Scatter(
                x=[m.isoformat() for m in months],
                y=list(rows.rows),
                mode="lines",
                name=str(label),
                customdata=[formats.month(m) for m in months],
                hovertemplate="%{customdata} : %{y:,d} lignes<extra>%{fullData.name}</extra>",
            )
        )
    figure.update_yaxes(title="lignes par mois", rangemode="tozero")
    _month_axis(figure, _sorted_months(_month_start(m) for m in frame.month))
    return _layout(figure, "Volume des tables cliniques par mois", height=380)
