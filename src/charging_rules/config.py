"""Where things are found, and the defaults every command shares.

Precedence, for every setting: the command-line option, then its environment variable, then
the config file, then the default. The guideline set in force ends with `./rules` when the
current folder has one, else the set shipped inside the package, so an installed tool works
from any folder. The config file is TOML at `$CHARGING_RULES_CONFIG`, else `config.toml` in
the platform's user config folder (platformdirs). Light enough for the CLI to import at start:
TOML and platformdirs load only when a setting is looked up.
"""

from __future__ import annotations

import os
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from charging_rules.errors import InputError

APP = "charging-rules"
CONFIG_ENV = "CHARGING_RULES_CONFIG"
GUIDELINES_ENV = "CHARGING_RULES_GUIDELINES"
AUDIT_DIR_ENV = "CHARGING_RULES_AUDIT_DIR"
AUDIT_DB_ENV = "CHARGING_RULES_AUDIT_DB"
AUDIT_KEY_ENV = "CHARGING_RULES_AUDIT_KEY"
# Formats `audit export` writes.
ExportFormat = Literal["csv", "jsonl"]
# Counts below this are not compared and not published (a common public-reporting threshold).
SMALL_CELL = 11
LOCAL_GUIDELINES = Path("rules")
DEFAULT_AUDIT_DIR = Path("audit_logs")

# The config file's keys and what each holds (unknown keys are refused: a typo must not be
# silently ignored). `office` is a table of the report's office name, contact and schedule.
KEYS: dict[str, str] = {
    "guidelines": "guideline set in force (a directory with set.yaml, or one file)",
    "audit_dir": "file audit log directory",
    "audit_db": "PostgreSQL audit store (a libpq URL)",
    "key_file": "HMAC key file for sealed checkpoints",
    "checkpoint_file": "sealed checkpoint file",
    "office": "table: name, contact, update_schedule (shown in the public report)",
}
OFFICE_KEYS = ("name", "contact", "update_schedule")


def config_path() -> Path:
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        return Path(explicit)
    from platformdirs import user_config_path

    return Path(user_config_path(APP)) / "config.toml"


def settings() -> dict[str, Any]:
    """The config file's settings ({} when there is none); a bad file is exit 2."""
    return _settings_at(config_path(), bool(os.environ.get(CONFIG_ENV)))


@cache
def _settings_at(path: Path, explicit: bool) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if explicit:  # a named config that is not there is a typo, not "no settings"
            raise InputError(f"no config file (from ${CONFIG_ENV})", source=str(path)) from None
        return {}
    except OSError as error:
        raise InputError(f"cannot read config: {error.strerror or error}",
                         source=str(path)) from None
    import tomllib

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise InputError(f"invalid TOML: {error}", source=str(path)) from None
    for key, value in data.items():
        if key not in KEYS:
            raise InputError(f"unknown key '{key}' (known: {', '.join(KEYS)})", source=str(path))
        if key == "office":
            if not isinstance(value, dict) or not all(
                    k in OFFICE_KEYS and isinstance(v, str) for k, v in value.items()):
                raise InputError(f"office: a table of text values ({', '.join(OFFICE_KEYS)})",
                                 source=str(path))
        elif not isinstance(value, str) or not value.strip():
            raise InputError(f"{key}: must be non-empty text", source=str(path))
    return data


def setting(key: str, env: str | None = None) -> str | None:
    """A setting from its environment variable, else the config file; None when unset."""
    if env is not None and os.environ.get(env):
        return os.environ[env]
    value = settings().get(key)
    return str(value) if value is not None else None


def office() -> dict[str, str]:
    """The office's name, contact and update schedule for public reports (may be empty)."""
    value = settings().get("office") or {}
    return {k: str(v) for k, v in value.items()}


def shipped(name: str) -> Path:
    """A guideline set shipped inside the package: `rules` (in force) or `before`."""
    return Path(str(resources.files("charging_rules.data").joinpath(name)))


def guidelines(option: Path | None = None) -> Path:
    """The guideline set in force (see the module docstring for the order)."""
    if option is not None:
        return option
    configured = setting("guidelines", GUIDELINES_ENV)
    if configured:
        return Path(configured).expanduser()
    return LOCAL_GUIDELINES if LOCAL_GUIDELINES.exists() else shipped("rules")


def audit_dir(option: Path | None = None) -> Path:
    if option is not None:
        return option
    configured = setting("audit_dir", AUDIT_DIR_ENV)
    return Path(configured).expanduser() if configured else DEFAULT_AUDIT_DIR


def audit_db(option: str | None = None) -> str | None:
    """The PostgreSQL audit store's URL, when one is configured (else the file log is used)."""
    return option or setting("audit_db", AUDIT_DB_ENV)


def key_file(option: Path | None = None) -> Path | None:
    if option is not None:
        return option
    configured = setting("key_file")
    return Path(configured).expanduser() if configured else None


def actor() -> str:
    """The login name, which is who is deciding unless they say otherwise (--user)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
