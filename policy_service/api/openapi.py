"""The OpenAPI 3 document, generated from the marshmallow schemas with apispec."""

from __future__ import annotations

import functools

from marshmallow import Schema, fields

from .. import __version__
from ..complaint import ORDER_VALUE_JSON_SCHEMA, ComplaintSchema
from ..decision import DecisionSchema, PolicyRefSchema
from .problems import PROBLEM_TYPE


class FieldErrorSchema(Schema):
    path = fields.String(required=True, metadata={"description": "JSON path of the bad field, e.g. order.currency"})
    message = fields.String(required=True)


class ProblemSchema(Schema):
    """RFC 9457 problem details."""

    type = fields.String(required=True, metadata={"description": "Stable URI of the kind of problem"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    instance = fields.String()
    errors = fields.List(fields.Nested(FieldErrorSchema))


class BatchRequestSchema(Schema):
    complaints = fields.List(fields.Dict(), required=True,
                             metadata={"description": "Complaints, each validated on its own"})


class BatchItemSchema(Schema):
    index = fields.Integer(required=True)
    decision = fields.Nested(DecisionSchema)
    error = fields.Nested(ProblemSchema)


class BatchResponseSchema(Schema):
    policy = fields.Nested(PolicyRefSchema, required=True)
    succeeded = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    results = fields.List(fields.Nested(BatchItemSchema), required=True)


class PolicyCountsSchema(Schema):
    categories = fields.Integer(required=True)
    rules = fields.Integer(required=True)
    priorities = fields.Integer(required=True)
    compensation_tiers = fields.Integer(required=True)
    escalation_paths = fields.Integer(required=True)
    calendars = fields.Integer(required=True)
    clocks = fields.Integer(required=True)


class PolicyInfoSchema(Schema):
    name = fields.String(required=True)
    version = fields.String(required=True)
    digest = fields.String(required=True)
    description = fields.String(required=True)
    loaded_at = fields.String(required=True, metadata={"format": "date-time"})
    source = fields.String(required=True)
    files = fields.List(fields.String(), required=True)
    counts = fields.Nested(PolicyCountsSchema, required=True)
    last_reload_error = fields.Dict(required=True, allow_none=True)


class RecordSchema(Schema):
    """A recorded decision."""

    decision_id = fields.String(required=True, metadata={"description": "UUIDv7, sortable by time"})
    complaint_id = fields.String(required=True)
    request_id = fields.String(required=True, allow_none=True)
    caller = fields.String(required=True, allow_none=True, metadata={"description": "The token's name"})
    policy = fields.Nested(PolicyRefSchema, required=True)
    received_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    decided_at = fields.String(required=True, metadata={"format": "date-time"})
    complaint = fields.Dict(required=True, metadata={"description": "The complaint exactly as received"})
    decision = fields.Nested(DecisionSchema, required=True)


class RecordPageSchema(Schema):
    items = fields.List(fields.Nested(RecordSchema), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class ReplayRequestSchema(Schema):
    policy = fields.String(metadata={"enum": ["original", "current"], "default": "original"})


class ReplaySchema(Schema):
    against = fields.String(required=True)
    decision_id = fields.String(required=True)
    policy = fields.Nested(PolicyRefSchema, required=True)
    identical = fields.Boolean(required=True)
    differences = fields.Dict(required=True, metadata={"description": "part -> {recorded, replayed}"})
    replayed = fields.Nested(DecisionSchema, required=True)


class RecordedDecisionSchema(DecisionSchema):
    decision_id = fields.String(required=True, metadata={"description": "Where the record is: /v1/decisions/{id}"})


class HealthSchema(Schema):
    status = fields.String(required=True)
    policy = fields.Nested(PolicyRefSchema)


def _problems(*codes: int) -> dict:
    descriptions = {400: "Malformed JSON", 401: "Missing or invalid bearer token", 404: "No such record",
                    413: "Body over the limit",
                    415: "Not application/json", 422: "Schema errors, one per field path",
                    500: "Evaluation failed", 503: "Not ready, or the decision store is unavailable (see Retry-After)"}
    return {str(code): {"description": descriptions[code],
                        "content": {PROBLEM_TYPE: {"schema": "Problem"}}} for code in codes}


@functools.lru_cache(maxsize=1)
def openapi_document() -> dict:
    """Build the OpenAPI document (cached: it depends only on the code)."""
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    spec = APISpec(
        title="Complaint policy service", version=__version__, openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Decides complaints under a YAML complaint-handling policy: categories, priority, "
                             "compensation, escalation and deadlines, with the rules that produced each part."},
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    for name, schema in (("Complaint", ComplaintSchema), ("Decision", DecisionSchema), ("Problem", ProblemSchema),
                         ("BatchRequest", BatchRequestSchema), ("BatchResponse", BatchResponseSchema),
                         ("PolicyInfo", PolicyInfoSchema), ("Health", HealthSchema), ("Record", RecordSchema),
                         ("RecordPage", RecordPageSchema), ("ReplayRequest", ReplayRequestSchema),
                         ("Replay", ReplaySchema), ("RecordedDecision", RecordedDecisionSchema)):
        spec.components.schema(name, schema=schema)
    secured = [{"bearer": []}]
    json_body = lambda ref: {"required": True, "content": {"application/json": {"schema": ref}}}  # noqa: E731
    ok = lambda ref, text: {"description": text, "content": {"application/json": {"schema": ref}}}  # noqa: E731
    instant = {"type": "string", "format": "date-time"}
    spec.path(path="/v1/decisions", operations={
        "post": {
            "summary": "Decide one complaint; the decision is recorded before it is returned",
            "operationId": "decide", "security": secured, "requestBody": json_body("Complaint"),
            "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                            "schema": {"type": "string", "minLength": 1, "maxLength": 128},
                            "description": "Retries with the same key get the first decision"}],
            "responses": {"200": ok("RecordedDecision", "The decision"),
                          **_problems(400, 401, 413, 415, 422, 500, 503)}},
        "get": {
            "summary": "Recorded decisions, oldest first, one page at a time", "operationId": "listDecisions",
            "security": secured,
            "parameters": [
                {"name": "complaint_id", "in": "query", "schema": {"type": "string"}},
                {"name": "policy_digest", "in": "query", "schema": {"type": "string"}},
                {"name": "since", "in": "query", "schema": instant},
                {"name": "until", "in": "query", "schema": instant},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                {"name": "cursor", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": ok("RecordPage", "A page of records"), **_problems(401, 404, 422, 503)}}})
    record_id = [{"name": "decision_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    spec.path(path="/v1/decisions/{decision_id}", operations={"get": {
        "summary": "One recorded decision", "operationId": "getDecision", "security": secured,
        "parameters": record_id,
        "responses": {"200": ok("Record", "The record"), **_problems(401, 404, 503)}}})
    spec.path(path="/v1/decisions/{decision_id}/replay", operations={"post": {
        "summary": "Re-evaluate a recorded complaint under its original or the current policy",
        "operationId": "replayDecision", "security": secured, "parameters": record_id,
        "requestBody": {"required": False, "content": {"application/json": {"schema": "ReplayRequest"}}},
        "responses": {"200": ok("Replay", "The replayed decision and what differs"),
                      **_problems(400, 401, 404, 415, 422, 500, 503)}}})
    spec.path(path="/v1/decisions/batch", operations={"post": {
        "summary": "Decide up to the batch limit of complaints; each item succeeds or fails alone",
        "operationId": "decideBatch", "security": secured, "requestBody": json_body("BatchRequest"),
        "responses": {"200": ok("BatchResponse", "One result per complaint"),
                      **_problems(400, 401, 413, 415, 422)}}})
    spec.path(path="/v1/status", operations={"post": {
        "summary": "What is due for a complaint at a time: elapsed and remaining time per clock, breaches and "
                   "the escalation step that should be active (uses the complaint's status and pauses; not recorded)",
        "operationId": "status", "security": secured, "requestBody": json_body("Complaint"),
        "parameters": [{"name": "at", "in": "query", "required": False,
                        "schema": {"type": "string", "format": "date-time"},
                        "description": "ISO 8601 with offset; default now"}],
        "responses": {"200": ok("Decision", "The decision with its `status`"),
                      **_problems(400, 401, 413, 415, 422, 500)}}})
    spec.path(path="/v1/policy", operations={"get": {
        "summary": "The loaded policy", "operationId": "policy", "security": secured,
        "responses": {"200": ok("PolicyInfo", "The loaded policy"), **_problems(401)}}})
    spec.path(path="/healthz", operations={"get": {
        "summary": "Liveness", "operationId": "healthz", "responses": {"200": ok("Health", "Alive")}}})
    spec.path(path="/readyz", operations={"get": {
        "summary": "Readiness: a valid policy is loaded", "operationId": "readyz",
        "responses": {"200": ok("Health", "Ready"), **_problems(503)}}})
    spec.path(path="/metrics", operations={"get": {
        "summary": "Prometheus metrics", "operationId": "metrics",
        "responses": {"200": {"description": "Prometheus text format",
                              "content": {"text/plain": {"schema": {"type": "string"}}}}}}})
    document = spec.to_dict()
    document["components"]["schemas"]["Order"]["properties"]["value"] = ORDER_VALUE_JSON_SCHEMA
    return document
