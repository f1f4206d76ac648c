"""HTTP views: parse the request, call the core, shape the response. No policy semantics here."""

from __future__ import annotations

import hmac
import json

from flask import Blueprint, Response, current_app, g, jsonify, request

from ..errors import ComplaintInvalid, EvaluationError
from .problems import problem, problem_body

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


def _record(decision: dict) -> None:
    g.log.update(complaint_id=decision["complaint_id"], policy_digest=decision["policy"]["digest"],
                 priority=decision["priority"]["id"])
    _state()["metrics"].decisions.labels(decision["primary_category"] or "none", decision["priority"]["id"]).inc()


@bp.post("/decisions")
def decide():
    payload = _json_body()
    decider = _state()["loaded"].decider
    try:
        decision = decider.decide(payload)
    except ComplaintInvalid as exc:
        return _validation_problem([e.as_dict() for e in exc.errors], "the complaint is invalid")
    except EvaluationError as exc:
        return problem("evaluation-failed", str(exc))
    _record(decision)
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
    decider = _state()["loaded"].decider
    results, failed = [], 0
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
        _state()["metrics"].decisions.labels(decision["primary_category"] or "none", decision["priority"]["id"]).inc()
        results.append({"index": index, "decision": decision})
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
    return jsonify({"status": "ready", "policy": loaded.policy.summary()})


@health.get("/metrics")
def metrics():
    body, content_type = _state()["metrics"].exposition()
    return Response(body, mimetype=content_type.split(";")[0], content_type=content_type)


@health.get("/openapi.json")
def openapi():
    from .openapi import openapi_document

    return jsonify(openapi_document())


