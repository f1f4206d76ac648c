"""Decision records through the API: every 200 is recorded, read back, paged, replayed; failures are 503."""

import json
import shutil
from datetime import datetime, timedelta, timezone

import pytest

from policy_service.api import create_app
from policy_service.cli import main
from policy_service.settings import Settings

from conftest import RULES, complaint

TOKEN = "recording-test-token-0001"


def _example(name: str) -> dict:
    return json.loads((RULES / "examples" / f"{name}.json").read_text("utf-8"))


@pytest.fixture
def settings(tmp_path, store_url):
    return Settings(policy_dir=RULES, state_dir=tmp_path / "state", database_url=store_url,
                    tokens={TOKEN: "crm"}, store_timeout_ms=200)


@pytest.fixture
def client(settings):
    return create_app(settings).test_client()


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _post(client, payload, headers=None):
    return client.post("/v1/decisions", json=payload, headers={**AUTH, **(headers or {})})


def test_a_served_decision_is_recorded_with_who_asked(client):
    payload = _example("zh-hant-legal-threat")
    response = _post(client, payload, {"X-Request-ID": "req-42"})
    assert response.status_code == 200
    body = response.get_json()
    assert response.headers["Location"] == f"/v1/decisions/{body['decision_id']}"
    record = client.get(response.headers["Location"], headers=AUTH).get_json()
    assert record["complaint"] == payload
    assert record["decision"] == {k: v for k, v in body.items() if k != "decision_id"}
    assert (record["caller"], record["request_id"], record["complaint_id"]) == ("crm", "req-42", payload["id"])
    assert record["policy"] == body["policy"]


def test_records_are_listed_by_complaint_and_policy_with_cursor_pages(client):
    ids = [_post(client, complaint(id=f"c-{n % 2}")).get_json()["decision_id"] for n in range(5)]
    digest = client.get("/v1/policy", headers=AUTH).get_json()["digest"]
    page = client.get("/v1/decisions?complaint_id=c-0&limit=2", headers=AUTH).get_json()
    assert [i["decision_id"] for i in page["items"]] == [ids[0], ids[2]]
    rest = client.get(f"/v1/decisions?complaint_id=c-0&limit=2&cursor={page['next_cursor']}", headers=AUTH).get_json()
    assert [i["decision_id"] for i in rest["items"]] == [ids[4]] and rest["next_cursor"] is None
    by_policy = client.get(f"/v1/decisions?policy_digest={digest}&limit=100", headers=AUTH).get_json()
    assert len(by_policy["items"]) == 5
    later = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    assert client.get("/v1/decisions", query_string={"since": later}, headers=AUTH).get_json()["items"] == []


@pytest.mark.parametrize("query, path", [("limit=0", "query:limit"), ("cursor=zzz", "query:cursor"),
                                         ("since=yesterday", "query:since")],
                         ids=["a zero limit", "a forged cursor", "a date that is not ISO 8601"])
def test_bad_queries_are_422(client, query, path):
    response = client.get(f"/v1/decisions?{query}", headers=AUTH)
    assert response.status_code == 422 and response.get_json()["errors"][0]["path"] == path


def test_an_unknown_decision_is_404(client):
    assert client.get("/v1/decisions/01a212b6-0000-7000-8000-000000000000", headers=AUTH).status_code == 404


def test_replay_under_the_original_policy_reproduces_the_decision(client):
    payload = dict(_example("zh-hans-heater-fire"), pauses=[{"from": "2025-09-26T11:00:00+08:00"}])
    decision_id = _post(client, payload).get_json()["decision_id"]
    result = client.post(f"/v1/decisions/{decision_id}/replay", json={"policy": "original"}, headers=AUTH)
    assert result.status_code == 200
    body = result.get_json()
    assert body["identical"] is True and body["differences"] == {}


def test_replay_under_the_current_policy_shows_what_changed(tmp_path, store_url):
    old = create_app(Settings(policy_dir=RULES, state_dir=tmp_path / "a", database_url=store_url, auth=False))
    decision_id = old.test_client().post("/v1/decisions", json=_example("zh-hans-false-advertising")).get_json()[
        "decision_id"]
    changed = tmp_path / "changed"
    shutil.copytree(RULES, changed)
    priority = changed / "priority.yaml"
    priority.write_text(priority.read_text("utf-8").replace(
        "category: [fraud_misrepresentation, privacy]\n    then:\n      priority: P2",
        "category: [fraud_misrepresentation, privacy]\n    then:\n      priority: P1"), "utf-8")
    new = create_app(Settings(policy_dir=changed, state_dir=tmp_path / "b", database_url=store_url, auth=False))
    client = new.test_client()
    current = client.post(f"/v1/decisions/{decision_id}/replay", json={"policy": "current"}).get_json()
    assert current["identical"] is False
    assert current["differences"]["priority"]["recorded"]["id"] == "P2"
    assert current["differences"]["priority"]["replayed"]["id"] == "P1"
    assert "policy" in current["differences"]
    original = client.post(f"/v1/decisions/{decision_id}/replay").get_json()
    assert original["identical"] is True  # the old version is rebuilt from the store


def test_an_idempotency_key_returns_the_first_decision(client):
    first = _post(client, complaint(), {"Idempotency-Key": "order-77"})
    again = _post(client, complaint(text="different"), {"Idempotency-Key": "order-77"})
    assert again.get_json()["decision_id"] == first.get_json()["decision_id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(client.get("/v1/decisions", headers=AUTH).get_json()["items"]) == 1


def test_batch_items_are_recorded(client):
    response = client.post("/v1/decisions/batch", json={"complaints": [complaint(id="a"), {"id": "bad"},
                                                                       complaint(id="b")]}, headers=AUTH)
    ids = [r["decision"]["decision_id"] for r in response.get_json()["results"] if "decision" in r]
    assert len(ids) == 2
    assert all(client.get(f"/v1/decisions/{i}", headers=AUTH).status_code == 200 for i in ids)


def test_an_unavailable_store_answers_503_and_records_nothing(tmp_path):
    import sqlite3

    settings = Settings(policy_dir=RULES, state_dir=tmp_path / "s", database_url=f"sqlite:///{tmp_path / 'd.db'}",
                        auth=False, store_timeout_ms=100)
    client = create_app(settings).test_client()
    assert client.post("/v1/decisions", json=complaint(id="before")).status_code == 200
    blocker = sqlite3.connect(tmp_path / "d.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        single = client.post("/v1/decisions", json=complaint(id="during"))
        batch = client.post("/v1/decisions/batch", json={"complaints": [complaint(id="x"), complaint(id="y")]})
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    for response in (single, batch):
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert response.get_json()["type"] == "urn:complaint-policy:problem:store-unavailable"
    items = client.get("/v1/decisions").get_json()["items"]
    assert [i["complaint_id"] for i in items] == ["before"]


def test_a_service_with_an_unreachable_database_starts_and_answers_503(tmp_path):
    settings = Settings(policy_dir=RULES, state_dir=tmp_path, auth=False,
                        database_url="postgresql+psycopg://postgres@127.0.0.1:1/none")
    client = create_app(settings).test_client()
    assert client.post("/v1/decisions", json=complaint()).status_code == 503
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200


def test_export_and_purge_commands(client, settings, runner, monkeypatch, tmp_path):
    ids = [_post(client, complaint(id=f"c-{n}")).get_json()["decision_id"] for n in range(3)]
    monkeypatch.setenv("POLICY_SERVICE_DATABASE_URL", settings.database_url)
    exported = runner.invoke(main, ["decisions", "export"])
    lines = [json.loads(line) for line in exported.output.splitlines()]
    assert [line["decision_id"] for line in lines] == ids
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(exported.output, encoding="utf-8")
    diff = runner.invoke(main, ["diff", str(RULES), "--base", str(RULES), "--corpus", str(corpus), "--no-fixtures",
                                "--format", "json"])
    assert json.loads(diff.output)["evaluated"] == 3
    assert "0 decision(s)" in runner.invoke(main, ["decisions", "purge", "--older-than", "1d"]).output
    assert runner.invoke(main, ["decisions", "purge", "--older-than", "soon"]).exit_code == 2


def test_the_stored_policy_is_the_validated_text_even_if_the_directory_changes(tmp_path, store_url):
    policy_dir = tmp_path / "policy"
    shutil.copytree(RULES, policy_dir, ignore=shutil.ignore_patterns("examples", "tests"))
    app = create_app(Settings(policy_dir=policy_dir, state_dir=tmp_path / "s", database_url=store_url, auth=False))
    (policy_dir / "policy.yaml").write_text("edited after loading\n", encoding="utf-8")
    client = app.test_client()
    decision_id = client.post("/v1/decisions", json=complaint()).get_json()["decision_id"]
    assert client.post(f"/v1/decisions/{decision_id}/replay").get_json()["identical"] is True
