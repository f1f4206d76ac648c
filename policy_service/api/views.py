"""HTTP views: parse the request, call the core, shape the response. No policy semantics here."""

from __future__ import annotations

import hmac
import json

from flask import Blueprint, Response, current_app, g, jsonify, request

from datetime import datetime, timezone

from ..errors import ComplaintInvalid, EvaluationError
from ..records import UnknownPolicyVersion, build_record, replay
from ..store import DuplicateRequest, StoreUnavailable, decode_cursor
from .problems import problem, problem_body

RETRY_AFTER_SECONDS = "5"
MAX_PAGE = 500

bp = Blueprint("v1", __name__, url_prefix="/v1")
health = Blueprint("health", __name__)


def _state() -> dict:
    return current_app.extensions["policy_service"]


class _BadRequest(Exception):
    def __init__(self, response: Response):
        self.response = response


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _json_body():
    """The request's JSON value, or a problem response for a wrong type or malformed body."""
    mimetype = request.mimetype or ""
    if not (mimetype == "application/json" or mimetype.endswith("+json")):
        raise _BadRequest(problem("unsupported-media-type",
                                  f"send Content-Type: application/json (got {mimetype or 'none'})"))
    raw = request.get_data(cache=False)
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise _BadRequest(problem("malformed-json", f"the body is not UTF-8 (byte {exc.start})")) from None
    except (ValueError, RecursionError) as exc:
        raise _BadRequest(problem("malformed-json", f"the body is not valid JSON: {exc}")) from None


@bp.before_request
def authenticate():
    settings = _state()["settings"]
    if not settings.auth or not settings.tokens:
        g.caller = "anonymous"
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    caller = None
    if scheme.lower() == "bearer" and token:
        for known, name in settings.tokens.items():  # compare with every token: no early exit
            if hmac.compare_digest(known.encode(), token.strip().encode()):
                caller = name
    if caller is None:
        return problem("unauthorized", "send Authorization: Bearer <token>",
                       headers={"WWW-Authenticate": 'Bearer realm="policy-service"'})
    g.caller = caller
    return None


@bp.errorhandler(_BadRequest)
def bad_request(exc: _BadRequest):
    return exc.response


def _validation_problem(errors: list, detail: str) -> Response:
    return problem("validation-error", detail, errors)


def _count_in_metrics(decision: dict) -> None:
    _state()["metrics"].decisions.labels(decision["primary_category"] or "none", decision["priority"]["id"]).inc()


def _count_decision(decision: dict) -> None:
    g.log.update(complaint_id=decision["complaint_id"], policy_digest=decision["policy"]["digest"],
                 priority=decision["priority"]["id"])
    _count_in_metrics(decision)


def _store_problem(exc: Exception) -> Response:
    _state()["metrics"].recorded.labels("unavailable").inc()
    current_app.logger.error("decision store unavailable: %s", exc)
    return problem("store-unavailable", "the decision could not be recorded, so it is not given; retry later",
                   headers={"Retry-After": RETRY_AFTER_SECONDS})


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= 128:
        raise _BadRequest(_validation_problem([{"path": "header:Idempotency-Key", "message": "1 to 128 characters"}],
                                              "the Idempotency-Key header is invalid"))
    return key


def _with_id(record_id: str, decision: dict, replayed: bool = False, encoded: str | None = None) -> Response:
    if encoded is None:
        encoded = json.dumps(decision, ensure_ascii=False)
    # The stored encoding with the id in front: the decision is serialised once per request.
    body = '{"decision_id": ' + json.dumps(record_id) + (", " + encoded[1:] if len(encoded) > 2 else "}")
    response = Response(body, mimetype="application/json")
    response.headers["Location"] = f"/v1/decisions/{record_id}"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.post("/decisions")
def decide():
    payload = _json_body()
    key = _idempotency_key()
    state = _state()
    store = state["store"]
    if store is not None and key is not None:
        try:
            earlier = store.by_idempotency_key(g.caller, key)
        except StoreUnavailable as exc:
            return _store_problem(exc)
        if earlier is not None:
            return _with_id(earlier["decision_id"], earlier["decision"], replayed=True)
    loaded = state["loaded"]
    try:
        decision = loaded.decider.decide(payload)
    except ComplaintInvalid as exc:
        return _validation_problem([e.as_dict() for e in exc.errors], "the complaint is invalid")
    except EvaluationError as exc:
        return problem("evaluation-failed", str(exc))
    if store is None:
        _count_decision(decision)
        return jsonify(decision)
    encoded = json.dumps(decision, ensure_ascii=False)
    record = build_record(payload, decision, g.request_id, g.caller, key, encoded)
    try:
        store.record([record], policy_files=loaded.files)
    except DuplicateRequest as exc:
        return _with_id(exc.record["decision_id"], exc.record["decision"], replayed=True)
    except StoreUnavailable as exc:
        return _store_problem(exc)
    state["metrics"].recorded.labels("recorded").inc()
    _count_decision(decision)
    g.log["decision_id"] = record.decision_id
    return _with_id(record.decision_id, decision, encoded=encoded)


def _instant_arg(name: str) -> datetime | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        instant = datetime.fromisoformat(raw)
    except ValueError:
        instant = None
    if instant is None or instant.tzinfo is None:
        raise _BadRequest(_validation_problem([{"path": f"query:{name}", "message": "an ISO 8601 date-time with a "
                                                "UTC offset"}], "the query is invalid"))
    return instant


def _store_or_404():
    store = _state()["store"]
    if store is None:
        raise _BadRequest(problem("not-found", "decision recording is switched off on this service"))
    return store


def _text_arg(name: str) -> str | None:
    value = request.args.get(name)
    if value is not None and (len(value) > 128 or any(ord(c) < 32 or ord(c) == 127 for c in value)):
        raise _BadRequest(_validation_problem([{"path": f"query:{name}", "message": "at most 128 characters, "
                                                "without control characters"}], "the query is invalid"))
    return value


def _known_id(decision_id: str) -> bool:
    return len(decision_id) == 36 and all(c in "0123456789abcdef-" for c in decision_id)


@bp.get("/decisions")
def list_decisions():
    store = _store_or_404()
    try:
        limit = int(request.args.get("limit", "100"))
    except ValueError:
        limit = -1
    if not 1 <= limit <= MAX_PAGE:
        return _validation_problem([{"path": "query:limit", "message": f"a whole number from 1 to {MAX_PAGE}"}],
                                   "the query is invalid")
    after = None
    if request.args.get("cursor"):
        try:
            after = decode_cursor(request.args["cursor"])
        except ValueError:
            return _validation_problem([{"path": "query:cursor", "message": "not a cursor this service gave"}],
                                       "the query is invalid")
    try:
        items, next_cursor = store.query(complaint_id=_text_arg("complaint_id"),
                                         policy_digest=_text_arg("policy_digest"),
                                         since=_instant_arg("since"), until=_instant_arg("until"),
                                         after=after, limit=limit)
    except StoreUnavailable as exc:
        return _store_problem(exc)
    return jsonify({"items": items, "next_cursor": next_cursor})


@bp.get("/decisions/<decision_id>")
def get_decision(decision_id: str):
    store = _store_or_404()
    if not _known_id(decision_id):
        return problem("not-found", f"no decision {decision_id}")
    try:
        record = store.get(decision_id)
    except StoreUnavailable as exc:
        return _store_problem(exc)
    if record is None:
        return problem("not-found", f"no decision {decision_id}")
    return jsonify(record)


@bp.post("/decisions/<decision_id>/replay")
def replay_decision(decision_id: str):
    store = _store_or_404()
    body = _json_body() if request.get_data(cache=True) else {}
    against = body.get("policy", "original") if isinstance(body, dict) else None
    if against not in ("original", "current") or (isinstance(body, dict) and set(body) - {"policy"}):
        return _validation_problem([{"path": "policy", "message": "'original' or 'current'"}],
                                   "the replay request is invalid")
    if not _known_id(decision_id):
        return problem("not-found", f"no decision {decision_id}")
    try:
        record = store.get(decision_id)
        if record is None:
            return problem("not-found", f"no decision {decision_id}")
        decider = (store.versions.decider(record["policy"]["digest"]) if against == "original"
                   else _state()["loaded"].decider)
    except StoreUnavailable as exc:
        return _store_problem(exc)
    except UnknownPolicyVersion as exc:
        return problem("evaluation-failed", str(exc))
    try:
        result = replay(record, decider)
    except EvaluationError as exc:
        return problem("evaluation-failed", str(exc))
    return jsonify({"against": against, **result})


@bp.post("/status")
def status():
    """What is due for a complaint at a time (default now): clocks, breaches, the active escalation step.

    A query about a complaint's state, not a decision given to a customer: it is not recorded.
    """
    payload = _json_body()
    at = _instant_arg("at") or datetime.now(timezone.utc)
    try:
        decision = _state()["loaded"].decider.decide(payload, at=at)
    except ComplaintInvalid as exc:
        return _validation_problem([e.as_dict() for e in exc.errors], "the complaint is invalid")
    except EvaluationError as exc:
        return problem("evaluation-failed", str(exc))
    return jsonify(decision)


@bp.post("/decisions/batch")
def decide_batch():
    payload = _json_body()
    settings = _state()["settings"]
    if not isinstance(payload, dict) or set(payload) != {"complaints"} or not isinstance(payload["complaints"], list):
        return _validation_problem([{"path": "$", "message": "send {\"complaints\": [ ... ]}"}],
                                   "the batch is invalid")
    items = payload["complaints"]
    if len(items) > settings.batch_limit:
        return _validation_problem([{"path": "complaints", "message": f"at most {settings.batch_limit} complaints"}],
                                   "the batch is too long")
    loaded = _state()["loaded"]
    decider = loaded.decider
    store = _state()["store"]
    results, failed, records = [], 0, []
    for index, item in enumerate(items):
        try:
            decision = decider.decide(item)
        except ComplaintInvalid as exc:
            failed += 1
            errors = [{"path": f"complaints[{index}].{e.path}" if e.path != "$" else f"complaints[{index}]",
                       "message": e.message} for e in exc.errors]
            results.append({"index": index, "error": problem_body("validation-error", "the complaint is invalid",
                                                                  errors)})
            continue
        except EvaluationError as exc:
            failed += 1
            results.append({"index": index, "error": problem_body("evaluation-failed", str(exc))})
            continue
        if store is not None:
            record = build_record(item, decision, g.request_id, g.caller, None)
            records.append(record)
            decision = {"decision_id": record.decision_id, **decision}
        results.append({"index": index, "decision": decision})
    if store is not None:
        try:
            store.record(records, policy_files=loaded.files)  # all or nothing: a 200 means every one is stored
        except StoreUnavailable as exc:
            return _store_problem(exc)
        _state()["metrics"].recorded.labels("recorded").inc(len(records))
    for result in results:
        if "decision" in result:
            _count_in_metrics(result["decision"])
    policy = decider.program.policy
    g.log.update(policy_digest=policy.digest, batch=len(items), failed=failed)
    return jsonify({"policy": policy.summary(), "succeeded": len(items) - failed, "failed": failed,
                    "results": results})


@bp.get("/policy")
def policy_info():
    loaded = _state()["loaded"]
    policy = loaded.policy
    return jsonify({
        "name": policy.name, "version": policy.version, "digest": policy.digest,
        "description": policy.description, "loaded_at": loaded.loaded_at, "source": loaded.source,
        "files": [name.rsplit("/", 1)[-1] for name in policy.files],
        "counts": {"categories": len(policy.categories), "rules": len(policy.rules),
                   "priorities": len(policy.priorities), "compensation_tiers": len(policy.tiers),
                   "escalation_paths": len(policy.paths), "calendars": len(policy.calendars),
                   "clocks": len(policy.clocks)},
        "last_reload_error": loaded.last_error,
    })


@health.get("/healthz")
def healthz():
    return jsonify({"status": "alive"})


@health.get("/readyz")
def readyz():
    loaded = _state().get("loaded")
    if loaded is None:
        return problem("not-ready", "no valid policy is loaded")
    store = _state().get("store")
    if store is not None and not store.ping():
        return problem("not-ready", "the decision store is unavailable", headers={"Retry-After": RETRY_AFTER_SECONDS})
    return jsonify({"status": "ready", "policy": loaded.policy.summary()})


@health.get("/metrics")
def metrics():
    body, content_type = _state()["metrics"].exposition()
    return Response(body, mimetype=content_type.split(";")[0], content_type=content_type)


@health.get("/openapi.json")
def openapi():
    from .openapi import openapi_document

    return jsonify(openapi_document())


