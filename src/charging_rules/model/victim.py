"""The shooting victim on the police's weekly list (Partners for Peace outreach).

Two models: `VictimListing` is one row as police send it, including what the hub reported
about earlier referrals; `Victim` is the record the engine evaluates, where that report and
the audit log's own history have been turned into derived facts a guideline can compare to
literals (`previously_referred`, `days_since_last_referral`, their family counterparts, and
`previously_listed_fatal`). Deriving them at import, once, keeps "within a window"
arithmetic and cross-listing checks out of the guideline language. Demographics are not a
field of either model: they are split off before validation, exactly as for referrals.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from charging_rules.model.referral import Fact, real_date

OUTREACH_OUTCOMES = ("refer_now", "refer_family", "already_referred", "needs_information")
REFERRAL_OUTCOMES = ("refer_now", "refer_family")  # the outcomes that send a name to the hub
ADULT_AGE = 18  # below it the hub calls a parent or guardian, never the victim

Route = Literal["victim", "family", "guardian"]

Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,59}$")]
Count = Annotated[int, Field(ge=0, le=1000)]
Day = Annotated[date, Field(strict=False)]  # ISO text from JSON (a logged record, replayed)


class _VictimBase(Fact):
    incident_id: Identifier
    victim_id: Identifier  # the police's person identifier, stable across incidents
    incident_date: Day
    victim_age: Annotated[int, Field(ge=0, le=120)] | None = None
    fatal: bool | None = None
    victim_contact_available: bool | None = None
    family_contact_available: bool | None = None

    @field_validator("incident_date")
    @classmethod
    def _incident_is_real(cls, value: date) -> date:
        return real_date(value)

    # One victim of one incident (a person shot twice has two records). A real field, not a
    # property, so every record kind has its id among its fields; filled in when not given.
    record_id: Annotated[str, StringConstraints(max_length=121)] = ""

    @model_validator(mode="before")
    @classmethod
    def _default_record_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("record_id"):
            data = {**data, "record_id": f"{data.get('incident_id')}/{data.get('victim_id')}"}
        return data


class VictimListing(_VictimBase):
    """One row of the weekly list. The hub's report of earlier referrals is input only."""

    prior_referral_count: Count | None = None
    last_referral_date: Day | None = None

    @model_validator(mode="after")
    def _report_is_consistent(self) -> VictimListing:
        if self.prior_referral_count == 0 and self.last_referral_date is not None:
            raise ValueError("prior_referral_count is 0 but last_referral_date is given")
        if self.last_referral_date is not None and self.last_referral_date > self.incident_date:
            raise ValueError("last_referral_date is after incident_date")
        return self


class Victim(_VictimBase):
    """What the outreach guideline sees. The history facts are derived, never typed in:

    - `previously_referred`: true when the log or the hub shows an earlier referral; false
      only when the hub reports none AND the log has none; absent (unknown) otherwise, since
      the log alone cannot prove that nobody referred the person before the tool existed.
    - `days_since_last_referral`: days from the incident of the latest earlier referral (or
      the hub's last referral date) to this incident; absent when no date is known.
    - `family_previously_referred` / `days_since_family_referral`: the same for a family
      referral after this victim's death (`refer_family`), from the log alone: the hub's
      columns count referrals of the person, and the hub removes duplicate family calls, so
      a blank hub history never holds a homicide family.
    - `previously_listed_fatal`: an earlier listing (an earlier week, or an earlier incident)
      says this victim was killed; a later listing alive is then a data error.
    """

    previously_referred: bool | None = None
    days_since_last_referral: Annotated[int, Field(ge=0)] | None = None
    family_previously_referred: bool | None = None
    days_since_family_referral: Annotated[int, Field(ge=0)] | None = None
    previously_listed_fatal: bool | None = None

    @model_validator(mode="after")
    def _history_is_consistent(self) -> Victim:
        for referred, days in (("previously_referred", "days_since_last_referral"),
                               ("family_previously_referred", "days_since_family_referral")):
            if getattr(self, referred) is False and getattr(self, days) is not None:
                raise ValueError(f"{referred} is false but {days} is given")
        return self

    @classmethod
    def from_listing(cls, listing: VictimListing, history: dict[str, Any]) -> Victim:
        """The listing's own facts plus the derived history facts; the hub's report stays out."""
        return cls(**listing.model_dump(include=set(_VictimBase.model_fields)), **history)


def reach_out_to(victim: Victim) -> Route | None:
    """Whom the hub calls about a referred listing, or None when the listing gives no safe
    way: the family after a death, a parent or guardian for a victim under 18 (never the
    child), the victim, or else the family when police have no way to reach the victim.

    The guideline decides whether to refer; this names the route its rules were written for,
    and the importer refuses a guideline set whose referral has no safe route here.
    """
    family = victim.family_contact_available is True
    if victim.fatal is True:
        return "family" if family else None
    if victim.fatal is not False or victim.victim_age is None:
        return None
    if victim.victim_age < ADULT_AGE:
        return "guardian" if family else None
    if victim.victim_contact_available is True:
        return "victim"
    return "family" if family and victim.victim_contact_available is False else None
