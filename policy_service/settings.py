"""Service configuration from `POLICY_SERVICE_*` environment variables, validated into one value."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from .errors import PolicyServiceError

PREFIX = "POLICY_SERVICE_"


class ConfigError(PolicyServiceError):
    """The service's configuration is invalid or unsafe."""


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment."""

    policy_dir: Path
    state_dir: Path
    bind: str = "127.0.0.1:8080"
    workers: int = 2
    body_limit: int = 256 * 1024
    batch_limit: int = 1000
    tokens: dict = field(default_factory=dict, repr=False)  # token -> caller name
    auth: bool = True
    use_snapshot: bool = False
    database_url: str = ""
    recording: bool = True
    retention_days: int = 365
    sqlite_synchronous: str = "NORMAL"
    store_timeout_ms: int = 5000
    watch_seconds: int = 0

    def store_url(self) -> str:
        """The decision store: POLICY_SERVICE_DATABASE_URL, else an SQLite file in the state directory."""
        return self.database_url or f"sqlite:///{(self.state_dir / 'decisions.sqlite3').resolve()}"

    @property
    def host(self) -> str:
        host = self.bind.rsplit(":", 1)[0] if ":" in self.bind else self.bind
        return host.strip("[]")

    def is_loopback(self) -> bool:
        """True when bound to a loopback address (or a unix socket), where trying it out is safe."""
        if self.bind.startswith("unix:"):
            return True
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def check_access(self) -> str | None:
        """Refuse unsafe setups; return a warning for an open service on loopback."""
        if not self.auth or self.tokens:
            return None
        if self.is_loopback():
            return (f"no tokens configured: /v1 answers without authentication because {self.bind} is a loopback "
                    f"address; set {PREFIX}TOKENS or {PREFIX}TOKENS_FILE before binding elsewhere")
        raise ConfigError(f"refusing to serve /v1 on {self.bind} without authentication: set {PREFIX}TOKENS or "
                          f"{PREFIX}TOKENS_FILE, or {PREFIX}AUTH=off to run open on purpose")


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise ConfigError(f"{PREFIX}{name}={value} must be between {low} and {high}")
    return value


def _parse_tokens(text: str, source: str) -> dict:
    tokens: dict[str, str] = {}
    for number, entry in enumerate(text.replace(",", "\n").splitlines(), start=1):
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        name, sep, token = entry.partition(":")
        if not sep or not name.strip() or len(token.strip()) < 16:
            raise ConfigError(f"{source} entry {number}: write 'caller-name:token' with a token of 16+ characters")
        tokens[token.strip()] = name.strip()
    return tokens


def default_workers() -> int:
    """One sync worker per core: evaluation is CPU-bound, more workers only add contention."""
    return max(2, os.cpu_count() or 1)


def load_settings(env: Mapping[str, str] | None = None, default_policy_dir: str | Path = "rules") -> Settings:
    """Read and validate settings from the environment."""
    env = os.environ if env is None else env
    tokens = {}
    if env.get(PREFIX + "TOKENS"):
        tokens.update(_parse_tokens(env[PREFIX + "TOKENS"], PREFIX + "TOKENS"))
    if env.get(PREFIX + "TOKENS_FILE"):
        path = Path(env[PREFIX + "TOKENS_FILE"])
        try:
            tokens.update(_parse_tokens(path.read_text(encoding="utf-8"), str(path)))
        except OSError as exc:
            raise ConfigError(f"cannot read {PREFIX}TOKENS_FILE {path}: {exc.strerror}") from None
    auth = env.get(PREFIX + "AUTH", "on").lower()
    if auth not in ("on", "off"):
        raise ConfigError(f"{PREFIX}AUTH must be 'on' or 'off', not {auth!r}")
    recording = env.get(PREFIX + "RECORDING", "on").lower()
    if recording not in ("on", "off"):
        raise ConfigError(f"{PREFIX}RECORDING must be 'on' or 'off', not {recording!r}")
    synchronous = env.get(PREFIX + "SQLITE_SYNCHRONOUS", "NORMAL").upper()
    if synchronous not in ("NORMAL", "FULL"):
        raise ConfigError(f"{PREFIX}SQLITE_SYNCHRONOUS must be NORMAL or FULL, not {synchronous!r}")
    database_url = env.get(PREFIX + "DATABASE_URL", "")
    if database_url.startswith(("postgres://", "postgresql://")):
        database_url = "postgresql+psycopg://" + database_url.split("://", 1)[1]
    if database_url and not database_url.startswith(("sqlite:", "postgresql+psycopg:")):
        raise ConfigError(f"{PREFIX}DATABASE_URL must be a postgresql:// or sqlite:/// URL")
    policy_dir = Path(env.get(PREFIX + "POLICY_DIR") or default_policy_dir)
    state_dir = Path(env.get(PREFIX + "STATE_DIR") or (Path(".policy-service")))
    return Settings(
        policy_dir=policy_dir,
        state_dir=state_dir,
        bind=env.get(PREFIX + "BIND") or "127.0.0.1:8080",
        workers=_int(env, "WORKERS", default_workers(), 1, 64),
        body_limit=_int(env, "BODY_LIMIT", 256 * 1024, 1024, 64 * 1024 * 1024),
        batch_limit=_int(env, "BATCH_LIMIT", 1000, 1, 100_000),
        tokens=tokens,
        auth=auth == "on",
        use_snapshot=env.get(PREFIX + "USE_SNAPSHOT") == "1",
        database_url=database_url,
        recording=recording == "on",
        retention_days=_int(env, "RETENTION_DAYS", 365, 1, 36500),
        sqlite_synchronous=synchronous,
        store_timeout_ms=_int(env, "STORE_TIMEOUT_MS", 5000, 50, 60000),
        watch_seconds=_int(env, "WATCH_SECONDS", 0, 0, 3600),
    )
