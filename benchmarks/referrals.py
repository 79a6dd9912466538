"""The benchmarks' varied referrals, shared by suite.py, manual.py and
audit_store_throughput.py so every figure is measured on the same input.

Kansas City and elsewhere, one to three drug and other charges, and facts often missing
(firearm, violence, community concern), so every branch of the KC policy is exercised:

    python benchmarks/referrals.py OUT.jsonl --n 50000
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any


def referral(i: int, rnd: random.Random) -> dict[str, Any]:
    """Varied referrals: KC and elsewhere, drug and other charges, facts often missing."""
    charges = [{"statute": "579.015", "description": "Possession of a controlled substance",
                "category": rnd.choice(["drug_possession", "drug_sale", "drug_paraphernalia",
                                        "violent", "weapon", "property"]),
                "drug": rnd.choice(["marijuana", "methamphetamine", "cocaine"]),
                "quantity_grams": round(rnd.random() * 10, 2), "level": "felony"}
               for _ in range(rnd.randint(1, 3))]
    out: dict[str, Any] = {
        "referral_id": f"KC-2023-{i:07d}",
        "received": f"2023-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
        "agency": "Kansas City Missouri Police Department",
        "jurisdiction": rnd.choice(["Kansas City", "Kansas City", "Independence"]),
        "charges": charges,
    }
    if rnd.random() < 0.7:
        out["firearm_recovered"] = rnd.random() < 0.2
    violence = {k: rnd.random() < 0.2 for k in ("linked_to_violent_incident", "victim_injured")
                if rnd.random() < 0.7}
    if violence:
        out["violence"] = violence
    if rnd.random() < 0.7:
        documented = rnd.random() < 0.3
        out["community_concern"] = {"documented": documented,
                                    **({"source": "Neighborhood association"} if documented
                                       else {})}
    out["defendant"] = {"age": rnd.randint(18, 70)}
    out["demographics"] = {"race": rnd.choice(["Black", "White", "Hispanic"]),
                           "sex": rnd.choice(["Male", "Female"])}
    return out


def generate(path: Path, n: int) -> None:
    rnd = random.Random(20230314)
    with path.open("w") as out:
        for i in range(n):
            out.write(json.dumps(referral(i, rnd)) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--n", type=int, default=50_000)
    args = parser.parse_args()
    generate(args.out, args.n)


if __name__ == "__main__":
    main()
