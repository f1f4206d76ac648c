"""The HTTP API through Flask's test client: decisions, batches, policy, health, metrics and every error."""

import json
from pathlib import Path

import pytest

from policy_service.api import create_app
from policy_service.settings import ConfigError, Settings

from conftest import RULES, complaint

TOKEN = "s3cret-token-for-tests-0001"


@pytest.fixture
def settings(tmp_path):
    return Settings(policy_dir=RULES, state_dir=tmp_path / "state", body_limit=64 * 1024, batch_limit=5)


@pytest.fixture
def app(settings):
    return create_app(settings)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def secured_client(tmp_path):
    settings = Settings(policy_dir=RULES, state_dir=tmp_path / "state", tokens={TOKEN: "crm"}, bind="0.0.0.0:8080")
    return create_app(settings).test_client()


def _example(name: str) -> dict:
    return json.loads((RULES / "examples" / f"{name}.json").read_text("utf-8"))


def test_a_decision_names_the_policy_that_made_it(client, app):
    response = client.post("/v1/decisions", json=_example("zh-hans-heater-fire"))
    assert response.status_code == 200
    decision = response.get_json()
    assert decision["primary_category"] == "product_safety"
    assert decision["policy"]["digest"] == app.extensions["policy_service"]["loaded"].policy.digest
    assert "产品安全" in response.get_data(as_text=True)


def test_request_id_is_echoed_or_generated(client):
    given = client.post("/v1/decisions", json=complaint(), headers={"X-Request-ID": "abc-123"})
    assert given.headers["X-Request-ID"] == "abc-123"
    generated = client.post("/v1/decisions", json=complaint())
    assert len(generated.headers["X-Request-ID"]) == 32


@pytest.mark.parametrize("kwargs, status, kind", [
    ({"data": "{not json", "content_type": "application/json"}, 400, "malformed-json"),
    ({"data": '{"id": NaN}', "content_type": "application/json"}, 400, "malformed-json"),
    ({"data": b'\xff\xfe', "content_type": "application/json"}, 400, "malformed-json"),
    ({"data": "{}", "content_type": "text/plain"}, 415, "unsupported-media-type"),
    ({"data": "{}"}, 415, "unsupported-media-type"),
    ({"json": {"id": "x"}}, 422, "validation-error"),
    ({"json": [1, 2]}, 422, "validation-error"),
    ({"data": json.dumps(complaint(text="x" * 70_000)), "content_type": "application/json"}, 413,
     "payload-too-large"),
], ids=["malformed JSON is 400", "NaN is not JSON", "bytes that are not UTF-8 are 400", "text/plain is 415",
        "a missing content type is 415", "schema errors are 422", "a list is 422", "a body over the limit is 413"])
def test_errors_are_problem_json(client, kwargs, status, kind):
    response = client.post("/v1/decisions", **kwargs)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["type"] == f"urn:complaint-policy:problem:{kind}"
    assert body["status"] == status and body["title"] and body["detail"]


def test_schema_errors_list_every_field_path(client):
    response = client.post("/v1/decisions", json={"id": "x", "received_at": "yesterday", "text": "x",
                                                  "order": {"value": -1, "currency": "CNY"}})
    assert [e["path"] for e in response.get_json()["errors"]] == ["order.value", "received_at"]


def test_unknown_routes_and_wrong_methods(client):
    assert client.get("/v1/nothing").status_code == 404
    response = client.put("/v1/decisions")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS, POST"
    assert response.mimetype == "application/problem+json"


def test_batch_decides_each_item_alone(client):
    body = {"complaints": [_example("en-app-crash"), {"id": "broken"}, _example("zh-hans-regulator")]}
    response = client.post("/v1/decisions/batch", json=body)
    assert response.status_code == 200
    result = response.get_json()
    assert (result["succeeded"], result["failed"]) == (2, 1)
    assert result["results"][0]["decision"]["primary_category"] == "technical_fault"
    assert [e["path"] for e in result["results"][1]["error"]["errors"]] == ["complaints[1].received_at",
                                                                            "complaints[1].text"]
    assert result["results"][2]["decision"]["primary_category"] == "regulator_referral"


def test_batch_limit_is_enforced(client):
    response = client.post("/v1/decisions/batch", json={"complaints": [complaint()] * 6})
    assert response.status_code == 422
    assert response.get_json()["errors"] == [{"path": "complaints", "message": "at most 5 complaints"}]


def test_batch_must_be_an_object_with_complaints(client):
    assert client.post("/v1/decisions/batch", json=[complaint()]).status_code == 422


def test_policy_endpoint_describes_the_loaded_policy(client):
    info = client.get("/v1/policy").get_json()
    assert info["name"] == "consumer-cn-uk"
    assert info["counts"]["categories"] == 12 and info["counts"]["escalation_paths"] == 6
    assert "categories.yaml" in info["files"]
    assert info["last_reload_error"] is None


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "alive"}
    assert client.get("/readyz").get_json()["status"] == "ready"


def test_metrics_count_requests_and_decisions(client, app):
    client.post("/v1/decisions", json=_example("zh-hans-heater-fire"))
    client.post("/v1/decisions", json={"id": "x"})
    text = client.get("/metrics").get_data(as_text=True)
    assert 'policy_service_http_requests_total{endpoint="/v1/decisions",method="POST",status="200"} 1.0' in text
    assert 'policy_service_http_requests_total{endpoint="/v1/decisions",method="POST",status="422"} 1.0' in text
    assert 'policy_service_decisions_total{primary_category="product_safety",priority="P1"} 1.0' in text
    digest = app.extensions["policy_service"]["loaded"].policy.digest
    assert f'digest="{digest}"' in text


def test_openapi_document_is_served_and_checked_in(client):
    served = client.get("/openapi.json").get_json()
    checked_in = json.loads((Path(__file__).resolve().parent.parent / "schemas" / "openapi.json").read_text("utf-8"))
    assert served == checked_in
    assert set(served["paths"]) == {"/v1/decisions", "/v1/decisions/batch", "/v1/decisions/{decision_id}",
                                    "/v1/decisions/{decision_id}/replay", "/v1/status", "/v1/policy", "/healthz",
                                    "/readyz", "/metrics"}


def test_status_reports_what_is_due_without_recording(client):
    payload = json.loads((RULES / "examples" / "zh-hans-heater-fire.json").read_text("utf-8"))
    response = client.post("/v1/status?at=2025-09-26T13:00:00%2B08:00", json=payload)
    assert response.status_code == 200
    status = response.get_json()["status"]
    assert status["escalation_step"]["role"] == "head_of_quality"
    assert {c["clock"]: c["remaining_working_hours"] for c in status["clocks"]}["first_response"] == 1.25
    assert client.get("/v1/decisions").get_json()["items"] == []
    assert client.post("/v1/status?at=noon", json=payload).status_code == 422


def test_tokens_are_required_when_configured(secured_client):
    assert secured_client.post("/v1/decisions", json=complaint()).status_code == 401
    wrong = secured_client.post("/v1/decisions", json=complaint(), headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
    right = secured_client.post("/v1/decisions", json=complaint(), headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200


def test_health_and_metrics_stay_open_with_tokens(secured_client):
    assert secured_client.get("/healthz").status_code == 200
    assert secured_client.get("/metrics").status_code == 200


def test_no_tokens_on_a_public_address_refuses_to_start(tmp_path):
    with pytest.raises(ConfigError, match="without authentication"):
        create_app(Settings(policy_dir=RULES, state_dir=tmp_path, bind="0.0.0.0:8080"))


def test_authentication_can_be_switched_off_explicitly(tmp_path):
    app = create_app(Settings(policy_dir=RULES, state_dir=tmp_path, bind="0.0.0.0:8080", auth=False))
    assert app.test_client().post("/v1/decisions", json=complaint()).status_code == 200


def test_access_log_never_contains_complaint_text(client, capsys):
    client.post("/v1/decisions", json=complaint(text="my secret phone number 13800000000"))
    logged = capsys.readouterr().err
    assert '"complaint_id": "c-1"' in logged
    assert "13800000000" not in logged
