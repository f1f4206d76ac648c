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
    at = fields.String(required=True, allow_none=True, metadata={"format": "date-time",
                                                                "description": "When the step fires"})
    trigger = fields.String(required=True, allow_none=True, metadata={"description": "e.g. '50% of resolve'"})
    pending = fields.String(metadata={"description": "Why `at` could not be computed"})


class DeadlineStageSchema(Schema):
    name = fields.String(required=True)
    duration = fields.Dict(keys=fields.String(), values=fields.Float(), required=True)
    unlocked_by = fields.String(required=True, allow_none=True)
    due = fields.String(required=True, metadata={"format": "date-time"})
    active = fields.Boolean(required=True)


class OverriddenSchema(Schema):
    rule = fields.String(required=True)
    due = fields.String(required=True, metadata={"format": "date-time"})


class CountingSchema(Schema):
    day_zero = fields.String(required=True)
    outside_hours = fields.String(required=True)
    due_on_non_working_day = fields.String(required=True)


class DeadlineSchema(Schema):
    clock = fields.String(required=True)
    label = fields.Nested(LabelSchema, required=True)
    due = fields.String(required=True, metadata={"format": "date-time"})
    starts = fields.String(required=True, metadata={"format": "date-time",
                                                    "description": "When the clock started counting"})
    calendar = fields.String(required=True)
    duration = fields.Dict(keys=fields.String(), values=fields.Float(), required=True)
    stage = fields.String(required=True, metadata={"description": "The active limit of a staged deadline"})
    provisional = fields.Boolean(required=True)
    provisional_reason = fields.String()
    rule = fields.String(required=True)
    file = fields.String(required=True)
    line = fields.Integer(required=True)
    basis = fields.String(required=True, allow_none=True)
    counting = fields.Nested(CountingSchema, required=True)
    stages = fields.List(fields.Nested(DeadlineStageSchema), required=True)
    overridden = fields.List(fields.Nested(OverriddenSchema), required=True,
                             metadata={"description": "Looser deadlines for the same clock from other rules"})
    paused = fields.Dict(keys=fields.String(), values=fields.Float())


class ClockStatusSchema(Schema):
    clock = fields.String(required=True)
    due = fields.String(required=True, metadata={"format": "date-time"})
    breached = fields.Boolean(required=True)
    elapsed_working_hours = fields.Float(required=True)
    remaining_working_hours = fields.Float(required=True)
    remaining_seconds = fields.Integer(required=True)
    paused_now = fields.Boolean(required=True)


class ActiveStepSchema(Schema):
    step = fields.Integer(required=True)
    role = fields.String(required=True)
    since = fields.String(required=True, metadata={"format": "date-time"})


class DueStatusSchema(Schema):
    at = fields.String(required=True, metadata={"format": "date-time"})
    clocks = fields.List(fields.Nested(ClockStatusSchema), required=True)
    breached = fields.List(fields.String(), required=True)
    escalation_step = fields.Nested(ActiveStepSchema, required=True, allow_none=True)


class EscalationSchema(Schema):
    path = fields.String(required=True)
    label = fields.Nested(LabelSchema, required=True)
    steps = fields.List(fields.Nested(StepSchema), required=True)


class TraceEntrySchema(Schema):
    stage = fields.String(required=True, validate=validate.OneOf(["category", "priority", "compensation",
                                                                  "escalation", "deadline"]))
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
    deadlines = fields.List(fields.Nested(DeadlineSchema), required=True)
    status = fields.Nested(DueStatusSchema, metadata={"description": "Only when evaluated 'at' a given time"})
    trace = fields.List(fields.Nested(TraceEntrySchema), required=True)
    warnings = fields.List(fields.String(), required=True)
