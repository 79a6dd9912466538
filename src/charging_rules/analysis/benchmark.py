"""Representation against a population benchmark the analyst names.

Share of referrals (known groups only) against the group's population share; the ratio is
the representation index. Which population is the right denominator is a stated choice: we
ship Jackson County from the ACS 2013-2017 table (Black 23.4%) and the 39% figure the office
quotes for Kansas City, and accept any YAML file of the same shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from charging_rules.errors import InputError
from charging_rules.files import read_text
from charging_rules.guidelines.yamlsource import load_yaml


@dataclass(frozen=True)
class Benchmark:
    name: str
    description: str
    source: str
    shares: dict[str, float]  # group -> percent of the population


def builtin_benchmarks() -> dict[str, Any]:
    text = resources.files("charging_rules.data").joinpath("benchmarks.yaml").read_text()
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def load_benchmark(spec: str | Path) -> Benchmark:
    """A builtin benchmark by name, or a YAML file {description, source, shares: {group: %}}."""
    builtin = builtin_benchmarks()
    if str(spec) in builtin:
        return _benchmark(str(spec), builtin[str(spec)], "benchmarks.yaml")
    path = Path(spec)
    if not path.exists():
        raise InputError(f"no such benchmark (builtin: {', '.join(builtin)})",
                         source=str(path))
    data, _ = load_yaml(read_text(path, "benchmark"), str(path))
    return _benchmark(path.stem, data, str(path))


def _benchmark(name: str, data: Any, source: str) -> Benchmark:
    shares = data.get("shares") if isinstance(data, dict) else None
    if not isinstance(shares, dict):
        raise InputError("a benchmark needs `shares: {group: percent 0-100}`", source=source)
    for group, share in shares.items():
        if isinstance(share, bool) or not isinstance(share, int | float) \
                or not 0 <= share <= 100:
            raise InputError(f"shares.{group}: {share!r} is not a percent 0-100",
                             source=source)
    return Benchmark(name, str(data.get("description", "")).strip(),
                     str(data.get("source", "")).strip(),
                     {str(k): float(v) for k, v in shares.items()})


def representation(counts: dict[str, int], benchmark: Benchmark,
                   min_n: int = 1) -> list[dict[str, Any]]:
    """Per group: referrals n, share of known-group referrals with a 95% Wilson interval, the
    population share, and the representation index (share / population share). A group
    under `min_n` gets no share, interval or index: a figure from 5 referrals is noise."""
    from scipy.stats import binomtest

    known = sum(counts.values())
    rows = []
    for group, n in sorted(counts.items()):
        population = benchmark.shares.get(group)
        share = n / known if known and n >= min_n else None
        low = high = None
        if share is not None:
            interval = binomtest(n, known).proportion_ci(confidence_level=0.95, method="wilson")
            low, high = float(interval.low), float(interval.high)
        ratio = share / (population / 100) if share is not None and population else None
        rows.append({"group": group, "n": n, "share": share, "share_ci_low": low,
                     "share_ci_high": high,
                     "population_share": None if population is None else population / 100,
                     "representation_index": ratio})
    return rows
