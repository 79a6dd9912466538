"""Shared fixtures (the builders they use are in tests/helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import RULES, charging_part


@pytest.fixture(scope="session")
def screener_rules() -> Path:
    return RULES


@pytest.fixture(scope="session")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped set's charging part (tests count its rules, cases and findings; outreach
    has its own tests), written once per session and never modified: copy it to change it."""
    return charging_part(tmp_path_factory.mktemp("shipped") / "rules")
