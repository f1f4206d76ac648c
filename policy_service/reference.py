"""A pure-Python evaluator of a compiled policy: the oracle the durable-rules backend is tested against."""

from __future__ import annotations

from typing import Any, Callable

from .policy.compile import And, Atom, Cmp, CompiledPolicy, Eq, Has, HasNot, Missing, Ne, Or

_CMP = {
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
}


def holds(atom: Atom, fact: dict) -> bool:
    """Evaluate a compiled condition on a fact with the engine's semantics."""
    if isinstance(atom, And):
        return all(holds(item, fact) for item in atom.items)
    if isinstance(atom, Or):
        return any(holds(item, fact) for item in atom.items)
    if isinstance(atom, Eq):
        return atom.key in fact and _same(fact[atom.key], atom.value)
    if isinstance(atom, Ne):
        return atom.key in fact and fact[atom.key] is not None and not _same(fact[atom.key], atom.value)
    if isinstance(atom, Cmp):
        value = fact.get(atom.key)
        return isinstance(value, int) and not isinstance(value, bool) and _CMP[atom.op](value, atom.value)
    if isinstance(atom, Missing):
        return atom.key not in fact
    if isinstance(atom, Has):
        items = fact.get(atom.key)
        return isinstance(items, list) and atom.item in items
    if isinstance(atom, HasNot):
        items = fact.get(atom.key)
        return isinstance(items, list) and bool(items) and atom.item not in items
    raise TypeError(f"unknown condition {atom!r}")


def _same(left: Any, right: Any) -> bool:
    return type(left) is type(right) and left == right


class ReferenceBackend:
    """Runs a compiled policy's stages in plain Python, in policy order."""

    name = "reference"

    def __init__(self, program: CompiledPolicy):
        self.program = program

    def run(self, base: dict, advance: Callable[[int, list], dict]) -> list[list[str]]:
        """Evaluate one base fact through every stage; return the rule ids fired per stage."""
        fired: list[list[str]] = [[] for _ in self.program.stages]
        extras: dict = {}
        for group in self.program.groups:
            fact = dict(base, **extras)
            for stage_index in group.stages:
                for rule in self.program.stages[stage_index].rules:
                    if holds(rule.condition, fact) and rule.rule_id not in fired[stage_index]:
                        fired[stage_index].append(rule.rule_id)
            for stage_index in group.stages:
                extras = advance(stage_index, list(fired[stage_index]))
        return fired
