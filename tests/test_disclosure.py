"""Disclosure control: hand-checked tables, then properties over random tables with full margins.

The properties are checked with oracles written here, independently of the module: a subtraction
attack along every dimension run with pandas on the published table, and an exact linear-algebra
attack (least squares) on the table's equations.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxisante import disclosure
from proxisante.disclosure import (
    MEASURE_COUNTS,
    SETTINGS_FILE,
    PeriodRefused,
    SettingsError,
    disclosure_violations,
    load_settings,
    measure_differences,
    measure_violations,
    parse_settings,
    period_policy,
    protect_measure_results,
    suppress,
)
from proxisante.measures import results as measure_results
from proxisante.population import flows, panel, risk
from proxisante.reporting import build, protect
from proxisante.web import access
from tests.lib.paths import SRC

TOTAL = "Total"
THRESHOLD = 10


def one_dim(values: dict[str, int]) -> pd.DataFrame:
    """A 1-D table of counts ``n`` with its Total row."""
    return pd.DataFrame({"age": [*values, TOTAL], "n": [*values.values(), sum(values.values())]})


def with_margins(inner: dict[tuple[str, ...], tuple[int, ...]], dims: list[str], counts: list[str]) -> pd.DataFrame:
    """Inner cells plus every margin (any subset of dimensions set to Total), by summing."""
    levels = [[*sorted({cell[i] for cell in inner}), TOTAL] for i in range(len(dims))]
    rows = []
    for cell in itertools.product(*levels):
        inside = [v for key, v in inner.items() if all(c in (TOTAL, k) for c, k in zip(cell, key, strict=True))]
        rows.append((*cell, *np.sum(inside, axis=0).tolist()))
    return pd.DataFrame(rows, columns=[*dims, *counts])


def status(frame: pd.DataFrame, dims: list[str]) -> dict[tuple[str, ...], str]:
    """Suppression status of the masked cells, by cell."""
    masked = frame[frame["suppressed"] != ""]
    return {tuple(r[d] for d in dims): r["suppressed"] for _, r in masked.iterrows()}


# ---------------------------------------------------------------------------------------------------
# Hand-written tables


def test_one_small_cell_masks_its_smallest_sibling() -> None:
    table = one_dim({"0-15": 3, "16-64": 25, "65-79": 12, "80+": 40})
    out = suppress(table, dims=["age"], counts=["n"])
    assert status(out, ["age"]) == {("0-15",): "primary", ("65-79",): "secondary"}
    assert out["n"].dtype == "Int64"
    assert out["n"].isna().tolist() == [True, False, True, False, False]
    assert out.loc[[1, 3, 4], "n"].tolist() == [25, 40, 80]


def test_masked_cells_adding_up_to_a_small_count_take_one_more() -> None:
    # 3 + 4 = 7 could be read off the margin (87 - 30 - 50): both would be known to be tiny.
    out = suppress(one_dim({"a": 3, "b": 4, "c": 30, "d": 50}), dims=["age"], counts=["n"])
    assert status(out, ["age"]) == {("a",): "primary", ("b",): "primary", ("c",): "secondary"}


def test_all_large_cells_are_published_unchanged() -> None:
    table = one_dim({"a": 10, "b": 25, "c": 12, "d": 40})
    out = suppress(table, dims=["age"], counts=["n"])
    assert out["suppressed"].tolist() == [""] * 5
    assert out["n"].tolist() == table["n"].tolist()


def test_zero_is_not_a_small_count_and_is_not_used_as_complement() -> None:
    out = suppress(one_dim({"a": 0, "b": 3, "c": 20, "d": 40}), dims=["age"], counts=["n"])
    assert status(out, ["age"]) == {("b",): "primary", ("c",): "secondary"}
    assert out.loc[0, "n"] == 0


def test_zeros_are_masked_when_the_parameter_says_so(tmp_path: Path) -> None:
    text = SETTINGS_FILE.read_text(encoding="utf-8").replace("value: false", "value: true")
    (tmp_path / "disclosure.yaml").write_text(text, encoding="utf-8")
    rules = load_settings(str(tmp_path / "disclosure.yaml"))
    assert rules.mask_zeros.value is True
    out = suppress(one_dim({"a": 0, "b": 3, "c": 20, "d": 40}), dims=["age"], counts=["n"], settings=rules)
    assert status(out, ["age"]) == {("a",): "primary", ("b",): "primary", ("c",): "secondary"}


def test_threshold_override() -> None:
    table = one_dim({"a": 3, "b": 6, "c": 20, "d": 40})
    assert status(suppress(table, dims=["age"], counts=["n"], threshold=5), ["age"]) == {
        ("a",): "primary",
        ("b",): "secondary",
    }
    assert status(suppress(table, dims=["age"], counts=["n"]), ["age"]) == {
        ("a",): "primary",
        ("b",): "primary",
        ("c",): "secondary",
    }
    assert status(suppress(table, dims=["age"], counts=["n"], threshold=2), ["age"]) == {}


def test_two_dimensions_small_cell_masks_a_rectangle() -> None:
    inner = {("F", "young"): (3,), ("F", "old"): (40,), ("M", "young"): (20,), ("M", "old"): (50,)}
    out = suppress(with_margins(inner, ["sex", "age"], ["n"]), dims=["sex", "age"], counts=["n"])
    assert status(out, ["sex", "age"]) == {
        ("F", "young"): "primary",
        ("F", "old"): "secondary",
        ("M", "young"): "secondary",
        ("M", "old"): "secondary",
    }
    assert disclosure_violations(out, ["sex", "age"], ["n"]) == []


def test_masked_margin_propagates_to_the_upper_level_and_to_its_children() -> None:
    # R3 is small as a whole: its Total is masked, so R1's Total (the smallest sibling in the
    # Total column) is masked too, which leaves R1 F visible but takes R2 F and R2 M with it.
    inner = {("R1", "F"): (20,), ("R1", "M"): (12,), ("R2", "F"): (15,), ("R2", "M"): (60,)}
    inner |= {("R3", "F"): (2,), ("R3", "M"): (3,)}
    out = suppress(with_margins(inner, ["region", "sex"], ["n"]), dims=["region", "sex"], counts=["n"])
    assert status(out, ["region", "sex"]) == {
        ("R3", "F"): "primary",
        ("R3", "M"): "primary",
        ("R3", TOTAL): "primary",
        ("R1", TOTAL): "secondary",
        ("R1", "M"): "secondary",
        ("R2", "F"): "secondary",
        ("R2", "M"): "secondary",
    }
    assert disclosure_violations(out, ["region", "sex"], ["n"]) == []


def test_a_cell_that_the_margins_give_away_together_is_protected() -> None:
    # One small cell, r3 c0 = 8. Two masked cells per row and column are not enough here: r0 c0
    # (17) bridges the masked rectangles r0-r1 x c2-c3 and r2-r3 x c0-c1, so column c0's hidden
    # total minus (rows r2 and r3's hidden totals minus column c1's) gives it back. The audit
    # masks r1 c0 (46), the smallest visible cell of its row and column.
    rows = [[17, 59, 23, 39], [46, 37, 27, 27], [27, 14, 29, 44], [8, 11, 38, 53]]
    inner = {(f"r{i}", f"c{j}"): (v,) for i, row in enumerate(rows) for j, v in enumerate(row)}
    out = suppress(with_margins(inner, ["row", "col"], ["n"]), dims=["row", "col"], counts=["n"])
    hidden = [("r0", "c0"), ("r0", "c2"), ("r0", "c3"), ("r1", "c0"), ("r1", "c2"), ("r1", "c3")]
    hidden += [("r2", "c0"), ("r2", "c1"), ("r3", "c1")]
    assert status(out, ["row", "col"]) == {("r3", "c0"): "primary"} | dict.fromkeys(hidden, "secondary")
    assert disclosure_violations(out, ["row", "col"], ["n"]) == []


def test_group_without_margin_row_is_protected_as_if_its_total_were_published() -> None:
    table = pd.DataFrame({"age": ["a", "b", "c"], "n": [3, 30, 40]})
    assert status(suppress(table, dims=["age"], counts=["n"]), ["age"]) == {("a",): "primary", ("b",): "secondary"}


def test_custom_margin_marker_and_several_counts() -> None:
    table = pd.DataFrame(
        {"age": ["a", "b", "c", "Ensemble"], "patients": [12, 30, 40, 82], "visits": [4, 90, 100, 194]}
    )
    out = suppress(table, dims=["age"], counts=["patients", "visits"], total="Ensemble")
    assert status(out, ["age"]) == {("a",): "primary", ("b",): "secondary"}
    assert out.loc[[0, 1], ["patients", "visits"]].isna().all().all()


def test_suppress_does_not_modify_its_input() -> None:
    table = one_dim({"a": 3, "b": 25, "c": 12, "d": 40})
    before = table.copy(deep=True)
    suppress(table, dims=["age"], counts=["n"])
    pd.testing.assert_frame_equal(table, before)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (pd.DataFrame({"age": ["a", None], "n": [1, 2]}), "dimension value is missing"),
        (pd.DataFrame({"age": ["a", "a"], "n": [1, 2]}), "same cell"),
        (pd.DataFrame({"age": ["a", "b"], "n": [1, -2]}), "whole numbers"),
        (pd.DataFrame({"age": ["a", "b"], "n": [1.5, 2]}), "whole numbers"),
    ],
)
def test_malformed_tables_are_refused(table: pd.DataFrame, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        suppress(table, dims=["age"], counts=["n"])


def test_checker_finds_visible_small_cells_and_subtractions() -> None:
    published = pd.DataFrame({"age": ["a", "b", "c", TOTAL], "n": pd.array([None, 5, 40, 60], dtype="Int64")})
    problems = disclosure_violations(published, ["age"], ["n"], THRESHOLD)
    assert problems == [
        "age=b: n is visible and under 10",
        "age=a: masked n is the margin minus its visible siblings along age",
    ]
    assert not any("15" in p for p in problems), "a violation never prints the value it would reveal"


def test_checker_finds_a_masked_margin_equal_to_the_sum_of_visible_cells() -> None:
    published = pd.DataFrame({"age": ["a", "b", TOTAL], "n": pd.array([20, 40, None], dtype="Int64")})
    assert disclosure_violations(published, ["age"], ["n"]) == [
        f"age={TOTAL}: masked n is the sum of its visible cells along age"
    ]


def test_checker_finds_a_cell_that_only_the_margins_together_determine() -> None:
    # Every row and column has 0 or >= 2 masked cells, yet r1 c3 is a bridge between two masked
    # cycles: (row r1 + row r2 totals) - (column c1 + column c2 totals) gives it away.
    inner = {(f"r{i}", f"c{j}"): (20 + i + j,) for i in range(1, 5) for j in range(1, 5)}
    table = with_margins(inner, ["row", "col"], ["n"])
    hidden = {("r1", "c1"), ("r1", "c2"), ("r2", "c1"), ("r2", "c2")}
    hidden |= {("r3", "c3"), ("r3", "c4"), ("r4", "c3"), ("r4", "c4"), ("r1", "c3")}
    cells = list(zip(table["row"], table["col"], strict=True))
    table["n"] = table["n"].astype("Int64").mask([cell in hidden for cell in cells])
    assert disclosure_violations(table, ["row", "col"], ["n"]) == [
        "row=r1, col=c3: masked n follows from the margins of the table taken together"
    ]


def test_measure_complement_everybody_but_k_is_sensitive() -> None:
    results = pd.DataFrame(
        {
            "sex": ["F", "M", TOTAL],
            "initial_population": [50, 70, 120],
            "denominator": [40, 55, 95],
            "exclusions": [0, 0, 0],
            "numerator": [35, 30, 65],  # 35 of 40 women: the other 5 are identified
            "rate": [0.875, 30 / 55, 65 / 95],
            "ci_low": [0.74, 0.41, 0.58],
            "ci_high": [0.95, 0.67, 0.77],
        }
    )
    out = protect_measure_results(results, dims=["sex"])
    assert status(out, ["sex"]) == {("F",): "primary", ("M",): "secondary"}
    assert out.loc[[0, 1], [*MEASURE_COUNTS, "rate", "ci_low", "ci_high"]].isna().all().all()
    assert out.loc[2, "rate"] == pytest.approx(65 / 95)
    assert measure_violations(out, ["sex"]) == []


def test_settings_are_dated_sourced_and_frozen() -> None:
    rules = load_settings()
    assert rules.threshold.value == 10 and rules.mask_zeros.value is False
    assert rules.threshold.since.year == 2017 and "petits effectifs" in rules.threshold.source
    assert rules.labels.total == TOTAL
    with pytest.raises(dataclasses.FrozenInstanceError):
        rules.threshold = rules.threshold  # type: ignore[misc]
    assert rules.with_threshold(11).threshold.value == 11 and rules.threshold.value == 10
    with pytest.raises(SettingsError):
        rules.with_threshold(0)


def test_settings_without_source_or_with_a_bad_threshold_are_refused() -> None:
    node = yaml.safe_load(SETTINGS_FILE.read_text(encoding="utf-8"))
    for broken in ({**node["threshold"], "source": ""}, {**node["threshold"], "value": "10"}):
        with pytest.raises(SettingsError):
            parse_settings({**node, "threshold": broken})


# ---------------------------------------------------------------------------------------------------
# Oracles, written independently of the module


def sibling_groups(table: pd.DataFrame, dims: list[str]) -> list[tuple[str, int | None, list[int]]]:
    """(dimension, margin row, children rows) of every group of siblings, by row position."""
    cells = [tuple(map(str, cell)) for cell in table[dims].to_numpy().tolist()]
    groups = []
    for i, dim in enumerate(dims):
        found: dict[tuple[str, ...], tuple[list[int | None], list[int]]] = {}
        for row, cell in enumerate(cells):
            margin, children = found.setdefault(cell[:i] + cell[i + 1 :], ([None], []))
            if cell[i] == TOTAL:
                margin[0] = row
            else:
                children.append(row)
        groups += [(dim, margin[0], children) for margin, children in found.values() if children]
    return groups


def subtraction_recoveries(
    published: pd.DataFrame, original: pd.DataFrame, groups: list[tuple[str, int | None, list[int]]], counts: list[str]
) -> list[str]:
    """Masked cells a reader gets back from one group: margin minus visible siblings, or sum of
    visible children for a masked margin (a group without margin row: its total is assumed known)."""
    found = []
    for c in counts:
        shown = published[c].to_numpy(dtype=float, na_value=np.nan)
        truth = original[c].to_numpy(dtype=float)
        for dim, margin, children in groups:
            rows = children if margin is None else [*children, margin]
            unknown = [r for r in rows if np.isnan(shown[r])]
            if len(unknown) != 1:
                continue
            visible = np.nansum(shown[children])
            total = truth[children].sum() if margin is None else shown[margin]
            guess = visible if unknown[0] == margin else total - visible
            if guess == truth[unknown[0]]:
                found.append(f"row {unknown[0]}: {c} along {dim}")
    return found


def exactly_determined(
    published: pd.DataFrame, groups: list[tuple[str, int | None, list[int]]], column: str
) -> list[int]:
    """Masked rows whose value the equations 'margin = sum of children' fix: the unit vector of the
    unknown is a combination of the equations (least squares, all unknowns at once)."""
    hidden = np.flatnonzero(published[column].isna().to_numpy())
    if not hidden.size:
        return []
    where = {row: j for j, row in enumerate(hidden)}
    equations = []
    for _, margin, children in groups:
        eq = np.zeros(hidden.size)
        eq[[where[r] for r in children if r in where]] = 1.0
        if margin in where:
            eq[where[margin]] = -1.0
        equations.append(eq)
    a = np.array(equations)
    combination = np.linalg.lstsq(a.T, np.eye(hidden.size), rcond=None)[0]
    reached = np.isclose(a.T @ combination, np.eye(hidden.size), atol=1e-7).all(axis=0)
    return [int(row) for row in hidden[reached]]


def small_visible(published: pd.DataFrame, counts: list[str], threshold: int = THRESHOLD) -> bool:
    block = published[counts].astype("Float64")
    return bool(((block >= 1) & (block < threshold)).fillna(False).any().any())


# ---------------------------------------------------------------------------------------------------
# Properties over random tables with full margins


COUNT = st.one_of(st.integers(0, 12), st.integers(10, 400))


@st.composite
def tables(draw: st.DrawFn, counts: int = 1) -> tuple[pd.DataFrame, list[str]]:
    """A 1-, 2- or 3-D table with every margin, rows in a random order."""
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    dims = [f"d{i}" for i in range(len(shape))]
    cells = itertools.product(*([f"{d}v{k}" for k in range(n)] for d, n in zip(dims, shape, strict=True)))
    inner = {cell: tuple(draw(COUNT) for _ in range(counts)) for cell in cells}
    table = with_margins(inner, dims, [f"n{k}" for k in range(counts)])
    order = draw(st.permutations(range(len(table))))
    return table.iloc[list(order)].reset_index(drop=True), dims


@st.composite
def sparse_tables(draw: st.DrawFn) -> tuple[pd.DataFrame, list[str]]:
    """Larger 2-D and 3-D tables with few small cells, where masking two cells per group is
    sometimes not enough (about one table in ten needs the audit of combined margins)."""
    rng = draw(st.randoms(use_true_random=False))
    shape = [rng.randint(3, 5) for _ in range(2)] if rng.random() < 0.6 else [rng.randint(2, 4) for _ in range(3)]
    dims = [f"d{i}" for i in range(len(shape))]
    share = rng.random() * 0.3
    cells = itertools.product(*([f"{d}v{k}" for k in range(n)] for d, n in zip(dims, shape, strict=True)))
    inner = {cell: (rng.randint(1, 9) if rng.random() < share else rng.randint(10, 200),) for cell in cells}
    return with_margins(inner, dims, ["n0"]), dims


def check_published(
    published: pd.DataFrame, original: pd.DataFrame, dims: list[str], counts: list[str], threshold: int = THRESHOLD
) -> None:
    assert not small_visible(published, counts, threshold)
    groups = sibling_groups(published, dims)
    assert subtraction_recoveries(published, original, groups, counts) == []
    for c in counts:
        assert exactly_determined(published, groups, c) == []
        visible = published[c].notna()
        assert (published.loc[visible, c] == original.loc[visible, c]).all()


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(tables(), st.sampled_from([None, 5, 11]))
def test_suppressed_tables_give_nothing_away(drawn: tuple[pd.DataFrame, list[str]], threshold: int | None) -> None:
    table, dims = drawn
    before = table.copy(deep=True)
    out = suppress(table, dims=dims, counts=["n0"], threshold=threshold)
    pd.testing.assert_frame_equal(table, before)
    limit = threshold or THRESHOLD
    assert disclosure_violations(out, dims, ["n0"], limit) == []
    check_published(out, table, dims, ["n0"], limit)
    sensitive = table["n0"].between(1, limit - 1)
    assert ((out["suppressed"] == "primary") == sensitive).all()
    assert (out["suppressed"] != "").eq(out["n0"].isna()).all()


@PROPERTY
@given(sparse_tables())
def test_larger_sparse_tables_give_nothing_away(drawn: tuple[pd.DataFrame, list[str]]) -> None:
    table, dims = drawn
    out = suppress(table, dims=dims, counts=["n0"])
    assert disclosure_violations(out, dims, ["n0"]) == []
    check_published(out, table, dims, ["n0"])


@PROPERTY
@given(tables(counts=2))
def test_suppressed_tables_with_two_counts_give_nothing_away(drawn: tuple[pd.DataFrame, list[str]]) -> None:
    table, dims = drawn
    out = suppress(table, dims=dims, counts=["n0", "n1"])
    assert disclosure_violations(out, dims, ["n0", "n1"]) == []
    check_published(out, table, dims, ["n0", "n1"])


@PROPERTY
@given(tables())
def test_tables_without_small_cells_are_unchanged(drawn: tuple[pd.DataFrame, list[str]]) -> None:
    table, dims = drawn
    table = table.assign(n0=table["n0"] + THRESHOLD)
    out = suppress(table, dims=dims, counts=["n0"])
    assert (out["suppressed"] == "").all()
    assert out["n0"].tolist() == table["n0"].tolist()


MEASURE_CELL = st.tuples(COUNT, COUNT, COUNT, COUNT)


@st.composite
def measure_tables(draw: st.DrawFn) -> tuple[pd.DataFrame, list[str]]:
    """Random measure results with nested counts (exclusions within the denominator, numerator
    within denominator minus exclusions, as the measure engine counts them), summed into margins."""
    shape = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    dims = [f"d{i}" for i in range(len(shape))]
    inner = {}
    for cell in itertools.product(*([f"{d}v{k}" for k in range(n)] for d, n in zip(dims, shape, strict=True))):
        not_eligible, excluded, met, not_met = draw(MEASURE_CELL)
        denominator = excluded + met + not_met
        inner[cell] = (denominator, met, denominator + not_eligible, excluded)
    table = with_margins(inner, dims, list(MEASURE_COUNTS))
    eligible = (table["denominator"] - table["exclusions"]).replace(0, np.nan)
    table["rate"] = table["numerator"] / eligible
    table["ci_low"], table["ci_high"] = table["rate"] * 0.9, table["rate"] * 1.1
    return table, dims


@settings(PROPERTY, max_examples=100)
@given(measure_tables())
def test_protected_measure_results_give_nothing_away(drawn: tuple[pd.DataFrame, list[str]]) -> None:
    table, dims = drawn
    before = table.copy(deep=True)
    out = protect_measure_results(table, dims=dims)
    pd.testing.assert_frame_equal(table, before)
    assert measure_violations(out, dims) == []
    counts = [*MEASURE_COUNTS, *measure_differences(table).columns]
    published = pd.concat([out[dims], out[list(MEASURE_COUNTS)], measure_differences(out)], axis=1)
    original = pd.concat([table[dims], table[list(MEASURE_COUNTS)], measure_differences(table)], axis=1)
    check_published(published, original, dims, counts)
    masked = out["suppressed"] != ""
    assert out.loc[masked, ["rate", "ci_low", "ci_high"]].isna().all().all()
    assert (out.loc[~masked, "rate"].fillna(-1) == table.loc[~masked, "rate"].fillna(-1)).all()
    if not small_visible(original, counts):
        assert not masked.any()


# ---------------------------------------------------------------------------------------------------
# Parts of a whole, derived values and the published periods of a protected audience


def test_a_part_of_a_whole_is_masked_when_it_or_everybody_but_it_is_small() -> None:
    from proxisante.disclosure import protect_parts

    frame = pd.DataFrame(
        {
            "indicator": ["rare", "common", "almost_all", "none"],
            "patients": [3, 40, 127, 0],
            "panel": [131, 131, 131, 131],
            "share": [3 / 131, 40 / 131, 127 / 131, 0.0],
        }
    )
    out = protect_parts(frame, part="patients", whole="panel", derived=["share"])
    assert out.patients.isna().tolist() == [True, False, True, False]  # 127 of 131: the other 4 are known
    assert out.share.isna().tolist() == [True, False, True, False]  # share × panel gave the count back
    assert out.panel.tolist() == [131] * 4 and out.suppressed.tolist() == ["primary", "", "primary", ""]


def test_the_published_periods_are_closed_calendar_years() -> None:
    policy = period_policy()
    today = dt.date(2026, 12, 5)
    assert policy.kinds == ("year",) and policy.closed_only
    assert policy.allowed(dt.date(2025, 1, 1), dt.date(2025, 12, 31), today)
    assert not policy.allowed(dt.date(2026, 1, 1), dt.date(2026, 12, 31), today)  # not over
    assert not policy.allowed(dt.date(2025, 10, 1), dt.date(2025, 12, 31), today)  # a quarter
    assert not policy.allowed(dt.date(2024, 7, 1), dt.date(2025, 6, 30), today)  # a rolling year
    policy.check_date(dt.date(2024, 12, 31), today)
    with pytest.raises(PeriodRefused, match="années civiles"):
        policy.check_date(dt.date(2025, 12, 30), today)


def test_a_policy_with_an_unknown_period_kind_is_refused() -> None:
    node = yaml.safe_load(SETTINGS_FILE.read_text(encoding="utf-8"))
    broken = {**node["protected_periods"], "value": {"kinds": ["day"], "closed_only": True}}
    with pytest.raises(SettingsError):
        parse_settings({**node, "protected_periods": broken})
    quarters = {**node["protected_periods"], "value": {"kinds": ["year", "quarter"], "closed_only": False}}
    policy = parse_settings({**node, "protected_periods": quarters}).periods.value
    assert policy.allowed(dt.date(2025, 10, 1), dt.date(2025, 12, 31), dt.date(2025, 1, 1))


# ---------------------------------------------------------------------------------------------------
# Margins: one home, one label


def test_margins_are_every_subset_of_the_dimensions_labelled_with_the_settings_total() -> None:
    cells = pd.DataFrame({"sex": ["F", "F", "M"], "age": ["0-9", "10-19", "0-9"], "n": [3, 4, 5]})
    out = disclosure.with_margins(cells, ["sex", "age"], ["n"])
    total = disclosure.TOTAL
    assert total == load_settings().labels.total == yaml.safe_load(SETTINGS_FILE.read_text())["labels"]["total"]
    assert list(zip(out.sex, out.age, out.n, strict=True)) == [
        ("F", "0-9", 3), ("F", "10-19", 4), ("M", "0-9", 5),  # the cells as given
        ("F", total, 7), ("M", total, 5),  # summed over age
        (total, "0-9", 8), (total, "10-19", 4),  # summed over sex
        (total, total, 12),  # the grand total
    ]  # fmt: skip
    assert out.n.dtype == "int64"
    one = disclosure.with_margins(cells[["sex", "n"]], ["sex"], ["n"], total="Ensemble")
    assert one.sex.tolist() == ["F", "F", "M", "Ensemble"] and one.n.tolist() == [3, 4, 5, 12]
    with pytest.raises(ValueError, match="dims"):
        disclosure.with_margins(cells, [], ["n"])


def test_margins_can_keep_the_order_groups_appear_in() -> None:
    """Age bands are not sorted as text ("10-14" before "5-9"): the pyramid keeps its own order."""
    cells = pd.DataFrame({"age": ["5-9", "10-14", "5-9"], "sex": ["F", "F", "M"], "n": [1, 2, 3]})
    total = disclosure.TOTAL
    kept = disclosure.with_margins(cells, ["age", "sex"], ["n"], sort=False)
    assert kept.age.tolist()[3:5] == ["5-9", "10-14"]
    assert disclosure.with_margins(cells, ["age", "sex"], ["n"]).age.tolist()[3:5] == ["10-14", "5-9"]
    assert kept.iloc[-1].tolist() == [total, total, 6]


# The marker is compared, assigned or used as a key; a French heading that happens to read "Total" is the
# value of a label mapping (``{TOTAL: "Total"}``), which is allowed.
def _total_literals(path: Path, total: str) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    headings = {id(v) for node in ast.walk(tree) if isinstance(node, ast.Dict) for v in node.values}
    return [
        f"{path.relative_to(SRC).as_posix()}:{node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value == total and id(node) not in headings
    ]


def test_margins_and_their_label_are_defined_in_disclosure_only() -> None:
    """``disclosure.with_margins`` and ``disclosure.TOTAL`` (labels.total of disclosure.yaml), nowhere else."""
    total = load_settings().labels.total
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path == SRC / "disclosure.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [f"{path.relative_to(SRC)}: def {n.name}" for n in ast.walk(tree)
                  if isinstance(n, ast.FunctionDef) and n.name == "with_margins"]  # fmt: skip
        found += [f"{where}: the literal {total!r}" for where in _total_literals(path, total)]
    assert not found, "use proxisante.disclosure (with_margins, TOTAL):\n" + "\n".join(found)


def test_every_margin_label_in_use_is_the_settings_one() -> None:
    for module in (measure_results, flows, panel, risk, build, protect, access):
        assert module.TOTAL is disclosure.TOTAL, module.__name__
    assert measure_results.with_margins is protect.with_margins is disclosure.with_margins
