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


class HealthSchema(Schema):
    status = fields.String(required=True)
    policy = fields.Nested(PolicyRefSchema)


def _problems(*codes: int) -> dict:
    descriptions = {400: "Malformed JSON", 401: "Missing or invalid bearer token", 413: "Body over the limit",
                    415: "Not application/json", 422: "Schema errors, one per field path",
                    500: "Evaluation failed", 503: "No valid policy loaded"}
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
                         ("PolicyInfo", PolicyInfoSchema), ("Health", HealthSchema)):
        spec.components.schema(name, schema=schema)
    secured = [{"bearer": []}]
    json_body = lambda ref: {"required": True, "content": {"application/json": {"schema": ref}}}  # noqa: E731
    ok = lambda ref, text: {"description": text, "content": {"application/json": {"schema": ref}}}  # noqa: E731
    spec.path(path="/v1/decisions", operations={"post": {
        "summary": "Decide one complaint", "operationId": "decide", "security": secured,
        "requestBody": json_body("Complaint"),
        "responses": {"200": ok("Decision", "The decision"), **_problems(400, 401, 413, 415, 422, 500)}}})
    spec.path(path="/v1/decisions/batch", operations={"post": {
        "summary": "Decide up to the batch limit of complaints; each item succeeds or fails alone",
        "operationId": "decideBatch", "security": secured, "requestBody": json_body("BatchRequest"),
        "responses": {"200": ok("BatchResponse", "One result per complaint"),
                      **_problems(400, 401, 413, 415, 422)}}})
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
