"""Protected attributes and their known proxies, found in the raw YAML of guideline files.

The loader refuses a protected attribute; lint walks the YAML itself so that it can explain
the problem (with the line) even when the set does not load, and so it can warn about fields
and literal values that stand in for race without naming it. The tables are deliberately
short and each entry says why: a warning is a prompt for a supervisor's judgement, not a ban.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from charging_rules.guidelines.yamlsource import NodePath
from charging_rules.model.facts import protected_term

SEGREGATION = ("residential segregation makes fine-grained location a close proxy for race "
               "(in Kansas City, the Troost Avenue line)")

# (name segments, what it is, why it is a proxy)
FIELD_PROXIES: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("address", "street", "zip", "zipcode", "postal", "postcode", "block", "blockgroup"),
     "fine-grained location", SEGREGATION),
    (("beat", "sector", "precinct", "ward", "division", "patrol"),
     "a police patrol area", SEGREGATION + "; patrol areas also reflect deployment levels"),
    (("neighborhood", "neighbourhood", "census", "tract", "geoid", "hotspot"),
     "a neighbourhood or census area", SEGREGATION),
    (("latitude", "longitude", "lat", "lon", "lng", "coordinates", "geocode"),
     "a geographic coordinate", SEGREGATION),
    (("surname", "lastname", "firstname", "name"),
     "a person's name", "names predict race and ethnicity (surname-based imputation)"),
    (("language", "interpreter", "english"),
     "language", "language and interpreter need stand in for national origin and ethnicity"),
    (("citizenship", "immigration", "nationality", "birthplace", "birth_country"),
     "citizenship or birthplace", "a close proxy for national origin"),
    (("skin", "complexion", "hair", "appearance"),
     "physical appearance", "descriptions of appearance stand in for race"),
    (("gang",), "gang-database status",
     "gang databases are documented to over-represent Black and Latino young men"),
    (("arrests", "stops", "contacts"),
     "police-contact history", "arrest and stop counts measure where police patrol, which "
     "differs by race, more than what a person did"),
    (("income", "poverty", "housing", "section8", "welfare"),
     "economic status", "income and public-housing status track race through segregation"),
)

_ZIP = re.compile(r"^\d{5}(-\d{4})?$")
_STREET = re.compile(r"^\d+\s+\S.*\b(st|street|ave|avenue|blvd|boulevard|rd|road|dr|drive|ln|"
                     r"lane|ct|court|pl|place|pkwy|parkway|ter|terrace|way|hwy)\.?$", re.I)
_AREA_WORDS = re.compile(r"\b(tract|block group|neighbou?rhood|beat|sector|precinct|ward|"
                         r"patrol division|zip|east of|west of)\b", re.I)
# Kansas City neighbourhoods (a sample, not a gazetteer): a rule comparing a place name
# with one of these is drawing a line inside the city.
KC_NEIGHBOURHOODS = frozenset(n.lower() for n in (
    "Troost", "Prospect", "Ivanhoe", "Blue Hills", "Marlborough", "Santa Fe", "Lykins",
    "Historic Northeast", "Northeast", "Westport", "Midtown", "Westside", "Crown Center",
    "River Market", "Brookside", "Waldo", "Country Club Plaza", "Manheim Park", "Oak Park",
    "Swope Park", "Town Fork Creek", "Washington-Wheatley", "Key Coalition", "18th and Vine",
    "Paseo West", "Independence Plaza", "Pendleton Heights", "Blue Valley", "Ruskin",
    "Hickman Mills", "Marlborough East", "Sheffield", "Palestine", "Wendell Phillips",
))

Hit = tuple[str, str, NodePath]  # severity, message, YAML path of the node


def field_problem(name: str) -> tuple[str, str] | None:
    """(severity, message) for a field name that is, or stands in for, a protected attribute."""
    term = protected_term(name)
    if term is not None:
        return "error", (f"'{name}' names a protected attribute ({term}): guidelines must "
                         "never use demographics, which travel beside the decision only")
    segments = {s for s in re.split(r"[._\[\]-]+", name.lower()) if s}
    joined = name.lower().replace("_", "").replace("-", "")
    for words, what, why in FIELD_PROXIES:
        if segments & set(words) or any(len(w) > 5 and w in joined for w in words):
            return "warning", f"'{name}' is {what}, a known proxy for race: {why}"
    return None


def literal_problem(name: str, value: str) -> tuple[str, str] | None:
    """A compared text value that draws a line by fine-grained place."""
    text = value.strip()
    if _ZIP.match(text):
        what = "a ZIP code"
    elif _STREET.match(text):
        what = "a street address"
    elif text.lower() in KC_NEIGHBOURHOODS:
        what = "a Kansas City neighbourhood"
    elif _AREA_WORDS.search(text):
        what = "a sub-city area"
    else:
        return None
    return "warning", (f"'{name}' is compared with '{value}', which looks like {what}: "
                       f"{SEGREGATION}")


def scan(data: Any, path: NodePath = ()) -> Iterator[Hit]:
    """Walk a guideline document: every condition's field and every text it compares with."""
    if isinstance(data, list):
        for index, item in enumerate(data):
            yield from scan(item, (*path, index))
        return
    if not isinstance(data, dict):
        return
    name = data.get("field")
    if isinstance(name, str):
        found = field_problem(name)
        if found:
            yield (*found, (*path, "field"))
        for op in ("eq", "ne", "in", "not_in"):
            values = data.get(op)
            for index, value in enumerate(values if isinstance(values, list) else [values]):
                found = literal_problem(name, value) if isinstance(value, str) else None
                if found:
                    at = (*path, op, index) if isinstance(values, list) else (*path, op)
                    yield (*found, at)
    for key, value in data.items():
        yield from scan(value, (*path, str(key)))
