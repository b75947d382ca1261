"""Disclosure control of small cells, for every aggregate that leaves a health structure.

A count of 1 to threshold - 1 persons (``disclosure.yaml``) is masked: primary suppression. Then more
cells are masked, secondary suppression, until no masked cell can be worked out from what is
published: by subtracting the visible siblings of a cell from a margin along one dimension, by
noticing that the masked cells of a group add up to a small count, or by combining several margins
of the table (an exact linear-algebra audit). ``docs/disclosure.md`` gives the rule, the algorithm
and its limits.

Tables are long: one row per cell, dimension columns, count columns; a row whose dimension value
is the total label ("Total") is the margin over that dimension. Aggregates are small, so this is
plain pandas and numpy in memory, and nothing here touches the warehouse.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from proxisante.definitions import DefinitionError, Parameter, load_yaml, read_parameter

SETTINGS_FILE = resources.files(__package__) / "disclosure.yaml"
SUPPRESSED = "suppressed"
# Denominator first: the complement chosen is the smallest stratum, the one whose loss costs least.
MEASURE_COUNTS = ("denominator", "numerator", "initial_population", "exclusions")
MEASURE_VALUES = ("rate", "ci_low", "ci_high")
# The measures nest their counts (exclusions within the denominator, the numerator within the
# denominator minus exclusions), so a reader can subtract them: each difference is a count too.
MEASURE_DIFFERENCES = {
    "initial_population - denominator": ("initial_population", ("denominator",)),
    "denominator - exclusions": ("denominator", ("exclusions",)),
    "denominator - numerator": ("denominator", ("numerator",)),
    "denominator - exclusions - numerator": ("denominator", ("exclusions", "numerator")),
}


class SettingsError(DefinitionError):
    """``disclosure.yaml`` does not have the expected shape."""


@dataclass(frozen=True)
class Labels:
    """Margin marker, values of the ``suppressed`` column, and what a report prints for a masked count."""

    total: str
    primary: str
    secondary: str
    masked: str


PERIOD_KINDS = ("year", "quarter")


class PeriodRefused(ValueError):
    """A period or reference date outside the published set of a protected audience (message in French)."""


@dataclass(frozen=True)
class PeriodPolicy:
    """Which periods an audience outside the care team may ask for (``protected_periods``)."""

    kinds: tuple[str, ...]
    closed_only: bool

    def allowed(self, start: dt.date, end: dt.date, today: dt.date) -> bool:
        """Is [start, end] a published period: a calendar year (or quarter), over before ``today``?"""
        if self.closed_only and end >= today:
            return False
        year_like = start == dt.date(end.year, 1, 1) and end == dt.date(end.year, 12, 31)
        quarter_like = (
            start.day == 1
            and start.month in (1, 4, 7, 10)
            and start.year == end.year
            and (end + dt.timedelta(days=1)) == _add_months(start, 3)
        )
        return ("year" in self.kinds and year_like) or ("quarter" in self.kinds and quarter_like)

    def check(self, start: dt.date, end: dt.date, today: dt.date, asked: str) -> None:
        """Refuse (in French) a period that is not published; the message names what is."""
        if not self.allowed(start, end, today):
            raise PeriodRefused(f"{asked} : {self.describe()}")

    def check_date(self, day: dt.date, today: dt.date) -> None:
        """A reference date must end a published period (31/12 of a closed year)."""
        starts = [dt.date(day.year, 1, 1)]
        if "quarter" in self.kinds:
            starts.append(_add_months(day.replace(day=1), -2))
        if not any(self.allowed(s, day, today) for s in starts):
            raise PeriodRefused(f"date de référence {day.isoformat()} : {self.describe()}")

    def last_year(self, today: dt.date) -> int:
        """The last published calendar year."""
        return today.year - 1 if self.closed_only else today.year

    def describe(self) -> str:
        kinds = "années civiles (2025)" + (" et trimestres civils (2025-T3)" if "quarter" in self.kinds else "")
        closed = " closes" if self.closed_only else ""
        return (
            f"vue protégée (secret statistique), seules les {kinds}{closed} sont publiées, "
            "avec leur dernier jour pour date de référence ; ni jour libre ni période glissante"
        )


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class DisclosureSettings:
    """The rules of ``disclosure.yaml``, typed so that a typo fails on loading, not in a report."""

    # Dated rules (value, since, source, confidence), read by proxisante.definitions.
    threshold: Parameter
    mask_zeros: Parameter
    labels: Labels
    periods: Parameter | None = None  # its value is a PeriodPolicy

    @property
    def floor(self) -> int:
        """Smallest sensitive count: 1, or 0 when zeros are masked like small counts."""
        return 0 if self.mask_zeros.value else 1

    def with_threshold(self, value: int) -> DisclosureSettings:
        """The same rules with the caller's threshold (e.g. 11 for a CASD release)."""
        _check_threshold(value, "threshold")
        source = f"Fixé pour cette diffusion ; disclosure.yaml indique {self.threshold.value}."
        label = self.threshold.label
        rule = Parameter(
            name="threshold", label=label, values=[(dt.date.today(), value)], source=source, confidence="U"
        )
        return replace(self, threshold=rule)


@cache
def load_settings(path: str | None = None) -> DisclosureSettings:
    """The rules from ``disclosure.yaml`` next to this module (or from ``path``); cached."""
    try:
        node = load_yaml(Path(path) if path else SETTINGS_FILE)
    except DefinitionError as exc:
        raise SettingsError(str(exc)) from exc
    return parse_settings(node)


def parse_settings(node: Any) -> DisclosureSettings:
    """Typed rules from the parsed YAML document."""
    try:
        threshold = _dated(node["threshold"], "threshold", int)
        mask_zeros = _dated(node["mask_zeros"], "mask_zeros", bool)
        labels = Labels(**{name: str(node["labels"][name]) for name in ("total", "primary", "secondary", "masked")})
    except (KeyError, TypeError) as exc:
        raise SettingsError(f"disclosure.yaml: missing or malformed entry {exc}") from exc
    _check_threshold(threshold.value, "disclosure.yaml: threshold")
    if "" in (labels.total, labels.primary, labels.secondary) or labels.primary == labels.secondary:
        raise SettingsError("disclosure.yaml: labels total, primary and secondary must be set, and differ")
    periods = _period_policy(node["protected_periods"]) if "protected_periods" in node else None
    return DisclosureSettings(threshold, mask_zeros, labels, periods)


def _period_policy(node: Any) -> Parameter:
    try:
        raw = _dated(node, "protected_periods", dict)
        kinds = tuple(str(k) for k in raw.value["kinds"])
        closed = raw.value["closed_only"]
    except (KeyError, TypeError) as exc:
        raise SettingsError(f"disclosure.yaml: protected_periods needs kinds and closed_only ({exc})") from exc
    if not kinds or any(k not in PERIOD_KINDS for k in kinds) or type(closed) is not bool:
        raise SettingsError(f"disclosure.yaml: protected_periods kinds among {PERIOD_KINDS}, closed_only true/false")
    return raw.model_copy(update={"values": [(raw.since, PeriodPolicy(kinds, closed))]})


def period_policy(settings: DisclosureSettings | None = None) -> PeriodPolicy:
    """The published periods of ``disclosure.yaml`` (refused when the file does not say)."""
    rules = settings or load_settings()
    if rules.periods is None:
        raise SettingsError("disclosure.yaml: protected_periods is missing")
    return rules.periods.value


def _dated(node: Any, name: str, kind: type) -> Parameter:
    """One dated rule (confidence U when the file does not say), whose value is exactly a ``kind``."""
    needs = f"disclosure.yaml: {name} needs a {kind.__name__} value, a 'since' date and a source"
    try:
        rule = read_parameter({"confidence": "U", **node}, "disclosure.yaml", name)
    except DefinitionError as exc:
        raise SettingsError(f"{needs}\n{exc}") from exc
    if type(rule.value) is not kind:
        raise SettingsError(needs)
    return rule


def _check_threshold(value: object, name: str) -> None:
    if type(value) is not int or value < 1:
        raise SettingsError(f"{name} must be a whole number of persons >= 1, got {value!r}")


def settings_for(threshold: int | None = None, settings: DisclosureSettings | None = None) -> DisclosureSettings:
    """The rules a table is protected with: ``settings`` (default ``disclosure.yaml``), with the caller's
    threshold if given."""
    rules = settings if settings is not None else load_settings()
    return rules if threshold is None else rules.with_threshold(threshold)


# ---------------------------------------------------------------------------------------------------
# Public functions


def suppress(
    frame: pd.DataFrame,
    *,
    dims: Sequence[str],
    counts: Sequence[str],
    threshold: int | None = None,
    total: str | None = None,
    settings: DisclosureSettings | None = None,
) -> pd.DataFrame:
    """The table with small cells and their complements masked, and a ``suppressed`` column.

    A row is a cell; ``total`` (default the ``labels.total`` of ``disclosure.yaml``, "Total") marks
    a margin over that dimension. The marker is a string, never a missing value, so that an
    "unknown" category cannot be taken for a margin. A group of siblings without a margin row is
    protected as if its total were published, since the caller may publish it elsewhere. Masked
    counts become ``pd.NA`` (nullable ``Int64``); ``suppressed`` is "", "primary" or "secondary".
    The input is not modified.
    """
    rules = settings_for(threshold, settings)
    _check_table(frame, dims, counts)
    values = _known_counts(frame, counts)
    primary, masked = _mask(values, _groups(frame, dims, total or rules.labels.total), rules)
    return _publish(frame, counts, primary, masked, rules.labels)


def protect_measure_results(
    frame: pd.DataFrame,
    *,
    dims: Sequence[str],
    threshold: int | None = None,
    total: str | None = None,
    settings: DisclosureSettings | None = None,
) -> pd.DataFrame:
    """A measure report (``MEASURE_COUNTS``, rate and interval, by ``dims``) fit to leave the structure.

    A row is sensitive when a published count or a difference of nested counts
    (``MEASURE_DIFFERENCES``: "everybody but k" reveals k as surely as k does) is small. A masked
    row loses its counts, rate and interval; secondary suppression runs over all those counts, which
    add up across siblings into the margin rows.
    """
    rules = settings_for(threshold, settings)
    _check_table(frame, dims, (*MEASURE_COUNTS, *MEASURE_VALUES))
    counts = pd.DataFrame(_known_counts(frame, MEASURE_COUNTS), columns=list(MEASURE_COUNTS))
    values = np.column_stack([counts.to_numpy(), measure_differences(counts).to_numpy(dtype=np.int64)])
    primary, masked = _mask(values, _groups(frame, dims, total or rules.labels.total), rules)
    out = _publish(frame, MEASURE_COUNTS, primary, masked, rules.labels)
    for column in MEASURE_VALUES:
        out[column] = out[column].astype("Float64").mask(masked)
    return out


def protect_parts(
    frame: pd.DataFrame,
    *,
    part: str,
    whole: str,
    derived: Sequence[str] = (),
    threshold: int | None = None,
    settings: DisclosureSettings | None = None,
) -> pd.DataFrame:
    """Rows that each count the persons of a whole having one trait (``part`` of ``whole``), protected.

    Each row is its own table: the persons with the trait, those without it (``whole - part``:
    "everybody but k" reveals k) and the whole as their margin. A masked row loses ``part`` and the
    ``derived`` columns (a share: share x whole gives the count back); ``whole`` is published elsewhere
    (the panel) and stays. Rows may overlap (a diabetic may be in ALD): they are not added up.
    """
    rules = settings_for(threshold, settings)
    _known_counts(frame, [part, whole])
    masked = np.zeros(len(frame), dtype=bool)
    primary = np.zeros(len(frame), dtype=bool)
    for i, (k, n) in enumerate(zip(frame[part].astype(int), frame[whole].astype(int), strict=True)):
        cell = pd.DataFrame({"trait": ["with", "without", rules.labels.total], "count": [k, n - k, n]})
        done = suppress(cell, dims=["trait"], counts=["count"], settings=rules)
        masked[i] = done["count"].iloc[:2].isna().any()
        primary[i] = (done[SUPPRESSED].iloc[:2] == rules.labels.primary).any()
    out = _publish(frame, [part], primary, masked, rules.labels)
    return mask_derived(out, derived)


def mask_derived(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Values computed from a row's counts (share, rate, interval) masked where the row is masked."""
    hidden = (frame[SUPPRESSED] != "").to_numpy()
    out = frame.copy()
    for column in columns:
        out[column] = out[column].astype("Float64").mask(hidden)
    return out


def measure_differences(frame: pd.DataFrame) -> pd.DataFrame:
    """The differences a reader computes from a measure row's nested counts, one column each."""
    return pd.DataFrame(
        {name: frame[first] - sum(frame[c] for c in rest) for name, (first, rest) in MEASURE_DIFFERENCES.items()},
        index=frame.index,
    )


def disclosure_violations(
    frame: pd.DataFrame,
    dims: Sequence[str],
    counts: Sequence[str],
    threshold: int | None = None,
    *,
    total: str | None = None,
    settings: DisclosureSettings | None = None,
) -> list[str]:
    """What a published table gives away, one sentence each (empty when it is fit to publish).

    Masked counts are missing values. Checked for each count column: a visible small count; a masked
    cell that is the only unknown of a group (subtracting visible siblings from a margin, adding up
    to a masked margin, or using a group total that is not in the table but may be published); the
    masked cells of a group adding up to a small count; a masked cell that follows from combining
    the table's margins. The sentences name cells, never the values they would reveal, so that
    they can be logged.
    """
    rules = settings_for(threshold, settings)
    _check_table(frame, dims, counts)
    groups = _groups(frame, dims, total or rules.labels.total)
    names = [", ".join(f"{d}={v}" for d, v in zip(dims, cell, strict=True)) for cell in _cells(frame, dims)]
    problems: list[str] = []
    for column in counts:
        published = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
        problems += _column_violations(column, published, groups, names, rules)
    return problems


def measure_violations(
    frame: pd.DataFrame,
    dims: Sequence[str],
    threshold: int | None = None,
    *,
    total: str | None = None,
    settings: DisclosureSettings | None = None,
) -> list[str]:
    """``disclosure_violations`` of a published measure report, differences of nested counts included."""
    counts = frame[list(MEASURE_COUNTS)].astype("Int64")
    checked = pd.concat([frame[list(dims)], counts, measure_differences(counts)], axis=1)
    columns = [*MEASURE_COUNTS, *MEASURE_DIFFERENCES]
    return disclosure_violations(checked, dims, columns, threshold, total=total, settings=settings)


# ---------------------------------------------------------------------------------------------------
# Margins

# The label of a margin row in every table the project publishes: labels.total of disclosure.yaml.
TOTAL: str = load_settings().labels.total


def with_margins(
    frame: pd.DataFrame, dims: Sequence[str], counts: Sequence[str], total: str = TOTAL, *, sort: bool = True
) -> pd.DataFrame:
    """The cells of ``frame`` (its ``dims`` and ``counts`` columns) and every margin: ``counts`` summed
    over each subset of ``dims``, the dimensions summed over labelled ``total``.

    Rows: the cells, then the margins from the finest (one dimension summed over) to the grand total
    (every dimension ``total``), subsets in the order of ``itertools.combinations``; within a margin,
    groups sorted, or in the order they first appear with ``sort=False`` (age bands keep their order).
    Counts are ``int64``.
    """
    if not dims:
        raise ValueError("dims: name at least one dimension column")
    parts = [frame[[*dims, *counts]]]
    for size in range(len(dims) - 1, -1, -1):
        for kept in itertools.combinations(dims, size):
            if kept:
                summed = frame.groupby(list(kept), dropna=False, sort=sort)[list(counts)].sum().reset_index()
            else:
                summed = frame[list(counts)].sum().to_frame().T
            for dim in dims:
                if dim not in kept:
                    summed[dim] = total
            parts.append(summed[[*dims, *counts]])
    out = pd.concat(parts, ignore_index=True)
    out[list(counts)] = out[list(counts)].astype("int64")
    return out


# ---------------------------------------------------------------------------------------------------
# The table as cells and groups


@dataclass(frozen=True)
class _Group:
    """Sibling cells that add up to a margin along one dimension, the other dimensions fixed."""

    dim: str
    where: str
    margin: int | None  # row of the margin; None when the table has no margin row for this group
    children: tuple[int, ...]

    def members(self) -> tuple[int, ...]:
        return self.children if self.margin is None else (*self.children, self.margin)


def _cells(frame: pd.DataFrame, dims: Sequence[str]) -> list[tuple[Any, ...]]:
    return list(zip(*(frame[d].tolist() for d in dims), strict=True))


def _groups(frame: pd.DataFrame, dims: Sequence[str], total: str) -> list[_Group]:
    """Every group of siblings, along every dimension; margin rows are cells of the upper level."""
    cells = _cells(frame, dims)
    groups: list[_Group] = []
    for i, dim in enumerate(dims):
        margins: dict[tuple[Any, ...], int] = {}
        children: dict[tuple[Any, ...], list[int]] = {}
        for row, cell in enumerate(cells):
            other = cell[:i] + cell[i + 1 :]
            if isinstance(cell[i], str) and cell[i] == total:
                margins[other] = row
            else:
                children.setdefault(other, []).append(row)
        others = [d for d in dims if d != dim]
        for other, rows in children.items():
            where = ", ".join(f"{d}={v}" for d, v in zip(others, other, strict=True)) or "the whole table"
            groups.append(_Group(dim, where, margins.get(other), tuple(rows)))
    return groups


def _check_table(frame: pd.DataFrame, dims: Sequence[str], columns: Sequence[str]) -> None:
    if not dims:
        raise ValueError("dims: name at least one dimension column")
    missing = [c for c in (*dims, *columns) if c not in frame.columns]
    if missing:
        raise ValueError(f"columns not in the table: {missing}")
    if frame[list(dims)].isna().any().any():
        raise ValueError("a dimension value is missing: name the unknown category (e.g. 'Inconnu')")
    if frame.duplicated(subset=list(dims)).any():
        raise ValueError("two rows for the same cell: aggregate the table first")


def _known_counts(frame: pd.DataFrame, counts: Sequence[str]) -> np.ndarray:
    if not counts:
        raise ValueError("counts: name at least one count column")
    if SUPPRESSED in frame.columns:
        raise ValueError(f"the table already has a {SUPPRESSED!r} column: suppress the original counts")
    values = frame[list(counts)].to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isnan(values).any() or (values < 0).any() or (values != np.round(values)).any():
        raise ValueError("counts must be whole numbers >= 0, none missing: suppress the original table")
    return values.astype(np.int64)


def _small(values: np.ndarray, rules: DisclosureSettings) -> np.ndarray:
    return (values >= rules.floor) & (values < rules.threshold.value)


def _publish(
    frame: pd.DataFrame, counts: Sequence[str], primary: np.ndarray, masked: np.ndarray, labels: Labels
) -> pd.DataFrame:
    out = frame.copy()
    for column in counts:
        out[column] = out[column].astype("Int64").mask(masked)
    out[SUPPRESSED] = np.where(primary, labels.primary, np.where(masked, labels.secondary, ""))
    return out


# ---------------------------------------------------------------------------------------------------
# Suppression


def _mask(values: np.ndarray, groups: list[_Group], rules: DisclosureSettings) -> tuple[np.ndarray, np.ndarray]:
    """Primary cells, and every masked cell once no group and no combination of margins exposes one."""
    primary = np.asarray(_small(values, rules).any(axis=1))
    masked = primary.copy()
    while _protect_groups(values, groups, masked, rules) or _protect_combined(values, groups, masked):
        pass
    return primary, masked


def _protect_groups(values: np.ndarray, groups: list[_Group], masked: np.ndarray, rules: DisclosureSettings) -> bool:
    """Mask complements until no group exposes a cell; whether anything was masked."""
    changed = False
    for group in groups:
        while _exposed(group, values, masked, rules):
            row = _complement(group, values, masked)
            if row is None:
                break
            masked[row] = changed = True
    return changed


def _exposed(group: _Group, values: np.ndarray, masked: np.ndarray, rules: DisclosureSettings) -> bool:
    unknown = [row for row in group.members() if masked[row]]
    if len(unknown) < 2:
        return len(unknown) == 1
    hidden = _hidden_total(group, values, masked, assume_totals=True)
    return hidden is not None and bool(_small(hidden, rules).any())


def _hidden_total(group: _Group, values: np.ndarray, masked: np.ndarray, *, assume_totals: bool) -> np.ndarray | None:
    """What a reader learns of the masked children taken together, if the group's total is known."""
    if group.margin is None:
        return values[[r for r in group.children if masked[r]]].sum(axis=0) if assume_totals else None
    if masked[group.margin]:
        return None
    return values[group.margin] - values[[r for r in group.children if not masked[r]]].sum(axis=0)


def _cost(row: int, values: np.ndarray) -> tuple[Any, ...]:
    # A zero complement hides nothing (the masked total stays the same), so zeros come last.
    return (not values[row].any(), *values[row].tolist(), row)


def _complement(group: _Group, values: np.ndarray, masked: np.ndarray) -> int | None:
    """The smallest visible sibling; the margin itself when every sibling is masked."""
    visible = [row for row in group.children if not masked[row]]
    if visible:
        return min(visible, key=lambda row: _cost(row, values))
    if group.margin is not None and not masked[group.margin]:
        return group.margin
    return None


def _protect_combined(values: np.ndarray, groups: list[_Group], masked: np.ndarray) -> bool:
    """Mask one complement next to a cell that the margins determine taken together, if any."""
    for row in _determined(groups, masked):
        near = [g for g in groups if row in g.members()]
        for around in (near, [g for g in groups if masked[list(g.members())].any()]):
            picks = [p for p in (_complement(g, values, masked) for g in around) if p is not None]
            if picks:
                masked[min(picks, key=lambda p: _cost(p, values))] = True
                return True
    return False


def _determined(groups: list[_Group], masked: np.ndarray) -> list[int]:
    """Masked rows whose value follows from the table's equations (margin = sum of its children).

    Unknowns are the masked cells; an unknown is determined when its unit vector lies in the row
    space of the equations, i.e. every vector of their null space is zero there.
    """
    hidden = np.flatnonzero(masked)
    column = {int(row): j for j, row in enumerate(hidden)}
    equations = []
    for group in groups:
        equation = np.zeros(hidden.size)
        for row in group.children:
            if masked[row]:
                equation[column[row]] = 1.0
        if group.margin is not None and masked[group.margin]:
            equation[column[group.margin]] = -1.0
        if equation.any():
            equations.append(equation)
    if not equations:
        return []
    matrix = np.array(equations)
    _, singular, vt = np.linalg.svd(matrix)
    rank = int((singular > singular.max() * max(matrix.shape) * np.finfo(float).eps).sum())
    null = vt[rank:]
    free = np.abs(null).max(axis=0) > 1e-9 if len(null) else np.zeros(hidden.size, dtype=bool)
    return [int(row) for row in hidden[~free]]


# ---------------------------------------------------------------------------------------------------
# Checking a published table


def _column_violations(
    column: str, published: np.ndarray, groups: list[_Group], names: list[str], rules: DisclosureSettings
) -> list[str]:
    masked = np.isnan(published)
    values = np.nan_to_num(published)[:, None]
    t = rules.threshold.value
    visible_small = np.flatnonzero(_small(values[:, 0], rules) & ~masked)
    problems = [f"{names[row]}: {column} is visible and under {t}" for row in visible_small]
    alone: set[int] = set()
    for group in groups:
        unknown = [row for row in group.members() if masked[row]]
        if len(unknown) == 1:
            alone.add(unknown[0])
            problems.append(f"{names[unknown[0]]}: masked {column} {_how(group, unknown[0])}")
            continue
        hidden = _hidden_total(group, values, masked, assume_totals=False) if unknown else None
        if hidden is not None and _small(hidden, rules).any():
            problems.append(f"{group.where}: the masked {column} along {group.dim} add up to less than {t}")
    problems += [
        f"{names[row]}: masked {column} follows from the margins of the table taken together"
        for row in _determined(groups, masked)
        if row not in alone
    ]
    return problems


def _how(group: _Group, row: int) -> str:
    if row == group.margin:
        return f"is the sum of its visible cells along {group.dim}"
    if group.margin is None:
        return f"is the total along {group.dim} (published elsewhere?) minus its visible siblings"
    return f"is the margin minus its visible siblings along {group.dim}"
