"""Turn the rules that fired into a decision: precedence, highest priority, tier conflicts, path seniority."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .calendar import BusinessCalendar, Counting, at_fraction, due_time
from .complaint import parse_complaint
from .policy import model as m
from .policy.compile import NO_VALUE, SENTINEL, CompiledPolicy, lookup

CENT = Decimal("0.01")


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


@dataclass
class _Resolution:
    """What each stage decided so far for one complaint; fed back into the next stage's fact."""

    program: CompiledPolicy
    complaint: dict
    now: datetime
    categories: list[str] = field(default_factory=list)
    category_default: bool = False
    priority: str = ""
    priority_rules: list[str] = field(default_factory=list)
    priority_winner: str | None = None
    tier: m.Tier | None = None
    tier_amount: dict | None = None
    tier_rules: list[str] = field(default_factory=list)
    tier_winner: str | None = None
    path: str | None = None
    path_rules: list[str] = field(default_factory=list)
    path_winner: str | None = None
    deadlines: dict = field(default_factory=dict)  # clock id -> winning candidate
    deadline_rules: list[dict] = field(default_factory=list)  # every fired deadline rule's candidate
    warnings: list[str] = field(default_factory=list)
    extras: dict = field(default_factory=dict)

    @property
    def policy(self) -> m.Policy:
        return self.program.policy

    def advance(self, stage_index: int, fired: list[str]) -> dict:
        """Resolve one stage from the rule ids that fired; return the facts later stages may test."""
        stage = m.STAGES[stage_index]
        getattr(self, f"_resolve_{stage}")(fired)
        return dict(self.extras)

    def _ordered_rules(self, fired: list[str]) -> list[m.Rule]:
        order = self.policy.order("rule")
        return sorted((self.policy.rule(rule_id) for rule_id in set(fired)), key=lambda r: order[r.id])

    def _resolve_category(self, fired: list[str]) -> None:
        rank = self.policy.order("category_precedence")
        self.categories = sorted(set(fired), key=lambda cid: rank[cid])
        if not self.categories and self.policy.default_category:
            self.categories = [self.policy.default_category]
            self.category_default = True
        flags = sorted({flag for cid in self.categories for flag in self.policy.category(cid).flags})
        self.extras["cats"] = [SENTINEL] + self.categories
        self.extras["flags"] = [SENTINEL] + flags

    def _resolve_priority(self, fired: list[str]) -> None:
        rules = self._ordered_rules(fired)
        self.priority_rules = [r.id for r in rules]
        best = min(rules, key=lambda r: self.policy.priority(r.outcome).rank, default=None)
        self.priority = best.outcome if best else self.policy.default_priority
        self.priority_winner = best.id if best else None
        self.extras["prio"] = self.priority

    def _resolve_compensation(self, fired: list[str]) -> None:
        rules = self._ordered_rules(fired)
        self.tier_rules = [r.id for r in rules]
        tier_order = self.policy.order("tier")
        candidates: dict[str, tuple[m.Rule, dict | None]] = {}
        for rule in rules:
            if rule.outcome not in candidates:
                candidates[rule.outcome] = (rule, self._amount(self.policy.tier(rule.outcome)))
        winner: tuple[m.Rule, dict | None] | None = None
        if candidates:
            if self.policy.compensation_conflict == "most_generous":
                def generosity(item):
                    rule, amount = item
                    value = Decimal(amount["value"]) if amount else Decimal(0)
                    return (-value, tier_order[rule.outcome])
                winner = min(candidates.values(), key=generosity)
            else:
                winner = min(candidates.values(), key=lambda item: tier_order[item[0].outcome])
        if winner:
            self.tier = self.policy.tier(winner[0].outcome)
            self.tier_amount = winner[1]
            self.tier_winner = winner[0].id
        self.extras["tier"] = self.tier.id if self.tier else NO_VALUE

    def _amount(self, tier: m.Tier) -> dict | None:
        spec = tier.amount
        if spec is None:
            return None
        if spec.fixed is not None:
            return {"value": _money(spec.fixed), "currency": spec.currency}
        order = self.complaint.get("order") or {}
        value = order.get("value")
        base: Decimal | None = None
        if value is not None and order.get("currency") == spec.currency:
            base = Decimal(value) * spec.percent_of_order / 100
        elif value is not None:
            consequence = "only its floor applies" if spec.floor is not None else "no amount can be computed"
            self.warnings.append(f"tier '{tier.id}' is in {spec.currency} but the order is in "
                                 f"{order.get('currency')}; {consequence}")
        amount = base if base is not None else Decimal(0)
        if spec.floor is not None:
            amount = max(amount, spec.floor)
        if spec.cap is not None:
            amount = min(amount, spec.cap)
        if base is None and spec.floor is None:
            return None
        return {"value": _money(amount), "currency": spec.currency}

    def _resolve_escalation(self, fired: list[str]) -> None:
        rules = self._ordered_rules(fired)
        self.path_rules = [r.id for r in rules]
        seniority = self.policy.order("path")
        best = min(rules, key=lambda r: seniority[r.outcome], default=None)
        self.path = best.outcome if best else self.policy.default_escalation
        self.path_winner = best.id if best else None

    def _resolve_deadline(self, fired: list[str]) -> None:
        for rule in self._ordered_rules(fired):
            candidate = self._deadline_candidate(rule)
            self.deadline_rules.append(candidate)
            best = self.deadlines.get(rule.outcome)
            if best is None or candidate["due"] < best["due"]:  # the strictest wins; ties keep policy order
                self.deadlines[rule.outcome] = candidate

    def pauses_for(self, clock: m.Clock) -> tuple:
        """The complaint's paused intervals that stop `clock` (open intervals end at evaluation time)."""
        if not clock.pausable:
            return ()
        return tuple((p["start"], p.get("end") or max(self.now, p["start"])) for p in self.complaint.get("pauses", []))

    def _deadline_candidate(self, rule: m.Rule) -> dict:
        spec = rule.deadline
        calendar = self.program.calendars[spec.calendar]
        clock = self.policy.clock(spec.clock)
        pauses = self.pauses_for(clock)
        received = self.complaint["received_at"]
        active = 0
        for index, stage in enumerate(spec.stages):
            if index and _truthy(lookup(self.complaint, stage.unlocked_by)):
                active = index
        stages = []
        for index, stage in enumerate(spec.stages):
            computed = due_time(calendar, received, stage.duration, spec.counting, pauses)
            stages.append({"stage": stage, "computed": computed, "active": index == active})
        chosen = stages[active]["computed"]
        return {"rule": rule, "clock": clock, "calendar": calendar, "spec": spec, "stages": stages,
                "due": chosen.due, "starts": chosen.starts, "provisional": any(s["computed"].provisional
                                                                                 for s in stages),
                "active": spec.stages[active]}


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "no", "0")
    return bool(value) if value is not None else False


def _iso(instant: datetime) -> str:
    return instant.isoformat(timespec="seconds")


def _deadline_view(candidate: dict, overridden: list[dict]) -> dict:
    spec: m.DeadlineSpec = candidate["spec"]
    rule: m.Rule = candidate["rule"]
    view = {
        "clock": spec.clock,
        "label": candidate["clock"].label.as_dict(),
        "due": _iso(candidate["due"]),
        "starts": _iso(candidate["starts"]),
        "calendar": spec.calendar,
        "duration": candidate["active"].duration.as_dict(),
        "stage": candidate["active"].name,
        "provisional": candidate["provisional"],
        "rule": rule.id,
        **_origin(rule.origin),
        "basis": spec.basis or None,
        "counting": {"day_zero": spec.counting.day_zero, "outside_hours": spec.counting.outside_hours,
                     "due_on_non_working_day": spec.counting.due_on_non_working_day},
        "stages": [{"name": s["stage"].name, "duration": s["stage"].duration.as_dict(),
                    "unlocked_by": s["stage"].unlocked_by, "due": _iso(s["computed"].due), "active": s["active"]}
                   for s in candidate["stages"]],
        "overridden": [{"rule": o["rule"].id, "due": _iso(o["due"])} for o in overridden],
    }
    paused = next((s["computed"].paused_units for s in candidate["stages"] if s["active"]), 0)
    if paused:
        view["paused"] = {candidate["active"].duration.unit: int(paused) if float(paused).is_integer() else paused}
    if candidate["provisional"]:
        view["provisional_reason"] = (f"the official {candidate['calendar'].spec.country} working-day schedule for "
                                      "a year this deadline spans is not in the installed holiday data; the due "
                                      "time ignores make-up working days and substituted holidays not yet "
                                      "announced")
    return view


def _step_time(res: "_Resolution", timing: m.StepTiming | None) -> tuple[datetime | None, str | None]:
    if timing is None:
        return None, None
    if timing.kind == "after":
        calendar = _calendar_for(res, timing.calendar)
        if calendar is None:
            return None, "no calendar to count on (set policy.default_calendar)"
        start = res.complaint["received_at"]
        return due_time(calendar, start, timing.duration, Counting(outside_hours="as_received")).due, None
    candidate = res.deadlines.get(timing.clock)
    if candidate is None:
        return None, f"no '{timing.clock}' deadline applies to this complaint"
    if timing.kind == "breach":
        return candidate["due"], None
    working = candidate["active"].duration.unit in ("working_hours", "business_days")
    return at_fraction(candidate["calendar"], candidate["starts"], candidate["due"], timing.fraction, working), None


def _calendar_for(res: "_Resolution", calendar_id: str | None) -> BusinessCalendar | None:
    if calendar_id:
        return res.program.calendars[calendar_id]
    if res.policy.default_calendar:
        return res.program.calendars[res.policy.default_calendar]
    first = next(iter(res.deadlines.values()), None)
    return first["calendar"] if first else None


def _origin(origin: m.Origin) -> dict:
    # The file's name within the policy, not where this copy was loaded from: a replay from the
    # store must cite the same place.
    return {"file": origin.file.rsplit("/", 1)[-1], "line": origin.line}


def _trace(res: _Resolution) -> list[dict]:
    policy = res.policy
    trace: list[dict] = []
    if res.category_default:
        trace.append({"stage": "category", "rule": None, "reason": "policy.default_category",
                      "decided": {"category": res.categories[0]}, "applied": True})
    else:
        for cid in res.categories:
            category = policy.category(cid)
            trace.append({"stage": "category", "rule": cid, **_origin(category.origin),
                          "decided": {"category": cid}, "applied": True})
    for stage, fired, winner in (("priority", res.priority_rules, res.priority_winner),
                                 ("compensation", res.tier_rules, res.tier_winner),
                                 ("escalation", res.path_rules, res.path_winner)):
        for rule_id in fired:
            rule = policy.rule(rule_id)
            trace.append({"stage": stage, "rule": rule_id, **_origin(rule.origin),
                          "decided": {stage: rule.outcome}, "applied": rule_id == winner})
    for candidate in res.deadline_rules:
        rule = candidate["rule"]
        trace.append({"stage": "deadline", "rule": rule.id, **_origin(rule.origin),
                      "decided": {"deadline": f"{rule.outcome} due {_iso(candidate['due'])}"},
                      "applied": res.deadlines.get(rule.outcome) is candidate})
    if res.priority_winner is None:
        trace.append({"stage": "priority", "rule": None, "reason": "policy.default_priority",
                      "decided": {"priority": res.priority}, "applied": True})
    if res.path_winner is None and res.path is not None:
        trace.append({"stage": "escalation", "rule": None, "reason": "policy.default_escalation",
                      "decided": {"escalation": res.path}, "applied": True})
    return trace


def build_decision(res: _Resolution, now: datetime) -> dict:
    """Assemble the decision document from a finished resolution."""
    policy = res.policy
    priority = policy.priority(res.priority)
    compensation = None
    if res.tier is not None:
        tier = res.tier
        amount = res.tier_amount
        compensation = {
            "tier": tier.id,
            "label": tier.label.as_dict(),
            "remedy": tier.remedy,
            "amount": amount,
            "requires_approval": bool(amount and tier.approval_above is not None
                                      and Decimal(amount["value"]) > tier.approval_above),
            "basis": tier.basis or None,
        }
    escalation = None
    if res.path is not None:
        path = policy.path(res.path)
        steps = []
        for step in path.steps:
            at, pending = _step_time(res, step.at)
            entry = {"role": step.role, "notify": list(step.notify), "note": step.note or None,
                     "at": _iso(at) if at else None, "trigger": step.at.describe() if step.at else None}
            if pending:
                entry["pending"] = pending
            steps.append(entry)
        escalation = {"path": path.id, "label": path.label.as_dict(), "steps": steps}
    deadlines = []
    for clock_id, candidate in sorted(res.deadlines.items(), key=lambda item: (item[1]["due"], item[0])):
        overridden = [c for c in res.deadline_rules if c["rule"].outcome == clock_id and c is not candidate]
        deadlines.append(_deadline_view(candidate, overridden))
    return {
        "complaint_id": res.complaint["id"],
        "policy": policy.summary(),
        "evaluated_at": now.isoformat(timespec="seconds"),
        "categories": [{"id": cid, "label": policy.category(cid).label.as_dict(),
                        "flags": list(policy.category(cid).flags)} for cid in res.categories],
        "primary_category": res.categories[0] if res.categories else None,
        "priority": {"id": priority.id, "rank": priority.rank, "label": priority.label.as_dict()},
        "compensation": compensation,
        "escalation": escalation,
        "deadlines": deadlines,
        "trace": _trace(res),
        "warnings": res.warnings,
    }


class Decider:
    """Decides complaints under one compiled policy with one backend (durable-rules or the reference)."""

    def __init__(self, program: CompiledPolicy, backend: str = "durable"):
        self.program = program
        if backend == "durable":
            from .engine import DurableBackend

            self.backend = DurableBackend(program)
        elif backend == "reference":
            from .reference import ReferenceBackend

            self.backend = ReferenceBackend(program)
        else:
            raise ValueError(f"unknown backend '{backend}' (durable or reference)")

    def decide(self, payload: Any, now: datetime | None = None, at: datetime | None = None) -> dict:
        """Validate a complaint payload and return its decision; raises ComplaintInvalid on bad input.

        With `at`, the decision also says what is due at that time (`status`).
        """
        return self.decide_parsed(parse_complaint(payload), now, at)

    def decide_parsed(self, complaint: dict, now: datetime | None = None, at: datetime | None = None) -> dict:
        """Return the decision for an already validated complaint."""
        # Whole seconds: the decision shows evaluated_at to the second, and a replay at that time must
        # compute exactly the same due times for open pauses.
        now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
        resolution = _Resolution(self.program, complaint, at or now)
        self.backend.run(self.program.facts_for(complaint), resolution.advance)
        decision = build_decision(resolution, now)
        if at is not None:
            decision["status"] = status_at(resolution, decision, at)
        return decision


def status_at(res: _Resolution, decision: dict, at: datetime) -> dict:
    """What is due at `at`: elapsed and remaining time per clock, breaches, the active escalation step."""
    clocks = []
    for clock_id, candidate in sorted(res.deadlines.items(), key=lambda item: (item[1]["due"], item[0])):
        calendar: BusinessCalendar = candidate["calendar"]
        start, due = candidate["starts"], candidate["due"]
        paused_seconds = sum(calendar.working_seconds_between(max(b, start), min(e, at))
                             for b, e in res.pauses_for(candidate["clock"]))
        elapsed = max(0.0, calendar.working_seconds_between(start, at) - paused_seconds)
        remaining = calendar.working_seconds_between(at, due)
        clocks.append({
            "clock": clock_id,
            "due": _iso(due),
            "breached": at > due,
            "elapsed_working_hours": round(elapsed / 3600, 2),
            "remaining_working_hours": round(remaining / 3600, 2),
            "remaining_seconds": int((due - at).total_seconds()),
            "paused_now": candidate["clock"].pausable and any(
                p["start"] <= at and ("end" not in p or at < p["end"]) for p in res.complaint.get("pauses", [])),
        })
    active = None
    for index, step in enumerate((decision["escalation"] or {}).get("steps", [])):
        if step["at"] and datetime.fromisoformat(step["at"]) <= at:
            active = {"step": index + 1, "role": step["role"], "since": step["at"]}
    return {"at": _iso(at), "clocks": clocks, "breached": [c["clock"] for c in clocks if c["breached"]],
            "escalation_step": active}
