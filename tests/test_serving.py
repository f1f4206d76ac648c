"""A real gunicorn on loopback: reloads under concurrent load, rejected policies, unsafe binds, fuzzing."""

import json
import shutil
import subprocess
import sys
import threading
import time

import pytest

import serving
from conftest import ROOT, RULES

pytestmark = pytest.mark.slow

EXAMPLES = [json.loads(p.read_text("utf-8")) for p in sorted((RULES / "examples").glob("*.json"))]


@pytest.fixture
def server(tmp_path):
    running = serving.start(tmp_path)
    yield running
    serving.stop(running)


def _digests_served(server, samples: int = 12) -> set:
    return {server.request("GET", "/v1/policy")[1]["digest"] for _ in range(samples)}


def _wait_for(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_reload_under_load_loses_no_request_and_mixes_no_versions(server):
    old = server.request("GET", "/v1/policy")[1]
    results, stop = [], threading.Event()

    def load(offset: int) -> None:
        number = offset
        while not stop.is_set():
            payload = dict(EXAMPLES[number % len(EXAMPLES)], id=f"load-{offset}-{number}")
            try:
                status, body, _ = server.request("POST", "/v1/decisions", payload)
            except OSError as exc:
                status, body = 0, {"error": str(exc)}
            results.append((time.monotonic(), status, body.get("policy")))
            number += 1

    threads = [threading.Thread(target=load, args=(n * 1000,)) for n in range(6)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    policy_file = server.policy_dir / "policy.yaml"
    policy_file.write_text(policy_file.read_text("utf-8").replace('version: "2026.11.1"', 'version: "2026.11.2"'),
                           encoding="utf-8")
    server.reload()
    assert _wait_for(lambda: _digests_served(server) == {server.request("GET", "/v1/policy")[1]["digest"]}
                     and server.request("GET", "/v1/policy")[1]["version"] == "2026.11.2")
    switched = time.monotonic()
    time.sleep(1.5)
    stop.set()
    for thread in threads:
        thread.join()
    new = server.request("GET", "/v1/policy")[1]
    assert new["digest"] != old["digest"]
    failures = [r for r in results if r[1] != 200]
    assert failures == []
    versions = {(p["version"], p["digest"]) for _, _, p in results}
    assert versions <= {(old["version"], old["digest"]), (new["version"], new["digest"])}
    assert (new["version"], new["digest"]) in versions and (old["version"], old["digest"]) in versions
    assert all(p["digest"] == new["digest"] for at, _, p in results if at > switched + 0.5)
    assert len(results) > 100


def test_a_broken_policy_is_rejected_and_the_old_one_keeps_serving(server):
    before = server.request("GET", "/v1/policy")[1]
    (server.policy_dir / "categories.yaml").write_text("apiVersion: complaint-policy/v1\ncategories:\n  - id: [\n",
                                                      encoding="utf-8")
    server.reload()
    assert _wait_for(lambda: server.request("GET", "/v1/policy")[1]["last_reload_error"] is not None)
    info = server.request("GET", "/v1/policy")[1]
    assert info["digest"] == before["digest"]
    assert any("categories.yaml:4:1" in p for p in info["last_reload_error"]["problems"])
    status, decision, _ = server.request("POST", "/v1/decisions", EXAMPLES[0])
    assert status == 200 and decision["policy"]["digest"] == before["digest"]
    metrics = server.request("GET", "/metrics")[1]["raw"]
    assert 'policy_service_policy_reloads_total{result="failure"} 1.0' in metrics
    assert "policy-rejected" in server.log.read_text()


def test_a_public_bind_without_tokens_refuses_to_start(tmp_path):
    running = serving.start(tmp_path, extra_env={"POLICY_SERVICE_BIND": f"0.0.0.0:{serving.free_port()}"},
                            wait=False)
    try:
        assert running.process.wait(timeout=60) != 0
    finally:
        serving.stop(running)
    assert "refusing to serve /v1" in running.log.read_text()


def test_an_invalid_policy_at_start_refuses_to_serve(tmp_path):
    shutil.copytree(ROOT / "rules", tmp_path / "policy", ignore=shutil.ignore_patterns("examples"))
    (tmp_path / "policy" / "priority.yaml").write_text("apiVersion: complaint-policy/v1\nrules: 7\n", encoding="utf-8")
    running = serving.start(tmp_path, wait=False)
    try:
        assert running.process.wait(timeout=60) != 0
    finally:
        serving.stop(running)
    assert "priority.yaml:2:8" in running.log.read_text()


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_no_input_produces_a_server_error(tmp_path, store, request):
    # schemathesis generates requests from the served OpenAPI document; bounded in examples and time.
    extra = {}
    if store == "postgresql":
        extra["POLICY_SERVICE_DATABASE_URL"] = request.getfixturevalue("postgres_url")
    server = serving.start(tmp_path / "served", extra_env=extra)
    try:
        _fuzz(server, tmp_path)
    finally:
        serving.stop(server)


def _fuzz(server, tmp_path):
    command = [sys.executable, "-m", "schemathesis.cli", "run", f"http://127.0.0.1:{server.port}/openapi.json",
               "--checks", "not_a_server_error", "--max-examples", "60", "--request-timeout", "10",
               "--seed", "20261125", "--no-color"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]


def test_a_watched_policy_directory_reloads_by_itself(tmp_path):
    server = serving.start(tmp_path, extra_env={"POLICY_SERVICE_WATCH_SECONDS": "1"})
    try:
        before = server.request("GET", "/v1/policy")[1]
        policy_file = server.policy_dir / "policy.yaml"
        policy_file.write_text(policy_file.read_text("utf-8").replace('version: "2026.11.1"', 'version: "2026.11.9"'),
                               encoding="utf-8")
        assert _wait_for(lambda: _digests_served(server, 6) == {server.request("GET", "/v1/policy")[1]["digest"]}
                         and server.request("GET", "/v1/policy")[1]["version"] == "2026.11.9")
        assert server.request("GET", "/v1/policy")[1]["digest"] != before["digest"]
        (server.policy_dir / "rules.yaml").write_text("apiVersion: complaint-policy/v2\n", encoding="utf-8")
        assert _wait_for(lambda: server.request("GET", "/v1/policy")[1]["last_reload_error"] is not None)
        assert server.request("GET", "/v1/policy")[1]["version"] == "2026.11.9"
    finally:
        serving.stop(server)
    assert "policy-changed" in server.log.read_text()
