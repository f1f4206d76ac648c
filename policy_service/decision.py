"""The decision document's marshmallow schema: the published contract of what the service returns."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class LabelSchema(Schema):
    en = fields.String(required=True)
    zh = fields.String(required=True)


class PolicyRefSchema(Schema):
    name = fields.String(required=True)
    version = fields.String(required=True)
    digest = fields.String(required=True, metadata={"description": "sha256 over the policy's files"})


class CategorySchema(Schema):
    id = fields.String(required=True)
    label = fields.Nested(LabelSchema, required=True)
    flags = fields.List(fields.String(), required=True)


class PrioritySchema(Schema):
    id = fields.String(required=True)
    rank = fields.Integer(required=True, validate=validate.Range(min=1), metadata={"description": "1 = most urgent"})
    label = fields.Nested(LabelSchema, required=True)


class MoneySchema(Schema):
    value = fields.String(required=True, validate=validate.Regexp(r"^\d+\.\d{2}$"),
                          metadata={"description": "Decimal amount with two places, as text"})
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}$"))


class CompensationSchema(Schema):
    tier = fields.String(required=True)
    label = fields.Nested(LabelSchema, required=True)
    remedy = fields.String(required=True)
    amount = fields.Nested(MoneySchema, required=True, allow_none=True)
    requires_approval = fields.Boolean(required=True)
    basis = fields.String(required=True, allow_none=True, metadata={"description": "Legal or policy basis"})


class StepSchema(Schema):
    role = fields.String(required=True)
    notify = fields.List(fields.String(), required=True)
    note = fields.String(required=True, allow_none=True)


class EscalationSchema(Schema):
    path = fields.String(required=True)
    label = fields.Nested(LabelSchema, required=True)
    steps = fields.List(fields.Nested(StepSchema), required=True)


class TraceEntrySchema(Schema):
    stage = fields.String(required=True, validate=validate.OneOf(["category", "priority", "compensation",
                                                                  "escalation"]))
    rule = fields.String(required=True, allow_none=True, metadata={"description": "null for a policy default"})
    file = fields.String(metadata={"description": "Policy file that holds the rule"})
    line = fields.Integer(metadata={"description": "Line of the rule in that file"})
    reason = fields.String(metadata={"description": "Why a default applied, e.g. policy.default_priority"})
    decided = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    applied = fields.Boolean(required=True, metadata={"description": "false when a stronger rule won"})


class DecisionSchema(Schema):
    """The decision for one complaint."""

    complaint_id = fields.String(required=True)
    policy = fields.Nested(PolicyRefSchema, required=True)
    evaluated_at = fields.String(required=True, metadata={"format": "date-time"})
    categories = fields.List(fields.Nested(CategorySchema), required=True)
    primary_category = fields.String(required=True, allow_none=True)
    priority = fields.Nested(PrioritySchema, required=True)
    compensation = fields.Nested(CompensationSchema, required=True, allow_none=True)
    escalation = fields.Nested(EscalationSchema, required=True, allow_none=True)
    trace = fields.List(fields.Nested(TraceEntrySchema), required=True)
    warnings = fields.List(fields.String(), required=True)
