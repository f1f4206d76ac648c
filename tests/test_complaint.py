"""Complaint payload validation names each bad field by its JSON path."""

import pytest

from policy_service.complaint import parse_complaint
from policy_service.errors import ComplaintInvalid

from conftest import complaint

BAD = [
    ("a list is not a complaint", [], ["$"]),
    ("id and text are required", {"received_at": "2025-01-01T00:00:00+00:00"}, ["id", "text"]),
    ("received_at needs an offset", complaint(received_at="2025-01-01T00:00:00"), ["received_at"]),
    ("channel must be known", complaint(channel="pigeon"), ["channel"]),
    ("unknown fields are refused", complaint(extra=1), ["extra"]),
    ("nested unknown fields are refused", complaint(customer={"name": "x"}), ["customer.name"]),
    ("vulnerable must be a boolean", complaint(customer={"vulnerable": "yes"}), ["customer.vulnerable"]),
    ("jurisdiction must be ISO 3166", complaint(customer={"jurisdiction": "China"}), ["customer.jurisdiction"]),
    ("order value must not be negative", complaint(order={"value": -5, "currency": "CNY"}), ["order.value"]),
    ("order value needs a currency", complaint(order={"value": 5}), ["order.currency"]),
    ("order value must be finite", complaint(order={"value": "NaN", "currency": "CNY"}), ["order.value"]),
    ("tags must be text", complaint(tags=["ok", 3]), ["tags[1]"]),
    ("attributes must be a mapping", complaint(attributes=[1]), ["attributes"]),
    ("attributes must not hold huge integers", complaint(attributes={"n": 10**20}), ["attributes"]),
    ("text must not be empty", complaint(text=""), ["text"]),
]


@pytest.mark.parametrize("payload, paths", [(p, e) for _, p, e in BAD], ids=[name for name, _, _ in BAD])
def test_bad_complaint_names_the_field(payload, paths):
    with pytest.raises(ComplaintInvalid) as caught:
        parse_complaint(payload)
    assert sorted({e.path for e in caught.value.errors}) == paths


def test_a_64_kib_text_is_accepted():
    parsed = parse_complaint(complaint(text="投" * 65_536))
    assert len(parsed["text"]) == 65_536
