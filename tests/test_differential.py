"""Random policies and complaints: durable-rules and the reference evaluator must decide alike."""

from datetime import datetime, timezone

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_service.decide import Decider
from policy_service.errors import PolicyLoadError
from policy_service.policy import load_policy

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
CHANNELS = ["email", "phone", "web"]
WORDS = ["退款", "投訴", "refund", "fire", "late"]

leaf = st.one_of(
    st.builds(lambda v: {"field": "channel", "equals": v}, st.sampled_from(CHANNELS)),
    st.builds(lambda v: {"field": "channel", "in": v}, st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=2,
                                                                 unique=True)),
    st.builds(lambda v: {"field": "order.value", "at_least": v}, st.integers(0, 300)),
    st.builds(lambda v: {"field": "order.value", "less_than": v}, st.integers(0, 300)),
    st.builds(lambda v: {"field": "tags", "includes": v}, st.sampled_from(["vip", "press"])),
    st.builds(lambda v: {"field": "customer.vulnerable", "equals": v}, st.booleans()),
    st.builds(lambda v: {"field": "customer.tier", "exists": v}, st.booleans()),
    st.builds(lambda v: {"field": "text", "contains_any": v}, st.lists(st.sampled_from(WORDS), min_size=1,
                                                                       max_size=2, unique=True)),
)
conditions = st.recursive(leaf, lambda inner: st.one_of(
    st.builds(lambda items: {"all": items}, st.lists(inner, min_size=1, max_size=3)),
    st.builds(lambda items: {"any": items}, st.lists(inner, min_size=1, max_size=3)),
    st.builds(lambda item: {"not": item}, inner)), max_leaves=6)

complaints = st.builds(
    lambda n, channel, value, tags, vulnerable, tier, words: {
        "id": f"c-{n}", "received_at": "2025-09-26T10:00:00+08:00", "text": " ".join(words) or "hello",
        **({"channel": channel} if channel else {}),
        **({"order": {"value": value, "currency": "CNY"}} if value is not None else {}),
        **({"tags": tags} if tags is not None else {}),
        "customer": {**({"vulnerable": vulnerable} if vulnerable is not None else {}),
                     **({"tier": tier} if tier else {})}},
    st.integers(0, 10**6), st.sampled_from(CHANNELS + [None]), st.one_of(st.none(), st.integers(0, 300)),
    st.one_of(st.none(), st.lists(st.sampled_from(["vip", "press", "other"]), max_size=2)),
    st.one_of(st.none(), st.booleans()), st.sampled_from([None, "gold"]), st.lists(st.sampled_from(WORDS + ["x"]),
                                                                                   max_size=3))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(category_conditions=st.lists(conditions, min_size=1, max_size=3), priority_condition=conditions,
       samples=st.lists(complaints, min_size=5, max_size=5))
def test_engine_and_reference_agree_on_random_policies(write_policy, category_conditions, priority_condition,
                                                       samples):
    categories = [{"id": f"k{n}", "label": {"en": "K", "zh": "K"}, "when": when}
                  for n, when in enumerate(category_conditions)]
    rules = [{"id": "raise", "when": {"all": [{"category": "k0"}, priority_condition]}, "then": {"priority": "MID"}},
             {"id": "top", "when": {"not": priority_condition}, "then": {"priority": "TOP"}}]
    directory = write_policy({"p.yaml": yaml.safe_dump({"apiVersion": "complaint-policy/v1", "categories": categories,
                                                        "rules": rules}, allow_unicode=True)},
                             precedence=", ".join(c["id"] for c in categories))
    try:
        program = load_policy(directory)
    except PolicyLoadError as exc:
        assert all(p.code == "engine-limit" for p in exc.problems), exc
        return
    engine, reference = Decider(program, "durable"), Decider(program, "reference")
    for complaint in samples:
        assert engine.decide(complaint, NOW) == reference.decide(complaint, NOW), complaint
