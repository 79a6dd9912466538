"""Where an incident happened: a referral's place names resolved against the gazetteer the
package ships (data/places.yaml).

Police write the same place many ways ("KANSAS CITY", "Kansas City, MO", "KCMO"), and two
states share names (Kansas City, Kansas; Independence, Kansas). A place is resolved only
when the evidence agrees: the `state` field, a state written after the name, the agency and
the statutes. Conflicting or missing evidence for a shared name, or a name the gazetteer
does not know in Missouri, leaves the place unresolved: unknown, never "not Kansas City".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

import yaml

_STATE_WORDS = {"mo": "MO", "missouri": "MO", "ks": "KS", "kan": "KS", "kansas": "KS"}
# Agency words that name a state on their own (after "kansas city" is taken out).
_AGENCY_KS = ("kansas city kansas", "kck", "kckpd", "wyandotte", "unified government")
_AGENCY_MO = ("kansas city missouri", "kcmo", "kcpd", "mshp")
_KANSAS_STATUTE = re.compile(r"^(k\.?\s*s\.?\s*a\.?|kan\.?\s*stat)|^\d{1,2}-\d{3,4}[a-z]?\b", re.I)
_MISSOURI_STATUTE = re.compile(r"^(rsmo|r\.?\s*s\.?\s*mo\.?)|^\d{3}\.\d{3}\b|\brsmo\b", re.I)


@dataclass(frozen=True)
class Place:
    place: str
    state: str
    names: tuple[str, ...]


@cache
def gazetteer() -> dict[str, tuple[Place, ...]]:
    """Normalised name -> the places of that name."""
    raw = yaml.safe_load(resources.files("charging_rules.data").joinpath("places.yaml")
                         .read_text(encoding="utf-8"))
    index: dict[str, list[Place]] = {}
    for entry in raw["places"]:
        place = Place(entry["place"], entry["state"], tuple(entry["names"]))
        for name in place.names:
            index.setdefault(normalise(name), []).append(place)
    return {name: tuple(places) for name, places in index.items()}


def normalise(text: str) -> str:
    """Lower case, apostrophes and dots dropped, other punctuation as spaces."""
    text = re.sub("['\u2019.]", "", text.lower())
    text = re.sub(r"[^a-z0-9]+", " ", text).strip()
    return re.sub(r"^city of ", "", text)


_ALIASES = {"kcmo": ("kansas city", "MO"), "kck": ("kansas city", "KS"),
            "kc": ("kansas city", None)}


def _name_and_state(jurisdiction: str) -> tuple[str, str | None]:
    """'kansas city mo' -> ('kansas city', 'MO'); 'KCK' -> ('kansas city', 'KS')."""
    name = normalise(jurisdiction)
    head, _, last = name.rpartition(" ")
    written = None
    if head and last in _STATE_WORDS:
        name, written = head, _STATE_WORDS[last]
    alias, implied = _ALIASES.get(name, (name, None))
    if implied and written and implied != written:
        return alias, "conflict"
    return alias, written or implied


def agency_state(agency: str | None) -> str | None:
    if not agency:
        return None
    text = f" {normalise(agency)} "
    if any(f" {word} " in text for word in _AGENCY_KS):
        return "KS"
    if any(f" {word} " in text for word in _AGENCY_MO):
        return "MO"
    rest = text.replace(" kansas city ", " ").split()
    found = {_STATE_WORDS[w] for w in rest if w in ("missouri", "kansas")}
    return found.pop() if len(found) == 1 else None


def statute_state(statute: str | None) -> str | None:
    if not statute:
        return None
    text = statute.strip()
    if _KANSAS_STATUTE.search(text):
        return "KS"
    if _MISSOURI_STATUTE.search(text):
        return "MO"
    return None


def resolve(jurisdiction: str, state: str | None, agency: str | None,
            statutes: Iterable[str | None]) -> tuple[str | None, str | None]:
    """The gazetteer's place (e.g. 'Kansas City, MO') and its state, each None when it
    cannot be told. The state may be known where the place is not: 'Springfield' with
    `state: MO` is in Missouri, though not in the gazetteer."""
    return _resolve(jurisdiction, state, agency, frozenset(statutes))


@lru_cache(maxsize=4096)  # an export repeats a few agencies and places: a batch asks once each
def _resolve(jurisdiction: str, state: str | None, agency: str | None,
             statutes: frozenset[str | None]) -> tuple[str | None, str | None]:
    name, written_state = _name_and_state(jurisdiction)
    evidence = {s for s in (state, written_state, agency_state(agency),
                            *(statute_state(s) for s in statutes)) if s}
    if len(evidence) > 1 or "conflict" in evidence:
        return None, None  # the referral contradicts itself: ask
    candidates = gazetteer().get(name, ())
    if evidence:
        (said,) = evidence
        matched = [p for p in candidates if p.state == said]
        if matched:
            return matched[0].place, said
        if said != "MO" and name:  # another state's place: never read as Missouri
            return f"{name.title()}, {said}", said
        return None, said
    states = {p.state for p in candidates}
    return (candidates[0].place, candidates[0].state) if len(states) == 1 else (None, None)
