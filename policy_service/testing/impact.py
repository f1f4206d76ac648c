"""Change impact: decide a corpus under two policy versions and report what changed, part by part."""

from __future__ import annotations

import subprocess
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterable

from ..decide import Decider
from ..errors import EvaluationError, PolicyLoadError, Problem
from ..policy import load_policy
from ..policy.compile import CompiledPolicy
from ..policy.loader import POLICY_SUFFIXES
from .corpus import CorpusItem

FIXED_NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
PARTS = ("categories", "primary_category", "priority", "compensation_tier", "compensation_amount",
         "escalation_path", "deadlines")


def checkout_base(base: str, policy_dir: Path, scratch: Path) -> Path:
    """A directory holding the base policy: `base` itself, or the policy's files at git revision `base`."""
    if Path(base).is_dir():
        return Path(base)
    try:
        top = subprocess.run(["git", "-C", str(policy_dir), "rev-parse", "--show-toplevel"], check=True,
                             capture_output=True, text=True).stdout.strip()
        relative = Path(policy_dir).resolve().relative_to(Path(top).resolve()).as_posix()
        names = subprocess.run(["git", "-C", top, "ls-tree", "--name-only", f"{base}:{relative}"], check=True,
                               capture_output=True, text=True).stdout.split()
    except (subprocess.CalledProcessError, ValueError, FileNotFoundError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise PolicyLoadError([Problem(base, 1, 1, "bad-base",
                                       f"'{base}' is neither a directory nor a git revision of {policy_dir}: "
                                       f"{detail.strip()}")]) from None
    target = scratch / "base"
    target.mkdir()
    for name in names:
        if name.endswith(POLICY_SUFFIXES):
            content = subprocess.run(["git", "-C", top, "show", f"{base}:{relative}/{name}"], check=True,
                                     capture_output=True).stdout
            (target / name).write_bytes(content)
    return target


@dataclass
class Impact:
    """What changed between two policy versions over a corpus."""

    base: dict
    new: dict
    evaluated: int = 0
    unchanged: int = 0
    invalid: list = field(default_factory=list)  # (where, error)
    changes: dict = field(default_factory=lambda: {part: defaultdict(list) for part in PARTS})
    amount_totals: dict = field(default_factory=lambda: {"base": defaultdict(Decimal), "new": defaultdict(Decimal)})
    deadline_shifts: dict = field(default_factory=lambda: defaultdict(list))  # clock -> hours

    def counts(self) -> dict:
        return {part: sum(len(ids) for ids in kinds.values()) for part, kinds in self.changes.items()}

    def as_dict(self, examples: int = 5) -> dict:
        shifts = {clock: {"changed": len(hours), "min_hours": round(min(hours), 2), "max_hours": round(max(hours), 2),
                          "mean_hours": round(sum(hours) / len(hours), 2)}
                  for clock, hours in sorted(self.deadline_shifts.items())}
        return {
            "base": self.base, "new": self.new, "evaluated": self.evaluated, "unchanged": self.unchanged,
            "changed": self.evaluated - self.unchanged,
            "invalid": [{"where": w, "error": e} for w, e in self.invalid],
            "parts": {part: {"changed": count, "kinds": [
                {"change": kind, "count": len(ids), "examples": ids[:examples]}
                for kind, ids in sorted(self.changes[part].items(), key=lambda item: (-len(item[1]), item[0]))]}
                for part, count in self.counts().items()},
            "compensation_totals": {side: {currency: str(total) for currency, total in sorted(totals.items())}
                                    for side, totals in self.amount_totals.items()},
            "deadline_shifts": shifts,
        }


def _amount(decision: dict) -> tuple[Decimal, str] | None:
    compensation = decision["compensation"]
    if compensation and compensation["amount"]:
        return Decimal(compensation["amount"]["value"]), compensation["amount"]["currency"]
    return None


def _text(value) -> str:
    return "none" if value is None else str(value)


def compare(impact: Impact, complaint_id: str, old: dict, new: dict) -> None:
    """Record every part in which two decisions for one complaint differ."""
    changed = False

    def note(part: str, before, after) -> None:
        nonlocal changed
        if before != after:
            changed = True
            impact.changes[part][f"{_text(before)} → {_text(after)}"].append(complaint_id)

    note("categories", ",".join(sorted(c["id"] for c in old["categories"])) or None,
         ",".join(sorted(c["id"] for c in new["categories"])) or None)
    note("primary_category", old["primary_category"], new["primary_category"])
    note("priority", old["priority"]["id"], new["priority"]["id"])
    note("compensation_tier", (old["compensation"] or {}).get("tier"), (new["compensation"] or {}).get("tier"))
    before, after = _amount(old), _amount(new)
    note("compensation_amount", before and f"{before[0]} {before[1]}", after and f"{after[0]} {after[1]}")
    for side, amount in (("base", before), ("new", after)):
        if amount:
            impact.amount_totals[side][amount[1]] += amount[0]
    note("escalation_path", (old["escalation"] or {}).get("path"), (new["escalation"] or {}).get("path"))
    old_due = {d["clock"]: d["due"] for d in old["deadlines"]}
    new_due = {d["clock"]: d["due"] for d in new["deadlines"]}
    for clock in sorted(set(old_due) | set(new_due)):
        if old_due.get(clock) == new_due.get(clock):
            continue
        if clock in old_due and clock in new_due:
            hours = (datetime.fromisoformat(new_due[clock]) - datetime.fromisoformat(old_due[clock])).total_seconds()
            hours /= 3600
            impact.deadline_shifts[clock].append(hours)
            note("deadlines", f"{clock} moved", f"{'later' if hours > 0 else 'earlier'}")
        else:
            note("deadlines", f"{clock} {'removed' if clock in old_due else 'added'}", "")
    impact.unchanged += not changed


def run_impact(base: CompiledPolicy, new: CompiledPolicy, items: Iterable[CorpusItem],
               progress: Callable[[int], None] | None = None) -> Impact:
    """Decide every corpus item under both policies and collect the differences."""
    old_decider, new_decider = Decider(base), Decider(new)
    impact = Impact(base.policy.summary(), new.policy.summary())
    for item in items:
        if progress:
            progress(1)
        if item.payload is None:
            impact.invalid.append((item.where, item.error))
            continue
        try:
            old = old_decider.decide(item.payload, now=FIXED_NOW)
            new_decision = new_decider.decide(item.payload, now=FIXED_NOW)
        except EvaluationError as exc:
            impact.invalid.append((item.where, str(exc)))
            continue
        impact.evaluated += 1
        compare(impact, old["complaint_id"], old, new_decision)
    return impact


def load_pair(base: str, policy_dir: Path) -> tuple[CompiledPolicy, CompiledPolicy, tempfile.TemporaryDirectory]:
    """Load the base (directory or git revision) and the new policy."""
    scratch = tempfile.TemporaryDirectory(prefix="policy-diff-")
    base_dir = checkout_base(base, Path(policy_dir), Path(scratch.name))
    return load_policy(base_dir), load_policy(policy_dir), scratch


def render_text(impact: Impact, examples: int = 5) -> str:
    """A terminal report."""
    data = impact.as_dict(examples)
    lines = [f"base {data['base']['name']} {data['base']['version']} ({data['base']['digest'][:19]}…) → "
             f"new {data['new']['name']} {data['new']['version']} ({data['new']['digest'][:19]}…)",
             f"{data['evaluated']} complaints decided: {data['changed']} changed, {data['unchanged']} unchanged, "
             f"{len(data['invalid'])} could not be decided"]
    for part, detail in data["parts"].items():
        if not detail["changed"]:
            continue
        lines.append(f"\n{part.replace('_', ' ')}: {detail['changed']} changed")
        for kind in detail["kinds"]:
            lines.append(f"  {kind['change']}: {kind['count']}  e.g. {', '.join(kind['examples'])}")
    for clock, shift in data["deadline_shifts"].items():
        lines.append(f"  {clock}: {shift['changed']} due times moved by {shift['min_hours']}..{shift['max_hours']} h "
                     f"(mean {shift['mean_hours']} h)")
    totals = data["compensation_totals"]
    if totals["base"] != totals["new"]:
        lines.append(f"\ncompensation total: {totals['base'] or '0'} → {totals['new'] or '0'}")
    for invalid in data["invalid"][:examples]:
        lines.append(f"could not decide {invalid['where']}: {invalid['error']}")
    return "\n".join(lines)


def render_markdown(impact: Impact, examples: int = 5) -> str:
    """A review comment."""
    data = impact.as_dict(examples)
    lines = [f"### Policy change impact: `{data['base']['version']}` → `{data['new']['version']}`", "",
             f"**{data['changed']}** of {data['evaluated']} complaints get a different decision "
             f"({len(data['invalid'])} could not be decided).", "",
             "| part | changed |", "|---|---:|"]
    lines += [f"| {part.replace('_', ' ')} | {detail['changed']} |" for part, detail in data["parts"].items()]
    for part, detail in data["parts"].items():
        if detail["kinds"]:
            lines += ["", f"#### {part.replace('_', ' ')}", "", "| change | complaints | examples |", "|---|---:|---|"]
            lines += [f"| {k['change']} | {k['count']} | {', '.join(f'`{e}`' for e in k['examples'])} |"
                      for k in detail["kinds"]]
    if data["deadline_shifts"]:
        lines += ["", "| clock | moved | min h | max h | mean h |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {clock} | {s['changed']} | {s['min_hours']} | {s['max_hours']} | {s['mean_hours']} |"
                  for clock, s in data["deadline_shifts"].items()]
    totals = data["compensation_totals"]
    lines += ["", f"Compensation total: {totals['base'] or '0'} → {totals['new'] or '0'}"]
    return "\n".join(lines)
