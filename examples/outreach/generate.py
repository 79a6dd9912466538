"""Generate a SYNTHETIC year (2023) of weekly shooting-victim lists for the outreach demo.

Nothing here describes a real person or incident: ids start with SYN-, and every number is a
draw from the made-up proportions below (chosen to exercise every outcome and land near the
program's goal of 500 referrals), not an estimate of anything in Kansas City.

    python examples/outreach/generate.py [OUT_DIR]   # default: this file's directory

Deterministic (fixed seed): running it again rewrites the same bytes, which a test checks.
"""

from __future__ import annotations

import csv
import random
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

SEED = 20230101
YEAR = 2023
COLUMNS = ("week", "incident_id", "victim_id", "incident_date", "victim_age", "fatal",
           "victim_contact_available", "family_contact_available", "prior_referral_count",
           "last_referral_date", "race", "ethnicity", "sex")
RACES = (("Black", 0.70), ("White", 0.18), ("Asian", 0.01), ("Other", 0.03), ("", 0.08))


@dataclass
class Person:
    victim_id: str
    race: str
    ethnicity: str
    sex: str
    age: int
    appearances: int = 0
    killed: bool = False  # listed as killed: never listed again (that would be a data error)


def pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def flag(rng: random.Random, true: float, blank: float) -> str:
    draw = rng.random()
    return "" if draw < blank else "true" if draw < blank + true else "false"


def new_person(rng: random.Random, number: int) -> Person:
    return Person(
        victim_id=f"SYN-V{number:05d}", race=pick(rng, RACES),
        ethnicity=pick(rng, (("Not Hispanic", 0.85), ("Hispanic", 0.09), ("", 0.06))),
        sex=pick(rng, (("Male", 0.83), ("Female", 0.16), ("", 0.01))),
        age=max(12, min(80, int(rng.gauss(29, 10)))))


def row(rng: random.Random, week: str, incident: str, when: date, person: Person) -> list[str]:
    fatal = flag(rng, 0.17, 0.02)
    victim_contact = flag(rng, 0.91, 0.04) if fatal != "true" else ""
    # Police list the family's contact after a death, and for a survivor they cannot reach
    # or who is under 18 (the hub calls a parent or guardian, never the child).
    needs_family = fatal != "false" or victim_contact != "true" or person.age < 18
    family_contact = flag(rng, 0.88, 0.04) if needs_family else ""
    person.killed = fatal == "true"
    if person.appearances:  # a person the police have listed before: the hub knows them
        prior, last = str(person.appearances), ""
    else:
        draw = rng.random()
        prior = "" if draw < 0.04 else "0" if draw < 0.96 else "1"
        last = (date(YEAR - 1, 1, 1) + timedelta(days=rng.randrange(365))).isoformat() \
            if prior == "1" else ""
    person.appearances += 1
    age = "" if rng.random() < 0.03 else str(person.age)
    return [week, incident, person.victim_id, when.isoformat(), age, fatal, victim_contact,
            family_contact, prior, last, person.race, person.ethnicity, person.sex]


def generate(out_dir: Path) -> list[Path]:
    rng = random.Random(SEED)
    people: list[Person] = []
    incident_number = 0
    written: list[Path] = []
    for number in range(1, date(YEAR, 12, 28).isocalendar().week + 1):
        week = f"{YEAR}-W{number:02d}"
        monday = date.fromisocalendar(YEAR, number, 1)
        rows: list[list[str]] = []
        for _ in range(max(4, round(rng.gauss(11, 2.5)))):
            incident_number += 1
            incident = f"SYN-{YEAR}-{incident_number:05d}"
            when = monday + timedelta(days=rng.randrange(7))
            for _victim in range(2 if rng.random() < 0.12 else 1):
                living = [p for p in people[-150:] if not p.killed]
                if living and rng.random() < 0.07:  # shot again: someone listed before
                    person = rng.choice(living)
                else:
                    person = new_person(rng, len(people) + 1)
                    people.append(person)
                if any(r[2] == person.victim_id and r[1] == incident for r in rows):
                    continue
                rows.append(row(rng, week, incident, when, person))
        path = out_dir / f"synthetic-{week}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(COLUMNS)
            writer.writerows(sorted(rows, key=lambda r: (r[3], r[1], r[2])))
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    target.mkdir(parents=True, exist_ok=True)
    print(f"wrote {len(generate(target))} synthetic weekly lists to {target}")
