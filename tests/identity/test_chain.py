"""The audit logs are tamper-evident: every way of editing, truncating, wiping or rewriting them is detected.

Both logs that record who read what are proven the same way: the web application's audit log (in the
accounts file) and the identity vault's access log. Each test tampers with the log's database as an
attacker with write access to it (but not to the secrets folder) would.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from proxisante.identity import IdentityVault
from proxisante.identity.chain import GENESIS, AuditChain, ChainCheck
from proxisante.identity.vault import ACCESS_COLUMNS
from proxisante.web.security.accounts import AccountStore
from proxisante.web.security.audit import COLUMNS as WEB_COLUMNS
from proxisante.web.security.audit import AuditLog


@dataclass
class Log:
    """One chained log under test: how to append to it, where it is stored, how to check it."""

    append: Callable[[int], None]
    database: Path
    table: str
    columns: tuple[str, ...]
    check: Callable[[], ChainCheck]
    chain: AuditChain

    def sql(self, statement: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.database)) as con:
            return con.execute(statement, params or []).fetchall()


def _web_log(tmp_path: Path) -> Log:
    store = AccountStore(tmp_path / "web" / "accounts.duckdb")
    log = AuditLog(store, AuditChain(tmp_path / "secrets", "web"))

    def append(n: int) -> None:
        log.append(f"user{n}", ["coordinateur"], "liste nominative", "api_gaps", f"lecture {n}", [n, n + 1])

    return Log(append, store.path, "audit_log", WEB_COLUMNS, log.check, log.chain)


def _vault_log(tmp_path: Path) -> Log:
    vault = IdentityVault(tmp_path / "identity" / "vault.duckdb", AuditChain(tmp_path / "secrets", "vault"))

    def append(n: int) -> None:
        vault.lookup([n, n + 1], reader=f"web:user{n}", purpose="liste nominative")

    return Log(append, vault.path, "access_log", ACCESS_COLUMNS, vault.verify_access_log, vault.chain)


@pytest.fixture(params=["web", "vault"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Log]:
    made = _web_log(tmp_path) if request.param == "web" else _vault_log(tmp_path)
    for n in range(1, 6):
        made.append(n)
    assert made.check().intact and made.check().rows == 5
    yield made


def test_an_untouched_log_is_intact_and_anchored(log: Log) -> None:
    check = log.check()
    assert (check.rows, check.anchored_rows, check.broken_at, check.reason) == (5, 5, None, None)


EDITS = {
    "seq": "seq = seq + 100",
    "person_count": "person_count = person_count + 1",
    "person_ids": "person_ids = [42]",
    "previous_hash": "previous_hash = repeat('0', 64)",
    "hash": "hash = repeat('f', 64)",
}


@pytest.mark.parametrize("field", [*EDITS, "time", "text", "list"])
def test_an_edit_of_any_field_is_detected(log: Log, field: str) -> None:
    text = log.columns[1]  # username / reader
    timestamp = log.columns[0]
    assignment = (
        EDITS.get(field)
        or {
            "time": f"{timestamp} = {timestamp} + INTERVAL 1 SECOND",
            "text": f"{text} = 'quelqu''un'",
            "list": "roles = ['admin']" if "roles" in log.columns else "purpose = 'autre'",
        }[field]
    )
    log.sql(f"UPDATE {log.table} SET {assignment} WHERE seq = 3")
    check = log.check()
    assert not check.intact and check.broken_at is not None and check.broken_at <= 103


def test_a_deleted_row_is_detected(log: Log) -> None:
    log.sql(f"DELETE FROM {log.table} WHERE seq = 2")
    assert log.check().broken_at == 3


def test_a_truncated_tail_is_detected(log: Log) -> None:
    log.sql(f"DELETE FROM {log.table} WHERE seq >= 4")
    check = log.check()
    assert check.broken_at == 4 and "tronqué" in str(check.reason)


def test_a_wiped_log_is_detected(log: Log) -> None:
    log.sql(f"DELETE FROM {log.table}")
    check = log.check()
    assert check.rows == 0 and check.broken_at == 1 and "tronqué" in str(check.reason)


@pytest.mark.parametrize("attacker_key", [b"guess" * 8, None])
def test_a_log_rewritten_with_a_recomputed_chain_is_detected(log: Log, attacker_key: bytes | None) -> None:
    """The attacker hides row 2 and recomputes every later hash, with a key of their own or, as the old
    chain did, a plain SHA-256: without the secrets folder the result never matches."""
    log.sql(f"DELETE FROM {log.table} WHERE seq = 2")
    rows = log.sql(f"SELECT seq, {', '.join(log.columns)} FROM {log.table} ORDER BY seq")
    forger = AuditChain(log.chain.folder.parent / "attacker", "forged")
    if attacker_key is not None:
        forger._key = attacker_key
    previous = GENESIS
    for new_seq, (old_seq, *fields) in enumerate(rows, start=1):
        if attacker_key is None:
            digest = hashlib.sha256(json.dumps([previous, new_seq, *map(str, fields)]).encode()).hexdigest()
        else:
            digest = forger.link(previous, new_seq, fields)
        log.sql(
            f"UPDATE {log.table} SET seq = ?, previous_hash = ?, hash = ? WHERE seq = ?",
            [new_seq, previous, digest, old_seq],
        )
        previous = digest
    assert not log.check().intact


def test_an_older_anchor_put_back_over_an_edited_log_is_detected(log: Log) -> None:
    old_anchor = log.chain.anchor_path.read_bytes()
    log.append(6)
    log.sql(f"UPDATE {log.table} SET {log.columns[1]} = 'autre' WHERE seq = 6")
    log.chain.anchor_path.write_bytes(old_anchor)
    assert log.check().broken_at == 6


def test_a_missing_or_forged_anchor_is_detected(log: Log) -> None:
    anchor = json.loads(log.chain.anchor_path.read_text())
    log.chain.anchor_path.write_text(json.dumps({**anchor, "rows": 3}))
    assert "ancre" in str(log.check().reason)
    log.chain.anchor_path.unlink()
    assert "ancre" in str(log.check().reason)


def test_rows_past_the_anchor_are_a_crash_not_an_attack(log: Log) -> None:
    """A process killed between the row's commit and the anchor's update leaves valid links past the anchor."""
    old_anchor = log.chain.anchor_path.read_bytes()
    log.append(6)
    log.chain.anchor_path.write_bytes(old_anchor)
    check = log.check()
    assert check.intact and (check.rows, check.anchored_rows) == (6, 5)


def test_a_new_log_is_anchored_empty(tmp_path: Path) -> None:
    chain = AuditChain(tmp_path / "secrets", "web")
    assert chain.read_anchor() is None
    check = AuditLog(AccountStore(tmp_path / "accounts.duckdb"), chain).check()
    assert check.intact and chain.read_anchor() == (0, GENESIS)
    chain.anchor_path.unlink()
    assert not AuditLog(AccountStore(tmp_path / "accounts.duckdb"), chain).check().intact


def test_audit_verify_command(home: Path) -> None:
    from proxisante.cli import app
    from proxisante.installation import open_installation

    installation = open_installation()
    try:
        installation.vault.lookup([1], reader="cli:test", purpose="test")
        vault = installation.vault.path
    finally:
        installation.close()
    runner = CliRunner()
    intact = runner.invoke(app, ["audit", "verify"])
    assert intact.exit_code == 0, intact.output
    assert "intact" in intact.output
    with duckdb.connect(str(vault)) as con:
        con.execute("DELETE FROM access_log")
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1 and "tronqué" in broken.output


def test_a_signed_report_witnesses_the_logs_against_a_rollback(home: Path, tmp_path: Path) -> None:
    """Log and anchor rolled back together to an earlier, consistent state pass the anchor alone; the heads
    a signed report recorded when it left the structure catch it."""
    import datetime as dt

    from proxisante.cli import app
    from proxisante.identity.chain import anchored_heads
    from proxisante.installation import open_installation
    from proxisante.reporting.signing import key_path, load_or_create_signing_key, sign_folder

    installation = open_installation()
    try:
        installation.vault.lookup([1], reader="cli:test", purpose="test")
        early_anchor = installation.vault.chain.anchor_path.read_bytes()
        installation.vault.lookup([2], reader="cli:test", purpose="test")
        installation.vault.lookup([3], reader="cli:test", purpose="test")
        settings, vault = installation.settings, installation.vault
    finally:
        installation.close()
    report = tmp_path / "rapport"
    report.mkdir()
    (report / "rapport.json").write_text("{}")
    sign_folder(report, ["rapport.json"], load_or_create_signing_key(key_path(settings.home_dir)), period={},
                structure={}, generated_at=dt.datetime(2026, 12, 5), schema_version="1",
                audit_heads=anchored_heads(settings.audit))  # fmt: skip
    runner = CliRunner()
    assert runner.invoke(app, ["audit", "verify", "--rapport", str(report)]).exit_code == 0
    with duckdb.connect(str(vault.path)) as con:
        con.execute("DELETE FROM access_log WHERE seq > 1")
    vault.chain.anchor_path.write_bytes(early_anchor)
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0  # the anchor alone cannot tell
    caught = runner.invoke(app, ["audit", "verify", "--rapport", str(report)])
    assert caught.exit_code == 1 and "tronqué" in caught.output
    (report / "rapport.json").write_text('{"modifié": true}')
    assert runner.invoke(app, ["audit", "verify", "--rapport", str(report)]).exit_code == 2
