"""The office's shared audit store: the file log's records and hash chain, in PostgreSQL.

Each row keeps the record's stored line exactly as the file log would write it (log.encode:
canonical JSON, `hash` last), so the same verifier checks both and `audit copy` moves a file
log in byte for byte. The database, not the tool, guards the log:

- The chain is serialized inside the database: a writer takes a transaction-level advisory
  lock, reads the head (seq, hash) and inserts its group, all in one transaction; the
  `BEFORE INSERT` trigger refuses a row that is not the head's successor (seq + 1, chained
  to the head's hash) or whose hash does not cover its line, and `seq` is the primary key,
  so writers on many machines can never fork the chain. A group is acknowledged only after
  its COMMIT returned.
- The row's `actor` column is `session_user`, the authenticated login, set by the trigger;
  a record whose own `actor` differs is refused (except for the schema's owner or a
  superuser moving a file log in with `audit copy`).
- Append-only: no role of the tool holds UPDATE, DELETE or TRUNCATE, and triggers refuse
  them anyway (even to a table owner who granted them by mistake).

psycopg (3) is imported here only, and this module only when a database is named.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from charging_rules.audit import archive, log
from charging_rules.audit.lock import LOCK_TIMEOUT_ENV, lock_timeout
from charging_rules.audit.log import AuditLogError
from charging_rules.audit.verify import Checkpoint, VerifyReport, verify_lines
from charging_rules.errors import ChargingRulesError, InputError
from charging_rules.guidelines.schema import GuidelineSet

if TYPE_CHECKING:
    import psycopg

SCHEMA = "charging_rules"
PROSECUTOR, SUPERVISOR, ANALYST = ("charging_prosecutor", "charging_supervisor",
                                   "charging_analyst")
ROLES = (PROSECUTOR, SUPERVISOR, ANALYST)
APPEND_LOCK = 7161132913386729063  # "charging" as a 64-bit advisory lock key
FETCH_ROWS = 2000

_CUSTODIAN = f"""(SELECT rolsuper FROM pg_roles WHERE rolname = session_user)
    OR pg_has_role(session_user, (SELECT nspowner FROM pg_namespace
                                  WHERE nspname = '{SCHEMA}'), 'MEMBER')"""

SCHEMA_SQL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
REVOKE ALL ON SCHEMA {SCHEMA} FROM PUBLIC;

CREATE TABLE IF NOT EXISTS {SCHEMA}.records (
    seq bigint PRIMARY KEY,
    line bytea NOT NULL,          -- the stored line, byte for byte as in the file log
    hash text NOT NULL,
    prev_hash text NOT NULL,
    kind text NOT NULL,
    decision_id text,
    logged_at text NOT NULL,      -- the record's own timestamp (ISO 8601, UTC)
    actor text NOT NULL,          -- the database login that inserted it (session_user)
    written_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS records_decision_id ON {SCHEMA}.records (decision_id);
CREATE INDEX IF NOT EXISTS records_logged_at ON {SCHEMA}.records (logged_at);

CREATE TABLE IF NOT EXISTS {SCHEMA}.guideline_files (
    sha256 text NOT NULL,         -- the guideline set's sha256, as logged
    name text NOT NULL,
    content bytea NOT NULL,
    PRIMARY KEY (sha256, name)
);

CREATE OR REPLACE FUNCTION {SCHEMA}.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on %.% is refused',
        TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME;
END $$;

CREATE OR REPLACE FUNCTION {SCHEMA}.check_record() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    body jsonb;
    size integer := length(NEW.line);
    previous text;
BEGIN
    body := convert_from(NEW.line, 'UTF8')::jsonb;
    NEW.seq := (body->>'seq')::bigint;
    NEW.hash := body->>'hash';
    NEW.prev_hash := body->>'prev_hash';
    NEW.kind := body->>'kind';
    NEW.decision_id := body->>'decision_id';
    NEW.logged_at := body->>'timestamp';
    NEW.actor := session_user;
    NEW.written_at := clock_timestamp();
    IF size < 80
       OR substring(NEW.line FROM size - 75)
          <> convert_to(',"hash":"' || NEW.hash || '"}}' || chr(10), 'UTF8')
       OR encode(sha256(substring(NEW.line FROM 1 FOR size - 76) || convert_to('}}', 'UTF8')),
                 'hex') <> NEW.hash THEN
        RAISE EXCEPTION 'audit record seq %: its hash does not cover its line', NEW.seq;
    END IF;
    SELECT hash INTO previous FROM {SCHEMA}.records WHERE seq = NEW.seq - 1;
    IF coalesce(previous, CASE WHEN NEW.seq = 1 THEN repeat('0', 64) END)
       IS DISTINCT FROM NEW.prev_hash THEN
        RAISE EXCEPTION 'audit record seq % is not chained to the head of the log', NEW.seq;
    END IF;
    IF body->>'actor' IS DISTINCT FROM session_user AND NOT ({_CUSTODIAN}) THEN
        RAISE EXCEPTION 'audit record seq %: actor % is not the login %',
            NEW.seq, body->>'actor', session_user;
    END IF;
    RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION {SCHEMA}.check_record() FROM PUBLIC;

CREATE OR REPLACE TRIGGER records_chain BEFORE INSERT ON {SCHEMA}.records
    FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.check_record();
CREATE OR REPLACE TRIGGER records_append_only BEFORE UPDATE OR DELETE ON {SCHEMA}.records
    FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.refuse_change();
CREATE OR REPLACE TRIGGER records_no_truncate BEFORE TRUNCATE ON {SCHEMA}.records
    FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.refuse_change();
CREATE OR REPLACE TRIGGER guideline_files_append_only
    BEFORE UPDATE OR DELETE ON {SCHEMA}.guideline_files
    FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.refuse_change();
CREATE OR REPLACE TRIGGER guideline_files_no_truncate BEFORE TRUNCATE ON {SCHEMA}.guideline_files
    FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.refuse_change();

DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['{PROSECUTOR}', '{SUPERVISOR}', '{ANALYST}'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', name);
        END IF;
    END LOOP;
END $$;

REVOKE ALL ON ALL TABLES IN SCHEMA {SCHEMA} FROM PUBLIC, {PROSECUTOR}, {SUPERVISOR}, {ANALYST};
GRANT USAGE ON SCHEMA {SCHEMA} TO {PROSECUTOR}, {SUPERVISOR}, {ANALYST};
GRANT SELECT ON {SCHEMA}.records TO {PROSECUTOR}, {SUPERVISOR}, {ANALYST};
GRANT INSERT (line) ON {SCHEMA}.records TO {PROSECUTOR};
GRANT SELECT, INSERT ON {SCHEMA}.guideline_files TO {PROSECUTOR};
GRANT SELECT ON {SCHEMA}.guideline_files TO {SUPERVISOR};
"""


class StoreUnavailable(ChargingRulesError):
    """The database went away mid-run (a restart, a network cut): the run stops, exit 2."""


def redacted(url: str) -> str:
    """The URL as shown in messages: any password replaced by ***."""
    parts = urlsplit(url) if "://" in url else None
    if parts is not None and parts.password:
        url = url.replace(f":{parts.password}@", ":***@", 1)
    return re.sub(r"(password\s*=\s*)[^\s&]+", r"\1***", url)


def _reason(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


@dataclass
class _Progress:
    """What this process has committed, for the message when the database goes away."""

    records: int = 0
    last_seq: int = 0
    writing: bool = False  # a group is being written (not yet acknowledged)


class PgStore:
    """The audit log in PostgreSQL (see the module docstring). One connection writes (its
    transactions are the group commits), another reads (snapshots), each opened on first use.
    """

    def __init__(self, url: str):
        # psycopg logs what it ignores while closing a COPY on a lost connection; the
        # store's own error (`_errors`) says what happened, in one line.
        logging.getLogger("psycopg").addHandler(logging.NullHandler())
        logging.getLogger("psycopg").propagate = False
        self.url = url
        self._writer: psycopg.Connection[Any] | None = None
        self._reader: psycopg.Connection[Any] | None = None
        self._login: str | None = None
        self._progress = _Progress()

    @property
    def location(self) -> str:
        return redacted(self.url)

    # -- connections and errors -------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        import psycopg

        try:
            conn = psycopg.connect(self.url, autocommit=True, application_name="charging-rules")
        except psycopg.Error as error:
            raise InputError(f"cannot connect to the audit database {self.location}: "
                             f"{_reason(error)}") from None
        with self._errors():
            initialised = conn.execute("SELECT to_regclass(%s)",
                                       (f"{SCHEMA}.records",)).fetchone()
        if initialised is None or initialised[0] is None:
            conn.close()
            raise InputError(f"no audit log at {self.location}: the database is not "
                             "initialised (its owner runs 'charging-rules audit init-db')")
        return conn

    # A connection that breaks is not reopened: a run that lost the server stops (see
    # StoreUnavailable) rather than carry on past a gap it cannot account for.

    def _write_conn(self) -> psycopg.Connection[Any]:
        if self._writer is None:
            self._writer = self._connect()
        return self._writer

    def _read_conn(self) -> psycopg.Connection[Any]:
        if self._reader is None:
            self._reader = self._connect()
        return self._reader

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Database errors as the tool's: a lost server stops the run saying what was kept;
        a missing privilege is a usage problem; a refused record is a failed check."""
        import psycopg
        from psycopg import errors

        try:
            yield
        except errors.InsufficientPrivilege as error:
            raise InputError(f"{self.location}: the login {self._login or 'used'} may not do "
                             f"this ({_reason(error)}); see docs/deployment.md for the roles"
                             ) from None
        except errors.RaiseException as error:
            raise AuditLogError(f"{self.location}: the database refused the record: "
                                f"{_reason(error)}") from None
        except psycopg.OperationalError as error:
            done = self._progress
            kept = (f"the {done.records} records this run committed (up to seq "
                    f"{done.last_seq}) are kept" if done.records else
                    "this run had committed nothing")
            lost = ("; the group being written was not acknowledged: check with "
                    "'charging-rules audit list' and run again for the rest"
                    if done.writing else "")
            raise StoreUnavailable(f"the audit database {self.location} went away "
                                   f"({_reason(error)}); {kept}{lost}") from None
        except psycopg.Error as error:
            raise AuditLogError(f"{self.location}: {_reason(error)}") from None

    def _take(self, conn: psycopg.Connection[Any], key: int | str, what: str) -> None:
        """A transaction-level advisory lock, given up after $CHARGING_RULES_LOCK_TIMEOUT
        as every lock the tool takes: a writer stopped mid-transaction (SIGSTOP, a hung
        workstation) holds it until its session ends."""
        from psycopg import errors

        timeout = lock_timeout()
        row = conn.execute("SELECT current_setting('lock_timeout')").fetchone()
        before = row[0] if row is not None else "0"
        conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{int(timeout * 1000)}ms",))
        try:
            if isinstance(key, int):
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
            else:
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))
        except errors.LockNotAvailable:
            raise InputError(f"gave up after {timeout:g} s waiting for {what} in "
                             f"{self.location}, held by another session (stopped or hung?); "
                             f"nothing was written. Set ${LOCK_TIMEOUT_ENV} to wait longer"
                             ) from None
        conn.execute("SELECT set_config('lock_timeout', %s, true)", (before,))  # as it was

    @contextmanager
    def _snapshot(self) -> Iterator[psycopg.Connection[Any]]:
        """A read-only, repeatable-read transaction: one consistent view of the log."""
        conn = self._read_conn()
        with self._errors(), conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield conn

    # -- the AuditStore protocol ------------------------------------------------------

    def require(self) -> None:
        with self._snapshot() as conn:
            row = conn.execute(f"SELECT EXISTS (SELECT FROM {SCHEMA}.records)").fetchone()
        if not (row and row[0]):
            raise InputError(f"no audit log at {self.location}: nothing has been logged yet")

    def login(self) -> str:
        if self._login is None:
            with self._errors():
                row = self._write_conn().execute("SELECT session_user").fetchone()
            self._login = str(row[0]) if row else ""
        return self._login

    def actor(self, user: str | None) -> str:
        login = self.login()
        if user is not None and user != login:
            raise InputError(f"--user {user!r} is not your database login {login!r}: with the "
                             "PostgreSQL audit store the actor is the login (drop --user)")
        return login

    def append(self, entry: dict[str, Any]) -> dict[str, Any]:
        return self.append_many([entry])[0]

    def append_many(self, entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        batch = list(entries)
        if not batch:
            return []
        conn = self._write_conn()
        self._progress.writing = True
        with self._errors():
            with conn.transaction():
                self._take(conn, APPEND_LOCK, "the audit log's append lock")
                head = conn.execute(
                    f"SELECT clock_timestamp(), h.seq, h.hash FROM (SELECT) AS one "
                    f"LEFT JOIN LATERAL (SELECT seq, hash FROM {SCHEMA}.records "
                    "ORDER BY seq DESC LIMIT 1) AS h ON true").fetchone()
                assert head is not None
                now = head[0].astimezone(UTC).isoformat(timespec="microseconds")
                seq, prev = (head[1] or 0), (head[2] or log.GENESIS)
                written: list[dict[str, Any]] = []
                with conn.cursor().copy(f"COPY {SCHEMA}.records (line) FROM STDIN") as copy:
                    for entry in batch:
                        seq += 1
                        body = {k: v for k, v in entry.items() if k != "hash"}
                        body.update(seq=seq, prev_hash=prev, timestamp=now)
                        line, prev = log.encode(body)
                        body["hash"] = prev
                        copy.write_row((line,))
                        written.append(body)
            # committed: only now are these records acknowledged
            self._progress.records += len(written)
            self._progress.last_seq = seq
            self._progress.writing = False
        return written

    def read_lines(self, since: str | None = None) -> Iterator[tuple[str, bytes]]:
        with self._snapshot() as conn:
            for seq, line in self._rows(conn, since):
                yield f"{self.location} seq {seq}", line

    def _rows(self, conn: psycopg.Connection[Any], since: str | None = None
              ) -> Iterator[tuple[int, bytes]]:
        where, params = ("WHERE logged_at >= %s", (since,)) if since else ("", ())
        with conn.cursor(name="charging_rules_records") as cursor:
            cursor.itersize = FETCH_ROWS
            cursor.execute(f"SELECT seq, line FROM {SCHEMA}.records {where} ORDER BY seq",
                           params)
            for seq, line in cursor:
                yield int(seq), bytes(line)

    def read_records(self, since: str | None = None) -> Iterator[dict[str, Any]]:
        for where, line in self.read_lines(since):
            yield log.parse_line(where, line)

    def store_guidelines(self, guidelines: GuidelineSet) -> None:
        conn = self._write_conn()
        with self._errors(), conn.transaction(), conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {SCHEMA}.guideline_files (sha256, name, content) "
                "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                [(guidelines.sha256, name, raw) for name, raw in guidelines.files.items()])

    def load_guidelines(self, sha256: str) -> GuidelineSet:
        archive.check_sha256(sha256)
        with self._snapshot() as conn:
            files = conn.execute(f"SELECT name, content FROM {SCHEMA}.guideline_files "
                                 "WHERE sha256 = %s", (sha256,)).fetchall()
        where = f"{self.location} guideline archive"
        if not files:
            raise AuditLogError(f"{where}: guideline set {sha256[:12]} is not archived")
        with tempfile.TemporaryDirectory(prefix="charging-rules-archive-") as temp:
            for name, content in files:
                if Path(name).name != name or name in (".", ".."):
                    raise AuditLogError(f"{where}: {name!r} is not a guideline file name")
                (Path(temp) / name).write_bytes(content)
            return archive.load_checked(Path(temp), sha256, f"{where} {sha256[:12]}")

    def verify(self, checkpoints: Iterable[Checkpoint] = ()) -> VerifyReport:
        with self._snapshot() as conn:
            def located() -> Iterator[tuple[str, bytes]]:
                return ((f"seq {seq}", line) for seq, line in self._rows(conn))
            return verify_lines((line for _, line in self._rows(conn)), located, checkpoints)

    def repair(self, actor: str) -> dict[str, Any] | None:
        """Nothing to repair: a group is committed whole or not at all."""
        return None

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        conn = self._write_conn()
        with self._errors(), conn.transaction():
            self._take(conn, f"{SCHEMA}:{name}", f"the {name} lock")
            yield

    def close(self) -> None:
        for conn in (self._writer, self._reader):
            if conn is not None:
                conn.close()


def init_db(url: str) -> dict[str, Any]:
    """Create (or bring up to date) the schema, its triggers and the three group roles.
    Idempotent; run by the database's owner (creating roles needs CREATEROLE)."""
    import psycopg

    location = redacted(url)
    try:
        with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
            conn.execute(SCHEMA_SQL.encode())  # DDL built from the constants above
            row = conn.execute("SELECT current_database(), session_user").fetchone()
    except psycopg.Error as error:
        raise InputError(f"cannot initialise the audit database {location}: "
                         f"{_reason(error)}") from None
    assert row is not None
    return {"database": row[0], "schema": SCHEMA, "owner": row[1], "roles": list(ROLES)}


def copy_log(audit_dir: Path, url: str) -> tuple[VerifyReport, VerifyReport]:
    """Move the file log in `audit_dir` into an initialised, empty database: the same lines
    (same seq, same hashes), its guideline archive, in one transaction; then verify the
    target. Returns (source report, target report). A log that does not verify is refused."""
    from charging_rules.audit.store import FileStore

    source = FileStore(audit_dir)
    source.require()
    before = source.verify()
    if not before.ok:
        first = before.problems[0]
        raise AuditLogError(f"{audit_dir}: the file log does not verify (line {first.line}: "
                            f"{first.kind}); run 'charging-rules audit verify' and fix it "
                            "before copying")
    target = PgStore(url)
    conn = target._write_conn()
    with target._errors(), conn.transaction():
        target._take(conn, APPEND_LOCK, "the audit log's append lock")
        count = conn.execute(f"SELECT count(*) FROM {SCHEMA}.records").fetchone()
        if count is None or count[0]:
            raise InputError(f"{target.location} already holds {count[0] if count else '?'} "
                             "records: 'audit copy' only fills an empty store")
        with conn.cursor().copy(f"COPY {SCHEMA}.records (line) FROM STDIN") as copy:
            for _, line in source.read_lines():
                copy.write_row((line,))
        with conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {SCHEMA}.guideline_files (sha256, name, content) "
                "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", _archived_files(audit_dir))
    after = target.verify()
    target.close()
    return before, after


def _archived_files(audit_dir: Path) -> Iterator[tuple[str, str, bytes]]:
    root = audit_dir / archive.ARCHIVE_DIR
    if not root.is_dir():
        return
    for directory in sorted(root.iterdir()):
        if directory.is_dir() and not directory.name.startswith("."):
            for path in sorted(directory.iterdir()):
                if path.is_file():
                    yield directory.name, path.name, path.read_bytes()
