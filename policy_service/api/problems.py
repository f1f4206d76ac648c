"""RFC 9457 problem details: every error the API returns has this shape."""

from __future__ import annotations

from flask import Response, json

PROBLEM_TYPE = "application/problem+json"
TYPE_BASE = "urn:complaint-policy:problem:"

TITLES = {
    "malformed-json": (400, "The body is not valid JSON"),
    "unauthorized": (401, "A valid bearer token is required"),
    "not-found": (404, "No such resource"),
    "method-not-allowed": (405, "Method not allowed on this resource"),
    "payload-too-large": (413, "The body is larger than the configured limit"),
    "unsupported-media-type": (415, "The body must be application/json"),
    "validation-error": (422, "The request does not match the schema"),
    "not-ready": (503, "The service is not ready"),
    "store-unavailable": (503, "The decision store is unavailable"),
    "evaluation-failed": (500, "The complaint could not be evaluated"),
    "internal-error": (500, "Internal error"),
}


def problem_body(kind: str, detail: str, errors: list[dict] | None = None, instance: str | None = None) -> dict:
    """The problem document for a stable kind."""
    status, title = TITLES[kind]
    body = {"type": TYPE_BASE + kind, "title": title, "status": status, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    if instance:
        body["instance"] = instance
    return body


def problem(kind: str, detail: str, errors: list[dict] | None = None, headers: dict | None = None) -> Response:
    """A problem+json response."""
    body = problem_body(kind, detail, errors)
    response = Response(json.dumps(body, ensure_ascii=False), status=body["status"], mimetype=PROBLEM_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
