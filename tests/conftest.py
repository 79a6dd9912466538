"""Shared fixtures (the builders they use are in tests/helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from charging_rules.guidelines.loader import load_guidelines
from charging_rules.guidelines.schema import GuidelineSet
from tests.helpers import RULES, charging_part, write_manual

pytest_plugins = ("tests.pg_server",)  # the PostgreSQL server fixtures


@pytest.fixture(scope="session")
def screener_rules() -> Path:
    return RULES


@pytest.fixture(scope="session")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped set's charging part (tests count its rules, cases and findings; outreach
    has its own tests), written once per session and never modified: copy it to change it."""
    return charging_part(tmp_path_factory.mktemp("shipped") / "rules")


@pytest.fixture(scope="session")
def manual_set(tmp_path_factory: pytest.TempPathFactory) -> GuidelineSet:
    """The generated 30-guideline manual (tests/helpers.py `write_manual`), loaded once per
    session; a GuidelineSet is immutable, so every module shares it."""
    return load_guidelines(write_manual(tmp_path_factory.mktemp("manual") / "manual"))
