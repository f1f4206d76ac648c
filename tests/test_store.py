"""The decision store on SQLite and PostgreSQL: records, queries, pages, idempotency, purge, failures."""

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect

from policy_service.store import DuplicateRequest, Record, Store, StoreUnavailable, new_decision_id

FILES = {"policy.yaml": "apiVersion: complaint-policy/v1\n# 投诉\n"}


def _record(complaint_id="c-1", digest="sha256:aaa", decided_at=None, key=None, caller="crm") -> Record:
    decided_at = decided_at or datetime(2025, 9, 26, 2, 0, tzinfo=timezone.utc)
    return Record(new_decision_id(), complaint_id, "req-1", caller, key, digest, "p", "1",
                  datetime(2025, 9, 26, 10, 0, tzinfo=timezone(timedelta(hours=8))), decided_at,
                  {"id": complaint_id, "text": "投诉 text"}, {"complaint_id": complaint_id, "priority": {"id": "P1"}})


@pytest.fixture
def store(store_url):
    created = Store(store_url)
    created.migrate()
    yield created
    created.dispose()


def test_migrations_create_the_same_tables(store):
    tables = set(inspect(store.engine).get_table_names())
    assert {"decisions", "policy_versions", "alembic_version"} <= tables
    store.migrate()  # a second run is a no-op


def test_a_record_round_trips(store):
    record = _record()
    store.record([record], policy_files=FILES)
    got = store.get(record.decision_id)
    assert got["complaint"] == {"id": "c-1", "text": "投诉 text"}
    assert got["decision"]["priority"] == {"id": "P1"}
    assert got["policy"] == {"name": "p", "version": "1", "digest": "sha256:aaa"}
    assert got["decided_at"] == "2025-09-26T02:00:00+00:00"
    assert got["received_at"] == "2025-09-26T02:00:00+00:00"
    assert (got["caller"], got["request_id"]) == ("crm", "req-1")
    assert store.policy_files("sha256:aaa") == FILES


def test_a_record_needs_its_policy_version(store):
    with pytest.raises(StoreUnavailable, match="not stored"):
        store.record([_record(digest="sha256:unknown")])


def test_queries_filter_and_page_with_cursors(store):
    base = datetime(2025, 1, 1, tzinfo=timezone.utc)
    records = [_record(complaint_id=f"c-{n % 3}", decided_at=base + timedelta(hours=n)) for n in range(7)]
    store.record(records, policy_files=FILES)
    items, cursor = store.query(complaint_id="c-1", limit=10)
    assert [i["decision_id"] for i in items] == [records[1].decision_id, records[4].decision_id]
    assert cursor is None
    window, _ = store.query(since=base + timedelta(hours=2), until=base + timedelta(hours=5))
    assert [i["decision_id"] for i in window] == [r.decision_id for r in records[2:5]]
    first, cursor = store.query(limit=3)
    from policy_service.store import decode_cursor

    second, last_cursor = store.query(limit=3, after=decode_cursor(cursor))
    third, none = store.query(limit=3, after=decode_cursor(last_cursor))
    assert [i["decision_id"] for i in first + second + third] == [r.decision_id for r in records]
    assert none is None
    assert store.query(policy_digest="sha256:other")[0] == []


def test_an_idempotency_key_is_recorded_once(store):
    first = _record(key="k-1")
    store.record([first], policy_files=FILES)
    with pytest.raises(DuplicateRequest) as caught:
        store.record([_record(key="k-1")], policy_files=FILES)
    assert caught.value.record["decision_id"] == first.decision_id
    store.record([_record(key="k-1", caller="other-caller")], policy_files=FILES)  # keys are per caller
    assert store.count() == 2


def test_a_batch_is_all_or_nothing(store):
    store.record([_record(key="dup")], policy_files=FILES)
    with pytest.raises(DuplicateRequest):
        store.record([_record(key="fresh"), _record(key="dup")], policy_files=FILES)
    assert store.count() == 1


def test_purge_removes_old_decisions_but_never_policy_versions(store):
    old = _record(decided_at=datetime(2024, 1, 1, tzinfo=timezone.utc))
    new = _record(decided_at=datetime(2025, 6, 1, tzinfo=timezone.utc))
    store.record([old, new], policy_files=FILES)
    assert store.purge(datetime(2025, 1, 1, tzinfo=timezone.utc)) == 1
    assert store.get(old.decision_id) is None and store.get(new.decision_id) is not None
    assert store.purge(datetime(2030, 1, 1, tzinfo=timezone.utc)) == 1
    assert store.policy_files("sha256:aaa") == FILES


def test_export_iterates_every_record_in_order(store):
    records = [_record(complaint_id=f"c-{n}") for n in range(12)]
    store.record(records, policy_files=FILES)
    assert [r["decision_id"] for r in store.iterate(batch=5)] == [r.decision_id for r in records]


def test_decision_ids_sort_by_time():
    ids = [new_decision_id() for _ in range(50)]
    assert ids == sorted(ids) and len(set(ids)) == 50


def test_an_unreachable_store_raises_store_unavailable(tmp_path):
    unreachable = Store("postgresql+psycopg://postgres@127.0.0.1:1/none")
    with pytest.raises(StoreUnavailable):
        unreachable.migrate()
    assert unreachable.ping() is False
    with pytest.raises(StoreUnavailable):
        unreachable.record([_record()], policy_files=FILES)


def test_a_locked_sqlite_store_fails_within_its_timeout(tmp_path):
    import sqlite3

    path = tmp_path / "d.sqlite3"
    store = Store(f"sqlite:///{path}", busy_timeout_ms=100)
    store.migrate()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailable):
            store.record([_record()], policy_files=FILES)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.count() == 0
    assert json.loads(json.dumps(store.query()[0])) == []


def test_an_older_store_is_upgraded_in_place(store_url):
    from alembic import command
    from alembic.config import Config

    from policy_service.store import MIGRATIONS

    store = Store(store_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    kept = _record(key="k")
    store.record([kept], policy_files=FILES)
    store.migrate()
    assert store.get(kept.decision_id)["complaint_id"] == "c-1"
    with pytest.raises(DuplicateRequest):
        store.record([_record(key="k")], policy_files=FILES)
    store.record([_record(), _record()], policy_files=FILES)  # decisions without a key never collide
    assert store.count() == 3
    store.dispose()
