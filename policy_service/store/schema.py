"""The decision store's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Column, DateTime, ForeignKey, Index, MetaData, String, Table, Text, text
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Timestamps stored as UTC and always read back time-zone aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


metadata = MetaData()

policy_versions = Table(
    "policy_versions", metadata,
    Column("digest", String(80), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("version", String(200), nullable=False),
    Column("files", Text, nullable=False),  # JSON: {file name: text}
    Column("stored_at", UTCDateTime, nullable=False),
)

decisions = Table(
    "decisions", metadata,
    Column("decision_id", String(36), primary_key=True),  # UUIDv7: sorts by creation time
    Column("complaint_id", String(128), nullable=False),
    Column("request_id", String(128)),
    Column("caller", String(128)),
    Column("idempotency_key", String(128)),
    Column("policy_digest", String(80), ForeignKey("policy_versions.digest"), nullable=False),
    Column("policy_name", String(200), nullable=False),
    Column("policy_version", String(200), nullable=False),
    Column("received_at", UTCDateTime),
    Column("decided_at", UTCDateTime, nullable=False),
    Column("complaint", Text, nullable=False),  # JSON, as received
    Column("decision", Text, nullable=False),  # JSON
    Index("uq_decisions_caller_idempotency_key", "caller", "idempotency_key", unique=True,
          sqlite_where=text("idempotency_key IS NOT NULL"), postgresql_where=text("idempotency_key IS NOT NULL")),
    Index("ix_decisions_complaint_id", "complaint_id"),
    Index("ix_decisions_policy_digest", "policy_digest"),
    Index("ix_decisions_decided_at", "decided_at"),
)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
