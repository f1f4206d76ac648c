"""Warnings about a valid policy: rules that cannot fire or take effect, ambiguous or redundant keywords,
and elements nothing refers to."""

from __future__ import annotations

import itertools

from ..errors import Problem
from ..text import KeywordSet, normalize_text
from . import model as m
from .compile import And, Atom, Cmp, CompiledPolicy, Eq, Has, HasNot, Missing, Ne, Or

MAX_BRANCHES = 256  # beyond this the analysis gives up on a rule rather than guess


def _warn(origin: m.Origin, code: str, message: str) -> Problem:
    return Problem(origin.file, origin.line, origin.column, code, message, severity="warning")


def dnf(atom: Atom) -> list[tuple] | None:
    """The condition as alternatives of conjunctions; None if it is too large to analyse."""
    if isinstance(atom, Or):
        out: list[tuple] = []
        for item in atom.items:
            sub = dnf(item)
            if sub is None:
                return None
            out.extend(sub)
        return out if len(out) <= MAX_BRANCHES else None
    if isinstance(atom, And):
        out = [()]
        for item in atom.items:
            sub = dnf(item)
            if sub is None:
                return None
            out = [left + right for left in out for right in sub]
            if len(out) > MAX_BRANCHES:
                return None
        return out
    return [(atom,)]


def _slot(key: str) -> str:
    return key[1:] if key[:1] in "snbl" and key[1:].isdigit() else key


def _bounds(atoms) -> tuple:
    low, low_open, high, high_open = None, False, None, False
    for atom in atoms:
        if isinstance(atom, Cmp):
            if atom.op in ("gt", "gte"):
                if low is None or atom.value > low or (atom.value == low and atom.op == "gt"):
                    low, low_open = atom.value, atom.op == "gt"
            elif high is None or atom.value < high or (atom.value == high and atom.op == "lt"):
                high, high_open = atom.value, atom.op == "lt"
        elif isinstance(atom, Eq) and isinstance(atom.value, int) and not isinstance(atom.value, bool):
            low = high = atom.value
            low_open = high_open = False
    return low, low_open, high, high_open


def contradictory(branch: tuple, slots: dict | None = None) -> bool:
    """True when no fact can satisfy every atom of a conjunction."""
    slots = slots or {}
    absent = {str(slots[a.item]) for a in branch if isinstance(a, HasNot) and a.key == "has" and a.item in slots}
    if any(_slot(a.key) in absent and not isinstance(a, Missing) for a in branch if a.key != "has"):
        return True  # a field that must be missing cannot also hold a value
    by_key: dict[str, list] = {}
    for atom in branch:
        by_key.setdefault(atom.key, []).append(atom)
    present_types: dict[str, set] = {}
    for key, atoms in by_key.items():
        missing = any(isinstance(a, Missing) for a in atoms)
        if missing and any(not isinstance(a, Missing) for a in atoms):
            return True
        equals = {repr(a.value) for a in atoms if isinstance(a, Eq)}
        if len(equals) > 1:
            return True
        if any(isinstance(a, Ne) and repr(a.value) in equals for a in atoms):
            return True
        has = {a.item for a in atoms if isinstance(a, Has)}
        if any(isinstance(a, HasNot) and a.item in has for a in atoms):
            return True
        low, low_open, high, high_open = _bounds(atoms)
        if low is not None and high is not None and (low > high or (low == high and (low_open or high_open))):
            return True
        if not missing and key[:1] in "snbl" and key[1:].isdigit():
            present_types.setdefault(_slot(key), set()).add(key[0])
    return any(len(kinds) > 1 for kinds in present_types.values())


def _implies_atom(branch: tuple, wanted: Atom) -> bool:
    if wanted in branch:
        return True
    if isinstance(wanted, Cmp):
        low, low_open, high, high_open = _bounds([a for a in branch if getattr(a, "key", None) == wanted.key])
        if wanted.op in ("gt", "gte") and low is not None:
            return low > wanted.value or (low == wanted.value and (wanted.op == "gte" or low_open))
        if wanted.op in ("lt", "lte") and high is not None:
            return high < wanted.value or (high == wanted.value and (wanted.op == "lte" or high_open))
    return False


def implies(narrow: list[tuple], broad: list[tuple]) -> bool:
    """True when every alternative of `narrow` satisfies some alternative of `broad`."""
    return all(any(all(_implies_atom(b, atom) for atom in a) for a in broad) for b in narrow if not contradictory(b))


def _never_fires(program: CompiledPolicy) -> list[Problem]:
    out = []
    for stage in program.stages:
        for rule in stage.rules:
            branches = dnf(rule.condition)
            if branches is not None and all(contradictory(b, program.slots) for b in branches):
                what = "category" if stage.name == "category" else "rule"
                out.append(_warn(rule.origin, "never-fires",
                                 f"{what} '{rule.rule_id}' can never fire: its conditions contradict each other"))
    return out


def _effect_order(policy: m.Policy, rule: m.Rule):
    """A sortable strength of what a rule decides (smaller wins), or None where it cannot be compared."""
    if rule.stage == "priority":
        return (policy.priority(rule.outcome).rank,)
    if rule.stage == "escalation":
        return ([p.id for p in policy.paths].index(rule.outcome),)
    if rule.stage == "compensation" and policy.compensation_conflict == "first_listed":
        return ([t.id for t in policy.tiers].index(rule.outcome),)
    if rule.stage == "deadline" and len(rule.deadline.stages) == 1:
        spec = rule.deadline
        return (spec.clock, spec.calendar, spec.counting, spec.stages[0].duration.unit,
                spec.stages[0].duration.amount)
    return None


def _shadowed(program: CompiledPolicy) -> list[Problem]:
    policy = program.policy
    compiled = {r.rule_id: r for s in program.stages for r in s.rules if s.name != "category"}
    out = []
    order = {rule.id: index for index, rule in enumerate(policy.rules)}
    for later in policy.rules:
        strength = _effect_order(policy, later)
        if strength is None or later.id not in compiled:
            continue
        narrow = dnf(compiled[later.id].condition)
        if narrow is None:
            continue
        for earlier in policy.rules:
            if earlier is later or earlier.stage != later.stage or earlier.id not in compiled:
                continue
            other = _effect_order(policy, earlier)
            if other is None:
                continue
            if later.stage == "deadline":
                if other[:4] != strength[:4]:
                    continue
                stronger = other[4] < strength[4] or (other[4] == strength[4] and order[earlier.id] < order[later.id])
            else:
                stronger = other < strength or (other == strength and order[earlier.id] < order[later.id])
            if not stronger:
                continue
            broad = dnf(compiled[earlier.id].condition)
            if broad is not None and implies(narrow, broad):
                out.append(_warn(later.origin, "shadowed-rule",
                                 f"rule '{later.id}' can never take effect: whenever it fires, rule '{earlier.id}' "
                                 f"({earlier.origin.file}:{earlier.origin.line}) also fires and wins"))
                break
    return out


def _keyword_lists(policy: m.Policy):
    """Every keyword list in the policy: (owner id, origin, keywords)."""
    def walk(condition):
        if isinstance(condition, (m.AllOf, m.AnyOf)):
            for item in condition.items:
                yield from walk(item)
        elif isinstance(condition, m.NotOf):
            yield from walk(condition.item)
        elif isinstance(condition, m.TextTest) and condition.op != "matches":
            yield condition

    for category in policy.categories:
        if category.when is not None:
            for test in walk(category.when):
                origins = test.origins or (category.origin,) * len(test.value)
                yield category.id, list(zip(test.value, origins))


def _keywords(policy: m.Policy) -> list[Problem]:
    out = []
    owners: dict[str, tuple[str, m.Origin]] = {}
    for owner, entries in _keyword_lists(policy):
        for keyword, origin in entries:
            normal = normalize_text(keyword).strip()
            first = owners.get(normal)
            if first and first[0] != owner:
                out.append(_warn(origin, "ambiguous-keyword",
                                 f"keyword '{keyword}' of category '{owner}' is also a keyword of category "
                                 f"'{first[0]}' ({first[1].file}:{first[1].line}); complaints with it fall in both"))
            owners.setdefault(normal, (owner, origin))
        for (broad, _), (narrow, origin) in itertools.permutations(entries, 2):
            if normalize_text(broad).strip() == normalize_text(narrow).strip():
                continue
            if KeywordSet((broad,), require_all=False).matches(normalize_text(narrow.rstrip("*"))):
                out.append(_warn(origin, "redundant-keyword",
                                 f"keyword '{narrow}' in category '{owner}' is redundant: '{broad}' in the same list "
                                 "already matches wherever it does"))
    return out


def _unreferenced(policy: m.Policy) -> list[Problem]:
    used: dict[str, set] = {"category": set(), "tier": set(), "path": set(), "calendar": set(), "clock": set()}

    def walk(condition):
        if isinstance(condition, (m.AllOf, m.AnyOf)):
            for item in condition.items:
                walk(item)
        elif isinstance(condition, m.NotOf):
            walk(condition.item)
        elif isinstance(condition, m.DecidedTest):
            if condition.subject == "category":
                used["category"].update(condition.values)
            elif condition.subject == "category_flag":
                used["category"].update(c.id for c in policy.categories if set(c.flags) & set(condition.values))
            elif condition.subject == "compensation":
                used["tier"].update(condition.values)

    for rule in policy.rules:
        walk(rule.when)
        if rule.stage == "compensation":
            used["tier"].add(rule.outcome)
        elif rule.stage == "escalation":
            used["path"].add(rule.outcome)
        elif rule.stage == "deadline":
            used["clock"].add(rule.deadline.clock)
            used["calendar"].add(rule.deadline.calendar)
    for category in policy.categories:
        if category.when is not None:
            walk(category.when)
    for path in policy.paths:
        for step in path.steps:
            if step.at and step.at.clock:
                used["clock"].add(step.at.clock)
            if step.at and step.at.calendar:
                used["calendar"].add(step.at.calendar)
    used["path"].update(filter(None, [policy.default_escalation]))
    used["calendar"].update(filter(None, [policy.default_calendar]))
    used["category"].update(filter(None, [policy.default_category]))
    out = []
    for kind, items in (("category", policy.categories), ("tier", policy.tiers), ("path", policy.paths),
                        ("calendar", [(c.id, policy.lookup.get("calendar_origin", {}).get(c.id))
                                      for c in policy.calendars]), ("clock", policy.clocks)):
        names = {"tier": "compensation tier", "path": "escalation path"}
        for item in items:
            ident, origin = (item if isinstance(item, tuple) else (item.id, item.origin))
            if ident not in used[kind]:
                origin = origin or m.Origin(policy.files[0] if policy.files else policy.directory, 1, 1)
                out.append(_warn(origin, "unreferenced",
                                 f"{names.get(kind, kind)} '{ident}' is not referred to by any rule"))
    return out


def lint(program: CompiledPolicy) -> list[Problem]:
    """Every lint warning for a compiled policy, sorted."""
    policy = program.policy
    return sorted(_never_fires(program) + _shadowed(program) + _keywords(policy) + _unreferenced(policy))
