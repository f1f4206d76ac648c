"""The complaint payload: its marshmallow schema and the catalogue of fields rules may test."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from .errors import ComplaintInvalid, FieldError

# Sizes are generous for real traffic and keep one request cheap and within engine limits.
MAX_TEXT_CHARS = 256 * 1024
MAX_TAGS = 100
MAX_ATTRIBUTES = 100
MAX_LIST_ITEMS = 256
MAX_ORDER_VALUE = 10**12

CHANNELS = ("phone", "email", "web", "chat", "social_media", "letter", "in_person", "app", "regulator", "other")

# Field paths rules may test, and the kind of value each holds. `attributes.<name>` is free-form.
FIELD_TYPES: dict[str, str] = {
    "id": "string",
    "received_at": "datetime",
    "channel": "string",
    "text": "string",
    "language": "string",
    "customer.id": "string",
    "customer.tier": "string",
    "customer.vulnerable": "boolean",
    "customer.jurisdiction": "string",
    "product.type": "string",
    "product.name": "string",
    "product.sku": "string",
    "order.value": "number",
    "order.currency": "string",
    "order.purchased_at": "datetime",
    "order.days_since_purchase": "number",
    "tags": "list",
    "status": "string",
}
ATTRIBUTES_PREFIX = "attributes."


# How order.value is published in JSON Schema and OpenAPI: apispec renders a Decimal field's bounds as
# text, so the accepted forms are stated here once.
ORDER_VALUE_JSON_SCHEMA = {
    "description": "Order value in the currency's major unit, e.g. 899.00",
    "oneOf": [{"type": "number", "minimum": 0, "maximum": MAX_ORDER_VALUE},
              {"type": "string", "pattern": r"^\d{1,13}(\.\d+)?$"}],
}


def field_type(path: str) -> str | None:
    """Return the kind of value at a field path ('any' for attributes), or None if unknown."""
    if path in FIELD_TYPES:
        return FIELD_TYPES[path]
    if path.startswith(ATTRIBUTES_PREFIX) and len(path) > len(ATTRIBUTES_PREFIX):
        return "any"
    return None


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class CustomerSchema(_Strict):
    id = fields.String(validate=validate.Length(1, 128))
    tier = fields.String(validate=validate.Length(1, 64))
    vulnerable = fields.Boolean(truthy={True}, falsy={False})
    jurisdiction = fields.String(validate=validate.Regexp(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$",
                                                          error="must be an ISO 3166 code such as CN or GB-ENG"))


class ProductSchema(_Strict):
    type = fields.String(validate=validate.Length(1, 128))
    name = fields.String(validate=validate.Length(1, 512))
    sku = fields.String(validate=validate.Length(1, 128))


class OrderSchema(_Strict):
    value = fields.Decimal(validate=validate.Range(min=0, max=MAX_ORDER_VALUE), allow_nan=False, as_string=True,
                           metadata={"description": "Order value in the currency's major unit, e.g. 899.00"})
    currency = fields.String(validate=validate.Regexp(r"^[A-Z]{3}$", error="must be an ISO 4217 code such as CNY"))
    purchased_at = fields.AwareDateTime(format="iso")

    @validates_schema
    def _currency_with_value(self, data, **kwargs):
        if "value" in data and "currency" not in data:
            raise ValidationError("is required when order.value is given", field_name="currency")


def _check_attributes(value: Any) -> None:
    if len(value) > MAX_ATTRIBUTES:
        raise ValidationError(f"at most {MAX_ATTRIBUTES} attributes")
    for key, item in value.items():
        _check_attribute_value(item, key, depth=1)


def _check_attribute_value(item: Any, where: str, depth: int) -> None:
    if depth > 4:
        raise ValidationError(f"{where}: nested deeper than 4 levels")
    if isinstance(item, float) and not math.isfinite(item):
        raise ValidationError(f"{where}: numbers must be finite")
    if isinstance(item, int) and not isinstance(item, bool) and abs(item) > 10**15:
        raise ValidationError(f"{where}: integer out of range (|n| <= 10^15)")
    if isinstance(item, list):
        if len(item) > MAX_LIST_ITEMS:
            raise ValidationError(f"{where}: at most {MAX_LIST_ITEMS} items")
        for index, sub in enumerate(item):
            _check_attribute_value(sub, f"{where}[{index}]", depth + 1)
    elif isinstance(item, dict):
        if len(item) > MAX_ATTRIBUTES:
            raise ValidationError(f"{where}: at most {MAX_ATTRIBUTES} keys")
        for key, sub in item.items():
            _check_attribute_value(sub, f"{where}.{key}", depth + 1)


STATUSES = ("open", "paused", "resolved", "closed")
MAX_PAUSES = 50


class PauseSchema(_Strict):
    """An interval during which pausable clocks stop, e.g. external testing (China's rule excludes it)."""

    start = fields.AwareDateTime(required=True, format="iso", data_key="from")
    end = fields.AwareDateTime(format="iso", data_key="to", metadata={"description": "absent while ongoing"})
    reason = fields.String(validate=validate.Length(1, 256))

    @validates_schema
    def _ordered(self, data, **kwargs):
        if "end" in data and data["end"] <= data["start"]:
            raise ValidationError("must be after 'from'", field_name="to")


class ComplaintSchema(_Strict):
    """A complaint as ticketing systems send it."""

    id = fields.String(required=True, validate=[validate.Length(1, 128), validate.Regexp(
        r"^[^\x00-\x1f\x7f]+$", error="must not contain control characters")])
    received_at = fields.AwareDateTime(required=True, format="iso")
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    text = fields.String(required=True, validate=validate.Length(1, MAX_TEXT_CHARS))
    language = fields.String(validate=validate.Regexp(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
                                                      error="must be a BCP 47 tag such as zh-CN or en"))
    customer = fields.Nested(CustomerSchema)
    product = fields.Nested(ProductSchema)
    order = fields.Nested(OrderSchema)
    tags = fields.List(fields.String(validate=validate.Length(1, 128)), validate=validate.Length(max=MAX_TAGS))
    attributes = fields.Dict(keys=fields.String(validate=validate.Length(1, 64)), validate=_check_attributes)
    status = fields.String(validate=validate.OneOf(STATUSES))
    pauses = fields.List(fields.Nested(PauseSchema), validate=validate.Length(max=MAX_PAUSES))


_SCHEMA = ComplaintSchema()


def _flatten(messages: Any, prefix: str = "") -> list[FieldError]:
    out: list[FieldError] = []
    if isinstance(messages, dict):
        for key, sub in messages.items():
            if key == "_schema":
                out.extend(_flatten(sub, prefix))
                continue
            part = f"[{key}]" if isinstance(key, int) else (f".{key}" if prefix else str(key))
            out.extend(_flatten(sub, prefix + part))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out.extend(FieldError(prefix or "$", m) for m in messages)
    elif isinstance(messages, list):
        for sub in messages:
            out.extend(_flatten(sub, prefix))
    else:
        out.append(FieldError(prefix or "$", str(messages)))
    return out


def parse_complaint(payload: Any) -> dict:
    """Validate a complaint payload; return it typed (datetimes, Decimal) or raise ComplaintInvalid."""
    if not isinstance(payload, dict):
        raise ComplaintInvalid([FieldError("$", "a complaint must be a JSON object")])
    try:
        return _SCHEMA.load(payload)
    except ValidationError as exc:
        raise ComplaintInvalid(_flatten(exc.messages)) from None


def days_between(start: datetime, end: datetime) -> int:
    """Whole calendar days from `start` to `end`, counted in the time zone of `end`."""
    return (end.date() - start.astimezone(end.tzinfo).date()).days
