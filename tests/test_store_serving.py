"""Recording under a real gunicorn: a worker killed mid-load loses no acknowledged decision; instances share PostgreSQL."""

import json
import os
import random
import signal
import threading
import time
import uuid
from pathlib import Path

import pytest

import serving
from conftest import RULES
from policy_service.records import PolicyVersions, replay
from policy_service.store import Store

pytestmark = pytest.mark.slow

EXAMPLES = [json.loads(p.read_text("utf-8")) for p in sorted((RULES / "examples").glob("*.json"))]


def _workers(master_pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master_pid:
                children.append(int(entry.name))
    return children


def test_a_killed_worker_loses_no_acknowledged_decision(tmp_path, store_url):
    server = serving.start(tmp_path, workers=3, extra_env={"POLICY_SERVICE_DATABASE_URL": store_url})
    acknowledged, failures, stop = [], [], threading.Event()

    def load(offset: int) -> None:
        number = 0
        while not stop.is_set():
            request_id = f"r-{offset}-{number}-{uuid.uuid4().hex[:8]}"
            payload = dict(EXAMPLES[number % len(EXAMPLES)], id=f"k-{offset}-{number}")
            try:
                status, body, _ = server.request("POST", "/v1/decisions", payload, {"X-Request-ID": request_id})
            except OSError as exc:
                failures.append(str(exc))
            else:
                if status == 200:
                    acknowledged.append((body["decision_id"], request_id, body))
                else:
                    failures.append(status)
            number += 1

    try:
        threads = [threading.Thread(target=load, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        victim = _workers(server.process.pid)[0]
        os.kill(victim, signal.SIGKILL)
        time.sleep(2.5)
        stop.set()
        for thread in threads:
            thread.join()
        assert _wait_for_workers(server, 3)
    finally:
        serving.stop(server)
    assert len(acknowledged) > 100
    store = Store(store_url)
    versions = PolicyVersions(store)
    records = {r["decision_id"]: r for r in store.iterate()}
    missing = [d for d, _, _ in acknowledged if d not in records]
    assert missing == []
    request_ids = [r["request_id"] for r in records.values()]
    assert len(request_ids) == len(set(request_ids))  # nothing recorded twice
    for decision_id, request_id, body in random.Random(7).sample(acknowledged, 40):
        record = records[decision_id]
        assert record["request_id"] == request_id
        assert record["decision"] == {k: v for k, v in body.items() if k != "decision_id"}
        assert replay(record, versions.decider(record["policy"]["digest"]))["identical"] is True
    store.dispose()


def _wait_for_workers(server, count: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(_workers(server.process.pid)) >= count:
            return True
        time.sleep(0.2)
    return False


def test_two_instances_share_one_postgresql(tmp_path, postgres_url):
    store_url = postgres_url
    first = serving.start(tmp_path / "a", extra_env={"POLICY_SERVICE_DATABASE_URL": store_url})
    second = serving.start(tmp_path / "b", extra_env={"POLICY_SERVICE_DATABASE_URL": store_url})
    try:
        from_first = first.request("POST", "/v1/decisions", dict(EXAMPLES[0], id="from-first"))[1]["decision_id"]
        from_second = second.request("POST", "/v1/decisions", dict(EXAMPLES[1], id="from-second"))[1]["decision_id"]
        assert second.request("GET", f"/v1/decisions/{from_first}")[1]["complaint_id"] == "from-first"
        assert first.request("GET", f"/v1/decisions/{from_second}")[1]["complaint_id"] == "from-second"
        listed = first.request("GET", "/v1/decisions?limit=10")[1]["items"]
        assert {i["decision_id"] for i in listed} == {from_first, from_second}
    finally:
        serving.stop(first)
        serving.stop(second)
