"""Compile a validated policy into a staged program of engine-neutral conditions plus text matchers.

The program is what both backends run: the durable-rules engine (`engine.py`) and the pure-Python
reference (`reference.py`). Conditions are reduced to a handful of atoms whose meaning is the
engine's own (for instance `Ne` is false when the key is missing), so the two backends can agree
exactly. Every limit of durable-rules 2.0.28 that a policy could hit is checked here, before the
engine ever sees the policy.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Union

from ..calendar import BusinessCalendar
from ..complaint import days_between
from ..errors import PolicyLoadError, Problem
from ..text import KeywordSet, RegexTest, normalize_text
from . import model as m

# durable-rules 2.0.28 limits (see ../shared/engine/durable-rules-notes.md §4, measured again here):
# more than 64 branches matching one fact at once fails with error 303 or crashes the process;
# one branch is kept for the stage barrier.
MAX_BRANCHES_PER_STAGE = 63
# about 251 properties per fact; leave room for the fixed keys.
MAX_FACT_KEYS = 200
# string lengths are kept in 16 bits; long values are compared through their digest instead.
MAX_STRING_BYTES = 4096
# integers saturate at 64 bits; numbers are sent as integer millionths to avoid float quirks.
NUMBER_SCALE = 10**6
INT64_MAX = 2**63 - 1
SENTINEL = "_"  # keeps arrays non-empty: durable's $iall is false on an empty array
NO_VALUE = "_"

# --- the condition atoms -----------------------------------------------------------------------


@dataclass(frozen=True)
class Eq:
    key: str
    value: Any


@dataclass(frozen=True)
class Ne:
    """True when the key is present and differs (false when missing)."""

    key: str
    value: Any


@dataclass(frozen=True)
class Cmp:
    """Numeric comparison; `op` is one of lt, lte, gt, gte; false when the key is missing."""

    op: str
    key: str
    value: int


@dataclass(frozen=True)
class Missing:
    key: str


@dataclass(frozen=True)
class Has:
    """The array at `key` contains `item`."""

    key: str
    item: str


@dataclass(frozen=True)
class HasNot:
    """The array at `key` is present and does not contain `item`."""

    key: str
    item: str


@dataclass(frozen=True)
class And:
    items: tuple


@dataclass(frozen=True)
class Or:
    items: tuple


Atom = Union[Eq, Ne, Cmp, Missing, Has, HasNot, And, Or]
TRUE = And(())

_NEGATED_CMP = {"lt": "gte", "lte": "gt", "gt": "lte", "gte": "lt"}
_OP_TO_CMP = {"less_than": "lt", "at_most": "lte", "greater_than": "gt", "at_least": "gte"}


@dataclass(frozen=True)
class CompiledRule:
    """One rule of one stage, as both backends run it."""

    name: str  # engine-safe unique name
    rule_id: str
    stage: str
    condition: Atom
    origin: m.Origin


@dataclass(frozen=True)
class Stage:
    """The rules that decide one part of the decision (category, priority, ...)."""

    name: str
    rules: tuple[CompiledRule, ...]
    keys: frozenset = frozenset()  # the fact keys its rules read; nothing else need reach the engine


@dataclass(frozen=True)
class Group:
    """Stages evaluated on one fact: none of them reads what another in the group decides."""

    kind: str
    stages: tuple[int, ...]  # indexes into CompiledPolicy.stages, in stage order
    keys: frozenset


# Which stage decides each key a later stage may read.
DECIDED_BY = {"cats": "category", "flags": "category", "prio": "priority", "tier": "compensation"}


def group_stages(stages: tuple["Stage", ...]) -> tuple[Group, ...]:
    """Put consecutive stages on one fact where none depends on another in the group and the engine's
    branch limit allows: each group saves the engine a fact and an action per evaluation."""
    groups: list[list[int]] = []
    branches: list[int] = []
    placed: dict[str, int] = {}
    for index, stage in enumerate(stages):
        needs = {DECIDED_BY[key] for key in stage.keys if key in DECIDED_BY}
        size = sum(branch_count(rule.condition) for rule in stage.rules)
        joins = bool(groups) and all(placed[name] < len(groups) - 1 for name in needs) \
            and branches[-1] + size <= MAX_BRANCHES_PER_STAGE
        if not joins:
            groups.append([])
            branches.append(0)
        groups[-1].append(index)
        branches[-1] += size
        placed[stage.name] = len(groups) - 1
    return tuple(Group(f"group_{number}", tuple(members),
                       frozenset().union(*(stages[i].keys for i in members)))
                 for number, members in enumerate(groups))


def keys_read(atom: Atom) -> set[str]:
    """The fact keys a condition reads."""
    if isinstance(atom, (And, Or)):
        return set().union(*(keys_read(item) for item in atom.items)) if atom.items else set()
    return {atom.key}


@dataclass(frozen=True)
class TextFeature:
    """A text condition evaluated in Python; its result reaches the engine as an item of `hits`."""

    name: str
    field: str
    matcher: Any


@dataclass(frozen=True)
class CompiledPolicy:
    """A policy ready to evaluate: stages of rules, the fields they read and the text features."""

    policy: m.Policy
    stages: tuple[Stage, ...]
    slots: dict  # field path -> slot number
    text_features: tuple[TextFeature, ...]
    program_id: str = field(default="")
    calendars: dict = field(default_factory=dict)  # calendar id -> BusinessCalendar
    groups: tuple = ()  # the facts the engine sees, in order; see group_stages

    def facts_for(self, complaint: dict) -> dict:
        """Return the base fact of a complaint: typed field values, presence and text hits."""
        return build_facts(self, complaint)


# --- value encoding --------------------------------------------------------------------------

def encode_number(value: Decimal | int | float) -> int:
    """Encode a number as saturated integer millionths (exact for money, no exponent forms)."""
    scaled = int((Decimal(str(value)) * NUMBER_SCALE).to_integral_value())
    return max(-INT64_MAX, min(INT64_MAX, scaled))


def encode_string(value: str) -> str:
    """Encode a string for equality: normalised, and digested when too long for the engine."""
    normal = normalize_text(value).strip()
    if len(normal.encode("utf-8")) > MAX_STRING_BYTES:
        return "sha256:" + hashlib.sha256(normal.encode("utf-8")).hexdigest()
    return normal


def _typed(slot: int, value: Any) -> tuple[str, Any]:
    if isinstance(value, bool):
        return f"b{slot}", value
    if isinstance(value, (int, float, Decimal)):
        return f"n{slot}", encode_number(value)
    return f"s{slot}", encode_string(str(value))


# --- condition compilation ---------------------------------------------------------------------

class _Compiler:
    def __init__(self) -> None:
        self.slots: dict[str, int] = {}
        self.texts: dict[tuple, TextFeature] = {}

    def slot(self, path: str) -> int:
        return self.slots.setdefault(path, len(self.slots))

    def text(self, test: m.TextTest) -> str:
        key = (test.field, test.op, test.value)
        if key not in self.texts:
            matcher = (RegexTest(test.value[0]) if test.op == "matches"
                       else KeywordSet(test.value, require_all=test.op == "contains_all"))
            self.texts[key] = TextFeature(f"t{len(self.texts)}", test.field, matcher)
            self.slot(test.field)
        return self.texts[key].name

    def condition(self, cond: m.Condition, negate: bool = False) -> Atom:
        if isinstance(cond, m.Always):
            return Or(()) if negate else TRUE
        if isinstance(cond, m.NotOf):
            return self.condition(cond.item, not negate)
        if isinstance(cond, (m.AllOf, m.AnyOf)):
            items = tuple(self.condition(item, negate) for item in cond.items)
            conjunctive = isinstance(cond, m.AllOf) != negate
            return And(items) if conjunctive else Or(items)
        if isinstance(cond, m.TextTest):
            name = self.text(cond)
            return HasNot("hits", name) if negate else Has("hits", name)
        if isinstance(cond, m.DecidedTest):
            return self._decided(cond, negate)
        return self._field(cond, negate)

    def _decided(self, cond: m.DecidedTest, negate: bool) -> Atom:
        if cond.subject in ("category", "category_flag"):
            key = "cats" if cond.subject == "category" else "flags"
            if negate:
                return And(tuple(HasNot(key, v) for v in cond.values))
            return Or(tuple(Has(key, v) for v in cond.values))
        key = "prio" if cond.subject == "priority" else "tier"
        if negate:
            return And(tuple(Ne(key, v) for v in cond.values))
        return Or(tuple(Eq(key, v) for v in cond.values))

    def _field(self, cond: m.FieldTest, negate: bool) -> Atom:
        slot = self.slot(cond.field)
        op = cond.op
        if op == "exists":
            present = cond.value != negate
            return Has("has", cond.field) if present else HasNot("has", cond.field)
        if op in ("not_equals", "not_in"):
            positive = m.FieldTest(cond.field, "equals" if op == "not_equals" else "in", cond.value)
            return self._field(positive, not negate)
        if op in ("equals", "in"):
            values = (cond.value,) if op == "equals" else cond.value
            if negate:
                return And(tuple(self._not_equal(slot, v) for v in values))
            return Or(tuple(Eq(*_typed(slot, v)) for v in values)) if op == "in" else Eq(*_typed(slot, cond.value))
        if op in _OP_TO_CMP:
            key = f"n{slot}"
            cmp = _OP_TO_CMP[op]
            number = encode_number(cond.value)
            if negate:
                return Or((Missing(key), Cmp(_NEGATED_CMP[cmp], key, number)))
            return Cmp(cmp, key, number)
        if op == "includes":
            key = f"l{slot}"
            items = [encode_string(str(v)) for v in cond.value]
            if negate:
                return And(tuple(Or((Missing(key), HasNot(key, item))) for item in items))
            return Or(tuple(Has(key, item) for item in items))
        raise AssertionError(f"operator {op} reached the compiler unvalidated")

    @staticmethod
    def _not_equal(slot: int, value: Any) -> Atom:
        key, encoded = _typed(slot, value)
        return Or((Missing(key), Ne(key, encoded)))


def simplify(atom: Atom) -> Atom:
    """Flatten nested And/Or and drop single-item wrappers, keeping the meaning."""
    if isinstance(atom, (And, Or)):
        kind = type(atom)
        flat: list = []
        for item in (simplify(i) for i in atom.items):
            if isinstance(item, kind):
                flat.extend(item.items)
            else:
                flat.append(item)
        if len(flat) == 1:
            return flat[0]
        return kind(tuple(flat))
    return atom


def branch_count(atom: Atom) -> int:
    """Number of alternative branches the engine builds for a condition (its DNF size)."""
    if isinstance(atom, And):
        total = 1
        for item in atom.items:
            total *= branch_count(item)
        return total
    if isinstance(atom, Or):
        return sum(branch_count(item) for item in atom.items)
    return 1


# --- facts -------------------------------------------------------------------------------------

def lookup(complaint: dict, path: str) -> Any:
    """The value at a field path of a validated complaint (derived fields included), or None."""
    if path == "order.days_since_purchase":
        order = complaint.get("order") or {}
        purchased = order.get("purchased_at")
        received = complaint.get("received_at")
        if isinstance(purchased, datetime) and isinstance(received, datetime):
            return days_between(purchased, received)
        return None
    value: Any = complaint
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def build_facts(program: CompiledPolicy, complaint: dict) -> dict:
    """Encode the fields a policy reads into one engine-safe fact (no reserved keys, no long strings)."""
    fact: dict[str, Any] = {}
    present = [SENTINEL]
    hits = [SENTINEL]
    normalized: dict[str, str] = {}
    for path, slot in program.slots.items():
        value = lookup(complaint, path)
        if value is None:
            continue
        present.append(path)
        if isinstance(value, list):
            fact[f"l{slot}"] = [SENTINEL] + sorted({encode_string(str(v)) for v in value
                                                    if isinstance(v, (str, int, float, Decimal)) and not isinstance(v, bool)}
                                                   | {("true" if v else "false") for v in value if isinstance(v, bool)})
        elif isinstance(value, dict):
            continue
        elif isinstance(value, datetime):
            continue
        else:
            key, encoded = _typed(slot, value)
            fact[key] = encoded
    for feature in program.text_features:
        value = lookup(complaint, feature.field)
        if not isinstance(value, str):
            continue
        if feature.field not in normalized:
            normalized[feature.field] = normalize_text(value)
        if feature.matcher.matches(normalized[feature.field]):
            hits.append(feature.name)
    fact["has"] = present
    fact["hits"] = hits
    return fact


# --- the policy ----------------------------------------------------------------------------------

def compile_policy(policy: m.Policy) -> CompiledPolicy:
    """Compile a validated policy; raise PolicyLoadError if it would exceed an engine limit."""
    compiler = _Compiler()
    problems: list[Problem] = []
    by_stage: dict[str, list[CompiledRule]] = {stage: [] for stage in m.STAGES}
    counter = 0
    elements: list[tuple[str, str, m.Condition, m.Origin]] = [
        ("category", c.id, c.when, c.origin) for c in policy.categories if c.when is not None
    ] + [(r.stage, r.id, r.when, r.origin) for r in policy.rules]
    for stage, ident, when, origin in elements:
        atom = simplify(compiler.condition(when))
        if isinstance(atom, Or) and not atom.items:
            problems.append(Problem(origin.file, origin.line, origin.column, "never-fires",
                                    f"{stage} rule '{ident}' can never fire"))
            continue
        by_stage[stage].append(CompiledRule(f"r{counter}", ident, stage, atom, origin))
        counter += 1
    for stage, rules in by_stage.items():
        total = 0
        for rule in rules:
            branches = branch_count(rule.condition)
            total += branches
            if branches > MAX_BRANCHES_PER_STAGE:
                o = rule.origin
                problems.append(Problem(o.file, o.line, o.column, "engine-limit",
                                        f"{stage} rule '{rule.rule_id}' expands to {branches} alternative branches; "
                                        f"the engine allows {MAX_BRANCHES_PER_STAGE} per stage (simplify its any/not "
                                        "nesting, or move alternatives into one keyword list)"))
        if total > MAX_BRANCHES_PER_STAGE and all(branch_count(r.condition) <= MAX_BRANCHES_PER_STAGE for r in rules):
            worst = max(rules, key=lambda r: branch_count(r.condition))
            o = worst.origin
            problems.append(Problem(o.file, o.line, o.column, "engine-limit",
                                    f"the {stage} stage's rules expand to {total} alternative branches together, "
                                    f"above the engine's {MAX_BRANCHES_PER_STAGE}; the largest is '{worst.rule_id}' "
                                    f"({branch_count(worst.condition)})"))
    keys = len(compiler.slots) + 8
    if keys > MAX_FACT_KEYS:
        first_file = policy.files[0] if policy.files else policy.directory
        problems.append(Problem(first_file, 1, 1, "engine-limit",
                                f"rules read {len(compiler.slots)} different complaint fields; the engine allows "
                                f"{MAX_FACT_KEYS - 8}"))
    if problems:
        raise PolicyLoadError(problems)
    stages = tuple(Stage(name, tuple(by_stage[name]),
                         frozenset().union(*(keys_read(r.condition) for r in by_stage[name])))
                   for name in m.STAGES)
    return CompiledPolicy(policy, stages, dict(compiler.slots), tuple(compiler.texts.values()),
                          program_id=policy.digest.split(":")[-1][:12],
                          calendars={spec.id: BusinessCalendar(spec) for spec in policy.calendars},
                          groups=group_stages(stages))
