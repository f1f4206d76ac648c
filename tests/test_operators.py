"""Every condition operator, on both backends, with its positive and negative cases."""

import json

import pytest
import yaml

from policy_service.decide import Decider
from policy_service.policy import load_policy

from conftest import BACKENDS, FIXED_NOW, complaint, load_cases

CASES = load_cases("operators.yaml")


def _policy_with(write_policy, when: dict):
    return write_policy({"categories.yaml": yaml.safe_dump(
        {"apiVersion": "complaint-policy/v1",
         "categories": [{"id": "hit", "label": {"en": "Hit", "zh": "命中"}, "when": when}]},
        allow_unicode=True)}, precedence="hit")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_condition(case, backend, write_policy):
    decider = Decider(load_policy(_policy_with(write_policy, case["when"])), backend=backend)
    decision = decider.decide(json.loads(json.dumps(complaint(**case["complaint"]))), FIXED_NOW)
    matched = [c["id"] for c in decision["categories"]] == ["hit"]
    assert matched is case["holds"]
