"""`charging-rules screen REFERRAL.json`: one referral, its recommendation and reasons."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from charging_rules import config
from charging_rules.cli.options import (
    AuditDbOpt,
    AuditDirOpt,
    GuidelinesOpt,
    JsonOpt,
    UserOpt,
    audit_store,
    loggable_text,
)
from charging_rules.cli.output import emit
from charging_rules.errors import InputError

if TYPE_CHECKING:
    from rich.console import RenderableType

    from charging_rules.screening.screener import Screened


def screen(
    referral: Annotated[Path, typer.Argument(
        help="Referral JSON file (docs/referral-contract.md); - reads standard input.")],
    guidelines: GuidelinesOpt = None,
    audit_dir: AuditDirOpt = None,
    audit_db: AuditDbOpt = None,
    no_log: Annotated[bool, typer.Option("--no-log", help="Don't write the audit log.")] = False,
    user: UserOpt = None,
    accept: Annotated[bool, typer.Option("--accept", help="Record that you accept it.")] = False,
    override: Annotated[
        str | None, typer.Option("--override", metavar="OUTCOME", help="Record an override.")
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (required with "
                                                "--override).", callback=loggable_text)] = None,
    trace: Annotated[bool, typer.Option(help="Show how every rule was evaluated.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Screen one referral and log the recommendation (and your decision, if given).

    Example: charging-rules screen examples/referrals/kc-sale-no-violence.json --accept
    """
    # The library is imported here, not at the top: start-up time is part of the job.
    from charging_rules.model.kinds import load_record_file
    from charging_rules.screening.screener import Screener

    if accept and override:
        raise InputError("--accept and --override exclude each other")
    if reason is not None and not override:  # it would be dropped without a word
        raise InputError("--reason explains an --override; give both (or neither)")
    if no_log and (accept or override):
        raise InputError("--accept/--override record a decision: they need the audit log "
                         "(drop --no-log)")
    record, demographics = load_record_file(referral)
    store = None if no_log else audit_store(audit_dir, audit_db)
    actor = (user or config.actor()) if store is None else store.actor(user)
    screener = Screener.open(config.guidelines(guidelines), store)
    screened = screener.screen(record, demographics, actor, override=override, reason=reason)
    decided = screener.decide(screened, actor, override, reason) if accept or override \
        else None
    emit(as_json, screened.recommendation.to_json(screened.decision_id),
         *() if as_json else _views(screened, decided, trace))


def _views(screened: Screened, decided: dict[str, Any] | None, trace: bool
           ) -> list[RenderableType]:
    # rich's tables load only when drawn: `--json` is what scripts call, many times over.
    from charging_rules.engine.views import recommendation_view, recorded_decision

    return [recommendation_view(screened.recommendation, screened.decision_id, trace),
            *([recorded_decision(decided)] if decided else [])]


def register(app: typer.Typer) -> None:
    app.command()(screen)
