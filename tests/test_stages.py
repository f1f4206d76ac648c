"""Each stage resolves what fired: category precedence, highest priority, tier conflicts, path seniority."""

import pytest

from policy_service.decide import Decider
from policy_service.policy import load_policy

from conftest import BACKENDS, FIXED_NOW, complaint

CATEGORIES = """\
    apiVersion: complaint-policy/v1
    categories:
      - id: alpha
        label: {en: Alpha, zh: 甲}
        when: {field: text, contains_any: [alpha]}
      - id: beta
        label: {en: Beta, zh: 乙}
        flags: [privacy]
        when: {field: text, contains_any: [beta]}
      - id: other
        label: {en: Other, zh: 其他}
    """

RULES = """\
    apiVersion: complaint-policy/v1
    compensation_tiers:
      - id: refund
        label: {en: Refund, zh: 退款}
        remedy: refund
        amount: {percent_of_order: 100, currency: CNY}
        approval_above: 1000
      - id: punitive
        label: {en: Three times, zh: 三倍}
        remedy: punitive_damages
        amount: {percent_of_order: 300, floor: 500, cap: 20000, currency: CNY}
      - id: voucher
        label: {en: Voucher, zh: 代金券}
        remedy: voucher
        amount: {fixed: 20, currency: CNY}
    escalation_paths:
      - id: senior
        label: {en: Senior, zh: 高级}
        steps: [{role: manager, notify: [boss@example.com]}]
      - id: normal
        label: {en: Normal, zh: 普通}
        steps: [{role: agent}]
    rules:
      - id: beta_is_mid
        when: {category: beta}
        then: {priority: MID}
      - id: vip_is_top
        when: {field: tags, includes: vip}
        then: {priority: TOP}
      - id: alpha_refund
        when: {category: alpha}
        then: {compensation: refund}
      - id: alpha_punitive
        when: {all: [{category: alpha}, {field: tags, includes: fraud}]}
        then: {compensation: punitive}
      - id: mid_voucher
        when: {priority: MID}
        then: {compensation: voucher}
      - id: top_goes_senior
        when: {priority: TOP}
        then: {escalation: senior}
      - id: voucher_goes_normal
        when: {compensation: voucher}
        then: {escalation: normal}
      - id: big_refund_goes_senior
        when: {all: [{compensation: refund}, {field: order.value, greater_than: 1000}]}
        then: {escalation: senior}
    """


@pytest.fixture(params=BACKENDS)
def decide(request, write_policy):
    def make(conflict="most_generous", default_category=True):
        directory = write_policy({"categories.yaml": CATEGORIES, "rules.yaml": RULES},
                                 precedence="beta, alpha, other", conflict=conflict)
        if default_category:
            policy_file = directory / "policy.yaml"
            policy_file.write_text(policy_file.read_text().replace("  default_priority: LOW\n",
                                                                   "  default_priority: LOW\n  default_category: other\n"))
        decider = Decider(load_policy(directory), backend=request.param)
        return lambda **fields: decider.decide(complaint(**fields), FIXED_NOW)
    return make


def test_precedence_picks_the_primary_category(decide):
    decision = decide()(text="alpha and beta")
    assert [c["id"] for c in decision["categories"]] == ["beta", "alpha"]
    assert decision["primary_category"] == "beta"
    assert decision["categories"][0]["flags"] == ["privacy"]


def test_default_category_applies_when_nothing_matches(decide):
    decision = decide()(text="nothing to see")
    assert decision["primary_category"] == "other"
    assert decision["trace"][0] == {"stage": "category", "rule": None, "reason": "policy.default_category",
                                    "decided": {"category": "other"}, "applied": True}


def test_highest_priority_wins(decide):
    decision = decide()(text="beta", tags=["vip"])
    assert decision["priority"] == {"id": "TOP", "rank": 1, "label": {"en": "Top", "zh": "最高"}}
    applied = {t["rule"]: t["applied"] for t in decision["trace"] if t["stage"] == "priority"}
    assert applied == {"beta_is_mid": False, "vip_is_top": True}


def test_default_priority_applies_when_no_rule_fires(decide):
    decision = decide()(text="alpha")
    assert decision["priority"]["id"] == "LOW"
    assert {"stage": "priority", "rule": None, "reason": "policy.default_priority",
            "decided": {"priority": "LOW"}, "applied": True} in decision["trace"]


def test_most_generous_tier_wins(decide):
    decision = decide()(text="alpha", tags=["fraud"], order={"value": 100, "currency": "CNY"})
    assert decision["compensation"]["tier"] == "punitive"
    assert decision["compensation"]["amount"] == {"value": "500.00", "currency": "CNY"}


def test_first_listed_tier_wins_when_the_policy_says_so(decide):
    decision = decide(conflict="first_listed")(text="alpha", tags=["fraud"], order={"value": 100, "currency": "CNY"})
    assert decision["compensation"]["tier"] == "refund"


def test_percentage_amount_is_capped(decide):
    decision = decide()(text="alpha", tags=["fraud"], order={"value": 9000, "currency": "CNY"})
    assert decision["compensation"]["amount"] == {"value": "20000.00", "currency": "CNY"}


def test_approval_threshold_is_applied(decide):
    small = decide()(text="alpha", order={"value": "999.99", "currency": "CNY"})
    large = decide()(text="alpha", order={"value": "1000.01", "currency": "CNY"})
    assert small["compensation"]["requires_approval"] is False
    assert large["compensation"]["requires_approval"] is True


def test_percentage_tier_in_another_currency_keeps_only_its_floor(decide):
    decision = decide()(text="alpha", tags=["fraud"], order={"value": 100, "currency": "GBP"})
    assert decision["compensation"]["amount"] == {"value": "500.00", "currency": "CNY"}
    assert decision["warnings"] == ["tier 'refund' is in CNY but the order is in GBP; no amount can be computed",
                                    "tier 'punitive' is in CNY but the order is in GBP; only its floor applies"]


def test_percentage_tier_without_order_value_has_no_amount(decide):
    decision = decide()(text="alpha")
    assert decision["compensation"]["tier"] == "refund"
    assert decision["compensation"]["amount"] is None


def test_later_stages_see_earlier_decisions(decide):
    decision = decide()(text="beta")
    assert decision["priority"]["id"] == "MID"
    assert decision["compensation"]["tier"] == "voucher"
    assert decision["escalation"]["path"] == "normal"


def test_senior_path_wins_over_junior(decide):
    decision = decide()(text="beta", tags=["vip"], order={"value": 2000, "currency": "CNY"})
    assert decision["escalation"] == {"path": "senior", "label": {"en": "Senior", "zh": "高级"},
                                      "steps": [{"role": "manager", "notify": ["boss@example.com"], "note": None,
                                                 "at": None, "trigger": None}]}


def test_no_compensation_and_no_escalation_are_null(decide):
    decision = decide()(text="nothing")
    assert decision["compensation"] is None
    assert decision["escalation"] is None


def test_trace_names_file_and_line(decide):
    decision = decide()(text="alpha")
    entry = next(t for t in decision["trace"] if t["rule"] == "alpha_refund")
    assert entry["file"].endswith("rules.yaml") and entry["line"] == 30
    assert entry["decided"] == {"compensation": "refund"}
