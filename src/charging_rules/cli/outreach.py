"""`charging-rules outreach import|status|record`: Partners for Peace victim referrals.

The outreach library and rich are imported inside each command: `screen`, which shares this
process's start-up, never pays for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from charging_rules import config
from charging_rules.cli.options import (
    AuditDbOpt,
    AuditDirOpt,
    GuidelinesOpt,
    JsonOpt,
    UserOpt,
    audit_store,
    check_writes,
)
from charging_rules.cli.output import emit

outreach_app = typer.Typer(
    name="outreach", no_args_is_help=True,
    help="Partners for Peace: refer each week's shooting victims (or their families) to the "
    "hub, track the year against the goal, record contact outcomes.")


@outreach_app.command("import")
def import_(
    lists: Annotated[list[Path], typer.Argument(
        help="Weekly list CSV files, or directories of them.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Where the hub's referral lists go.")] =
    Path("outreach_lists"),
    guidelines: GuidelinesOpt = None,
    audit_dir: AuditDirOpt = None,
    audit_db: AuditDbOpt = None,
    user: UserOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate weekly victim lists, log every decision, write the hub's referral lists.

    A bad row or a week already imported rejects the whole import (exit 2, nothing written).

    Example: charging-rules outreach import examples/outreach/
    """
    from charging_rules.outreach.importer import import_summary, import_weeks
    from charging_rules.outreach.render import import_view

    check_writes(out, "--out", audit_dir, (*lists, config.guidelines(guidelines)))
    store = audit_store(audit_dir, audit_db)
    reports = import_weeks(lists, config.guidelines(guidelines), store, out, store.actor(user))
    emit(as_json, import_summary(reports), import_view(reports))


@outreach_app.command("status")
def status(
    year: Annotated[int | None, typer.Option(
        help="ISO year [default: the year of the latest imported week].")] = None,
    goal: Annotated[int | None, typer.Option(
        help="Annual referral goal [default: 500, the program's 2023 goal].")] = None,
    audit_dir: AuditDirOpt = None,
    audit_db: AuditDbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Referrals this year against the goal, by week, with a projection and contact outcomes.

    Example: charging-rules outreach status --goal 500
    """
    from charging_rules.outreach.render import status_view
    from charging_rules.outreach.status import outreach_status

    result = outreach_status(audit_store(audit_dir, audit_db, existing=True), year, goal)
    emit(as_json, result.to_json(), status_view(result))


@outreach_app.command("record")
def record(
    report: Annotated[Path, typer.Argument(
        help="The hub's report: CSV with decision_id,contact_date,outcome.")],
    audit_dir: AuditDirOpt = None,
    audit_db: AuditDbOpt = None,
    user: UserOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Append the hub's contact outcomes to the audit log (rows already there are skipped).

    Example: charging-rules outreach record hub-report-2023-W14.csv
    """
    from charging_rules.outreach.contacts import record_contacts
    from charging_rules.outreach.render import record_view

    store = audit_store(audit_dir, audit_db)
    result = record_contacts(report, store, store.actor(user))
    emit(as_json, result.to_json(), record_view(result))


def register(app: typer.Typer) -> None:
    app.add_typer(outreach_app)
