"""The durable-rules backend: the only module that imports durable-rules, and the keeper of its quirks.

durable-rules 2.0.28 is used as a pure function: one fresh session per evaluation, asserted as a
fact (events are consumed by the first rule), run synchronously on a host without background
threads, and always deleted. Stages chain inside the engine: each group of stages (see
`compile.group_stages`) ends with a barrier rule of lower salience that fires after the group's
rules, resolves its stages and asserts the next group's fact.
"""

from __future__ import annotations

import copy
import itertools
import threading
import uuid
from typing import Callable

from durable import engine as durable_engine

from .errors import EngineFailure
from .policy.compile import And, Atom, Cmp, CompiledPolicy, Eq, Has, HasNot, Missing, Ne, Or

Advance = Callable[[int, list], dict]

_names = itertools.count(1)
# Salience: lower fires first; stage i's rules fire before its barrier, which fires before stage i+1.
_STAGE_SALIENCE = 10
_RULE_OFFSET = 1
_BARRIER_OFFSET = 5


class _SynchronousHost(durable_engine.Host):
    """A host without the dispatch and timer threads, which race with request threads."""

    def _run(self):  # the base class starts self-rescheduling timers here
        pass


def to_durable(atom: Atom) -> list[dict]:
    """Translate a compiled condition into durable-rules expressions (to be ANDed with the kind test)."""
    if isinstance(atom, And):
        return [part for item in atom.items for part in _wrap(item)]
    return _wrap(atom)


def _wrap(atom: Atom) -> list[dict]:
    if isinstance(atom, And):
        parts = [part for item in atom.items for part in _wrap(item)]
        return [{"$and": parts}] if parts else []
    if isinstance(atom, Or):
        return [{"$or": [_single(item) for item in atom.items]}]
    return [_single(atom)]


def _single(atom: Atom) -> dict:
    if isinstance(atom, And):
        parts = to_durable(atom)
        return {"$and": parts} if len(parts) != 1 else parts[0]
    if isinstance(atom, Or):
        return {"$or": [_single(item) for item in atom.items]}
    if isinstance(atom, Eq):
        return {"$eq": {atom.key: atom.value}}
    if isinstance(atom, Ne):
        return {"$neq": {atom.key: atom.value}}
    if isinstance(atom, Cmp):
        return {f"${atom.op}": {atom.key: atom.value}}
    if isinstance(atom, Missing):
        return {"$nex": {atom.key: 1}}
    if isinstance(atom, Has):
        return {"$iany": {atom.key: {"$i": atom.item}}}
    if isinstance(atom, HasNot):
        return {"$iall": {atom.key: {"$neq": {"$i": atom.item}}}}
    raise TypeError(f"cannot translate {atom!r}")


def _fact_for(group, base: dict, extras: dict) -> dict:
    """The fact a group's rules see: only the keys they read (the engine serialises every fact it
    is given, and hands it back to each action), plus the group's kind."""
    fact = {key: value for key, value in base.items() if key in group.keys}
    fact.update((key, value) for key, value in extras.items() if key in group.keys)
    fact["kind"] = group.kind
    return fact


class DurableBackend:
    """Runs a compiled policy's stages in a durable-rules ruleset of its own."""

    name = "durable-rules"

    def __init__(self, program: CompiledPolicy):
        self.program = program
        self.ruleset_name = f"policy_{program.program_id}_{next(_names)}"
        self._host = _SynchronousHost()
        self._runs: dict[str, dict] = {}
        # One evaluation at a time per backend: the C core is not re-entrant across sessions' actions.
        self._lock = threading.Lock()
        self._host.register_rulesets({self.ruleset_name: self._ruleset()})

    def _ruleset(self) -> dict:
        rules: dict[str, dict] = {}
        for number, group in enumerate(self.program.groups):
            kind_test = {"kind": group.kind}
            for stage_index in group.stages:
                for rule in self.program.stages[stage_index].rules:
                    pattern = [kind_test] + to_durable(rule.condition)
                    rules[rule.name] = {
                        "pri": number * _STAGE_SALIENCE + _RULE_OFFSET,
                        "all": [{"m": {"$and": pattern} if len(pattern) > 1 else pattern[0]}],
                        "run": self._on_rule(stage_index, rule.rule_id),
                    }
            rules[f"barrier_{number}"] = {
                "pri": number * _STAGE_SALIENCE + _BARRIER_OFFSET,
                "all": [{"m": kind_test}],
                "run": self._on_barrier(number),
            }
        # register_rulesets deletes 'run' from the dicts it is given; hand it a private copy.
        return {name: dict(spec, all=copy.deepcopy(spec["all"])) for name, spec in rules.items()}

    def _on_rule(self, stage_index: int, rule_id: str):
        def run(c):
            fired = self._runs[c.s.sid]["fired"][stage_index]
            if rule_id not in fired:  # an $or fires once per matching branch
                fired.append(rule_id)
        return run

    def _on_barrier(self, number: int):
        groups = self.program.groups

        def run(c):
            state = self._runs[c.s.sid]
            if state["error"] is not None:
                return
            try:
                extras: dict = {}
                for stage_index in groups[number].stages:
                    extras = state["advance"](stage_index, list(state["fired"][stage_index]))
                state["done"] = number + 1
                if number + 1 < len(groups):
                    c.assert_fact(_fact_for(groups[number + 1], state["base"], extras))
            except (durable_engine.MessageObservedException, durable_engine.MessageNotHandledException) as exc:
                state["error"] = EngineFailure(f"engine refused a stage fact: {exc}")
            except Exception as exc:  # the engine swallows exceptions raised in actions; keep it
                state["error"] = exc
        return run

    def run(self, base: dict, advance: Advance) -> list[list[str]]:
        """Evaluate one base fact through every stage; return the rule ids fired per stage."""
        sid = uuid.uuid4().hex
        groups = self.program.groups
        state = {"fired": [[] for _ in self.program.stages], "advance": advance, "base": base, "error": None,
                 "done": 0}
        with self._lock:
            self._runs[sid] = state
            try:
                result = self._host.assert_fact(self.ruleset_name, dict(_fact_for(groups[0], base, {}), sid=sid))
            except durable_engine.MessageNotHandledException:
                result = None
            except Exception as exc:
                raise EngineFailure(f"durable-rules failed: {exc}") from exc
            finally:
                self._runs.pop(sid, None)
                try:
                    self._host.delete_state(self.ruleset_name, sid)
                except Exception:  # a session that was never created has nothing to delete
                    pass
        if state["error"] is not None:
            raise state["error"]
        if isinstance(result, dict) and result.get("exception"):
            raise EngineFailure(f"a rule action failed inside the engine: {result['exception']}")
        if state["done"] != len(groups):
            raise EngineFailure(f"the engine stopped after fact {state['done']} of {len(groups)}")
        return state["fired"]
