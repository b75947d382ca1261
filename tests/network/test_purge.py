"""Purging a structure that left (issue 15, item 1): every row of it goes, in one transaction, with its vault
links, the identities no other structure holds and its drop folder; other structures see exactly what they
saw before; refused for a member or without the FINESS typed twice; a crash is finished by a second run;
the registry's chained journal records it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from proxisante.cli import app
from proxisante.cli.common import console
from proxisante.identity.vault import IdentityVault
from proxisante.installation import Installation
from proxisante.network import purge
from proxisante.network.purge import PurgeError, purge_structure
from proxisante.network.scope import Scope, ScopedTables
from proxisante.network.structures import StructureRegistry
from proxisante.settings import Settings
from proxisante.warehouse.connection import Warehouse
from proxisante.warehouse.replicate import replicate
from proxisante.warehouse.schema import TABLES, TableDef
from tests.lib.engines import new_database
from tests.lib.network import LoadedNetwork

COMPARED = ("person", "visit_occurrence", "condition_occurrence", "drug_exposure", "observation_period", "cost")
PER_STRUCTURE = [t for t in TABLES if t.per_structure]


def structures(network: LoadedNetwork) -> tuple[str, str, str]:
    """A (the one that leaves: the smallest, sharing persons with B), B and C (shares none with A)."""
    b, c, a = network.finess
    return a, b, c


def registry(network: LoadedNetwork) -> StructureRegistry:
    return StructureRegistry.installed(Settings(home=network.home))


def seen_by(warehouse: Warehouse, finess: str) -> dict[str, list[str]]:
    """What a one-structure scope shows of the compared tables, rows sorted (to compare before and after)."""
    view = ScopedTables(warehouse, Scope.of([finess]))
    return {name: sorted(map(repr, view.to_pyarrow(view.table(name)).to_pylist())) for name in COMPARED}


def rows_of(warehouse: Warehouse, finess: str) -> dict[str, int]:
    con = warehouse.duckdb
    found = {}
    for table in PER_STRUCTURE:
        (n,) = con.execute(f'SELECT count(*) FROM "{table.name}" WHERE structure = ?', [finess]).fetchone() or (0,)
        found[table.name] = int(n)
    return found


def persons_of(warehouse: Warehouse, finess: str) -> set[int]:
    rows = warehouse.duckdb.execute("SELECT person_id FROM person WHERE structure = ?", [finess]).fetchall()
    return {p for (p,) in rows}


def links(vault: IdentityVault) -> dict[str, set[int]]:
    with vault.connect() as con:
        rows = con.execute("SELECT source, person_id FROM source_patient").fetchall()
    found: dict[str, set[int]] = {}
    for source, person in rows:
        found.setdefault(source, set()).add(person)
    return found


def identities(vault: IdentityVault) -> set[int]:
    with vault.connect() as con:
        return {p for (p,) in con.execute("SELECT person_id FROM identity").fetchall()}


def drop_folders(home: Path, a: str, b: str) -> None:
    """A pending extract, an archived and a rejected one for A; an archived extract for B."""
    for path in (f"{a}/extrait-3/patients.csv", f"{a}/archive/extrait-1/patients.csv", f"{a}/rejets/extrait-2/x.csv"):
        (home / "depot" / path).parent.mkdir(parents=True, exist_ok=True)
        (home / "depot" / path).write_text("nom;prenom\nDUPONT;Jean\n", encoding="utf-8")
    (home / "depot" / b / "archive" / "extrait-1").mkdir(parents=True)
    (home / "depot" / b / "archive" / "extrait-1" / "patients.csv").write_text("x", encoding="utf-8")


def state(inst: Installation, network: LoadedNetwork) -> tuple[Any, ...]:
    """Everything a refused or failed purge must leave as it was."""
    return (
        inst.warehouse.counts(),
        links(inst.vault),
        identities(inst.vault),
        len(registry(network).history()),
        sorted(str(p.relative_to(network.home)) for p in (network.home / "depot").rglob("*")),
    )


@pytest.fixture()
def left(network: LoadedNetwork) -> LoadedNetwork:
    """The network once A has left today, with drop folders for A and B."""
    a, b, _ = structures(network)
    registry(network).leave(a, by="admin")
    drop_folders(network.home, a, b)
    return network


def test_purge_removes_every_row_of_the_structure_and_nothing_of_the_others(left: LoadedNetwork) -> None:
    a, b, c = structures(left)
    inst = left.open()
    try:
        w = inst.warehouse
        before = {finess: seen_by(w, finess) for finess in (b, c)}
        had = rows_of(w, a)
        shared = persons_of(w, a) & persons_of(w, b)
        assert len(shared) == 4 and had["person"] == 70 and had["etl_batch"] == 1
        report = purge_structure(inst, a, by="admin")
        assert rows_of(w, a) == dict.fromkeys(had, 0)
        assert {t: n for t, n in report.rows.items() if n} == {t: n for t, n in had.items() if n}
        assert report.total_rows == sum(had.values()) > 5000
        for finess in (b, c):
            assert seen_by(w, finess) == before[finess], finess
        assert shared <= persons_of(w, b)  # B keeps its rows of the persons A also saw
        (visits,) = w.duckdb.execute(
            "SELECT count(*) FROM visit_occurrence WHERE person_id IN (SELECT unnest(?::BIGINT[])) AND structure = ?",
            [sorted(shared), b],
        ).fetchone() or (0,)
        assert visits > 0
        (periods,) = w.duckdb.execute("SELECT count(DISTINCT structure) FROM observation_period").fetchone() or (0,)
        assert periods == 2
    finally:
        inst.close()


def test_the_vault_forgets_the_structure_but_not_the_persons_others_saw(left: LoadedNetwork) -> None:
    a, b, _ = structures(left)
    inst = left.open()
    try:
        before = links(inst.vault)
        shared = before[a] & before[b]
        only_a = before[a] - set().union(*(p for s, p in before.items() if s != a))
        assert len(shared) == 4 and len(only_a) == 66 and only_a <= identities(inst.vault)
        inst.vault.lookup(sorted(only_a)[:3], "coordination", "test")  # a chained read naming A's persons
        report = purge_structure(inst, a)
        after = links(inst.vault)
        assert a not in after and after[b] == before[b]
        assert {s: p for s, p in after.items()} == {s: p for s, p in before.items() if s != a}
        remaining = identities(inst.vault)
        assert not remaining & only_a and shared <= remaining
        assert (report.links, report.identities, report.pending) == (70, 66, 0)
        assert inst.vault.verify_access_log().intact  # the access log is never rewritten
    finally:
        inst.close()


def test_purged_identities_leave_the_vault_file(left: LoadedNetwork) -> None:
    """DuckDB keeps deleted rows in freed blocks: the vault is rewritten, so A-only addresses leave the disk."""
    a, b, _ = structures(left)
    inst = left.open()
    try:
        before = links(inst.vault)
        only_a = before[a] - before[b] - before[structures(left)[2]]
        with inst.vault.connect() as con:
            rows = con.execute("SELECT person_id, address FROM identity").fetchall()
        kept = {address for person, address in rows if person not in only_a}
        addresses = [  # an address no remaining identity holds, even within its own ("12 rue X" holds "2 rue X")
            address for person, address in rows if person in only_a and not any(address in other for other in kept)
        ]
        inst.vault.lookup(sorted(before[b])[:2], "coordination", "test")
        on_disk = inst.vault.path.read_bytes()
        assert sum(address.encode() in on_disk for address in addresses) >= 10  # plain text in the file
        purge_structure(inst, a)
        on_disk = inst.vault.path.read_bytes()
        assert not [address for address in addresses if address.encode() in on_disk]
        assert oct(inst.vault.path.stat().st_mode & 0o777) == "0o600"
        assert not list(inst.vault.path.parent.glob(".*compact*"))
        assert inst.vault.verify_access_log().intact and len(inst.vault.access_log()) == 1
        assert len(inst.vault.lookup(sorted(before[b])[:2], "coordination", "test")) == 2  # B's persons still known
    finally:
        inst.close()


def test_the_drop_folder_goes_and_the_others_stay(left: LoadedNetwork) -> None:
    a, b, _ = structures(left)
    inst = left.open()
    try:
        report = purge_structure(inst, a)
    finally:
        inst.close()
    assert report.files == 3
    assert not (left.home / "depot" / a).exists()
    assert (left.home / "depot" / b / "archive" / "extrait-1" / "patients.csv").is_file()


def test_the_journal_records_the_purge_and_still_verifies(left: LoadedNetwork) -> None:
    a, _, _ = structures(left)
    inst = left.open()
    try:
        purge_structure(inst, a, by="dpo")
    finally:
        inst.close()
    reg = registry(left)
    assert reg.verify_journal().intact
    line = reg.history()[-1]
    assert (line["action"], line["finess"], line["by"]) == ("purge", a, "dpo")
    assert line["detail"]["lignes"]["person"] == 70 and line["detail"]["lignes"]["etl_batch"] == 1
    assert (line["detail"]["liens"], line["detail"]["identites"], line["detail"]["fichiers"]) == (70, 66, 3)
    assert reg.purges(a) == [line]
    structure = reg.require(a)  # the entry stays: the registry is the network's history
    assert structure.left == dt.date.today()


def test_a_member_or_a_future_departure_is_refused_and_nothing_changes(network: LoadedNetwork) -> None:
    a, b, _ = structures(network)
    drop_folders(network.home, a, b)
    inst = network.open()
    try:
        before = state(inst, network)
        with pytest.raises(PurgeError, match=f"quittez d'abord le réseau : proxisante structures leave {a}"):
            purge_structure(inst, a)
        registry(network).leave(a, dt.date.today() + dt.timedelta(days=30))
        before = state(inst, network)
        with pytest.raises(PurgeError, match="ne peuvent être purgées qu'à partir de ce jour"):
            purge_structure(inst, a)
        assert state(inst, network) == before
        # On the day of departure it may.
        assert purge_structure(inst, a, on=dt.date.today() + dt.timedelta(days=30)).rows["person"] == 70
    finally:
        inst.close()


def test_a_failed_delete_leaves_the_warehouse_as_it_was(left: LoadedNetwork, monkeypatch: pytest.MonkeyPatch) -> None:
    """A DELETE that fails after others succeeded inside the transaction: all of them are rolled back."""
    a, _, _ = structures(left)
    real = purge.delete_rows
    done: list[str] = []

    def failing(warehouse: Warehouse, table: TableDef, finess: str) -> int:
        if table.name == "fr_billed_act":
            raise RuntimeError("disk gone")
        done.append(table.name)
        return real(warehouse, table, finess)

    monkeypatch.setattr(purge, "delete_rows", failing)
    inst = left.open()
    try:
        before = state(inst, left)
        with pytest.raises(RuntimeError, match="disk gone"):
            purge_structure(inst, a)
        assert {"person", "visit_occurrence", "cost"} <= set(done)  # deleted, then rolled back
        assert state(inst, left) == before
        assert rows_of(inst.warehouse, a)["person"] == 70
    finally:
        inst.close()


def test_a_crash_after_the_warehouse_commit_is_finished_by_a_second_run(
    left: LoadedNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, _ = structures(left)

    def crash(self: IdentityVault, finess: str) -> None:
        raise OSError("killed")

    inst = left.open()
    try:
        with monkeypatch.context() as patch:
            patch.setattr(IdentityVault, "purge_sources", crash)
            with pytest.raises(OSError, match="killed"):
                purge_structure(inst, a, by="admin")
        assert rows_of(inst.warehouse, a)["person"] == 0  # the warehouse committed
        assert a in links(inst.vault) and (left.home / "depot" / a).is_dir()  # the rest was not done
        assert registry(left).purges(a) == []
        report = purge_structure(inst, a, by="admin")
        assert a not in links(inst.vault) and not (left.home / "depot" / a).exists()
        assert b in links(inst.vault)
        assert report.rows["person"] == 70  # counted by the first run, kept for the journal
        (line,) = registry(left).purges(a)
        assert line["detail"]["lignes"]["person"] == 70 and line["detail"]["liens"] == 70
        assert registry(left).verify_journal().intact
        assert not list((left.home / "reseau").glob(".*purge*"))  # the progress file is gone
    finally:
        inst.close()


def test_a_second_purge_finds_nothing_and_writes_no_second_line(left: LoadedNetwork) -> None:
    a, _, _ = structures(left)
    inst = left.open()
    try:
        first = purge_structure(inst, a)
        counts = inst.warehouse.counts()
        again = purge_structure(inst, a)
        assert inst.warehouse.counts() == counts
    finally:
        inst.close()
    assert again.already is not None and again.already["seq"] == first.journal_seq
    assert again.total_rows == again.links == again.files == 0 and again.journal_seq is None
    assert len(registry(left).purges(a)) == 1


def test_loads_made_before_the_structure_column_are_matched_by_source(left: LoadedNetwork) -> None:
    """Bookkeeping rows with no structure but the structure's source go; fact rows with no structure stay
    (nothing tells whose they are)."""
    a, b, _ = structures(left)
    inst = left.open()
    try:
        con = inst.warehouse.duckdb
        for batch, source in (("old-1", a), ("old-2", f"{a}/labo"), ("old-3", b)):
            con.execute("INSERT INTO etl_batch (batch_id, source, structure) VALUES (?, ?, NULL)", [batch, source])
        con.execute("INSERT INTO etl_manifest (batch_id, source, structure) VALUES ('old-2', ?, NULL)", [f"{a}/labo"])
        con.execute("INSERT INTO person (person_id, structure) VALUES (1, NULL)")
        report = purge_structure(inst, a)
        left_batches = {b for (b,) in con.execute("SELECT batch_id FROM etl_batch WHERE structure IS NULL").fetchall()}
        assert left_batches == {"old-3"}
        assert report.rows["etl_batch"] == 3 and report.rows["etl_manifest"] == 13
        assert con.execute("SELECT count(*) FROM person WHERE structure IS NULL").fetchone() == (1,)
    finally:
        inst.close()


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["structures", *args])


def test_cli_asks_for_the_finess_twice_and_speaks_french(left: LoadedNetwork, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "_width", 200)
    a, _, c = structures(left)
    inst = left.open()
    try:
        before = state(inst, left)
    finally:
        inst.close()
    for refused in (cli("purger", a), cli("purger", a, "--confirmer", c)):
        assert refused.exit_code == 2, refused.output
        assert "Purge refusée" in refused.output and f"--confirmer {a}" in refused.output
    unknown = cli("purger", "230000010", "--confirmer", "230000010")
    assert unknown.exit_code == 2 and "structure inconnue" in unknown.output
    member = cli("purger", c, "--confirmer", c)
    assert member.exit_code == 2 and f"quittez d'abord le réseau : proxisante structures leave {c}" in member.output
    inst = left.open()
    try:
        assert state(inst, left) == before
    finally:
        inst.close()
    done = cli("purger", a, "--confirmer", a)
    assert done.exit_code == 0, done.output
    for text in (
        "Lignes supprimées de l'entrepôt",
        "person",
        "70 liens patient supprimés, 66 identités supprimées",
        f"Dossier de dépôt depot/{a}/ : 3 fichiers supprimés",
        "purge inscrite au journal du réseau (ligne 2)",
    ):
        assert text in done.output, done.output
    again = cli("purger", a, "--confirmer", a)
    assert again.exit_code == 0 and "Rien à purger" in again.output and "déjà été purgées le" in again.output
    shown = cli("show", a)
    assert "purgées le" in shown.output and "purge par" in shown.output
    journal = [
        json.loads(line) for line in (left.home / "reseau" / "structures.journal.jsonl").read_text().splitlines()
    ]
    assert [line["action"] for line in journal] == ["depart", "purge"]


def test_the_same_purge_on_postgres(network: LoadedNetwork, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL: the same rows go, in one transaction (a failed DELETE rolls back those before it)."""
    a, b, c = structures(network)
    inst = network.open()
    pg = Warehouse.connect(new_database(postgres_url))
    try:
        replicate(inst.warehouse, pg)
        before = {finess: seen_by(pg, finess) for finess in (b, c)}
        counts = pg.counts()
        real = purge.delete_rows

        def failing(warehouse: Warehouse, table: TableDef, finess: str) -> int:
            if table.name == "cost":
                raise RuntimeError("disk gone")
            return real(warehouse, table, finess)

        with monkeypatch.context() as patch:
            patch.setattr(purge, "delete_rows", failing)
            with pytest.raises(RuntimeError, match="disk gone"):
                purge.purge_warehouse(pg, a)
        assert pg.counts() == counts
        deleted = purge.purge_warehouse(pg, a)
        expected = rows_of(inst.warehouse, a)
        assert deleted == expected and deleted["person"] == 70
        assert {t: n - deleted.get(t, 0) for t, n in counts.items()} == pg.counts()
        for finess in (b, c):
            assert seen_by(pg, finess) == before[finess], finess
    finally:
        pg.close()
        inst.close()


def test_a_vault_held_open_stops_the_rewrite_and_a_second_run_finishes(left: LoadedNetwork) -> None:
    """The vault is rewritten by a process of its own: a connection this process holds (a server's thread)
    keeps it out, the purge stops with a French error, and runs again to the end."""
    a, _, _ = structures(left)
    inst = left.open()
    try:
        with (
            inst.vault.connect(),
            pytest.raises(
                PurgeError, match=r"n.a pas pu être réécrit \(il est ouvert par un autre processus\).*relancez la purge"
            ),
        ):
            purge_structure(inst, a)
        assert a not in links(inst.vault) and (left.home / "depot" / a).is_dir()
        assert registry(left).purges(a) == []
        report = purge_structure(inst, a)
        assert (report.links, report.identities, report.files) == (70, 66, 3)
        assert not (left.home / "depot" / a).exists() and len(registry(left).purges(a)) == 1
    finally:
        inst.close()
