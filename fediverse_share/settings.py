"""Configuration of one instance.

`Settings` is built once (from the environment, an optional TOML file and
explicit arguments) and handed to ``create_app(settings)``. Nothing reads the
environment anywhere else, so several instances can live in one process.

Environment variables are ``FEDIVERSE_SHARE_<FIELD>`` (upper case); the TOML file
is ``$FEDIVERSE_SHARE_CONFIG`` or ``<data_dir>/fediverse-share.toml`` and holds the
same fields in lower case. Precedence: explicit arguments, then environment,
then the file, then defaults.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fediverse_share.errors import ConfigError

CONFIG_FILE_NAME = "fediverse-share.toml"
_PREFIX = "FEDIVERSE_SHARE_"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything an instance needs to know before it starts."""

    domain: str
    data_dir: Path = Path("data")
    database_url: str = ""
    #: A PostgreSQL schema to use instead of ``public`` (lets tests and small hosts
    #: put several instances in one database).
    database_schema: str | None = None
    secret_key: str = field(default="", repr=False)
    allow_http: bool = False
    allow_private_addresses: bool = False
    max_body_bytes: int = 1_000_000
    run_worker: bool = True
    http_timeout_seconds: float = 10.0
    #: How long a member's cross-community payment holds their money before it
    #: expires, and how much earlier each community on the path lets its own hold
    #: expire (room for the fulfilment to travel back; more than the clock skew).
    clearing_hold_seconds: float = 90.0
    clearing_hop_margin_seconds: float = 10.0
    #: Fault injection for tests and drills (`fediverse_share.failpoints`): comma-
    #: separated ``name=exit`` or ``name=error``. Empty, as it must be in production.
    failpoints: str = ""
    #: Drills and tests only: this instance's clock runs this many seconds ahead (or
    #: behind, if negative) for clearing and the ledger's worker steps.
    clock_offset_seconds: float = 0.0

    def __post_init__(self) -> None:
        if not self.domain or "/" in self.domain or "@" in self.domain:
            raise ConfigError(f"domain must be a bare host name, got {self.domain!r}")
        if not self.database_url:
            url = f"sqlite:///{(self.data_dir / 'fediverse-share.db').resolve()}"
            object.__setattr__(self, "database_url", url)

    def __repr__(self) -> str:
        # database_url may hold a password; secret_key never shows (field repr=False).
        return f"Settings(domain={self.domain!r}, data_dir={str(self.data_dir)!r})"

    @property
    def scheme(self) -> str:
        return "http" if self.allow_http else "https"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.domain}"

    @property
    def config_path(self) -> Path:
        return self.data_dir / CONFIG_FILE_NAME

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``environ`` (default: the process environment)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        data_dir = Path(overrides.get("data_dir") or env.get(_PREFIX + "DATA_DIR") or "data")
        config = Path(env.get(_PREFIX + "CONFIG") or data_dir / CONFIG_FILE_NAME)
        if config.is_file():
            values.update(_read_toml(config))
        for f in dataclasses.fields(cls):
            raw = env.get(_PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        values.setdefault("data_dir", data_dir)
        if "domain" not in values:
            raise ConfigError(
                "no domain configured: run 'fediverse-share init' or set FEDIVERSE_SHARE_DOMAIN"
            )
        return cls(**_coerce(values))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"unknown settings in {path}: {', '.join(sorted(unknown))}")
    return data


def _coerce(values: dict[str, Any]) -> dict[str, Any]:
    types = {f.name: f.type for f in dataclasses.fields(Settings)}
    out: dict[str, Any] = {}
    for name, value in values.items():
        kind = types.get(name)
        if kind is None:
            raise ConfigError(f"unknown setting {name!r}")
        out[name] = _coerce_one(name, str(kind), value)
    return out


def _coerce_one(name: str, kind: str, value: Any) -> Any:
    if not isinstance(value, str):
        return Path(value) if kind == "Path" else value
    if kind == "bool":
        lowered = value.strip().lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {value!r}") from exc
    return Path(value) if kind == "Path" else value
