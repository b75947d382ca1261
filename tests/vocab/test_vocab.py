"""The reference code lists of ``vocab/data``: sources, uniqueness and the format of every code."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from proxisante import vocab

CODE_FORMATS = {
    "cim10": re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,2})?$"),
    "atc": re.compile(r"^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$"),
    "nabm": re.compile(r"^[0-9]{4}$"),
    "loinc": re.compile(r"^[0-9]{1,7}-[0-9]$"),
    "ccam": re.compile(r"^[A-Z]{4}[0-9]{3}$"),
    "vaccines": re.compile(r"^J07([A-Z]([A-Z]([0-9]{2})?)?)?$"),
    "ald": re.compile(r"^([1-9]|[12][0-9]|30)$"),
}
CIM10_CATEGORY = re.compile(r"^[A-Z][0-9]{2}$")
ATC_LEVEL_BY_LENGTH = {1: 1, 3: 2, 4: 3, 5: 4, 7: 5}
ROMAN_CHAPTERS = {
    "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI",
    "XII", "XIII", "XIV", "XV", "XVI", "XVII", "XVIII", "XIX", "XX", "XXI", "XXII",
}  # fmt: skip


def loinc_check_digit(number: str) -> int:
    """LOINC mod-10 check digit: double every other digit from the right, starting with the rightmost."""
    total = 0
    for position, char in enumerate(reversed(number)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value // 10 + value % 10
    return (10 - total % 10) % 10


def test_loinc_check_digit_known_values() -> None:
    assert loinc_check_digit("4548") == 4
    assert loinc_check_digit("2160") == 0
    assert loinc_check_digit("13457") == 7
    assert loinc_check_digit("4549") != 4


@pytest.mark.parametrize("name", vocab.available())
def test_every_list_has_a_dated_source(name: str) -> None:
    entry = vocab.sources().get(f"{name}.csv")
    assert entry, f"{name}.csv has no entry in sources.yaml"
    assert str(entry.get("source", "")).strip(), f"{name}.csv: empty source"
    assert isinstance(entry.get("date"), dt.date), f"{name}.csv: date missing or not a YYYY-MM-DD date"


@pytest.mark.parametrize("name", vocab.available())
def test_codes_are_unique_and_non_empty(name: str) -> None:
    rows = vocab.code_list(name)
    assert rows, f"{name}.csv is empty"
    codes = [row["code"] for row in rows]
    assert all(code.strip() == code and code for code in codes), f"{name}.csv: blank or padded code"
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    assert not duplicates, f"{name}.csv: duplicate codes {duplicates}"


@pytest.mark.parametrize("name", sorted(CODE_FORMATS))
def test_codes_match_their_format(name: str) -> None:
    pattern = CODE_FORMATS[name]
    bad = [code for code in vocab.codes(name) if not pattern.match(code)]
    assert not bad, f"{name}.csv: malformed codes {bad}"


@pytest.mark.parametrize("name", sorted(CODE_FORMATS))
def test_every_code_has_a_french_label(name: str) -> None:
    assert all(row["label_fr"].strip() for row in vocab.code_list(name))


def test_loinc_check_digits() -> None:
    bad = [code for code in vocab.codes("loinc") if loinc_check_digit(code[:-2]) != int(code[-1])]
    assert not bad, f"LOINC codes with a wrong check digit: {bad}"


def test_cim10_chapters() -> None:
    assert {row["chapter"] for row in vocab.code_list("cim10")} <= ROMAN_CHAPTERS


def test_cim10_subcodes_have_their_category() -> None:
    codes = vocab.codes("cim10")
    # chapter XXII (U codes) holds provisional codes whose categories are not clinical entities
    orphans = [c for c in codes if "." in c and not c.startswith("U") and c.split(".")[0] not in codes]
    assert not orphans, f"subcodes listed without their 3-character category: {orphans}"


def test_atc_levels_half_life_and_resistance() -> None:
    for row in vocab.code_list("atc"):
        code = row["code"]
        assert int(row["level"]) == ATC_LEVEL_BY_LENGTH[len(code)], code
        if row["half_life"]:
            assert code.startswith(("N05BA", "N05CD")), f"{code}: half_life outside benzodiazepines"
            assert row["half_life"] in {"long", "short"}, code
        if code.startswith("J01"):
            assert row["resistance_driving"] in {"true", "false"}, code
        else:
            assert row["resistance_driving"] == "", f"{code}: resistance_driving outside J01"


def test_atc_rosp_resistance_driving_classes() -> None:
    flags = vocab.mapping("atc", "resistance_driving")
    assert flags["J01CR02"] == "true"
    assert flags["J01DD"] == "true"
    assert flags["J01MA"] == "true"
    assert flags["J01CA04"] == "false"


def test_nabm_loinc_are_listed() -> None:
    loinc = vocab.codes("loinc")
    rows = vocab.code_list("nabm")
    missing = {row["code"]: row["loinc"] for row in rows if row["loinc"] and row["loinc"] not in loinc}
    assert not missing, f"NABM acts pointing at LOINC codes absent from loinc.csv: {missing}"


def test_nabm_brief_acts_present() -> None:
    expected = {"1577", "1576", "0592", "0593", "0407", "0627", "1133", "1208", "1211", "0127", "0126"}
    expected |= {"0996", "2001", "0580", "0590"}
    assert expected <= vocab.codes("nabm")


def test_ald_list_and_prefixes() -> None:
    rows = vocab.code_list("ald")
    assert sorted(int(row["code"]) for row in rows) == list(range(1, 31))
    cim10 = vocab.codes("cim10")
    for row in rows:
        prefixes = row["cim10_prefixes"].split()
        assert prefixes, f"ALD {row['code']} has no CIM-10 prefix"
        bad = [p for p in prefixes if p not in cim10 and not CIM10_CATEGORY.match(p)]
        assert not bad, f"ALD {row['code']}: malformed prefixes {bad}"
    assert vocab.mapping("ald", "cim10_prefixes")["8"].split() == ["E10", "E11", "E12", "E13", "E14"]


def test_vaccines_are_atc_classes() -> None:
    rows = vocab.code_list("vaccines")
    assert {row["code"] for row in rows} <= vocab.codes("atc")
    assert all(row["target"].strip() for row in rows)
