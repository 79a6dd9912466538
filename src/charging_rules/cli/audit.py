"""`charging-rules audit ...`: verify, repair, list, show, replay, export, checkpoint."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from charging_rules import config
from charging_rules.cli.options import (
    AuditDbOpt,
    AuditDirOpt,
    JsonOpt,
    UserOpt,
    audit_store,
    check_writes,
)
from charging_rules.cli.output import emit

# The library (and rich) are imported inside each command: every command's start-up pays
# for what is imported here.

audit_app = typer.Typer(help="Inspect the audit log: integrity, decisions, replay, exports.",
                        no_args_is_help=True)

CheckpointOpt = Annotated[Path | None, typer.Option(
    "--checkpoint", metavar="FILE", envvar="CHARGING_RULES_CHECKPOINT_FILE",
    help="Sealed checkpoints (keep them outside audit_logs/).")]
KeyFileOpt = Annotated[Path | None, typer.Option(
    "--key-file", help=f"HMAC key for checkpoints [default: ${config.AUDIT_KEY_ENV}].")]
DecisionArg = Annotated[str, typer.Argument(
    help="Decision id (or a unique 6+ char prefix), or a referral id screened once.")]
DAYS = "YYYY-MM-DD, today, yesterday, or back from today: 30d, 2w"
SinceOpt = Annotated[str | None, typer.Option(
    "--since", help=f"From this UTC day (inclusive): {DAYS}.")]
UntilOpt = Annotated[str | None, typer.Option(
    "--until", help=f"Up to this UTC day (inclusive): {DAYS}.")]
ReferralOpt = Annotated[str | None, typer.Option(
    "--referral", help="Only the decisions on this referral id.")]
LimitOpt = Annotated[int | None, typer.Option(
    "--limit", min=1, help="Only the N most recent (still listed oldest first).")]
ActorOpt = Annotated[str | None, typer.Option("--actor", help="Screened or decided by.")]
OutcomeOpt = Annotated[str | None, typer.Option(
    "--outcome", help="Final outcome (the recommendation while undecided).")]
OverridesOpt = Annotated[bool, typer.Option("--overrides", help="Only overridden ones.")]
GuidelineOpt = Annotated[str | None, typer.Option(
    "--guideline-version", help="Set id, sha256 prefix, guideline version or id@version.")]




def _filters(since: str | None, until: str | None, actor: str | None, outcome: str | None,
             overrides: bool, guideline_version: str | None, referral: str | None) -> Any:
    from charging_rules.audit import query

    today = datetime.now(UTC).date()
    return query.Filters(None if since is None else query.day_of(since, today),
                         None if until is None else query.day_of(until, today, "until"),
                         actor, outcome, overrides, guideline_version, referral)


def _key(checkpoint_file: Path | None, key_file: Path | None) -> bytes | None:
    from charging_rules.audit.checkpoint import load_key

    return load_key(key_file) if checkpoint_file is not None else None


@audit_app.command()
def verify(audit_dir: AuditDirOpt = None, audit_db: AuditDbOpt = None,
           checkpoint: CheckpointOpt = None, key_file: KeyFileOpt = None,
           as_json: JsonOpt = False) -> None:
    """Check the hash chain (and checkpoints): exit 0 intact, 1 naming each bad line.

    Example: charging-rules audit verify --checkpoint /secure/checkpoints.jsonl
    """
    from charging_rules.audit import checkpoint as checkpoints
    from charging_rules.audit import views

    report = checkpoints.verify_against(audit_store(audit_dir, audit_db, existing=True),
                                        checkpoint, _key(checkpoint, key_file))
    emit(as_json, report.to_json(), views.verify_view(report))
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command()
def repair(audit_dir: AuditDirOpt = None, audit_db: AuditDbOpt = None, user: UserOpt = None,
           checkpoint: CheckpointOpt = None, as_json: JsonOpt = False) -> None:
    """Move a crash-torn last line into quarantine/ (never deleted) and log a repair record;
    with --checkpoint, a torn last checkpoint line too (moved to a .torn file beside it).

    Example: charging-rules audit repair --checkpoint /secure/checkpoints.jsonl
    """
    from charging_rules.audit import checkpoint as checkpoints

    store = audit_store(audit_dir, audit_db)
    record = store.repair(store.actor(user))
    message = ("nothing to repair: the log ends with a complete record" if record is None
               else f"moved {record['bytes']} torn bytes to {record['quarantine']}; "
               f"logged repair record seq {record['seq']}")
    data: dict[str, Any] = {"repaired": record is not None, "record": record}
    if checkpoint is not None:
        moved = checkpoints.repair(checkpoint)
        data["checkpoint"] = moved
        message += ("; the checkpoint file ends with a complete line" if moved is None else
                    f"; moved {moved['bytes']} torn checkpoint bytes to {moved['quarantine']}")
    emit(as_json, data, message)


@audit_app.command("list")
def list_(audit_dir: AuditDirOpt = None, audit_db: AuditDbOpt = None, since: SinceOpt = None,
          until: UntilOpt = None, actor: ActorOpt = None, outcome: OutcomeOpt = None,
          overrides: OverridesOpt = False, guideline_version: GuidelineOpt = None,
          referral: ReferralOpt = None, limit: LimitOpt = None, as_json: JsonOpt = False
          ) -> None:
    """List decisions, oldest first, with filters (and each decision's reason).

    Example: charging-rules audit list --since 30d --overrides --limit 20
    """
    from charging_rules.audit import query, views

    filters = _filters(since, until, actor, outcome, overrides, guideline_version, referral)
    selected = query.latest(query.rows(audit_store(audit_dir, audit_db, existing=True),
                                       filters), limit)
    emit(as_json, {"decisions": [row.to_json() for row in selected]},
          views.decisions_table(selected))


@audit_app.command()
def show(decision_id: DecisionArg, audit_dir: AuditDirOpt = None,
         audit_db: AuditDbOpt = None, as_json: JsonOpt = False) -> None:
    """One decision in full: recommendation, reasons, trace, decisions, referral, versions.

    Example: charging-rules audit show 3f2a9c
    """
    from charging_rules.audit import query, replay, views

    store = audit_store(audit_dir, audit_db, existing=True)
    row = query.find(store, decision_id)
    data = {"recommendation": row.recommendation, "decisions": list(row.decisions)}
    # The trace is re-derived (a replay) only for the view: --json prints the records.
    emit(as_json, data, *() if as_json else (views.decision_view(row,
                                                                 replay.explain(store, row)),))


@audit_app.command()
def replay(decision_id: DecisionArg, audit_dir: AuditDirOpt = None,
           audit_db: AuditDbOpt = None, as_json: JsonOpt = False) -> None:
    """Re-evaluate a decision under its archived guidelines: exit 0 reproduced, 1 not.

    Example: charging-rules audit replay 3f2a9c
    """
    from charging_rules.audit import views
    from charging_rules.audit.replay import replay as replay_decision

    result = replay_decision(audit_store(audit_dir, audit_db, existing=True), decision_id)
    emit(as_json, result.to_json(), views.replay_view(result))
    if not result.reproduced:
        raise typer.Exit(1)


@audit_app.command()
def export(audit_dir: AuditDirOpt = None, audit_db: AuditDbOpt = None,
           fmt: Annotated[config.ExportFormat, typer.Option("--format")] = "csv",
           out: Annotated[Path | None, typer.Option(
               "--out", help="File to write (created owner-only) [default: stdout].")] = None,
           mask_demographics: Annotated[bool, typer.Option(
               "--mask-demographics", help="Replace race, ethnicity, sex by [masked], and "
               "what could re-join a row to them: ids and seq masked, ages masked, times cut "
               "to the day, received/incident dates to the month.")] = False,
           since: SinceOpt = None, until: UntilOpt = None, actor: ActorOpt = None,
           outcome: OutcomeOpt = None, overrides: OverridesOpt = False,
           guideline_version: GuidelineOpt = None, referral: ReferralOpt = None,
           limit: LimitOpt = None) -> None:
    """Decisions as CSV or JSONL for analysts (one row per decision).

    Example: charging-rules audit export --format csv --out decisions.csv --mask-demographics
    """
    from charging_rules.audit import query

    check_writes(out, "--out", audit_dir)
    filters = _filters(since, until, actor, outcome, overrides, guideline_version, referral)
    selected = query.rows(audit_store(audit_dir, audit_db, existing=True), filters)
    if limit is not None:
        selected = iter(query.latest(selected, limit))
    if out is None:
        query.export(selected, sys.stdout, fmt, mask_demographics)
        return
    count = query.export_file(selected, out, fmt, mask_demographics)
    typer.echo(f"wrote {count} decisions to {out}", err=True)


@audit_app.command("checkpoint")
def checkpoint_(out: Annotated[Path, typer.Option(
                    "--out", envvar="CHARGING_RULES_CHECKPOINT_FILE",
                    help="Checkpoint file to append to (keep it outside audit_logs/).")],
                audit_dir: AuditDirOpt = None, audit_db: AuditDbOpt = None,
                key_file: KeyFileOpt = None, as_json: JsonOpt = False) -> None:
    """Seal the head (seq, hash) of a verified log with HMAC-SHA256; run it from cron.

    Example: charging-rules audit checkpoint --out /secure/checkpoints.jsonl --key-file k
    """
    from charging_rules.audit import checkpoint as checkpoints
    from charging_rules.audit import views

    check_writes(out, "--out", audit_dir, (key_file,))
    report, sealed = checkpoints.seal_head(audit_store(audit_dir, audit_db, existing=True),
                                           out, checkpoints.load_key(key_file))
    if sealed is None:
        emit(as_json, {**report.to_json(), "checkpoint": None}, views.verify_view(report))
        raise typer.Exit(1 if not report.ok else 0)
    emit(as_json, {**report.to_json(), "checkpoint": sealed},
          f"sealed seq {sealed['seq']} hash {sealed['hash'][:16]}… into {out}")


@audit_app.command("init-db")
def init_db(audit_db: AuditDbOpt = None, as_json: JsonOpt = False) -> None:
    """Create the PostgreSQL audit store's schema and its group roles (charging_prosecutor,
    charging_supervisor, charging_analyst); run it as the database's owner. Idempotent.

    Example: charging-rules audit init-db --audit-db postgresql://dba@db.office/charging
    """
    from charging_rules.audit import pgstore

    url = _database(audit_db)
    done = pgstore.init_db(url)
    emit(as_json, done, f"audit store ready in database {done['database']} (schema "
          f"{done['schema']}, owner {done['owner']}); group roles: {', '.join(done['roles'])}")


@audit_app.command("copy")
def copy(source: Annotated[Path, typer.Option("--from", metavar="DIR",
                                              help="The file log to move in.")],
         target: Annotated[str | None, typer.Option(
             "--to", metavar="URL", help="The (initialised, empty) PostgreSQL audit store "
             f"[default: ${config.AUDIT_DB_ENV}, else the config file's `audit_db`].")] = None,
         as_json: JsonOpt = False) -> None:
    """Move a file log into PostgreSQL with its chain intact (same seq and hashes) and its
    guideline archive, then verify it there: exit 0 when it verifies, 1 when not.

    Example: charging-rules audit copy --from audit_logs --to postgresql://dba@db/charging
    """
    from charging_rules.audit import pgstore, views

    before, after = pgstore.copy_log(source, _database(target))
    emit(as_json, {"copied": before.records, "target": after.to_json()},
          views.verify_view(after))
    if not after.ok or after.records != before.records or after.head_hash != before.head_hash:
        raise typer.Exit(1)


def _database(option: str | None) -> str:
    from charging_rules.errors import InputError

    url = config.audit_db(option)
    if not url:
        raise InputError(f"no PostgreSQL audit store named: give --audit-db URL or set "
                         f"${config.AUDIT_DB_ENV}")
    return url


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
