"""Decisions carry explainable deadlines and an escalation timeline; `at` reports what is due."""

from datetime import datetime

import pytest

from policy_service.errors import PolicyLoadError
from policy_service.policy import load_policy

from conftest import FIXED_NOW, complaint


def _cn(**fields):
    base = {"received_at": "2025-09-26T10:00:00+08:00", "customer": {"jurisdiction": "CN"}}
    base.update(fields)
    return complaint(**base)


def _by_clock(decision):
    return {d["clock"]: d for d in decision["deadlines"]}


def test_default_policy_decisions_carry_deadlines(decider):
    deadlines = _by_clock(decider.decide(_cn(text="parcel never arrived"), FIXED_NOW))
    assert set(deadlines) == {"acknowledge", "resolve"}
    resolve = deadlines["resolve"]
    assert resolve["due"] == "2025-10-16T18:00:00+08:00"
    assert resolve["calendar"] == "cn_mainland"
    assert resolve["rule"] == "cn_resolve_consumer" and resolve["file"].endswith("deadlines.yaml")
    assert resolve["duration"] == {"business_days": 10}


def test_uk_complaints_use_the_england_calendar(decider):
    payload = complaint(received_at="2025-04-17T10:00:00+01:00", text="broken kettle",
                        customer={"jurisdiction": "GB-ENG"})
    deadlines = _by_clock(decider.decide(payload, FIXED_NOW))
    assert deadlines["acknowledge"]["due"] == "2025-04-22T17:30:00+01:00"
    assert deadlines["resolve"]["due"] == "2025-05-13T17:30:00+01:00"  # skips the Early May bank holiday


def test_the_strictest_rule_for_a_clock_wins_and_the_other_is_named(decider):
    payload = _cn(text="12315 已投诉：充电器起火", channel="regulator")
    first = _by_clock(decider.decide(payload, FIXED_NOW))["first_response"]
    assert first["rule"] == "cn_safety_first_response"
    assert first["due"] == "2025-09-26T14:00:00+08:00"
    assert first["overridden"] == [{"rule": "cn_regulator_referral_reply", "due": "2025-10-13T18:00:00+08:00"}]
    applied = {t["rule"]: t["applied"] for t in decider.decide(payload, FIXED_NOW)["trace"]
               if t["stage"] == "deadline"}
    assert applied["cn_safety_first_response"] is True and applied["cn_regulator_referral_reply"] is False


@pytest.mark.parametrize("attributes, stage, due", [
    ({}, "standard", "2025-10-11T23:59:59+08:00"),
    ({"complex_case": True}, "complex", "2025-10-27T23:59:59+08:00"),  # 26 Oct is a Sunday
    ({"complex_case": True, "extension_approved": True}, "senior_approval", "2025-11-25T23:59:59+08:00"),
], ids=["a simple bank complaint has 15 days", "a complex one 30", "with senior approval 60"])
def test_staged_limits_unlock_by_complaint_field(decider, attributes, stage, due):
    payload = _cn(text="信用卡多扣费", product={"type": "credit_card"}, attributes=attributes)
    deadline = _by_clock(decider.decide(payload, FIXED_NOW))["regulatory_final_response"]
    assert deadline["stage"] == stage
    assert deadline["due"] == due
    assert [s["name"] for s in deadline["stages"]] == ["standard", "complex", "senior_approval"]


def test_payment_services_exceptional_limit(decider):
    payload = complaint(received_at="2025-04-17T10:00:00+01:00", text="transfer lost", product={"type": "payment_service"},
                        customer={"jurisdiction": "GB-ENG"}, attributes={"holding_response_sent": True})
    deadline = _by_clock(decider.decide(payload, FIXED_NOW))["regulatory_final_response"]
    assert (deadline["stage"], deadline["due"]) == ("exceptional", "2025-06-11T17:30:00+01:00")


def test_pauses_stop_only_pausable_clocks(decider):
    pause = [{"from": "2025-09-29T09:00:00+08:00", "to": "2025-10-10T09:00:00+08:00", "reason": "external testing"}]
    plain = _by_clock(decider.decide(_cn(text="质量问题"), FIXED_NOW))
    paused = _by_clock(decider.decide(_cn(text="质量问题", pauses=pause), FIXED_NOW))
    assert paused["acknowledge"]["due"] == plain["acknowledge"]["due"]
    assert paused["resolve"]["due"] > plain["resolve"]["due"]
    assert paused["resolve"]["paused"] == {"business_days": 3}  # 29 and 30 Sep, 9 Oct


def test_a_deadline_in_an_uncovered_year_is_provisional(decider):
    payload = _cn(received_at="2027-01-04T10:00:00+08:00", text="质量问题")
    resolve = _by_clock(decider.decide(payload, FIXED_NOW))["resolve"]
    assert resolve["provisional"] is True
    assert "not in the installed holiday data" in resolve["provisional_reason"]


def test_the_escalation_timeline_has_absolute_times(decider):
    escalation = decider.decide(_cn(text="nothing special"), FIXED_NOW)["escalation"]
    assert [(s["role"], s["at"], s["trigger"]) for s in escalation["steps"]] == [
        ("frontline_agent", "2025-09-26T10:00:00+08:00", "0 hours after receipt"),
        ("team_lead", "2025-10-10T14:00:00+08:00", "50% of resolve"),
        ("complaints_manager", "2025-10-14T11:30:00+08:00", "75% of resolve"),
        ("head_of_complaints", "2025-10-16T18:00:00+08:00", "breach of resolve"),
    ]


def test_a_step_whose_clock_does_not_apply_says_why(decider):
    escalation = decider.decide(complaint(text="nothing special"), FIXED_NOW)["escalation"]
    assert escalation["steps"][1]["at"] is None
    assert escalation["steps"][1]["pending"] == "no 'resolve' deadline applies to this complaint"


def test_status_at_a_time_reports_breaches_and_the_active_step(decider):
    at = datetime.fromisoformat("2025-10-14T12:00:00+08:00")
    status = decider.decide(_cn(text="nothing special"), FIXED_NOW, at=at)["status"]
    clocks = {c["clock"]: c for c in status["clocks"]}
    assert status["breached"] == ["acknowledge"]
    assert clocks["resolve"]["remaining_working_hours"] == 24.0
    assert clocks["resolve"]["elapsed_working_hours"] == 74.0
    assert status["escalation_step"] == {"step": 3, "role": "complaints_manager",
                                         "since": "2025-10-14T11:30:00+08:00"}


def test_status_excludes_paused_time_from_elapsed(decider):
    at = datetime.fromisoformat("2025-10-14T12:00:00+08:00")
    payload = _cn(text="nothing special", status="paused", pauses=[{"from": "2025-10-13T09:00:00+08:00"}])
    resolve = {c["clock"]: c for c in decider.decide(payload, FIXED_NOW, at=at)["status"]["clocks"]}["resolve"]
    assert resolve["paused_now"] is True
    assert resolve["elapsed_working_hours"] == 62.0


LINT = """\
    apiVersion: complaint-policy/v1
    calendars:
      - id: cn
        time_zone: Asia/Shanghia
        country: CN
        working_hours: {start: "09:00", end: 18:00}
    clocks:
      - id: resolve
        label: {en: Resolve, zh: 处理}
        maximum: {business_days: 10}
    rules:
      - id: too_long
        then:
          deadline:
            clock: resolve
            calendar: cn
            duration: {business_days: 15}
            extensions:
              - {name: shorter, duration: {business_days: 5}, unlocked_by: attributes.x}
      - id: bad_unit
        then:
          deadline: {clock: resolv, calendar: cn, duration: {fortnights: 2}}
    """


def test_deadline_problems_are_reported_at_load(write_policy):
    with pytest.raises(PolicyLoadError) as caught:
        load_policy(write_policy({"d.yaml": LINT}))
    rendered = [p.render().split(f"{p.file.rsplit('/', 1)[0]}/", 1)[-1] for p in caught.value.problems
                if p.file.endswith("d.yaml")]
    assert rendered == [
        "d.yaml:4:16: unknown IANA time zone 'Asia/Shanghia'; did you mean 'Asia/Shanghai'? (invalid-value)",
        "d.yaml:6:42: end must be quoted (\"18:00\"): unquoted, YAML reads it as a number (wrong-type)",
        "d.yaml:15:9: limit 'standard' (15 business days) is longer than clock 'resolve' maximum (10 business days) "
        "(exceeds-maximum)",
        "d.yaml:19:39: extension 'shorter' (5 business days) must not be shorter than the limit before it "
        "(15 business days) (invalid-duration)",
        "d.yaml:22:25: unknown clock 'resolv'; did you mean 'resolve'? (unknown-reference)",
        "d.yaml:22:58: unknown unit 'fortnights' (invalid-duration)",
    ]
