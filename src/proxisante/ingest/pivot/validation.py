"""Validation of a staged pivot file, compiled to set-based SQL from the pivot format.

Each column's kind (see :mod:`proxisante.ingest.pivot.format`) becomes two SQL expressions: the
parsed value and the reason it is wrong (or NULL). Rules that need other rows (duplicate keys,
references to patients, professionals, encounters, dates within the patient's life) are a second
step with joins. The result is two tables: ``valid`` (parsed, typed rows with no error) and
``errors`` (one row per line and field, with the reason). Nothing is dropped: every line of the file
is in exactly one of them.

Identifying columns are checked like the others, but their value never reaches ``errors``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import duckdb
import yaml

from proxisante import vocab
from proxisante.ingest.files import LINE, InputFileError, RawFile
from proxisante.ingest.pivot.format import Column, PivotTable
from proxisante.messages import CODE_REASONS, REASONS

# The regular expression that finds the first line in a duplicate's reason (the FHIR loader turns it into
# file:line; warehouse/status.py, which cannot import the sources, drops it with its own copy).
DUPLICATE_LINE = r"première occurrence ligne ([0-9]+)"
# Control characters (C0, DEL, C1): never in a code, a key, a date or an identifier; free text may hold
# a tabulation or a line break (a quoted multi-line comment), nothing else.
CONTROLS = r"[\x00-\x1f\x7f-\x9f]"
FREE_TEXT_CONTROLS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
CONTROL_ROW = "__control"  # a staged row's flag: a control character in one of its values
INTEGER_PATTERN = "[+-]?[0-9]{1,18}"
DECIMAL_PATTERN = "[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]{1,3})?"
NON_FINITE_PATTERN = "[+-]?(nan|inf|infinity)"
# What looks like a NIR/INS inside any value (13 to 15 characters, digits and the Corsican A/B).
IDENTIFIER_SHAPE = "[0-9][0-9AB]{12,14}"
DATE_FORMATS = (
    "%d/%m/%Y",
    "%Y-%m-%d",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%d-%m-%Y",
    "%d.%m.%Y",
)
MASK = "***"


def _digit(i: int) -> str:
    return f"(ord(substr(s, {i}, 1)) - 48)"


def _luhn_sql(length: int) -> str:
    """Luhn check unrolled (no list lambda: plain arithmetic vectorises far better)."""
    terms = []
    for i in range(1, length + 1):
        d = _digit(i)
        terms.append(f"(2 * {d} - CASE WHEN {d} >= 5 THEN 9 ELSE 0 END)" if (length - i) % 2 == 1 else d)
    return f"({' + '.join(terms)}) % 10 = 0"


def _ean13_sql() -> str:
    total = " + ".join(f"{_digit(i)} * {1 if i % 2 else 3}" for i in range(1, 13))
    return f"(10 - ({total}) % 10) % 10 = {_digit(13)}"


# Checks with a key digit, as DuckDB macros (created per connection, temporary). Each computes its key
# only on a value of the right shape, and with TRY_CAST: DuckDB may evaluate both sides of an AND on
# every row, so a key check must never fail on a value its pattern check rejects (``1,85058E+14``).
NIR_PATTERN = "[1-478][0-9]{4}(2[AB]|[0-9]{2})[0-9]{8}"
MACROS = f"""
CREATE OR REPLACE TEMP MACRO luhn11_ok(s) AS (
    CASE WHEN regexp_full_match(s, '[0-9]{{11}}') THEN {_luhn_sql(11)} ELSE FALSE END);
CREATE OR REPLACE TEMP MACRO ean13_ok(s) AS (
    CASE WHEN regexp_full_match(s, '[0-9]{{13}}') THEN {_ean13_sql()} ELSE FALSE END);
CREATE OR REPLACE TEMP MACRO nir_key_ok(s) AS (
    CASE WHEN regexp_full_match(s, '{NIR_PATTERN}') THEN
        coalesce(97 - (TRY_CAST(CASE substr(s, 6, 2)
                                 WHEN '2A' THEN substr(s, 1, 5) || '19' || substr(s, 8, 6)
                                 WHEN '2B' THEN substr(s, 1, 5) || '18' || substr(s, 8, 6)
                                 ELSE substr(s, 1, 13) END AS BIGINT) % 97)
                 = TRY_CAST(substr(s, 14, 2) AS INTEGER), FALSE)
    ELSE FALSE END
);
"""


@dataclass(frozen=True)
class CodeRule:
    """How one code system is normalised and checked. ``{v}`` is the trimmed text value."""

    normalise: str
    valid: str
    reason: str


def _in_list(name: str) -> str:
    listed = ", ".join("'" + code.upper().replace("'", "''") + "'" for code in sorted(vocab.codes(name)))
    return "{n} IN (" + listed + ")"


def _code_rules() -> dict[str, CodeRule]:
    compact = "upper(replace(replace({v}, ' ', ''), '.', ''))"
    cim10 = "regexp_replace(upper({v}), '[ .+*]', '', 'g')"
    return {
        "nir": CodeRule(
            compact,
            f"regexp_full_match({{n}}, '{NIR_PATTERN}') AND nir_key_ok({{n}})",
            CODE_REASONS["nir"],
        ),
        "rpps": CodeRule(
            "replace({v}, ' ', '')",
            "regexp_full_match({n}, '[0-9]{11}') AND luhn11_ok({n})",
            CODE_REASONS["rpps"],
        ),
        "finess": CodeRule(
            compact,
            "regexp_full_match({n}, '([0-9]{2}|2[AB])[0-9]{7}')",
            CODE_REASONS["finess"],
        ),
        "cim10": CodeRule(
            f"CASE WHEN length({cim10}) > 3 THEN substr({cim10}, 1, 3) || '.' || substr({cim10}, 4) ELSE {cim10} END",
            "regexp_full_match({n}, '[A-Z][0-9]{2}(\\.[0-9A-Z]{1,3})?')",
            CODE_REASONS["cim10"],
        ),
        "atc": CodeRule(
            "upper(replace({v}, ' ', ''))",
            "regexp_full_match({n}, '[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?')",
            CODE_REASONS["atc"],
        ),
        "cip13": CodeRule(
            "replace({v}, ' ', '')",
            "regexp_full_match({n}, '3400[0-9]{9}') AND ean13_ok({n})",
            CODE_REASONS["cip13"],
        ),
        "nabm": CodeRule(
            "CASE WHEN length({v}) < 4 THEN lpad({v}, 4, '0') ELSE {v} END",
            "regexp_full_match({n}, '[0-9]{4}')",
            CODE_REASONS["nabm"],
        ),
        "loinc": CodeRule("{v}", "regexp_full_match({n}, '[0-9]{1,7}-[0-9]')", CODE_REASONS["loinc"]),
        "ccam": CodeRule(
            "upper(replace({v}, ' ', ''))",
            "regexp_full_match({n}, '[A-Z]{4}[0-9]{3}')",
            CODE_REASONS["ccam"],
        ),
        "ngap": CodeRule("upper({v})", _in_list("ngap"), CODE_REASONS["ngap"]),
        "act": CodeRule(
            "upper(replace({v}, ' ', ''))",
            "(" + _in_list("ngap") + " OR regexp_full_match({n}, '[A-Z]{4}[0-9]{3}'))",
            CODE_REASONS["act"],
        ),
        "sex": CodeRule(_mapping_case("sex", "normalised"), "{n} IS NOT NULL", CODE_REASONS["sex"]),
        "profession": CodeRule("upper({v})", _in_list("professions"), CODE_REASONS["profession"]),
        "coverage_type": CodeRule("upper({v})", _in_list("coverage_type"), CODE_REASONS["coverage_type"]),
        "payer": CodeRule("upper({v})", _in_list("payer"), CODE_REASONS["payer"]),
        "structure_type": CodeRule("upper({v})", _in_list("structure_type"), CODE_REASONS["structure_type"]),
        "postcode": CodeRule("{v}", "regexp_full_match({n}, '[0-9]{5}')", CODE_REASONS["postcode"]),
        "commune": CodeRule(
            "upper({v})",
            "regexp_full_match({n}, '([0-9]{2}|2[AB])[0-9]{3}')",
            CODE_REASONS["commune"],
        ),
    }


def _mapping_case(name: str, column: str) -> str:
    pairs = " ".join(f"WHEN '{k.upper()}' THEN '{v}'" for k, v in vocab.mapping(name, column).items())
    return "CASE upper({v}) " + pairs + " END"


@cache
def rules() -> dict[str, Any]:
    """Plausibility rules (``pivot_rules.yaml``)."""
    text = (resources.files(__package__) / "pivot_rules.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


@dataclass(frozen=True)
class Reference:
    """A table of known keys that a ``ref:`` column must match.

    ``match`` is the column of ``table`` to compare with ``key``, an SQL template over the value
    (``{v}``): the local id itself for patients (``patient_id``), the warehouse id it maps to for the
    others, so that rows loaded by an earlier batch are known too.
    """

    table: str
    match: str
    key: str = "{v}"


References = dict[str, Reference]


@dataclass(frozen=True)
class Validated:
    """Where the result of validating one file is: table names in the staging connection."""

    checked: str  # every row with its parsed values and reasons; ``valid`` is a view over it
    valid: str
    errors: str
    rows_read: int
    rows_valid: int
    lines_rejected: int


def validate(
    con: duckdb.DuckDBPyConnection, raw: RawFile, spec: PivotTable, refs: References, as_of: date
) -> Validated:
    """Check every row of a staged file; return where the valid rows and the errors are."""
    con.execute(MACROS)
    _check_columns(raw, spec)
    checked, valid, errors = f"{raw.table}__checked", f"{raw.table}__valid", f"{raw.table}__errors"
    # The tables of known keys are small next to the file: keep them as the build side of the joins
    # (the optimiser otherwise hashes the file's wide rows, twice as slow on a large file).
    con.execute("SET disabled_optimizers = 'build_side_probe_side'")
    try:
        con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{checked}" AS '
            f"WITH first_pass AS ({_first_pass(raw, spec, as_of)}) {_second_pass('first_pass', spec, refs)}"
        )
    finally:
        con.execute("RESET disabled_optimizers")
    error_columns = _error_columns(con, checked)
    no_error = " AND ".join(f'"{c}" IS NULL' for c in error_columns) or "TRUE"
    parsed = ", ".join(f'"p_{c.name}" AS "{c.name}"' for c in spec.columns)
    extra = ", person_id" if _has_patient_ref(spec) else ""
    # A view, not a copy: the valid rows are read once more, by the mapping to warehouse rows.
    con.execute(
        f'CREATE OR REPLACE TEMP VIEW "{valid}" AS SELECT {LINE}, {parsed}{extra} FROM "{checked}" WHERE {no_error}'
    )
    bad = f"{raw.table}__bad"
    con.execute(f'CREATE OR REPLACE TEMP TABLE "{bad}" AS SELECT * FROM "{checked}" WHERE NOT ({no_error})')
    _collect_errors(con, raw, spec, bad, error_columns, errors)
    con.execute(f'DROP TABLE "{bad}"')
    rows_read = _count(con, checked) + len(raw.malformed)
    if raw.rejects:
        rows_read += _scalar(con, f'SELECT count(DISTINCT line) FROM "{raw.rejects}"')
    rejected = _scalar(con, f'SELECT count(DISTINCT line) FROM "{errors}"')
    return Validated(checked, valid, errors, rows_read, rows_read - rejected, rejected)


def _check_columns(raw: RawFile, spec: PivotTable) -> None:
    missing = [c.name for c in spec.columns if c.required and c.name not in raw.columns]
    if missing:
        # Only the format's own column names are named: a file without a header has data on its line 1.
        raise InputFileError(
            f"{raw.info.path.name} : ligne 1 : colonne(s) obligatoire(s) absente(s) : {', '.join(missing)} "
            f"(la table {spec.name} exige {', '.join(c.name for c in spec.columns if c.required)} ; "
            "la première ligne doit être l'en-tête)"
        )


def _first_pass(raw: RawFile, spec: PivotTable, as_of: date) -> str:
    """Per-column parsing and checks: ``r_`` raw text, ``p_`` parsed value, ``c_`` a control character,
    ``e_`` reason.

    Control characters are looked for once per row, over all its values joined: only the rare row that
    has one is searched column by column (a regular expression per value would cost a third of the
    validation)."""
    texts, parsed, controls, errors = [], [], [], []
    limit = rules()["text_max_length"]["value"]
    for column in spec.columns:
        name = column.name
        text = f"nullif(trim(\"{name}\"), '')" if name in raw.columns else "NULL::VARCHAR"
        parse, error = _parse(column, as_of)
        required = f"WHEN r_{name} IS NULL THEN {_lit(REASONS['missing'])} " if column.required else ""
        texts.append(f'{text} AS "r_{name}"')
        pattern = FREE_TEXT_CONTROLS if column.kind == "text" and not column.identifying else CONTROLS
        controls.append(f"CASE WHEN {CONTROL_ROW} THEN regexp_matches(r_{name}, '{pattern}') END AS \"c_{name}\"")
        characters = f"WHEN c_{name} THEN {_lit(REASONS['control'])} " if raw.controls else ""
        if raw.longest is None or raw.longest > limit:
            characters += f"WHEN length(r_{name}) > {limit} THEN {_lit(REASONS['too_long'].format(limit=limit))} "
        branches = error.replace("{v}", f"r_{name}").replace("{p}", f"p_{name}")
        parsed.append(f'{parse.replace("{v}", f"r_{name}")} AS "p_{name}"')
        errors.append(f'CASE {required}{characters}{branches} END AS "e_{name}"')
    row = "concat(" + ", ".join(f"r_{c.name}" for c in spec.columns) + ")" if raw.controls else "NULL"
    return (
        f"SELECT *, {', '.join(errors)} FROM ("
        f"  SELECT *, {', '.join(parsed)}, {', '.join(controls)} FROM ("
        f"    SELECT *, regexp_matches({row}, '{CONTROLS}') AS {CONTROL_ROW} FROM ("
        f'      SELECT {LINE}, {", ".join(texts)} FROM "{raw.table}")))'
    )


def _parse(column: Column, as_of: date) -> tuple[str, str]:
    """SQL templates (``{v}`` the text, ``{p}`` the parsed value): parsed value, error branches."""
    kind = column.kind
    if kind == "date":
        formats = ", ".join(f"'{f}'" for f in DATE_FORMATS)
        earliest = rules()["earliest_date"]["value"]
        future = (
            ""
            if column.future_allowed
            else f"WHEN {{p}} > DATE '{as_of}' THEN {_lit(REASONS['future'].format(date=_french_date(as_of)))}"
        )
        branches = [
            f"WHEN {{v}} IS NOT NULL AND {{p}} IS NULL THEN {_lit(REASONS['date'])}",
            f"WHEN {{p}} < DATE '{earliest}' THEN {_lit(REASONS['too_early'].format(date=_french_date(earliest)))}",
            future,
        ]
        return f"try_strptime({{v}}, [{formats}])::DATE", " ".join(branches)
    if kind in ("decimal", "integer"):
        # Strict shapes before the cast: DuckDB would read '0x10' as 16 and round '8.5' to an integer.
        if kind == "decimal":
            text = "replace(regexp_replace({v}, '[ \u00a0\u202f]', '', 'g'), ',', '.')"
            parse = f"CASE WHEN regexp_full_match({text}, '{DECIMAL_PATTERN}') THEN try_cast({text} AS DOUBLE) END"
        else:
            parse = f"CASE WHEN regexp_full_match({{v}}, '{INTEGER_PATTERN}') THEN try_cast({{v}} AS BIGINT) END"
        non_finite = (
            f"WHEN regexp_full_match(lower({{v}}), '{NON_FINITE_PATTERN}') OR NOT isfinite({{p}}::DOUBLE) "
            f"THEN {_lit(REASONS['non_finite'])} "
        )
        number = f"WHEN {{v}} IS NOT NULL AND {{p}} IS NULL THEN {_lit(REASONS['number'])} "
        return parse, non_finite + number + _bounds(column)
    if kind == "key":
        limit = rules()["key_max_length"]["value"]
        return "{v}", f"WHEN length({{v}}) > {limit} THEN {_lit(REASONS['key_length'].format(limit=limit))}"
    if column.code_system:
        rule = _code_rules()[column.code_system]
        normalised = rule.normalise
        valid = rule.valid.replace("{n}", "{p}")  # the parsed column: normalised once
        return normalised, f"WHEN {{v}} IS NOT NULL AND NOT coalesce({valid}, FALSE) THEN {_lit(rule.reason)}"
    return "{v}", "WHEN FALSE THEN NULL"  # text and references: checked in the second pass


def _bounds(column: Column) -> str:
    if not column.bounds:
        return ""
    bounds = rules()["bounds"][column.bounds]
    branches = []
    if "min" in bounds:
        branches.append(f"WHEN {{p}} < {bounds['min']} THEN {_lit(REASONS['min'].format(limit=bounds['min']))}")
    if "min_exclusive" in bounds:
        low = bounds["min_exclusive"]
        branches.append(f"WHEN {{p}} <= {low} THEN {_lit(REASONS['min_exclusive'].format(limit=low))}")
    if "max" in bounds:
        branches.append(f"WHEN {{p}} > {bounds['max']} THEN {_lit(REASONS['max'].format(limit=bounds['max']))}")
    return " ".join(branches)


def _french_date(value: date | str) -> str:
    return date.fromisoformat(str(value)).strftime("%d/%m/%Y")


def _lit(text: str) -> str:
    """An SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _has_patient_ref(spec: PivotTable) -> bool:
    return any(c.referenced_table == "patients" for c in spec.columns)


def _second_pass(checked: str, spec: PivotTable, refs: References) -> str:
    """Checks that need other rows: duplicate keys, references, one-of groups, dates vs. life."""
    joins: list[str] = []
    checks: list[str] = []
    extra: list[str] = []
    key = spec.key
    # Duplicates by aggregation, not a window: a hash aggregate over millions of keys is cheaper.
    joins.append(
        f'LEFT JOIN (SELECT p_{key} AS dup_key, min({LINE}) AS first_line FROM "{checked}" '
        f"GROUP BY p_{key} HAVING count(*) > 1) dup ON dup.dup_key = c.p_{key}"
    )
    checks.append(
        f"CASE WHEN c.{LINE} > dup.first_line "
        f"THEN {_lit(REASONS['duplicate'].format(field=key))} || dup.first_line || ')' "
        f'END AS "x_{key}__duplicate"'
    )
    for i, column in enumerate(c for c in spec.columns if c.referenced_table):
        ref = refs[column.referenced_table or ""]
        alias, match = f"ref{i}", refs[column.referenced_table or ""].match
        key = ref.key.replace("{v}", f"c.p_{column.name}")
        joins.append(f'LEFT JOIN "{ref.table}" {alias} ON {alias}.{match} = {key}')
        checks.append(
            f"CASE WHEN c.p_{column.name} IS NOT NULL AND {alias}.{match} IS NULL "
            f"THEN {_lit(REASONS['reference'].format(field=column.name))} "
            f'END AS "x_{column.name}__reference"'
        )
        if column.referenced_table == "patients":
            extra.append(f"{alias}.person_id")
            if spec.event_date:
                checks.append(_life_check(spec.event_date, alias))
    for group in spec.one_of:
        empty = " AND ".join(f"p_{n} IS NULL AND e_{n} IS NULL" for n in group)
        checks.append(
            f"CASE WHEN {empty} THEN {_lit(REASONS['one_of'].format(fields=', '.join(group)))} END "
            f'AS "x_{group[0]}__one_of"'
        )
    names = spec.column_names
    if "start_date" in names and "end_date" in names:
        checks.append(
            f'CASE WHEN p_end_date < p_start_date THEN {_lit(REASONS["end_order"])} END AS "x_end_date__order"'
        )
    if spec.name == "patients":
        checks.append(
            f'CASE WHEN p_death_date < p_birth_date THEN {_lit(REASONS["death_order"])} END AS "x_death_date__order"'
        )
    for n, check in enumerate(spec.checks):
        parsed = check.violated
        for name in names:
            parsed = _replace_word(parsed, name, f"p_{name}")
        checks.append(f'CASE WHEN {parsed} THEN {_lit(check.reason)} END AS "x_{check.field}__rule{n}"')
    # Raw text is not kept: the quarantine takes it from the file's rows, for the few rejected lines.
    kept = [f"c.{LINE}", *(f"c.{prefix}_{n}" for prefix in ("p", "e") for n in names)]
    columns = ", ".join([*kept, *extra, *checks])
    return f'SELECT {columns} FROM "{checked}" c {" ".join(joins)}'


def _life_check(event_date: str, alias: str) -> str:
    return (
        f"CASE WHEN p_{event_date} < {alias}.birth_date THEN {_lit(REASONS['before_birth'])} "
        f"WHEN p_{event_date} > {alias}.death_date THEN {_lit(REASONS['after_death'])} END "
        f'AS "x_{event_date}__life"'
    )


def _replace_word(sql: str, word: str, replacement: str) -> str:
    return re.sub(rf"\b{re.escape(word)}\b", replacement, sql)


def _error_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    names = [row[0] for row in con.execute(f'DESCRIBE "{table}"').fetchall()]
    return [n for n in names if n.startswith(("e_", "x_"))]


def _field_of(error_column: str) -> str:
    return error_column[2:].split("__")[0]


def _collect_errors(
    con: duckdb.DuckDBPyConnection,
    raw: RawFile,
    spec: PivotTable,
    checked: str,
    error_columns: list[str],
    errors: str,
) -> None:
    identifying = {c.name for c in spec.columns if c.identifying}
    parts = []
    for column in error_columns:
        field = _field_of(column)
        value = f"'{MASK}'" if field in identifying else _shown(spec, f"nullif(trim(r.\"{field}\"), '')")
        value = value if field in raw.columns else "NULL"
        parts.append(
            f"SELECT b.{LINE} AS line, '{field}' AS field, b.\"{column}\" AS reason, {value} AS value "
            f'FROM "{checked}" b JOIN "{raw.table}" r USING ({LINE}) WHERE b."{column}" IS NOT NULL'
        )
    union = " UNION ALL ".join(parts) or "SELECT NULL::BIGINT AS line, '' AS field, '' AS reason, '' AS value"
    record = ", ".join(
        f'"{c.name}" := ' + (repr(MASK) if c.identifying else _shown(spec, f'r."{c.name}"'))
        for c in spec.columns
        if c.name in raw.columns
    )
    con.execute(
        f'CREATE OR REPLACE TEMP TABLE "{errors}" AS '
        f"SELECT e.line, e.field, e.reason, e.value, to_json(struct_pack({record}))::VARCHAR AS record "
        f'FROM ({union}) e JOIN "{raw.table}" r ON r.{LINE} = e.line WHERE e.line IS NOT NULL'
    )
    if raw.malformed:
        con.executemany(f'INSERT INTO "{errors}" VALUES (?, ?, ?, NULL, NULL)', [list(m) for m in raw.malformed])
    if raw.rejects:
        con.execute(f'INSERT INTO "{errors}" SELECT line, field, reason, value, NULL FROM "{raw.rejects}"')


def _shown(spec: PivotTable, value: str) -> str:
    """A raw value as the quarantine keeps it: cut to its first characters (a 50 MB field is not copied),
    and, in the patients table, masked when shaped like a NIR/INS whatever its column (a shifted column,
    a NIR typed as the local id)."""
    limit = rules()["quarantine_value_max_length"]["value"]
    cut = f"CASE WHEN length({value}) > {limit} THEN left({value}, {limit}) || '…' ELSE {value} END"
    if spec.name != "patients":
        return cut
    return f"CASE WHEN regexp_matches({value}, '{IDENTIFIER_SHAPE}') THEN '{MASK}' ELSE {cut} END"


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return _scalar(con, f'SELECT count(*) FROM "{table}"')


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0
