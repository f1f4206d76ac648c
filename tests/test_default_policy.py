"""The default policy is valid and decides its shipped examples correctly in both scripts and English."""

import json

import pytest

from policy_service.text import normalize_text

from conftest import FIXED_NOW, RULES, complaint, load_cases

EXAMPLES = load_cases("default_examples.yaml")


@pytest.mark.parametrize("case", EXAMPLES, ids=[f"{c['example']} is {c['categories'][0]} at {c['priority']}"
                                                for c in EXAMPLES])
def test_example_decision(case, decider):
    payload = json.loads((RULES / "examples" / f"{case['example']}.json").read_text(encoding="utf-8"))
    decision = decider.decide(payload, FIXED_NOW)
    assert [c["id"] for c in decision["categories"]] == case["categories"]
    assert decision["priority"]["id"] == case["priority"]
    assert (decision["compensation"] or {}).get("tier") == case["tier"]
    if "amount" in case:
        amount = decision["compensation"]["amount"]
        assert f"{amount['value']} {amount['currency']}" == case["amount"]
    assert decision["escalation"]["path"] == case["path"]


def test_every_example_is_covered():
    shipped = sorted(p.stem for p in (RULES / "examples").glob("*.json"))
    assert shipped == sorted(c["example"] for c in EXAMPLES)


@pytest.mark.parametrize("text", ["产品漏电，差点触电", "產品漏電，差點觸電", "The charger gave me an electric shock"],
                         ids=["simplified", "traditional", "english"])
def test_safety_complaints_rank_first_in_every_script(text, decider):
    decision = decider.decide(complaint(text=text), FIXED_NOW)
    assert decision["primary_category"] == "product_safety"
    assert decision["priority"]["rank"] == 1


def test_every_category_has_english_and_chinese_labels(default_program):
    for category in default_program.policy.categories:
        assert category.label.en and category.label.zh
        assert normalize_text(category.label.zh) != normalize_text(category.label.en)
