"""The validated policy as frozen dataclasses: what the compiler and the resolver read."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Union

from ..calendar import CalendarSpec, Counting, Duration

# The stages in evaluation order; a rule may only refer to what earlier stages decided.
STAGES = ("category", "priority", "compensation", "escalation", "deadline")


@dataclass(frozen=True)
class Origin:
    """Where a policy element was written."""

    file: str
    line: int
    column: int = 1


# --- conditions -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Always:
    """A condition that always holds (a rule with no `when`)."""


@dataclass(frozen=True)
class AllOf:
    """Every one of `items` holds."""

    items: tuple


@dataclass(frozen=True)
class AnyOf:
    """At least one of `items` holds."""

    items: tuple


@dataclass(frozen=True)
class NotOf:
    """`item` does not hold."""

    item: Any


@dataclass(frozen=True)
class FieldTest:
    """A comparison of one complaint field with constants (`equals`, `less_than`, `in`, `exists` ...)."""

    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class TextTest:
    """A text condition on a string field: keywords (`contains_any`/`contains_all`) or a regex (`matches`)."""

    field: str
    op: str
    value: tuple  # keywords, or a 1-tuple holding the pattern
    origins: tuple = field(default=(), compare=False)  # where each keyword (or the pattern) was written


@dataclass(frozen=True)
class DecidedTest:
    """A test of what an earlier stage decided: `category`, `category_flag`, `priority`, `compensation`."""

    subject: str
    values: tuple


Condition = Union[Always, AllOf, AnyOf, NotOf, FieldTest, TextTest, DecidedTest]


# --- policy elements -------------------------------------------------------------------------

@dataclass(frozen=True)
class Label:
    """A human label in English and Chinese."""

    en: str
    zh: str

    def as_dict(self) -> dict:
        return {"en": self.en, "zh": self.zh}


@dataclass(frozen=True)
class Priority:
    """One rung of the priority ladder; rank 1 is the most urgent."""

    id: str
    rank: int
    label: Label
    origin: Origin


@dataclass(frozen=True)
class Category:
    """A complaint category with the condition that puts a complaint in it."""

    id: str
    label: Label
    flags: tuple[str, ...]
    when: Condition | None  # None: assigned only as the policy's default category
    origin: Origin
    description: str = ""


@dataclass(frozen=True)
class Amount:
    """How a tier's amount is computed: fixed, or a percentage of the order value with floor and cap."""

    currency: str
    fixed: Decimal | None = None
    percent_of_order: Decimal | None = None
    floor: Decimal | None = None
    cap: Decimal | None = None


@dataclass(frozen=True)
class Tier:
    """A compensation tier: a remedy, an amount rule and an approval threshold."""

    id: str
    label: Label
    remedy: str
    amount: Amount | None
    approval_above: Decimal | None
    basis: str
    origin: Origin


@dataclass(frozen=True)
class StepTiming:
    """When an escalation step fires: after a duration, at a fraction of a clock, or at its breach."""

    kind: str  # after | fraction | breach
    duration: Duration | None = None
    clock: str | None = None
    fraction: float | None = None
    calendar: str | None = None

    def describe(self) -> str:
        if self.kind == "after":
            return f"{self.duration} after receipt"
        if self.kind == "fraction":
            return f"{self.fraction:.0%} of {self.clock}"
        return f"breach of {self.clock}"


@dataclass(frozen=True)
class Step:
    """One step of an escalation path: who acts, who is told, and when."""

    role: str
    notify: tuple[str, ...]
    note: str = ""
    at: StepTiming | None = None


@dataclass(frozen=True)
class Clock:
    """A named clock such as `acknowledge` or `resolve`."""

    id: str
    label: Label
    pausable: bool
    maximum: Duration | None
    origin: Origin


@dataclass(frozen=True)
class DeadlineStage:
    """One limit of a staged deadline; extensions apply when their complaint field is set."""

    name: str
    duration: Duration
    unlocked_by: str | None = None


@dataclass(frozen=True)
class DeadlineSpec:
    """What a deadline rule sets: a clock on a calendar, its limits and how it counts."""

    clock: str
    calendar: str
    stages: tuple[DeadlineStage, ...]
    counting: Counting
    maximum: Duration | None
    basis: str


@dataclass(frozen=True)
class EscalationPath:
    """A named escalation path; paths listed first are the more senior."""

    id: str
    label: Label
    steps: tuple[Step, ...]
    origin: Origin


@dataclass(frozen=True)
class Rule:
    """A rule: when its condition holds, it proposes an outcome for one stage."""

    id: str
    stage: str
    outcome: str
    when: Condition
    origin: Origin
    description: str = ""
    deadline: DeadlineSpec | None = None


@dataclass(frozen=True)
class Policy:
    """A complete, validated policy."""

    name: str
    version: str
    description: str
    directory: str
    digest: str
    files: tuple[str, ...]
    priorities: tuple[Priority, ...]
    default_priority: str
    categories: tuple[Category, ...]
    category_precedence: tuple[str, ...]
    default_category: str | None
    tiers: tuple[Tier, ...]
    compensation_conflict: str
    paths: tuple[EscalationPath, ...]
    default_escalation: str | None
    rules: tuple[Rule, ...]
    calendars: tuple[CalendarSpec, ...] = ()
    clocks: tuple[Clock, ...] = ()
    default_calendar: str | None = None
    # The exact text of each file, as read once at load: what is stored with decisions and snapshots,
    # so it always hashes to `digest` even if the directory changes afterwards.
    sources: dict = field(default_factory=dict, compare=False, repr=False)
    lookup: dict = field(default_factory=dict, compare=False, repr=False)

    def priority(self, priority_id: str) -> Priority:
        return self.lookup["priority"][priority_id]

    def category(self, category_id: str) -> Category:
        return self.lookup["category"][category_id]

    def tier(self, tier_id: str) -> Tier:
        return self.lookup["tier"][tier_id]

    def path(self, path_id: str) -> EscalationPath:
        return self.lookup["path"][path_id]

    def rule(self, rule_id: str) -> Rule:
        return self.lookup["rule"][rule_id]

    def clock(self, clock_id: str) -> Clock:
        return self.lookup["clock"][clock_id]

    def order(self, kind: str) -> dict[str, int]:
        """Position of each rule, tier, path or precedence entry as written (earlier wins ties)."""
        cached = self.lookup.get(("order", kind))
        if cached is None:
            items = {"rule": [r.id for r in self.rules], "tier": [t.id for t in self.tiers],
                     "path": [p.id for p in self.paths], "category_precedence": list(self.category_precedence)}[kind]
            cached = self.lookup[("order", kind)] = {ident: index for index, ident in enumerate(items)}
        return cached

    def summary(self) -> dict:
        """Return name, version and digest, as every decision states them."""
        return {"name": self.name, "version": self.version, "digest": self.digest}
