"""Run policy test cases on both backends and compare partial expectations with the decisions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..decide import Decider
from ..errors import EvaluationError
from ..policy.compile import CompiledPolicy
from .suite import Suite, TestCase

DEFAULT_NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Mismatch:
    """One expected value that the decision did not have."""

    path: str
    expected: Any
    actual: Any


@dataclass
class CaseResult:
    """The outcome of one test case."""

    case: TestCase
    mismatches: list[Mismatch] = field(default_factory=list)
    decision: dict | None = None
    error: str | None = None

    @property
    def passed(self) -> bool:
        return not self.mismatches and self.error is None

    @property
    def fired(self) -> list[str]:
        if not self.decision:
            return []
        return [f"{t['stage']}:{t['rule']}" for t in self.decision["trace"] if t.get("rule")]


@dataclass
class SuiteResult:
    """Every case's outcome and the coverage of the policy they reached."""

    results: list[CaseResult]
    coverage: "Coverage"

    @property
    def failed(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]


@dataclass
class Coverage:
    """Which rules, categories, priorities, tiers and paths the tests exercised."""

    total: dict[str, list[tuple[str, str, int]]]  # kind -> [(id, file, line)]
    hit: dict[str, set]

    def missed(self) -> dict[str, list[tuple[str, str, int]]]:
        return {kind: [item for item in items if item[0] not in self.hit[kind]] for kind, items in self.total.items()}

    def percent(self) -> float:
        total = sum(len(items) for items in self.total.values())
        hit = sum(len([i for i in items if i[0] in self.hit[kind]]) for kind, items in self.total.items())
        return 100.0 if total == 0 else round(100.0 * hit / total, 1)

    def as_dict(self) -> dict:
        return {"percent": self.percent(),
                "kinds": {kind: {"total": len(items), "exercised": len(items) - len(self.missed()[kind]),
                                 "missed": [{"id": i, "file": f, "line": ln} for i, f, ln in self.missed()[kind]]}
                          for kind, items in self.total.items()}}


def _same_instant(expected: Any, actual: Any) -> bool:
    try:
        return datetime.fromisoformat(str(expected)) == datetime.fromisoformat(str(actual))
    except (TypeError, ValueError):
        return False


def _amount_text(amount: dict | None) -> str | None:
    return f"{amount['value']} {amount['currency']}" if amount else None


def compare(expect: dict, decision: dict) -> list[Mismatch]:
    """Check only what `expect` states against a decision."""
    out: list[Mismatch] = []

    def check(path: str, expected: Any, actual: Any, same=lambda a, b: a == b) -> None:
        if not same(expected, actual):
            out.append(Mismatch(path, expected, actual))

    if "categories" in expect:
        check("categories", expect["categories"], [c["id"] for c in decision["categories"]])
    if "primary_category" in expect:
        check("primary_category", expect["primary_category"], decision["primary_category"])
    if "priority" in expect:
        check("priority", expect["priority"], decision["priority"]["id"])
    if "compensation" in expect:
        wanted, actual = expect["compensation"], decision["compensation"]
        if wanted is None or actual is None:
            check("compensation", wanted, actual and actual["tier"])
        else:
            for key in ("tier", "remedy", "requires_approval"):
                if key in wanted:
                    check(f"compensation.{key}", wanted[key], actual[key])
            if "amount" in wanted:
                check("compensation.amount", wanted["amount"], _amount_text(actual["amount"]))
    if "escalation" in expect:
        wanted, actual = expect["escalation"], decision["escalation"]
        if wanted is None or actual is None:
            check("escalation", wanted, actual and actual["path"])
        else:
            if "path" in wanted:
                check("escalation.path", wanted["path"], actual["path"])
            for index, step in enumerate(wanted.get("steps") or []):
                got = actual["steps"][index] if index < len(actual["steps"]) else {}
                for key, value in step.items():
                    same = _same_instant if key == "at" else (lambda a, b: a == b)
                    check(f"escalation.steps[{index}].{key}", value, got.get(key), same)
    if "deadlines" in expect:
        by_clock = {d["clock"]: d for d in decision["deadlines"]}
        for clock, wanted in expect["deadlines"].items():
            actual = by_clock.get(clock)
            if wanted is None or actual is None:
                check(f"deadlines.{clock}", wanted, actual and actual["due"])
                continue
            for key, value in wanted.items():
                same = _same_instant if key == "due" else (lambda a, b: a == b)
                check(f"deadlines.{clock}.{key}", value, actual.get(key), same)
    fired = {t["rule"] for t in decision["trace"] if t.get("rule")}
    if "rules_fired" in expect:
        missing = [r for r in expect["rules_fired"] if r not in fired]
        if missing:
            out.append(Mismatch("rules_fired", expect["rules_fired"], sorted(fired)))
    if "rules_not_fired" in expect:
        unexpected = [r for r in expect["rules_not_fired"] if r in fired]
        if unexpected:
            out.append(Mismatch("rules_not_fired", expect["rules_not_fired"], unexpected))
    if "warnings" in expect:
        check("warnings", expect["warnings"], decision["warnings"])
    return out


def _strip_time(decision: dict) -> dict:
    return {k: v for k, v in decision.items() if k != "evaluated_at"}


def _coverage(program: CompiledPolicy, decisions: list[dict]) -> Coverage:
    policy = program.policy
    where = lambda o: (o.file, o.line)  # noqa: E731
    total = {
        "rules": [(r.id, *where(r.origin)) for r in policy.rules],
        "categories": [(c.id, *where(c.origin)) for c in policy.categories],
        "priorities": [(p.id, *where(p.origin)) for p in policy.priorities],
        "compensation_tiers": [(t.id, *where(t.origin)) for t in policy.tiers],
        "escalation_paths": [(p.id, *where(p.origin)) for p in policy.paths],
    }
    hit: dict[str, set] = {kind: set() for kind in total}
    for decision in decisions:
        hit["rules"].update(t["rule"] for t in decision["trace"] if t.get("rule") and t["stage"] != "category")
        hit["categories"].update(c["id"] for c in decision["categories"])
        hit["priorities"].add(decision["priority"]["id"])
        if decision["compensation"]:
            hit["compensation_tiers"].add(decision["compensation"]["tier"])
        if decision["escalation"]:
            hit["escalation_paths"].add(decision["escalation"]["path"])
    return Coverage(total, hit)


def run_suite(program: CompiledPolicy, suite: Suite) -> SuiteResult:
    """Decide every case with durable-rules and the reference; a difference between them is a failure."""
    engine, reference = Decider(program, "durable"), Decider(program, "reference")
    results, decisions = [], []
    for case in suite.cases:
        result = CaseResult(case)
        now = case.now or DEFAULT_NOW
        try:
            decision = engine.decide(case.complaint, now=now)
            oracle = reference.decide(case.complaint, now=now)
        except EvaluationError as exc:
            result.error = str(exc)
            results.append(result)
            continue
        result.decision = decision
        decisions.append(decision)
        result.mismatches = compare(case.expect, decision)
        if _strip_time(decision) != _strip_time(oracle):
            result.mismatches.append(Mismatch("engine-vs-reference", "the same decision from both backends",
                                              "durable-rules and the reference evaluator disagree"))
        results.append(result)
    return SuiteResult(results, _coverage(program, decisions))
