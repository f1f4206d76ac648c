"""Generate the published JSON Schemas (policy files, complaint, decision) from the code's own definitions."""

from __future__ import annotations

import json
from pathlib import Path

from .complaint import CHANNELS, FIELD_TYPES, ORDER_VALUE_JSON_SCHEMA, ComplaintSchema
from .decision import DecisionSchema
from .calendar import UNITS
from .policy.validate import (API_VERSION, CONFLICTS, COUNTING_CHOICES, FLAGS, NUMERIC_OPS, OPERATORS, POLICY_KEYS,
                              REMEDIES, TEXT_OPS, THEN_KEYS)

DIALECT = "https://json-schema.org/draft/2020-12/schema"
BASE_URI = "https://complaint-policy.example/schemas/"
SCHEMA_FILES = {
    "policy-file.schema.json": "policy_file_schema",
    "complaint.schema.json": "complaint_schema",
    "decision.schema.json": "decision_schema",
    "policy-test.schema.json": "policy_test_schema",
    "openapi.json": "openapi_schema",
}


def policy_test_schema() -> dict:
    """JSON Schema of a policy test file (`*.test.yaml`)."""
    from .testing.suite import COMPENSATION_KEYS, DEADLINE_KEYS, STEP_KEYS

    complaint = {"type": "object", "description": "A complaint (see complaint.schema.json); merged over 'defaults'"}
    instant = {"type": "string", "format": "date-time"}
    nullable = lambda schema: {"oneOf": [{"type": "null"}, schema]}  # noqa: E731
    expect = {
        "type": "object", "additionalProperties": False,
        "description": "Only what is written is checked",
        "properties": {
            "categories": {"type": "array", "items": {"type": "string"}},
            "primary_category": {"type": ["string", "null"]},
            "priority": {"type": "string"},
            "compensation": nullable({"type": "object", "additionalProperties": False, "properties": {
                key: ({"type": ["string", "null"], "description": "e.g. '899.00 CNY'"} if key == "amount" else
                      {"type": "boolean"} if key == "requires_approval" else {"type": "string"})
                for key in COMPENSATION_KEYS}}),
            "escalation": nullable({"type": "object", "additionalProperties": False, "properties": {
                "path": {"type": "string"},
                "steps": {"type": "array", "items": {"type": "object", "additionalProperties": False, "properties": {
                    key: (instant if key == "at" else {"type": "array", "items": {"type": "string"}}
                          if key == "notify" else {"type": "string"}) for key in STEP_KEYS}}}}}),
            "deadlines": {"type": "object", "additionalProperties": nullable({
                "type": "object", "additionalProperties": False, "properties": {
                    key: (instant if key == "due" else _duration() if key == "duration" else
                          {"type": "boolean"} if key == "provisional" else {"type": "string"})
                    for key in DEADLINE_KEYS}})},
            "rules_fired": {"type": "array", "items": {"type": "string"}},
            "rules_not_fired": {"type": "array", "items": {"type": "string"}},
            "warnings": {"type": "array", "items": {"type": "string"}},
        }}
    return {
        "$schema": DIALECT, "$id": BASE_URI + "policy-test.schema.json", "title": "Complaint policy test file",
        "type": "object", "required": ["apiVersion", "tests"], "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": API_VERSION}, "name": {"type": "string"}, "description": {"type": "string"},
            "now": instant, "defaults": complaint,
            "fixtures": {"type": "object", "additionalProperties": complaint},
            "tests": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["name", "complaint", "expect"], "additionalProperties": False,
                "properties": {"name": {"type": "string"}, "description": {"type": "string"}, "now": instant,
                               "complaint": {"oneOf": [{"type": "string", "description": "a fixture name"},
                                                       complaint]},
                               "expect": expect}}},
        },
    }


def openapi_schema() -> dict:
    """The OpenAPI document the service serves at /openapi.json."""
    from .api.openapi import openapi_document

    return openapi_document()


def _from_marshmallow(schema_class, name: str, title: str) -> dict:
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    spec = APISpec(title=title, version="1", openapi_version="3.1.0", plugins=[MarshmallowPlugin()])
    spec.components.schema(name, schema=schema_class)
    components = json.loads(json.dumps(spec.to_dict()["components"]["schemas"]).replace(
        "#/components/schemas/", "#/$defs/"))
    root = components.pop(name)
    return {"$schema": DIALECT, "$id": BASE_URI + f"{name.lower()}.schema.json", "title": title, **root,
            "$defs": components}


def complaint_schema() -> dict:
    """JSON Schema of the complaint payload, derived from the marshmallow schema."""
    document = _from_marshmallow(ComplaintSchema, "Complaint", "Complaint")
    document["properties"]["channel"]["enum"] = list(CHANNELS)
    document["$defs"]["Order"]["properties"]["value"] = ORDER_VALUE_JSON_SCHEMA
    return document


def decision_schema() -> dict:
    """JSON Schema of the decision document, derived from the marshmallow schema."""
    return _from_marshmallow(DecisionSchema, "Decision", "Decision")


def _label() -> dict:
    return {"type": "object", "required": ["en", "zh"], "additionalProperties": False,
            "properties": {"en": {"type": "string", "minLength": 1}, "zh": {"type": "string", "minLength": 1}}}


def _condition_defs() -> dict:
    scalar = {"type": ["string", "number", "boolean"]}
    op_values = {}
    for op in OPERATORS:
        if op in NUMERIC_OPS:
            op_values[op] = {"type": "number"}
        elif op in ("in", "not_in"):
            op_values[op] = {"type": "array", "minItems": 1, "items": scalar}
        elif op == "exists":
            op_values[op] = {"type": "boolean"}
        elif op == "includes":
            op_values[op] = {"oneOf": [{"type": "string"}, {"type": "array", "minItems": 1, "items": {"type": "string"}}]}
        elif op in TEXT_OPS and op != "matches":
            op_values[op] = {"type": "array", "minItems": 1, "items": {"type": ["string", "number"]},
                             "description": "Keywords; case, width and Chinese script are ignored; a trailing * "
                                            "matches any word ending"}
        elif op == "matches":
            op_values[op] = {"type": "string", "description": "Python regular expression, searched in the text"}
        else:
            op_values[op] = scalar
    field_forms = [{"type": "object", "required": ["field", op], "additionalProperties": False,
                    "properties": {"field": {"$ref": "#/$defs/fieldPath"}, op: op_values[op]}} for op in OPERATORS]
    ids = {"oneOf": [{"type": "string"}, {"type": "array", "minItems": 1, "items": {"type": "string"}}]}
    decided = [{"type": "object", "required": [k], "additionalProperties": False, "properties": {k: v}}
               for k, v in (("category", ids), ("category_flag", {"oneOf": [{"enum": list(FLAGS)}, {
                   "type": "array", "minItems": 1, "items": {"enum": list(FLAGS)}}]}), ("priority", ids),
                            ("compensation", ids))]
    combinators = [
        {"type": "object", "required": ["all"], "additionalProperties": False,
         "properties": {"all": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/condition"}}}},
        {"type": "object", "required": ["any"], "additionalProperties": False,
         "properties": {"any": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/condition"}}}},
        {"type": "object", "required": ["not"], "additionalProperties": False,
         "properties": {"not": {"$ref": "#/$defs/condition"}}},
    ]
    return {
        "condition": {"oneOf": combinators + decided + field_forms},
        "fieldPath": {"anyOf": [{"enum": list(FIELD_TYPES)}, {"type": "string", "pattern": r"^attributes\..+"}]},
    }


def _duration() -> dict:
    return {"type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
            "description": "One unit and its amount, e.g. {business_days: 15}",
            "properties": {unit: {"type": "number", "exclusiveMinimum": 0} for unit in UNITS}}


def _deadline() -> dict:
    counting = {key: {"enum": list(choices)} for key, choices in COUNTING_CHOICES.items()}
    return {"type": "object", "required": ["clock", "calendar", "duration"], "additionalProperties": False,
            "properties": {
                "clock": {"type": "string"}, "calendar": {"type": "string"}, "duration": _duration(),
                "maximum": _duration(), "basis": {"type": "string"}, **counting,
                "extensions": {"type": "array", "items": {
                    "type": "object", "required": ["name", "duration", "unlocked_by"], "additionalProperties": False,
                    "properties": {"name": {"type": "string"}, "duration": _duration(),
                                   "unlocked_by": {"$ref": "#/$defs/fieldPath"}}}}}}


def _calendar(ident: dict) -> dict:
    clock_time = {"type": "string", "pattern": "^([01]\\d|2[0-3]):[0-5]\\d$"}
    dates = {"type": "array", "items": {"type": "string", "format": "date"}}
    return {"type": "object", "required": ["id", "time_zone", "country"], "additionalProperties": False,
            "properties": {
                "id": ident, "label": _label(), "description": {"type": "string"},
                "time_zone": {"type": "string", "description": "IANA zone, e.g. Asia/Shanghai"},
                "country": {"type": "string", "description": "ISO 3166 code known to the holidays package"},
                "subdivision": {"type": "string"},
                "working_hours": {"type": "object", "required": ["start", "end"], "additionalProperties": False,
                                  "properties": {"start": clock_time, "end": clock_time}},
                "cutoff": clock_time, "extra_holidays": dates, "extra_working_days": dates,
                "declared_years": {"type": "array", "items": {"type": "integer"}}}}


def _step_timing() -> dict:
    after = _duration()
    after["properties"] = {unit: {"type": "number", "minimum": 0} for unit in UNITS}
    return {"type": "object", "additionalProperties": False,
            "properties": {"after": after, "fraction_of": {"type": "string"},
                           "fraction": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                           "breach_of": {"type": "string"}, "calendar": {"type": "string"}},
            "oneOf": [{"required": ["after"]}, {"required": ["fraction_of", "fraction"]}, {"required": ["breach_of"]}]}


def policy_file_schema() -> dict:
    """JSON Schema of one policy file (apiVersion complaint-policy/v1)."""
    ident = {"type": "string", "pattern": r"^[a-z][a-z0-9_]*(-[a-z0-9_]+)*$|^[A-Z][A-Za-z0-9_]*$"}
    money = {"type": "number", "minimum": 0}
    policy_props = {key: {"type": "string"} for key in POLICY_KEYS}
    policy_props["category_precedence"] = {"type": "array", "minItems": 1, "items": ident}
    policy_props["compensation_conflict"] = {"enum": list(CONFLICTS)}
    return {
        "$schema": DIALECT,
        "$id": BASE_URI + "policy-file.schema.json",
        "title": "Complaint policy file",
        "description": "One file of a complaint-handling policy directory. Sections may be spread over files; "
                       "'policy' and 'priorities' appear exactly once per policy.",
        "type": "object",
        "required": ["apiVersion"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "policy": {"type": "object", "additionalProperties": False, "properties": policy_props,
                       "required": ["name", "version", "default_priority", "category_precedence",
                                    "compensation_conflict"]},
            "priorities": {"type": "array", "minItems": 1, "description": "The ladder, most urgent (rank 1) first",
                           "items": {"type": "object", "required": ["id"], "additionalProperties": False,
                                     "properties": {"id": ident, "label": _label(), "description": {"type": "string"}}}},
            "categories": {"type": "array", "items": {
                "type": "object", "required": ["id"], "additionalProperties": False,
                "properties": {"id": ident, "label": _label(), "description": {"type": "string"},
                               "flags": {"type": "array", "items": {"enum": list(FLAGS)}},
                               "when": {"$ref": "#/$defs/condition"}}}},
            "compensation_tiers": {"type": "array", "items": {
                "type": "object", "required": ["id", "remedy"], "additionalProperties": False,
                "properties": {
                    "id": ident, "label": _label(), "remedy": {"enum": list(REMEDIES)},
                    "description": {"type": "string"}, "basis": {"type": "string"}, "approval_above": money,
                    "amount": {"type": "object", "required": ["currency"], "additionalProperties": False,
                               "properties": {"fixed": money, "percent_of_order": {"type": "number",
                                                                                   "exclusiveMinimum": 0},
                                              "floor": money, "cap": money,
                                              "currency": {"type": "string", "pattern": "^[A-Z]{3}$"}},
                               "oneOf": [{"required": ["fixed"]}, {"required": ["percent_of_order"]}]}}}},
            "escalation_paths": {"type": "array", "items": {
                "type": "object", "required": ["id", "steps"], "additionalProperties": False,
                "properties": {"id": ident, "label": _label(), "description": {"type": "string"},
                               "steps": {"type": "array", "minItems": 1, "items": {
                                   "type": "object", "required": ["role"], "additionalProperties": False,
                                   "properties": {"role": {"type": "string"},
                                                  "notify": {"type": "array", "items": {"type": "string"}},
                                                  "note": {"type": "string"}, "at": _step_timing()}}}}}},
            "calendars": {"type": "array", "items": _calendar(ident)},
            "clocks": {"type": "array", "items": {
                "type": "object", "required": ["id"], "additionalProperties": False,
                "properties": {"id": ident, "label": _label(), "description": {"type": "string"},
                               "pausable": {"type": "boolean"}, "maximum": _duration()}}},
            "rules": {"type": "array", "items": {
                "type": "object", "required": ["id", "then"], "additionalProperties": False,
                "properties": {"id": ident, "description": {"type": "string"},
                               "when": {"$ref": "#/$defs/condition"},
                               "then": {"type": "object", "minProperties": 1, "maxProperties": 1,
                                        "additionalProperties": False,
                                        "properties": {**{key: {"type": "string"} for key in THEN_KEYS},
                                                       "deadline": _deadline()}}}}},
        },
        "$defs": _condition_defs(),
    }


def generate() -> dict[str, dict]:
    """Return every published schema by file name."""
    return {name: globals()[builder]() for name, builder in SCHEMA_FILES.items()}


def render(document: dict) -> str:
    """Serialise a schema the way it is checked in."""
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def write_all(directory: str | Path) -> list[Path]:
    """Write every schema into `directory`; return the paths written."""
    out = []
    for name, document in generate().items():
        path = Path(directory) / name
        path.write_text(render(document), encoding="utf-8")
        out.append(path)
    return out
