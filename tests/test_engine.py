"""durable-rules quirks are contained: long texts, reserved names, sessions, crashes, limits, threads."""

import json
import os
import subprocess
import sys
import textwrap
import threading

import pytest
import yaml

from policy_service.decide import Decider
from policy_service.errors import PolicyLoadError
from policy_service.engine import DurableBackend, to_durable
from policy_service.policy import load_policy
from policy_service.policy.compile import Has, HasNot, Missing, Or

from conftest import FIXED_NOW, ROOT, complaint


def _category_policy(write_policy, when: dict):
    return load_policy(write_policy({"categories.yaml": yaml.safe_dump(
        {"apiVersion": "complaint-policy/v1",
         "categories": [{"id": "hit", "label": {"en": "Hit", "zh": "命中"}, "when": when}]},
        allow_unicode=True)}, precedence="hit"))


def _hit(decider, **fields) -> bool:
    return [c["id"] for c in decider.decide(complaint(**fields), FIXED_NOW)["categories"]] == ["hit"]


def test_a_keyword_at_the_end_of_a_long_text_is_found(write_policy):
    program = _category_policy(write_policy, {"field": "text", "contains_any": ["起火"]})
    text = "好" * 70_000 + "起火"  # over 200 KB of UTF-8, far past the engine's 16-bit string lengths
    assert _hit(Decider(program), text=text)
    assert not _hit(Decider(program), text="好" * 70_000)


def test_long_strings_compare_in_full(write_policy):
    long_value = "x" * 70_000
    program = _category_policy(write_policy, {"field": "attributes.note", "equals": long_value})
    decider = Decider(program)
    assert _hit(decider, attributes={"note": long_value})
    assert not _hit(decider, attributes={"note": "x" * 69_999 + "y"})
    assert not _hit(decider, attributes={"note": "x" * (70_000 + 65_536)})


def test_reserved_engine_names_are_plain_attributes(write_policy):
    program = _category_policy(write_policy, {"all": [{"field": "attributes.sid", "equals": "s1"},
                                                      {"field": "attributes.id", "equals": "i1"}]})
    decider = Decider(program)
    assert _hit(decider, id="sid", attributes={"sid": "s1", "id": "i1"})
    assert not _hit(decider, attributes={"sid": "s2", "id": "i1"})


def test_sessions_are_deleted_after_every_evaluation(default_program):
    decider = Decider(default_program)
    for number in range(3000):  # the engine keeps at most 1024 live sessions per ruleset
        decider.decide(complaint(id=f"c-{number}", text="nothing in particular"), FIXED_NOW)


def test_evaluation_is_deterministic(default_program):
    payload = complaint(text="屏幕坏了，我要退款，否则起诉", order={"value": 1200, "currency": "CNY"})
    first, second = (Decider(default_program).decide(payload) for _ in range(2))
    first.pop("evaluated_at"), second.pop("evaluated_at")
    assert first == second


def test_concurrent_evaluations_do_not_mix(default_program):
    decider = Decider(default_program)
    texts = {"fire": "the charger caught fire", "late": "parcel never arrived", "rude": "the agent was rude"}
    expected = {key: decider.decide(complaint(text=text), FIXED_NOW) for key, text in texts.items()}
    wrong = []

    def work(key: str) -> None:
        for _ in range(200):
            if decider.decide(complaint(text=texts[key]), FIXED_NOW) != expected[key]:
                wrong.append(key)

    threads = [threading.Thread(target=work, args=(key,)) for key in texts for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def test_negations_use_the_sentinel_so_empty_arrays_work():
    assert to_durable(HasNot("tags", "vip")) == [{"$iall": {"tags": {"$neq": {"$i": "vip"}}}}]
    assert to_durable(Or((Missing("n1"), Has("hits", "t0")))) == [
        {"$or": [{"$nex": {"n1": 1}}, {"$iany": {"hits": {"$i": "t0"}}}]}]


CRASH_SCRIPT = textwrap.dedent("""\
    import sys
    sys.path.insert(0, {root!r})
    from policy_service.decide import Decider
    from policy_service.policy import load_policy
    first = Decider(load_policy({a!r}))
    first.decide({{"id": "1", "received_at": "2025-01-01T00:00:00+00:00", "text": "hit"}})
    for round in range(50):
        # a fresh ruleset, then a complaint that matches none of its rules: the durable-rules
        # double free (notes §4 #1) strikes when such a session is deleted
        other = Decider(load_policy({b!r}))
        for n in range(20):
            other.decide({{"id": str(n), "received_at": "2025-01-01T00:00:00+00:00", "text": "miss"}})
    print("survived")
    """)


def test_sessions_where_no_rule_matched_are_deleted_without_crashing(write_policy):
    a = write_policy({"c.yaml": """\
        apiVersion: complaint-policy/v1
        categories:
          - {id: hit, label: {en: H, zh: 中}, when: {field: text, contains_any: [hit]}}
        """}, precedence="hit")
    b = write_policy({"c.yaml": """\
        apiVersion: complaint-policy/v1
        categories:
          - {id: other, label: {en: O, zh: 他}, when: {field: text, contains_any: [zzz]}}
        """}, precedence="other")
    script = CRASH_SCRIPT.format(root=str(ROOT), a=str(a), b=str(b))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, MALLOC_PERTURB_="165"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "survived"


LIMIT_SCRIPT = textwrap.dedent("""\
    import sys, json
    sys.path.insert(0, {root!r})
    from policy_service.decide import Decider
    from policy_service.policy import load_policy
    decision = Decider(load_policy({policy!r})).decide(
        {{"id": "1", "received_at": "2025-01-01T00:00:00+00:00", "text": "x", "tags": ["t"]}})
    print(json.dumps(len(decision["categories"])))
    """)


def _many_categories(write_policy, count: int):
    """A policy whose `count` categories all match the same complaint."""
    categories = [{"id": f"c{n}", "label": {"en": "C", "zh": "C"}, "when": {"field": "tags", "includes": "t"}}
                  for n in range(count)]
    return write_policy({"c.yaml": yaml.safe_dump({"apiVersion": "complaint-policy/v1", "categories": categories})},
                        precedence=", ".join(c["id"] for c in categories))


def test_a_stage_at_the_compilers_limit_runs_in_the_engine(write_policy):
    directory = _many_categories(write_policy, 63)
    result = subprocess.run([sys.executable, "-c", LIMIT_SCRIPT.format(root=str(ROOT), policy=str(directory))],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout) == 63


def test_one_more_branch_is_refused_at_load(write_policy):
    directory = _many_categories(write_policy, 64)
    with pytest.raises(PolicyLoadError, match="expand to 64 alternative branches together"):
        load_policy(directory)


def test_each_backend_instance_has_its_own_ruleset(default_program):
    assert DurableBackend(default_program).ruleset_name != DurableBackend(default_program).ruleset_name


def test_stages_share_a_fact_only_when_independent_and_within_the_limit(write_policy):
    from policy_service.policy.compile import group_stages

    directory = write_policy({"r.yaml": """\
        apiVersion: complaint-policy/v1
        categories:
          - {id: a, label: {en: A, zh: A}, when: {field: text, contains_any: [a]}}
        compensation_tiers:
          - {id: sorry, label: {en: S, zh: S}, remedy: apology}
        escalation_paths:
          - {id: up, label: {en: U, zh: U}, steps: [{role: boss}]}
        rules:
          - {id: p, when: {category: a}, then: {priority: TOP}}
          - {id: c, when: {category: a}, then: {compensation: sorry}}
          - {id: e, when: {compensation: sorry}, then: {escalation: up}}
        """}, precedence="a")
    program = load_policy(directory)
    names = [[program.stages[i].name for i in group.stages] for group in program.groups]
    assert names == [["category"], ["priority", "compensation"], ["escalation", "deadline"]]
    stages = tuple(type(program.stages[0])(s.name, s.rules * 40, s.keys) for s in program.stages)
    split = [[stages[i].name for i in group.stages] for group in group_stages(stages)]
    assert split == [["category"], ["priority"], ["compensation"], ["escalation", "deadline"]]
