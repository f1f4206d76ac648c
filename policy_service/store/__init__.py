"""The decision store: every decision served, with the exact policy version that made it.

SQLite by default (one file, WAL, busy timeout), PostgreSQL when several instances share records;
the same tables on both, created and upgraded by Alembic migrations.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from ..errors import PolicyServiceError
from .schema import decisions, policy_versions, utcnow

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 7_334_221  # PostgreSQL advisory lock id: one instance migrates at a time


class StoreUnavailable(PolicyServiceError):
    """The store could not be reached or did not commit; nothing was recorded."""


class DuplicateRequest(PolicyServiceError):
    """A decision was already recorded for this caller's idempotency key."""

    def __init__(self, record: dict):
        super().__init__(f"already recorded as {record['decision_id']}")
        self.record = record


@dataclass(frozen=True)
class Record:
    """One decision as it is stored."""

    decision_id: str
    complaint_id: str
    request_id: str | None
    caller: str | None
    idempotency_key: str | None
    policy_digest: str
    policy_name: str
    policy_version: str
    received_at: datetime | None
    decided_at: datetime
    complaint: dict
    decision: dict
    decision_json: str | None = None  # the decision already encoded, to avoid encoding it twice


def new_decision_id() -> str:
    """A time-ordered UUIDv7 (RFC 9562), so records sort by when they were made."""
    import uuid6

    return str(uuid6.uuid7())


def _row_to_dict(row) -> dict:
    return {
        "decision_id": row.decision_id,
        "complaint_id": row.complaint_id,
        "request_id": row.request_id,
        "caller": row.caller,
        "policy": {"name": row.policy_name, "version": row.policy_version, "digest": row.policy_digest},
        "received_at": row.received_at.isoformat() if row.received_at else None,
        "decided_at": row.decided_at.isoformat(),
        "complaint": json.loads(row.complaint),
        "decision": json.loads(row.decision),
    }


def encode_cursor(decision_id: str) -> str:
    return base64.urlsafe_b64encode(decision_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The decision id a cursor points after; ValueError if it is not one of ours."""
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        value = base64.urlsafe_b64decode(padded.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise ValueError("not a valid cursor") from None
    if len(value) != 36 or any(c not in "0123456789abcdef-" for c in value):
        raise ValueError("not a valid cursor")
    return value


class Store:
    """Records decisions and policy versions; every method is one transaction."""

    def __init__(self, url: str, busy_timeout_ms: int = 5000, sqlite_synchronous: str = "NORMAL"):
        self.url = url
        self.dialect = url.split(":", 1)[0].split("+", 1)[0]
        # No pre-ping: it costs a round trip per request. A dropped connection fails one request with
        # 503 (nothing recorded) and SQLAlchemy replaces it for the next.
        kwargs: dict = {}
        if self.dialect == "sqlite":
            kwargs["connect_args"] = {"timeout": busy_timeout_ms / 1000, "check_same_thread": False}
            database = url.split("///", 1)[-1]
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs.update(pool_size=5, max_overflow=5, pool_timeout=5,
                          connect_args={"connect_timeout": 5})
        self.engine: Engine = create_engine(url, **kwargs)
        # A single-row INSERT is atomic by itself: on PostgreSQL autocommit saves the BEGIN and COMMIT
        # round trips (SQLite has none to save, and switching its mode costs more than it gains).
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._insert = insert(decisions)
        self._stored_policies: set[str] = set()
        if self.dialect == "sqlite":
            @event.listens_for(self.engine, "connect")
            def _pragmas(connection, _record):
                cursor = connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
                # NORMAL in WAL mode survives any process crash; FULL also survives power loss.
                cursor.execute(f"PRAGMA synchronous={sqlite_synchronous}")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.close()

    def migrate(self) -> None:
        """Create or upgrade the tables to the latest migration."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.begin() as connection:
                if self.dialect == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK})
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except OperationalError as exc:
            raise StoreUnavailable(f"cannot migrate the decision store: {exc.orig}") from exc

    def ping(self) -> bool:
        """True when the store answers."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def store_policy(self, digest: str, name: str, version: str, files: dict[str, str]) -> None:
        """Keep a policy version's files under its digest (once)."""
        try:
            with self.engine.begin() as connection:
                self._ensure_policy(connection, digest, name, version, files)
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"cannot store the policy version: {exc}") from exc

    def _ensure_policy(self, connection, digest: str, name: str, version: str, files: dict[str, str]) -> None:
        if digest in self._stored_policies:
            return
        exists = connection.execute(select(policy_versions.c.digest).where(policy_versions.c.digest == digest)).first()
        if not exists:
            try:
                with connection.begin_nested():
                    connection.execute(insert(policy_versions).values(
                        digest=digest, name=name, version=version, stored_at=utcnow(),
                        files=json.dumps(files, ensure_ascii=False, sort_keys=True)))
            except IntegrityError:
                pass  # another worker stored the same version first
        self._stored_policies.add(digest)

    def record(self, records: list[Record], policy_files: dict[str, str] | None = None) -> None:
        """Commit decisions atomically, or raise StoreUnavailable having recorded none of them.

        A new policy version is stored first, in its own transaction (a version without decisions
        is harmless); on PostgreSQL a single decision is one autocommitted INSERT, atomic on its own;
        otherwise the decisions go in one transaction.
        """
        if not records:
            return
        try:
            for digest in {r.policy_digest for r in records} - self._stored_policies:
                first = next(r for r in records if r.policy_digest == digest)
                if policy_files is None:
                    raise StoreUnavailable(f"policy version {digest} is not stored")
                with self.engine.begin() as connection:
                    self._ensure_policy(connection, digest, first.policy_name, first.policy_version, policy_files)
            rows = [{
                "decision_id": r.decision_id, "complaint_id": r.complaint_id, "request_id": r.request_id,
                "caller": r.caller, "idempotency_key": r.idempotency_key, "policy_digest": r.policy_digest,
                "policy_name": r.policy_name, "policy_version": r.policy_version,
                "received_at": r.received_at, "decided_at": r.decided_at,
                "complaint": json.dumps(r.complaint, ensure_ascii=False),
                "decision": r.decision_json or json.dumps(r.decision, ensure_ascii=False),
            } for r in records]
            if len(rows) == 1 and self.dialect == "postgresql":
                with self._autocommit.connect() as connection:
                    connection.execute(self._insert, rows[0])
            else:
                with self.engine.begin() as connection:  # a batch: all rows or none
                    connection.execute(self._insert, rows)
        except IntegrityError as exc:
            for keyed in (r for r in records if r.idempotency_key):
                existing = self.by_idempotency_key(keyed.caller, keyed.idempotency_key)
                if existing:
                    raise DuplicateRequest(existing) from exc
            raise StoreUnavailable(f"the decision store refused the record: {exc.orig}") from exc
        except StoreUnavailable:
            raise
        except SQLAlchemyError as exc:
            self._stored_policies.clear()
            raise StoreUnavailable(f"the decision store is unavailable: {exc}") from exc

    def _read(self, statement):
        try:
            with self.engine.connect() as connection:
                return connection.execute(statement).fetchall()
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"the decision store is unavailable: {exc}") from exc

    def get(self, decision_id: str) -> dict | None:
        """One record, or None."""
        rows = self._read(select(decisions).where(decisions.c.decision_id == decision_id))
        return _row_to_dict(rows[0]) if rows else None

    def by_idempotency_key(self, caller: str | None, key: str) -> dict | None:
        """The record made earlier for this caller's idempotency key, or None."""
        rows = self._read(select(decisions).where(decisions.c.caller == caller, decisions.c.idempotency_key == key))
        return _row_to_dict(rows[0]) if rows else None

    def query(self, complaint_id: str | None = None, policy_digest: str | None = None,
              since: datetime | None = None, until: datetime | None = None, after: str | None = None,
              limit: int = 100) -> tuple[list[dict], str | None]:
        """Records in decision order, filtered, one page at a time; returns the page and the next cursor."""
        statement = select(decisions).order_by(decisions.c.decision_id).limit(limit + 1)
        if complaint_id is not None:
            statement = statement.where(decisions.c.complaint_id == complaint_id)
        if policy_digest is not None:
            statement = statement.where(decisions.c.policy_digest == policy_digest)
        if since is not None:
            statement = statement.where(decisions.c.decided_at >= since)
        if until is not None:
            statement = statement.where(decisions.c.decided_at < until)
        if after is not None:
            statement = statement.where(decisions.c.decision_id > after)
        rows = self._read(statement)
        page = [_row_to_dict(row) for row in rows[:limit]]
        next_cursor = encode_cursor(page[-1]["decision_id"]) if len(rows) > limit else None
        return page, next_cursor

    def iterate(self, since: datetime | None = None, until: datetime | None = None,
                batch: int = 500) -> Iterator[dict]:
        """Every record in decision order (for export)."""
        after = None
        while True:
            page, _ = self.query(since=since, until=until, after=after, limit=batch)
            yield from page
            if len(page) < batch:
                return
            after = page[-1]["decision_id"]

    def policy_files(self, digest: str) -> dict[str, str] | None:
        """A stored policy version's files, or None."""
        rows = self._read(select(policy_versions.c.files).where(policy_versions.c.digest == digest))
        return json.loads(rows[0].files) if rows else None

    def count(self) -> int:
        return self._read(text("SELECT COUNT(*) AS n FROM decisions"))[0].n

    def purge(self, before: datetime) -> int:
        """Delete decisions made before `before` (complaint text is personal data); never policy versions."""
        try:
            with self.engine.begin() as connection:
                result = connection.execute(decisions.delete().where(decisions.c.decided_at < before))
                return result.rowcount
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"the decision store is unavailable: {exc}") from exc

    def dispose(self) -> None:
        self.engine.dispose()
