"""The PostgreSQL audit store against a real server (tests/pg_server.py): the schema and
roles `audit init-db` creates, append-only enforced by the database, the login as the actor,
the file log's chain and verifier, `audit copy`, concurrent writers on one chain, and a
server restart in the middle of a batch."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner, Result

from charging_rules.audit import log
from charging_rules.audit.pgstore import APPEND_LOCK, PgStore
from charging_rules.screening.batch import CHUNK
from charging_rules.screening.intake import IntakeQueue
from charging_rules.screening.screener import Screener
from tests.helpers import EXAMPLES, RULES, Accepting, referral, rehash_from
from tests.pg_server import PgServer

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

runner = CliRunner()
PROSECUTORS = ("pros_a", "pros_b")
KEY = "a-checkpoint-key-of-some-length"
TABLES = ("charging_rules.records", "charging_rules.guideline_files")
GROUP_ROLES = ("charging_prosecutor", "charging_supervisor", "charging_analyst")


def cli(*args: str, code: int = 0) -> Result:
    from charging_rules.cli.app import app

    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    return result


def write_referrals(path: Path, prefix: str, count: int) -> Path:
    races = ("Black", "White", "Hispanic")
    with path.open("w") as out:
        for n in range(count):
            data = referral(referral_id=f"{prefix}-{n:06d}",
                            **{"community_concern.documented": n % 2 == 0})
            data["demographics"] = {"race": races[n % 3]}
            out.write(json.dumps(data) + "\n")
    return path


class Office:
    """An initialised audit database with two prosecutors' logins (roles are cluster-wide,
    so they are created once and reused by every test's database)."""

    def __init__(self, server: PgServer, database: str):
        self.server, self.database = server, database
        self.url = server.url(database)
        cli("audit", "init-db", "--audit-db", self.url)
        for login in PROSECUTORS:
            server.execute(f"""DO $$ BEGIN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{login}') THEN
                    CREATE ROLE {login} LOGIN IN ROLE charging_prosecutor;
                END IF; END $$""")

    def as_(self, login: str) -> str:
        return self.server.url(self.database, login)

    def sql(self, statement: str, user: str = "postgres",
            params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self.server.execute(statement, self.database, user, params)

    def lines(self) -> list[bytes]:
        return [bytes(r[0]) for r in self.sql("SELECT line FROM charging_rules.records "
                                              "ORDER BY seq")]

    def tamper(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        """What a superuser could do behind the tool's back: switch the guards off, edit."""
        self.sql("ALTER TABLE charging_rules.records DISABLE TRIGGER USER")
        self.sql(statement, params=params)
        self.sql("ALTER TABLE charging_rules.records ENABLE TRIGGER USER")

    def edit_and_verify(self, seq: int, old: str, new: str) -> dict[str, Any]:
        """A superuser's edit of one record's text, then `audit verify --json` (exit 1)."""
        self.tamper("UPDATE charging_rules.records SET line = convert_to(replace(convert_from("
                    "line, 'UTF8'), %s, %s), 'UTF8') WHERE seq = %s", (old, new, seq))
        report: dict[str, Any] = json.loads(cli("audit", "verify", "--json", "--audit-db",
                                                self.url, code=1).stdout)
        return report


@pytest.fixture
def office(pg_server: PgServer, pg_database: str) -> Office:
    return Office(pg_server, pg_database)


def test_init_db_twice_gives_group_roles_that_can_only_append(office: Office) -> None:
    cli("audit", "init-db", "--audit-db", office.url)  # idempotent: the second run is fine
    roles = dict(office.sql("SELECT rolname, rolcanlogin FROM pg_roles "
                            "WHERE rolname LIKE 'charging\\_%'"))
    assert roles == dict.fromkeys(GROUP_ROLES, False)  # group roles: nobody logs in as one
    for role in GROUP_ROLES:
        for table in TABLES:
            for privilege in ("UPDATE", "DELETE", "TRUNCATE"):
                assert office.sql("SELECT has_table_privilege(%s, %s, %s)",
                                  params=(role, table, privilege)) == [(False,)]
        assert office.sql("SELECT has_table_privilege(%s, 'charging_rules.records', "
                          "'SELECT')", params=(role,)) == [(True,)]
    insert = {role: office.sql("SELECT has_column_privilege(%s, 'charging_rules.records', "
                               "'line', 'INSERT')", params=(role,))[0][0]
              for role in GROUP_ROLES}
    assert insert == {"charging_prosecutor": True, "charging_supervisor": False,
                      "charging_analyst": False}


def test_reading_an_uninitialised_or_empty_database_is_exit_2(pg_server: PgServer,
                                                              pg_database: str) -> None:
    url = pg_server.url(pg_database)
    for command in (["audit", "verify"], ["audit", "list"], ["audit", "export"],
                    ["disparity"], ["outreach", "status"]):
        result = cli(*command, "--audit-db", url, code=2)
        assert result.stderr.startswith(f"error: no audit log at {url}: the database is not "
                                        "initialised"), result.stderr
    referral_file = EXAMPLES / "referrals" / "kc-sale-no-violence.json"
    cli("screen", str(referral_file), "--audit-db", url, code=2)  # nothing to write into
    cli("audit", "init-db", "--audit-db", url)
    empty = cli("audit", "verify", "--audit-db", url, code=2)
    assert "nothing has been logged yet" in empty.stderr


def test_the_actor_is_the_login_and_a_differing_user_is_refused(office: Office,
                                                                tmp_path: Path) -> None:
    referral_file = EXAMPLES / "referrals" / "kc-sale-no-violence.json"
    refused = cli("screen", str(referral_file), "--user", "pros_b", "--accept",
                  "--audit-db", office.as_("pros_a"), code=2)
    assert "is not your database login 'pros_a'" in refused.stderr
    assert office.lines() == []  # nothing written
    cli("screen", str(referral_file), "--user", "pros_a", "--accept",
        "--audit-db", office.as_("pros_a"))
    cli("screen", str(referral_file), "--audit-db", office.as_("pros_b"))
    assert [json.loads(line)["actor"] for line in office.lines()] == ["pros_a"] * 2 + ["pros_b"]
    exported = cli("audit", "export", "--audit-db", office.url).stdout
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert sorted(row["actor"] for row in rows) == ["pros_a", "pros_b"]
    # The database itself refuses a record claiming another actor, typed in by hand.
    head = json.loads(office.lines()[-1])
    forged, _ = log.encode({"kind": "decision", "actor": "pros_a", "seq": head["seq"] + 1,
                            "prev_hash": head["hash"], "timestamp": head["timestamp"],
                            "decision_id": head["decision_id"], "outcome": "file"})
    with pytest.raises(psycopg.errors.RaiseException, match="is not the login pros_b"):
        office.sql("INSERT INTO charging_rules.records (line) VALUES (%s)", "pros_b",
                   (forged,))
    assert len(office.lines()) == 3


def test_a_superusers_edit_is_found_at_its_seq_and_checkpoints_pin_the_head(
        office: Office, tmp_path: Path) -> None:
    source = write_referrals(tmp_path / "in.jsonl", "KC-E", 6)
    cli("batch", str(source), "--audit-db", office.as_("pros_a"))
    key = tmp_path / "key"
    key.write_text(KEY)
    pins = tmp_path / "checkpoints.jsonl"
    cli("audit", "checkpoint", "--out", str(pins), "--key-file", str(key),
        "--audit-db", office.url)
    original = office.lines()
    report = office.edit_and_verify(5, '"race":"White"', '"race":"Black"')
    assert [(p["line"], p["kind"]) for p in report["problems"]] == [(5, "edited")]
    assert report["problems"][0]["detail"].startswith("seq 5:")
    # A careful forger re-hashes every record after the edit: the chain holds again, and
    # only the sealed checkpoint shows that seq 6 no longer has the hash it had.
    forged = rehash_from(original, 2, actor="someone-else")
    for seq, line in enumerate(forged, 1):
        office.tamper("UPDATE charging_rules.records SET line = %s WHERE seq = %s",
                      (line, seq))
    cli("audit", "verify", "--audit-db", office.url)
    pinned = json.loads(cli("audit", "verify", "--json", "--checkpoint", str(pins),
                            "--key-file", str(key), "--audit-db", office.url, code=1).stdout)
    assert [(p["line"], p["kind"]) for p in pinned["problems"]] == [(6, "rewritten")]


def test_copy_moves_a_file_log_in_with_its_chain_and_archive(office: Office,
                                                              tmp_path: Path) -> None:
    audit_dir = tmp_path / "audit_logs"
    source = write_referrals(tmp_path / "in.jsonl", "KC-C", 5)
    cli("batch", str(source), "--audit-dir", str(audit_dir), "--user", "alice")
    decided = json.loads(cli("screen", str(EXAMPLES / "referrals" / "kc-sale-firearm.json"),
                             "--accept", "--json", "--user", "bob", "--audit-dir",
                             str(audit_dir)).stdout)["decision_id"]
    file_lines = b"".join(p.read_bytes() for p in log.segments(audit_dir)).splitlines(True)
    copied = json.loads(cli("audit", "copy", "--from", str(audit_dir), "--to", office.url,
                            "--json").stdout)
    assert copied["copied"] == 7 and copied["target"]["ok"]
    assert office.lines() == file_lines  # same bytes: same seq, same hashes, same actors
    # The guideline archive moved too: the decision replays from the database alone.
    replayed = json.loads(cli("audit", "replay", decided, "--json", "--audit-db",
                              office.as_("pros_a")).stdout)
    assert replayed["reproduced"]
    again = cli("audit", "copy", "--from", str(audit_dir), "--to", office.url, code=2)
    assert "already holds 7 records" in again.stderr
    # Writers continue the copied chain.
    cli("batch", str(source), "--audit-db", office.as_("pros_b"))
    cli("audit", "verify", "--audit-db", office.url)
    assert len(office.lines()) == 12


def _batch(office: Office, login: str, source: Path,
           **env: str) -> subprocess.Popen[str]:
    """A prosecutor's workstation: libpq's environment names the login and the database."""
    return subprocess.Popen(
        [sys.executable, "-m", "charging_rules", "batch", str(source), "--json",
         "--guidelines", str(RULES), "--audit-db", "postgresql://"],
        env={**office.server.env(office.database, login), **env}, cwd=source.parent,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_lock_waiters(office: Office, count: int, within: float = 120.0) -> None:
    deadline = time.monotonic() + within
    query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    while office.sql(query)[0][0] < count:
        assert time.monotonic() < deadline, f"{count} writers never queued for the lock"
        time.sleep(0.05)


def test_four_concurrent_batches_from_two_logins_share_one_chain(office: Office,
                                                                 tmp_path: Path) -> None:
    per_batch = 600
    sources = [write_referrals(tmp_path / f"in-{n}.jsonl", f"KC-{n}", per_batch)
               for n in range(4)]
    # The chain is held until all four writers wait on it with their first group, so they
    # really are concurrent however fast or slow each one starts.
    with psycopg.connect(office.url) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK,))  # in a transaction
        batches = [_batch(office, PROSECUTORS[n % 2], source,
                          CHARGING_RULES_LOCK_TIMEOUT="300")
                   for n, source in enumerate(sources)]
        _wait_for_lock_waiters(office, len(batches))
    for process in batches:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        assert json.loads(out)["screened"] == per_batch
    records = [json.loads(line) for line in office.lines()]
    ids = [r["record_id"] for r in records]
    assert sorted(ids) == sorted(f"KC-{n}-{i:06d}" for n in range(4) for i in range(per_batch))
    assert [r["seq"] for r in records] == list(range(1, 4 * per_batch + 1))
    cli("audit", "verify", "--audit-db", office.url)
    by_login = dict(office.sql("SELECT actor, count(*) FROM charging_rules.records "
                               "GROUP BY actor"))
    assert by_login == dict.fromkeys(PROSECUTORS, 2 * per_batch)
    assert {r["actor"] for r in records} == set(PROSECUTORS)
    # The four queued writers each wrote their first group before any wrote a second one:
    # the groups of the two logins interleave in the one chain.
    first_groups = {r["record_id"].rsplit("-", 1)[0] for r in records[:4 * CHUNK]}
    assert first_groups == {f"KC-{n}" for n in range(4)}
    # A prosecutor's login cannot change or remove what is logged.
    for statement in ("UPDATE charging_rules.records SET kind = 'x' WHERE seq = 1",
                      "DELETE FROM charging_rules.records WHERE seq = 1",
                      "TRUNCATE charging_rules.records",
                      "DELETE FROM charging_rules.guideline_files"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            office.sql(statement, user="pros_a")
    # Even the owner, with the privileges, is stopped by the triggers.
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        office.sql("DELETE FROM charging_rules.records WHERE seq = 1")
    # A superuser who switches the triggers off is found by verify, at the record.
    report = office.edit_and_verify(1000, '"record_id":"KC-', '"record_id":"KX-')
    assert [(p["line"], p["kind"]) for p in report["problems"]] == [(1000, "edited")]


def test_a_server_restart_mid_batch_stops_it_and_loses_nothing_acknowledged(
        office: Office, tmp_path: Path) -> None:
    source = write_referrals(tmp_path / "in.jsonl", "KC-R", 12_000)
    process = _batch(office, "pros_a", source)
    deadline = time.monotonic() + 120
    while office.sql("SELECT count(*) FROM charging_rules.records")[0][0] < 1024:
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    office.server.restart()
    _, err = process.communicate(timeout=120)
    assert process.returncode == 2
    assert err.count("\n") == 1 and err.startswith("error: the audit database "), err
    assert "went away" in err and "Traceback" not in err
    kept = re.search(r"the (\d+) records this run committed \(up to seq (\d+)\) are kept", err)
    assert kept is not None, err
    seqs = [json.loads(line)["seq"] for line in office.lines()]
    assert len(seqs) >= int(kept[1]) and int(kept[2]) in seqs
    assert len(seqs) < 12_000  # it really stopped in the middle
    cli("audit", "verify", "--audit-db", office.url)
    # The office carries on: the next writer continues the same chain.
    cli("screen", str(EXAMPLES / "referrals" / "kc-sale-firearm.json"),
        "--audit-db", office.as_("pros_b"))
    cli("audit", "verify", "--audit-db", office.url)


def test_a_writer_stopped_holding_the_lock_is_given_up_on(office: Office,
                                                           tmp_path: Path) -> None:
    """A session holding the append lock (a batch stopped mid-transaction) makes the next
    writer give up after $CHARGING_RULES_LOCK_TIMEOUT: exit 2, one line, nothing written."""
    source = write_referrals(tmp_path / "in.jsonl", "KC-L", 3)
    with psycopg.connect(office.url) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK,))  # in a transaction
        started = time.monotonic()
        env = {**office.server.env(office.database, "pros_a"), "CHARGING_RULES_LOCK_TIMEOUT": "1"}
        done = subprocess.run(
            [sys.executable, "-m", "charging_rules", "batch", str(source), "--json",
             "--guidelines", str(RULES), "--audit-db", "postgresql://"],
            env=env, capture_output=True, text=True, timeout=60)
        waited = time.monotonic() - started
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "gave up after 1 s waiting for the audit log's " \
        "append lock" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert waited < 30
    assert office.lines() == []
    _batch(office, "pros_a", source).communicate(timeout=120)  # free again: it writes
    assert len(office.lines()) == 3


def test_outreach_and_the_office_roles_work_on_the_database(office: Office,
                                                             tmp_path: Path) -> None:
    for login, group in (("sup_1", "charging_supervisor"), ("ana_1", "charging_analyst")):
        office.server.execute(f"""DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{login}') THEN
                CREATE ROLE {login} LOGIN IN ROLE {group};
            END IF; END $$""")
    week = EXAMPLES / "outreach" / "synthetic-2023-W01.csv"
    imported = json.loads(cli("outreach", "import", str(week), "--guidelines", str(RULES),
                              "--out", str(tmp_path / "lists"), "--json",
                              "--audit-db", office.as_("pros_a")).stdout)
    again = cli("outreach", "import", str(week), "--guidelines", str(RULES), "--out",
                str(tmp_path / "lists"), "--audit-db", office.as_("pros_b"), code=2)
    assert "already imported" in again.stderr
    status = json.loads(cli("outreach", "status", "--json", "--audit-db",
                            office.as_("sup_1")).stdout)
    assert status["referrals"] == imported["referrals"]
    cli("audit", "verify", "--audit-db", office.as_("sup_1"))
    cli("batch", str(write_referrals(tmp_path / "in.jsonl", "KC-D", 30)), "--audit-db",
        office.as_("pros_b"))
    rates = json.loads(cli("disparity", "--stage", "recommendation", "--json",
                           "--audit-db", office.as_("ana_1")).stdout)
    assert sum(g["n"] for g in rates["groups"]) == 30
    # Neither a supervisor nor an analyst may write; an analyst does not read the archive.
    write = cli("screen", str(EXAMPLES / "referrals" / "kc-sale-firearm.json"),
                "--audit-db", office.as_("sup_1"), code=2)
    assert "may not do this" in write.stderr
    for login in ("sup_1", "ana_1"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            office.sql("INSERT INTO charging_rules.records (line) VALUES ('x')", login)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        office.sql("SELECT * FROM charging_rules.guideline_files", "ana_1")


def test_intake_on_the_database_files_away_what_is_already_decided(office: Office,
                                                                   tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for n in range(3):
        (inbox / f"r{n}.json").write_text(json.dumps(referral(referral_id=f"KC-I-{n}")))
    store = PgStore(office.as_("pros_a"))
    summary = IntakeQueue(inbox, Screener.open(RULES, store), store.actor(None)).run(Accepting())
    assert len(summary.decided) == 3
    # A decided file put back (as if the move had been lost) is found decided in the database.
    (inbox / "again.json").write_text(json.dumps(referral(referral_id="KC-I-1")))
    other = PgStore(office.as_("pros_b"))
    again = IntakeQueue(inbox, Screener.open(RULES, other), other.actor(None)).run(Accepting())
    assert again.already_decided == [inbox / "again.json"] and not again.decided
    assert [json.loads(line)["actor"] for line in office.lines()] == ["pros_a"] * 6
    store.close()
    other.close()
