"""Check parsed policy files for structure and meaning; build the policy model or report every problem."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

from datetime import date, time

from ..calendar import DAY_UNITS, UNITS, CalendarSpec, Counting, Duration
from ..complaint import FIELD_TYPES, field_type
from ..errors import PolicyLoadError, Problem, did_you_mean
from ..text import normalize_text, pattern_for_matching
from . import model as m
from .loader import LoadedSources, SourceFile

API_VERSION = "complaint-policy/v1"
TOP_KEYS = ("apiVersion", "policy", "priorities", "categories", "compensation_tiers", "escalation_paths",
            "calendars", "clocks", "rules")
POLICY_KEYS = ("name", "version", "description", "default_priority", "category_precedence", "default_category",
               "compensation_conflict", "default_escalation", "default_calendar")
FLAGS = ("safety", "legal", "regulatory", "privacy", "fraud", "financial", "vulnerable_customer")
FIRST_RANK_FLAGS = ("safety", "legal")
REMEDIES = ("apology", "explanation", "repair", "exchange", "refund", "partial_refund", "voucher", "cash",
            "goodwill_payment", "punitive_damages")
CONFLICTS = ("most_generous", "first_listed")
COMBINATORS = ("all", "any", "not")
DECIDED_SUBJECTS = {"category": "category", "category_flag": "category", "priority": "priority",
                    "compensation": "compensation"}
OPERATORS = ("equals", "not_equals", "less_than", "at_most", "greater_than", "at_least", "in", "not_in", "exists",
             "includes", "contains_any", "contains_all", "matches")
NUMERIC_OPS = ("less_than", "at_most", "greater_than", "at_least")
TEXT_OPS = ("contains_any", "contains_all", "matches")
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(-[a-z0-9_]+)*$|^[A-Z][A-Za-z0-9_]*$")
MAX_NUMBER = Decimal("1000000000000")
THEN_KEYS = ("priority", "compensation", "escalation", "deadline")
DEADLINE_KEYS = ("clock", "calendar", "duration", "extensions", "maximum", "basis", "day_zero", "outside_hours",
                 "due_on_non_working_day")
COUNTING_CHOICES = {"day_zero": ("receipt_day", "next_working_day"),
                    "outside_hours": ("next_working_day", "as_received"),
                    "due_on_non_working_day": ("keep", "next_working_day")}
CALENDAR_KEYS = ("id", "label", "description", "time_zone", "country", "subdivision", "working_hours", "cutoff",
                 "extra_holidays", "extra_working_days", "declared_years")
CLOCK_KEYS = ("id", "label", "description", "pausable", "maximum")
TIME_PATTERN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
CASCADING_CODES = ("unknown-reference", "incomplete-precedence", "missing-section", "first-rank-invariant")


class _Context:
    """Collects problems while walking one file."""

    def __init__(self, source: SourceFile, problems: list[Problem]):
        self.source = source
        self.problems = problems

    def error(self, path: tuple, code: str, message: str, key: bool = False) -> None:
        self.problems.append(self.source.problem(path, code, message, key=key))

    def warning(self, path: tuple, code: str, message: str) -> None:
        self.problems.append(self.source.problem(path, code, message, severity="warning"))

    def origin(self, path: tuple) -> m.Origin:
        line, column = self.source.where(path)
        return m.Origin(self.source.name, line, column)


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _mapping(ctx: _Context, value: Any, path: tuple, allowed: tuple, required: tuple = (), what: str = "") -> dict | None:
    """Check that `value` is a mapping with only `allowed` keys and every `required` key."""
    if not isinstance(value, dict):
        ctx.error(path, "wrong-type", f"{what or 'this'} must be a mapping, not {_type_name(value)}")
        return None
    for key in value:
        if key not in allowed:
            ctx.error(path + (key,), "unknown-key",
                      f"unknown key '{key}' in {what or 'mapping'}{did_you_mean(key, allowed)}", key=True)
    for key in required:
        if key not in value:
            ctx.error(path, "missing-key", f"{what or 'mapping'} needs '{key}'")
    return value


def _string(ctx: _Context, value: Any, path: tuple, what: str, pattern: re.Pattern | None = None) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str) or not value.strip():
        hint = " (quote it, e.g. \"1.0\")" if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
        ctx.error(path, "wrong-type", f"{what} must be non-empty text, not {_type_name(value)}{hint}")
        return None
    if pattern is not None and not pattern.match(value):
        ctx.error(path, "invalid-id", f"{what} '{value}' must be lower_snake_case (or an upper-case code like P1)")
        return None
    return value


def _decimal(ctx: _Context, value: Any, path: tuple, what: str, positive: bool = False) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float) and not math.isfinite(value)):
        ctx.error(path, "wrong-type", f"{what} must be a number, not {_type_name(value)}")
        return None
    number = Decimal(str(value))
    if number < 0 or (positive and number == 0) or number > MAX_NUMBER:
        bound = "greater than 0" if positive else "0 or more"
        ctx.error(path, "invalid-value", f"{what} must be {bound} and at most {MAX_NUMBER}")
        return None
    return number


def _label(ctx: _Context, value: Any, path: tuple, fallback: str) -> m.Label:
    if value is None:
        ctx.error(path, "missing-key", "needs a 'label' with 'en' and 'zh' texts")
        return m.Label(fallback, fallback)
    data = _mapping(ctx, value, path, ("en", "zh"), ("en", "zh"), "label")
    if data is None:
        return m.Label(fallback, fallback)
    en = _string(ctx, data.get("en"), path + ("en",), "label.en") if "en" in data else None
    zh = _string(ctx, data.get("zh"), path + ("zh",), "label.zh") if "zh" in data else None
    return m.Label(en or fallback, zh or fallback)


def _list(ctx: _Context, value: Any, path: tuple, what: str, non_empty: bool = True) -> list:
    if not isinstance(value, list):
        ctx.error(path, "wrong-type", f"{what} must be a list, not {_type_name(value)}")
        return []
    if non_empty and not value:
        ctx.error(path, "invalid-value", f"{what} must not be empty")
    return value


# --- conditions ------------------------------------------------------------------------------

class _ConditionReader:
    """Reads `when:` conditions; records references to check once every id is known."""

    def __init__(self) -> None:
        self.references: list[tuple[_Context, tuple, str, str]] = []  # (ctx, path, kind, id)

    def read(self, ctx: _Context, value: Any, path: tuple, stage: str) -> m.Condition:
        if not isinstance(value, dict):
            ctx.error(path, "wrong-type", f"a condition must be a mapping, not {_type_name(value)}")
            return m.Always()
        if not value:
            ctx.error(path, "invalid-value", "a condition must not be empty")
            return m.Always()
        heads = [k for k in value if k in COMBINATORS or k in DECIDED_SUBJECTS or k == "field"]
        if len(heads) != 1:
            if not heads:
                first = next(iter(value))
                choices = COMBINATORS + tuple(DECIDED_SUBJECTS) + ("field",) + OPERATORS
                hint = did_you_mean(first, choices)
                ctx.error(path + (first,), "unknown-operator",
                          f"'{first}' is not a condition; use all, any, not, field, category, category_flag, "
                          f"priority or compensation{hint}", key=True)
            else:
                ctx.error(path, "invalid-condition",
                          f"one condition per mapping: found {', '.join(heads)}; wrap several in 'all:' or 'any:'")
            return m.Always()
        head = heads[0]
        if head in COMBINATORS:
            for key in value:
                if key != head:
                    ctx.error(path + (key,), "unknown-key", f"'{head}' stands alone; '{key}' belongs in a separate "
                              "condition", key=True)
            if head == "not":
                return m.NotOf(self.read(ctx, value["not"], path + ("not",), stage))
            items = _list(ctx, value[head], path + (head,), f"'{head}'")
            parts = tuple(self.read(ctx, item, path + (head, i), stage) for i, item in enumerate(items))
            return m.AllOf(parts) if head == "all" else m.AnyOf(parts)
        if head in DECIDED_SUBJECTS:
            return self._decided(ctx, value, path, head, stage)
        return self._field(ctx, value, path)

    def _decided(self, ctx: _Context, value: dict, path: tuple, head: str, stage: str) -> m.Condition:
        for key in value:
            if key != head:
                ctx.error(path + (key,), "unknown-key", f"'{head}' stands alone; '{key}' belongs in a separate "
                          "condition", key=True)
        decided_by = DECIDED_SUBJECTS[head]
        if m.STAGES.index(decided_by) >= m.STAGES.index(stage):
            ctx.error(path + (head,), "stage-order",
                      f"a {stage} rule cannot test '{head}': the {decided_by} stage is decided "
                      f"{'at the same time' if decided_by == stage else 'later'} (order: {' → '.join(m.STAGES)})",
                      key=True)
        raw = value[head]
        values = raw if isinstance(raw, list) else [raw]
        if not values:
            ctx.error(path + (head,), "invalid-value", f"'{head}' needs at least one id")
        ids = []
        for i, item in enumerate(values):
            sub = path + (head, i) if isinstance(raw, list) else path + (head,)
            text = _string(ctx, item, sub, f"'{head}' id")
            if text is not None:
                ids.append(text)
                if head == "category_flag":
                    if text not in FLAGS:
                        ctx.error(sub, "unknown-reference", f"unknown flag '{text}'{did_you_mean(text, FLAGS)}")
                else:
                    self.references.append((ctx, sub, head, text))
        return m.DecidedTest(head, tuple(ids))

    def _field(self, ctx: _Context, value: dict, path: tuple) -> m.Condition:
        name = _string(ctx, value.get("field"), path + ("field",), "'field'")
        ops = [k for k in value if k != "field"]
        for key in ops:
            if key not in OPERATORS:
                ctx.error(path + (key,), "unknown-operator",
                          f"unknown operator '{key}'{did_you_mean(key, OPERATORS)}", key=True)
        ops = [k for k in ops if k in OPERATORS]
        if len(ops) != 1:
            if not ops and len(value) == 1:
                ctx.error(path, "missing-operator", f"field condition needs one operator: {', '.join(OPERATORS)}")
            elif len(ops) > 1:
                ctx.error(path, "invalid-condition",
                          f"one operator per field condition (found {', '.join(ops)}); combine with 'all:'")
            return m.Always()
        op = ops[0]
        if name is None:
            return m.Always()
        kind = field_type(name)
        if kind is None:
            known = list(FIELD_TYPES) + ["attributes.<name>"]
            ctx.error(path + ("field",), "unknown-field", f"unknown complaint field '{name}'{did_you_mean(name, known)}")
            return m.Always()
        raw = value[op]
        at = path + (op,)
        if op in TEXT_OPS:
            return self._text(ctx, name, kind, op, raw, at)
        if kind == "datetime" and op != "exists":
            ctx.error(at, "wrong-operator", f"'{name}' is a date-time; only 'exists' applies to it")
            return m.Always()
        if op == "exists":
            if not isinstance(raw, bool):
                ctx.error(at, "wrong-type", f"'exists' takes true or false, not {_type_name(raw)}")
                return m.Always()
            return m.FieldTest(name, op, raw)
        if op in NUMERIC_OPS:
            if kind not in ("number", "any"):
                ctx.error(at, "wrong-operator", f"'{op}' compares numbers, but '{name}' holds {kind} values")
                return m.Always()
            number = self._number(ctx, raw, at, op)
            return m.FieldTest(name, op, number) if number is not None else m.Always()
        if op == "includes":
            if kind not in ("list", "any"):
                ctx.error(at, "wrong-operator", f"'includes' tests list fields such as tags; '{name}' holds {kind} "
                          "values (use 'equals' or 'in')")
                return m.Always()
            items = raw if isinstance(raw, list) else [raw]
            scalars = self._scalars(ctx, items, at, op, kind="string")
            return m.FieldTest(name, op, tuple(scalars)) if scalars else m.Always()
        if kind == "list":
            ctx.error(at, "wrong-operator", f"'{name}' is a list; test it with 'includes'")
            return m.Always()
        if op in ("in", "not_in"):
            items = _list(ctx, raw, at, f"'{op}'")
            scalars = self._scalars(ctx, items, at, op, kind=kind)
            return m.FieldTest(name, op, tuple(scalars)) if scalars else m.Always()
        scalars = self._scalars(ctx, [raw], at, op, kind=kind, single=True)
        return m.FieldTest(name, op, scalars[0]) if scalars else m.Always()

    def _number(self, ctx: _Context, raw: Any, at: tuple, op: str):
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or (isinstance(raw, float) and not math.isfinite(raw)):
            ctx.error(at, "wrong-type", f"'{op}' needs a number, not {_type_name(raw)}")
            return None
        if abs(Decimal(str(raw))) > MAX_NUMBER:
            ctx.error(at, "invalid-value", f"numbers in conditions must be within ±{MAX_NUMBER}")
            return None
        return Decimal(str(raw))

    def _scalars(self, ctx: _Context, items: list, at: tuple, op: str, kind: str, single: bool = False) -> list:
        out = []
        for i, item in enumerate(items):
            where = at if single else at + (i,)
            if isinstance(item, bool):
                if kind not in ("boolean", "any"):
                    ctx.error(where, "wrong-type", f"'{op}' compares text here, not true/false")
                    continue
                out.append(item)
            elif isinstance(item, (int, float)):
                number = self._number(ctx, item, where, op)
                if number is None:
                    continue
                if kind not in ("number", "any"):
                    ctx.error(where, "wrong-type", f"this field holds {kind} values; write the number as text "
                              f"(\"{item}\") if that is what you mean")
                    continue
                out.append(number)
            elif isinstance(item, str):
                if kind in ("number", "boolean"):
                    ctx.error(where, "wrong-type", f"this field holds {kind} values, not text")
                    continue
                out.append(item)
            else:
                ctx.error(where, "wrong-type", f"'{op}' compares with plain values, not {_type_name(item)}")
        return out

    def _text(self, ctx: _Context, name: str, kind: str, op: str, raw: Any, at: tuple) -> m.Condition:
        if kind not in ("string", "any"):
            ctx.error(at, "wrong-operator", f"'{op}' matches text, but '{name}' holds {kind} values")
            return m.Always()
        if op == "matches":
            if not isinstance(raw, str) or not raw:
                ctx.error(at, "wrong-type", f"'matches' takes a regular expression as text, not {_type_name(raw)}")
                return m.Always()
            try:
                pattern_for_matching(raw)
            except re.error as exc:
                ctx.error(at, "invalid-regex", f"invalid regular expression: {exc}")
                return m.Always()
            return m.TextTest(name, op, (raw,), (ctx.origin(at),))
        items = _list(ctx, raw, at, f"'{op}'")
        keywords: list[str] = []
        origins: list[m.Origin] = []
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                ctx.error(at + (i,), "wrong-type", f"keywords are text, not {_type_name(item)}")
                continue
            normal = normalize_text(str(item)).strip()
            if not normal:
                ctx.error(at + (i,), "invalid-value", "a keyword must contain letters or digits")
                continue
            if normal in seen:
                ctx.warning(at + (i,), "duplicate-keyword",
                            f"keyword '{item}' is the same as item {seen[normal]} once normalised")
                continue
            seen[normal] = i
            keywords.append(str(item))
            origins.append(ctx.origin(at + (i,)))
        return m.TextTest(name, op, tuple(keywords), tuple(origins)) if keywords else m.Always()


# --- elements --------------------------------------------------------------------------------

class _Collected:
    """Everything read from all files, before cross-references are checked."""

    def __init__(self) -> None:
        self.policy: tuple[_Context, tuple, dict] | None = None
        self.priorities: list[tuple[_Context, tuple, dict]] | None = None
        self.priorities_at: tuple[_Context, tuple] | None = None
        self.categories: list[tuple[_Context, tuple, m.Category]] = []
        self.tiers: list[tuple[_Context, tuple, m.Tier]] = []
        self.paths: list[tuple[_Context, tuple, m.EscalationPath]] = []
        self.rules: list[tuple[_Context, tuple, m.Rule]] = []
        self.calendars: list[tuple[_Context, tuple, CalendarSpec]] = []
        self.clocks: list[tuple[_Context, tuple, m.Clock]] = []


def _read_file(ctx: _Context, collected: _Collected, conditions: _ConditionReader) -> None:
    data = ctx.source.data
    if data is None:
        ctx.error((), "empty-file", "the file is empty; it needs at least 'apiVersion'")
        return
    doc = _mapping(ctx, data, (), TOP_KEYS, ("apiVersion",), "a policy file")
    if doc is None:
        return
    if "apiVersion" in doc and doc["apiVersion"] != API_VERSION:
        ctx.error(("apiVersion",), "bad-api-version",
                  f"apiVersion must be '{API_VERSION}', not '{doc['apiVersion']}'")
    if "policy" in doc:
        if collected.policy is not None:
            first = collected.policy[0]
            ctx.error(("policy",), "duplicate-section",
                      f"'policy' is already declared in {first.source.name}:{first.source.where(('policy',), key=True)[0]}",
                      key=True)
        else:
            block = _mapping(ctx, doc["policy"], ("policy",), POLICY_KEYS,
                             ("name", "version", "default_priority", "category_precedence", "compensation_conflict"),
                             "'policy'")
            if block is not None:
                collected.policy = (ctx, ("policy",), block)
    if "priorities" in doc:
        if collected.priorities is not None:
            ctx.error(("priorities",), "duplicate-section", "the priority ladder is declared twice; keep one",
                      key=True)
        else:
            items = _list(ctx, doc["priorities"], ("priorities",), "'priorities'")
            collected.priorities = [(ctx, ("priorities", i), item) for i, item in enumerate(items)]
    for i, item in enumerate(_list(ctx, doc.get("categories", []), ("categories",), "'categories'", non_empty=False)):
        _read_category(ctx, ("categories", i), item, collected, conditions)
    for i, item in enumerate(_list(ctx, doc.get("compensation_tiers", []), ("compensation_tiers",),
                                   "'compensation_tiers'", non_empty=False)):
        _read_tier(ctx, ("compensation_tiers", i), item, collected)
    for i, item in enumerate(_list(ctx, doc.get("escalation_paths", []), ("escalation_paths",),
                                   "'escalation_paths'", non_empty=False)):
        _read_path(ctx, ("escalation_paths", i), item, collected, conditions.references)
    for i, item in enumerate(_list(ctx, doc.get("calendars", []), ("calendars",), "'calendars'", non_empty=False)):
        _read_calendar(ctx, ("calendars", i), item, collected)
    for i, item in enumerate(_list(ctx, doc.get("clocks", []), ("clocks",), "'clocks'", non_empty=False)):
        _read_clock(ctx, ("clocks", i), item, collected)
    for i, item in enumerate(_list(ctx, doc.get("rules", []), ("rules",), "'rules'", non_empty=False)):
        _read_rule(ctx, ("rules", i), item, collected, conditions)


def _read_category(ctx, path, item, collected, conditions) -> None:
    data = _mapping(ctx, item, path, ("id", "label", "flags", "description", "when"), ("id",), "category")
    if data is None:
        return
    category_id = _string(ctx, data.get("id"), path + ("id",), "category id", ID_PATTERN) if "id" in data else None
    flags = []
    for i, flag in enumerate(_list(ctx, data.get("flags", []), path + ("flags",), "'flags'", non_empty=False)):
        if flag not in FLAGS:
            ctx.error(path + ("flags", i), "unknown-flag", f"unknown flag '{flag}'{did_you_mean(str(flag), FLAGS)}"
                      f" (known: {', '.join(FLAGS)})")
        else:
            flags.append(flag)
    when = conditions.read(ctx, data["when"], path + ("when",), "category") if "when" in data else None
    if category_id:
        collected.categories.append((ctx, path, m.Category(
            category_id, _label(ctx, data.get("label"), path + ("label",), category_id), tuple(flags), when,
            ctx.origin(path), str(data.get("description", "")))))


def _read_tier(ctx, path, item, collected) -> None:
    data = _mapping(ctx, item, path, ("id", "label", "remedy", "amount", "approval_above", "basis", "description"),
                    ("id", "remedy"), "compensation tier")
    if data is None:
        return
    tier_id = _string(ctx, data.get("id"), path + ("id",), "tier id", ID_PATTERN) if "id" in data else None
    remedy = data.get("remedy")
    if "remedy" in data and remedy not in REMEDIES:
        ctx.error(path + ("remedy",), "invalid-value",
                  f"unknown remedy '{remedy}'{did_you_mean(str(remedy), REMEDIES)} (known: {', '.join(REMEDIES)})")
    amount = _read_amount(ctx, path + ("amount",), data["amount"]) if "amount" in data else None
    approval = (_decimal(ctx, data["approval_above"], path + ("approval_above",), "'approval_above'")
                if "approval_above" in data else None)
    if approval is not None and amount is None:
        ctx.error(path + ("approval_above",), "invalid-value", "'approval_above' needs an 'amount' to compare with")
    if tier_id:
        collected.tiers.append((ctx, path, m.Tier(
            tier_id, _label(ctx, data.get("label"), path + ("label",), tier_id), str(remedy), amount, approval,
            str(data.get("basis", "")), ctx.origin(path))))


def _read_amount(ctx, path, item) -> m.Amount | None:
    data = _mapping(ctx, item, path, ("fixed", "percent_of_order", "floor", "cap", "currency"), ("currency",),
                    "'amount'")
    if data is None:
        return None
    currency = data.get("currency")
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        ctx.error(path + ("currency",), "invalid-value", "currency must be an ISO 4217 code such as CNY or GBP")
    has_fixed, has_percent = "fixed" in data, "percent_of_order" in data
    if has_fixed == has_percent:
        ctx.error(path, "invalid-amount", "give exactly one of 'fixed' or 'percent_of_order'")
        return None
    if has_fixed and ("floor" in data or "cap" in data):
        ctx.error(path, "invalid-amount", "'floor' and 'cap' apply only to 'percent_of_order'")
    fixed = _decimal(ctx, data["fixed"], path + ("fixed",), "'fixed'") if has_fixed else None
    percent = (_decimal(ctx, data["percent_of_order"], path + ("percent_of_order",), "'percent_of_order'",
                        positive=True) if has_percent else None)
    floor = _decimal(ctx, data["floor"], path + ("floor",), "'floor'") if "floor" in data else None
    cap = _decimal(ctx, data["cap"], path + ("cap",), "'cap'") if "cap" in data else None
    if floor is not None and cap is not None and floor > cap:
        ctx.error(path + ("cap",), "invalid-amount", f"cap {cap} is below floor {floor}")
    return m.Amount(str(currency), fixed, percent, floor, cap)


def _read_path(ctx, path, item, collected, references) -> None:
    data = _mapping(ctx, item, path, ("id", "label", "steps", "description"), ("id", "steps"), "escalation path")
    if data is None:
        return
    path_id = _string(ctx, data.get("id"), path + ("id",), "escalation path id", ID_PATTERN) if "id" in data else None
    steps = []
    for i, step in enumerate(_list(ctx, data.get("steps", []), path + ("steps",), "'steps'")):
        at = path + ("steps", i)
        block = _mapping(ctx, step, at, ("role", "notify", "note", "at"), ("role",), "escalation step")
        if block is None:
            continue
        role = _string(ctx, block.get("role"), at + ("role",), "'role'") if "role" in block else None
        notify = []
        for j, who in enumerate(_list(ctx, block.get("notify", []), at + ("notify",), "'notify'", non_empty=False)):
            text = _string(ctx, who, at + ("notify", j), "a notify entry")
            if text:
                notify.append(text)
        timing = _read_timing(ctx, at + ("at",), block["at"], references) if "at" in block else None
        if role:
            steps.append(m.Step(role, tuple(notify), str(block.get("note", "")), timing))
    if path_id:
        collected.paths.append((ctx, path, m.EscalationPath(
            path_id, _label(ctx, data.get("label"), path + ("label",), path_id), tuple(steps), ctx.origin(path))))


def _read_rule(ctx, path, item, collected, conditions) -> None:
    data = _mapping(ctx, item, path, ("id", "description", "when", "then"), ("id", "then"), "rule")
    if data is None:
        return
    rule_id = _string(ctx, data.get("id"), path + ("id",), "rule id", ID_PATTERN) if "id" in data else None
    then = _mapping(ctx, data.get("then"), path + ("then",), THEN_KEYS, (), "'then'") if "then" in data else None
    if then is None:
        return
    chosen = [k for k in then if k in THEN_KEYS]
    if len(chosen) != 1:
        if chosen or not then:
            ctx.error(path + ("then",), "invalid-then",
                      f"a rule decides exactly one thing: one of {', '.join(THEN_KEYS)} (split it into several rules)")
        return
    stage = chosen[0]
    deadline = None
    if stage == "deadline":
        deadline = _read_deadline(ctx, path + ("then", "deadline"), then["deadline"], conditions.references)
        outcome = deadline.clock if deadline else None
    else:
        outcome = _string(ctx, then[stage], path + ("then", stage), f"'{stage}'")
        if outcome is not None:
            conditions.references.append((ctx, path + ("then", stage), stage, outcome))
    when = conditions.read(ctx, data["when"], path + ("when",), stage) if "when" in data else m.Always()
    if rule_id and outcome:
        collected.rules.append((ctx, path, m.Rule(rule_id, stage, outcome, when, ctx.origin(path),
                                                  str(data.get("description", "")), deadline)))


def _duration(ctx: _Context, value: Any, path: tuple, what: str, allow_zero: bool = False) -> Duration | None:
    """Read `{unit: amount}`, e.g. `{business_days: 15}`."""
    if not isinstance(value, dict) or len(value) != 1:
        ctx.error(path, "invalid-duration", f"{what} is one unit and amount, e.g. {{business_days: 15}}; units: "
                  f"{', '.join(UNITS)}")
        return None
    unit, amount = next(iter(value.items()))
    if unit not in UNITS:
        ctx.error(path + (unit,), "invalid-duration", f"unknown unit '{unit}'{did_you_mean(unit, UNITS)}", key=True)
        return None
    if (isinstance(amount, bool) or not isinstance(amount, (int, float)) or not math.isfinite(amount)
            or amount < 0 or (amount == 0 and not allow_zero)):
        ctx.error(path + (unit,), "invalid-duration",
                  f"{what} needs a {'non-negative' if allow_zero else 'positive'} number of {unit}")
        return None
    if unit in DAY_UNITS and not float(amount).is_integer():
        ctx.error(path + (unit,), "invalid-duration", f"{unit} must be a whole number")
        return None
    if amount > 3660:
        ctx.error(path + (unit,), "invalid-duration", f"{what} of {amount} {unit} is implausibly long")
        return None
    return Duration(unit, float(amount))


def _time_of_day(ctx: _Context, value: Any, path: tuple, what: str) -> time | None:
    if isinstance(value, int) and not isinstance(value, bool):
        ctx.error(path, "wrong-type", f"{what} must be quoted (\"{value // 60:02d}:{value % 60:02d}\"): "
                  "unquoted, YAML reads it as a number")
        return None
    if not isinstance(value, str) or not TIME_PATTERN.match(value):
        ctx.error(path, "invalid-value", f"{what} must be a time like \"09:00\"")
        return None
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _dates(ctx: _Context, value: Any, path: tuple, what: str) -> frozenset:
    out = set()
    for i, item in enumerate(_list(ctx, value, path, what, non_empty=False)):
        if isinstance(item, date):
            out.add(item)
            continue
        try:
            out.add(date.fromisoformat(str(item)))
        except ValueError:
            ctx.error(path + (i,), "invalid-value", f"'{item}' is not a date (YYYY-MM-DD)")
    return frozenset(out)


def _read_calendar(ctx, path, item, collected) -> None:
    data = _mapping(ctx, item, path, CALENDAR_KEYS, ("id", "time_zone", "country"), "calendar")
    if data is None:
        return
    calendar_id = _string(ctx, data.get("id"), path + ("id",), "calendar id", ID_PATTERN) if "id" in data else None
    zone = _string(ctx, data.get("time_zone"), path + ("time_zone",), "'time_zone'") if "time_zone" in data else None
    if zone:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            ctx.error(path + ("time_zone",), "invalid-value",
                      f"unknown IANA time zone '{zone}'{did_you_mean(zone, available_timezones())}")
            zone = None
    country = data.get("country")
    subdivision = data.get("subdivision")
    import holidays

    supported = holidays.list_supported_countries()
    if "country" in data and country not in supported:
        ctx.error(path + ("country",), "invalid-value",
                  f"no public-holiday data for country '{country}'{did_you_mean(str(country), supported)}")
        country = None
    elif subdivision is not None and country and str(subdivision) not in supported[country]:
        ctx.error(path + ("subdivision",), "invalid-value",
                  f"unknown subdivision '{subdivision}' of {country}{did_you_mean(str(subdivision), supported[country])}")
    start, end = time(9, 0), time(18, 0)
    if "working_hours" in data:
        hours = _mapping(ctx, data["working_hours"], path + ("working_hours",), ("start", "end"), ("start", "end"),
                         "'working_hours'")
        if hours:
            start = _time_of_day(ctx, hours.get("start"), path + ("working_hours", "start"), "start") or start
            end = _time_of_day(ctx, hours.get("end"), path + ("working_hours", "end"), "end") or end
            if start >= end:
                ctx.error(path + ("working_hours",), "invalid-value", "working hours must start before they end")
    cutoff = _time_of_day(ctx, data["cutoff"], path + ("cutoff",), "'cutoff'") if "cutoff" in data else None
    years = []
    for i, year in enumerate(_list(ctx, data.get("declared_years", []), path + ("declared_years",),
                                   "'declared_years'", non_empty=False)):
        if isinstance(year, bool) or not isinstance(year, int) or not 1990 <= year <= 2100:
            ctx.error(path + ("declared_years", i), "invalid-value", "declared years are four-digit years")
        else:
            years.append(year)
    if calendar_id:
        # An invalid calendar is still declared, so rules naming it get no second, misleading error.
        collected.calendars.append((ctx, path, CalendarSpec(
            calendar_id, zone or "UTC", country or "GB", str(subdivision) if subdivision is not None else None, start, end, cutoff,
            _dates(ctx, data.get("extra_holidays", []), path + ("extra_holidays",), "'extra_holidays'"),
            _dates(ctx, data.get("extra_working_days", []), path + ("extra_working_days",), "'extra_working_days'"),
            frozenset(years))))


def _read_clock(ctx, path, item, collected) -> None:
    data = _mapping(ctx, item, path, CLOCK_KEYS, ("id",), "clock")
    if data is None:
        return
    clock_id = _string(ctx, data.get("id"), path + ("id",), "clock id", ID_PATTERN) if "id" in data else None
    pausable = data.get("pausable", False)
    if not isinstance(pausable, bool):
        ctx.error(path + ("pausable",), "wrong-type", "'pausable' is true or false")
    maximum = _duration(ctx, data["maximum"], path + ("maximum",), "'maximum'") if "maximum" in data else None
    if clock_id:
        collected.clocks.append((ctx, path, m.Clock(clock_id, _label(ctx, data.get("label"), path + ("label",),
                                                                     clock_id), bool(pausable), maximum,
                                                    ctx.origin(path))))


def _read_deadline(ctx, path, value, references) -> m.DeadlineSpec | None:
    data = _mapping(ctx, value, path, DEADLINE_KEYS, ("clock", "calendar", "duration"), "'deadline'")
    if data is None:
        return None
    clock = _string(ctx, data.get("clock"), path + ("clock",), "'clock'") if "clock" in data else None
    calendar = _string(ctx, data.get("calendar"), path + ("calendar",), "'calendar'") if "calendar" in data else None
    if clock:
        references.append((ctx, path + ("clock",), "clock", clock))
    if calendar:
        references.append((ctx, path + ("calendar",), "calendar", calendar))
    base = _duration(ctx, data["duration"], path + ("duration",), "'duration'") if "duration" in data else None
    stages = [m.DeadlineStage("standard", base)] if base else []
    for i, item in enumerate(_list(ctx, data.get("extensions", []), path + ("extensions",), "'extensions'",
                                   non_empty=False)):
        at = path + ("extensions", i)
        block = _mapping(ctx, item, at, ("name", "duration", "unlocked_by"), ("name", "duration", "unlocked_by"),
                         "extension")
        if block is None:
            continue
        name = _string(ctx, block.get("name"), at + ("name",), "'name'", ID_PATTERN) if "name" in block else None
        duration = _duration(ctx, block["duration"], at + ("duration",), "'duration'") if "duration" in block else None
        field = _string(ctx, block.get("unlocked_by"), at + ("unlocked_by",), "'unlocked_by'") \
            if "unlocked_by" in block else None
        if field and field_type(field) is None:
            known = list(FIELD_TYPES) + ["attributes.<name>"]
            ctx.error(at + ("unlocked_by",), "unknown-field",
                      f"unknown complaint field '{field}'{did_you_mean(field, known)}")
            field = None
        if name and duration and field:
            if stages and not _not_shorter(duration, stages[-1].duration):
                ctx.error(at + ("duration",), "invalid-duration",
                          f"extension '{name}' ({duration}) must not be shorter than the limit before it "
                          f"({stages[-1].duration})")
            stages.append(m.DeadlineStage(name, duration, field))
    maximum = _duration(ctx, data["maximum"], path + ("maximum",), "'maximum'") if "maximum" in data else None
    choices = {}
    for key, allowed in COUNTING_CHOICES.items():
        if key in data:
            if data[key] not in allowed:
                ctx.error(path + (key,), "invalid-value",
                          f"'{key}' is one of {', '.join(allowed)}{did_you_mean(str(data[key]), allowed)}")
            else:
                choices[key] = data[key]
    if not (clock and calendar and stages):
        return None
    spec = m.DeadlineSpec(clock, calendar, tuple(stages), Counting(**choices), maximum, str(data.get("basis", "")))
    if maximum:
        for stage in stages:
            _check_maximum(ctx, path, stage, maximum, "this rule's 'maximum'")
    return spec


_APPROX_DAYS = {"hours": 1 / 24, "working_hours": 1 / 24, "calendar_days": 1, "business_days": 1, "weeks": 7,
                "months": 31}
_FAMILY = {"hours": "hours", "working_hours": "working_hours", "calendar_days": "days", "weeks": "days",
           "months": "days", "business_days": "business_days"}


def _not_shorter(longer: Duration, shorter: Duration) -> bool:
    if _FAMILY[longer.unit] != _FAMILY[shorter.unit]:
        return True  # units that cannot be compared exactly are not flagged
    return longer.amount * _APPROX_DAYS[longer.unit] >= shorter.amount * _APPROX_DAYS[shorter.unit]


def _check_maximum(ctx, path, stage: m.DeadlineStage, maximum: Duration, source: str) -> None:
    """A clock longer than its declared regulatory maximum is an error."""
    if _FAMILY[stage.duration.unit] != _FAMILY[maximum.unit]:
        ctx.error(path, "incomparable-maximum",
                  f"limit '{stage.name}' ({stage.duration}) cannot be checked against {source} ({maximum}); "
                  "state the maximum in the same kind of unit")
    elif stage.duration.amount * _APPROX_DAYS[stage.duration.unit] > maximum.amount * _APPROX_DAYS[maximum.unit]:
        ctx.error(path, "exceeds-maximum",
                  f"limit '{stage.name}' ({stage.duration}) is longer than {source} ({maximum})")


def _read_timing(ctx, path, value, references) -> m.StepTiming | None:
    data = _mapping(ctx, value, path, ("after", "fraction_of", "fraction", "breach_of", "calendar"), (), "'at'")
    if data is None:
        return None
    kinds = [k for k in ("after", "fraction_of", "breach_of") if k in data]
    if len(kinds) != 1:
        ctx.error(path, "invalid-timing", "'at' takes one of: after: {duration}, fraction_of: clock with "
                  "fraction: 0.5, or breach_of: clock")
        return None
    calendar = data.get("calendar")
    if calendar is not None:
        references.append((ctx, path + ("calendar",), "calendar", str(calendar)))
    if "after" in data:
        duration = _duration(ctx, data["after"], path + ("after",), "'after'", allow_zero=True)
        return m.StepTiming("after", duration=duration, calendar=calendar) if duration else None
    key = kinds[0]
    clock = _string(ctx, data[key], path + (key,), f"'{key}'")
    if clock:
        references.append((ctx, path + (key,), "clock", clock))
    if key == "breach_of":
        return m.StepTiming("breach", clock=clock) if clock else None
    fraction = data.get("fraction")
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        ctx.error(path + ("fraction",), "invalid-value", "'fraction' is a number between 0 and 1, e.g. 0.5")
        return None
    return m.StepTiming("fraction", clock=clock, fraction=float(fraction)) if clock else None


# --- whole-policy checks ---------------------------------------------------------------------

def _unique(items: list, kind: str) -> dict:
    seen: dict = {}
    for ctx, path, element in items:
        if element.id in seen:
            first_ctx, first_path, _ = seen[element.id]
            line = first_ctx.source.where(first_path + ("id",))[0]
            ctx.error(path + ("id",), "duplicate-id",
                      f"{kind} id '{element.id}' is already used at {first_ctx.source.name}:{line}")
        else:
            seen[element.id] = (ctx, path, element)
    return seen


def _guarantees(condition: m.Condition, category: m.Category) -> bool:
    """True when a condition holds for every complaint in `category`, whatever else it says."""
    if isinstance(condition, m.DecidedTest):
        if condition.subject == "category":
            return category.id in condition.values
        if condition.subject == "category_flag":
            return any(flag in condition.values for flag in category.flags)
        return False
    if isinstance(condition, m.AnyOf):
        return any(_guarantees(item, category) for item in condition.items)
    if isinstance(condition, m.AllOf):
        return all(_guarantees(item, category) for item in condition.items)
    return isinstance(condition, m.Always)


def _requires(condition: m.Condition, category: m.Category) -> bool:
    """True when a condition can only hold for complaints in `category` (or with its safety/legal flag)."""
    if isinstance(condition, m.DecidedTest) and condition.subject == "category":
        return condition.values == (category.id,)
    if isinstance(condition, m.DecidedTest) and condition.subject == "category_flag":
        return all(flag in FIRST_RANK_FLAGS and flag in category.flags for flag in condition.values)
    if isinstance(condition, m.AllOf):
        return any(_requires(item, category) for item in condition.items)
    return False


def validate(sources: LoadedSources) -> m.Policy:
    """Validate parsed files into a Policy; raise PolicyLoadError listing every problem."""
    problems: list[Problem] = list(sources.problems)
    collected = _Collected()
    conditions = _ConditionReader()
    contexts = [_Context(source, problems) for source in sources.files]
    for ctx in contexts:
        _read_file(ctx, collected, conditions)
    first = contexts[0] if contexts else None

    # policy metadata and ladder
    policy_block: dict = {}
    policy_ctx = first
    if collected.policy is None:
        if first is not None:
            first.error((), "missing-section", "no file declares the 'policy' section (name, version, ...)")
    else:
        policy_ctx, _, policy_block = collected.policy
    parsed_priorities: list[tuple[_Context, tuple, m.Priority]] = []
    if collected.priorities is None:
        if first is not None:
            first.error((), "missing-section", "no file declares the 'priorities' ladder")
    else:
        for ctx, path, item in collected.priorities:
            data = _mapping(ctx, item, path, ("id", "label", "description"), ("id",), "priority")
            if data is None or "id" not in data:
                continue
            pid = _string(ctx, data["id"], path + ("id",), "priority id", ID_PATTERN)
            if pid:
                rung = m.Priority(pid, len(parsed_priorities) + 1,
                                  _label(ctx, data.get("label"), path + ("label",), pid), ctx.origin(path))
                parsed_priorities.append((ctx, path, rung))
    ladder = _unique(parsed_priorities, "priority")
    priorities = [rung for _, _, rung in ladder.values()]
    categories = _unique(collected.categories, "category")
    tiers = _unique(collected.tiers, "compensation tier")
    paths = _unique(collected.paths, "escalation path")
    rules = _unique(collected.rules, "rule")
    calendars = _unique(collected.calendars, "calendar")
    clocks = _unique(collected.clocks, "clock")
    known = {"category": categories, "priority": ladder, "compensation": tiers, "escalation": paths,
             "calendar": calendars, "clock": clocks}

    for ctx, path, kind, ident in conditions.references:
        table = known[kind]
        if ident not in table:
            what = {"compensation": "compensation tier", "escalation": "escalation path"}.get(kind, kind)
            ctx.error(path, "unknown-reference", f"unknown {what} '{ident}'{did_you_mean(ident, table)}")

    def policy_ref(key: str, kind: str) -> str | None:
        if key not in policy_block:
            return None
        value = policy_block[key]
        text = _string(policy_ctx, value, ("policy", key), f"'{key}'")
        if text is not None and text not in known[kind]:
            policy_ctx.error(("policy", key), "unknown-reference",
                             f"unknown {kind} '{text}'{did_you_mean(text, known[kind])}")
            return None
        return text

    name = version = ""
    if policy_block:
        name = _string(policy_ctx, policy_block.get("name"), ("policy", "name"), "'name'") or ""
        version = _string(policy_ctx, policy_block.get("version"), ("policy", "version"), "'version'") or ""
    default_priority = policy_ref("default_priority", "priority")
    default_category = policy_ref("default_category", "category")
    default_escalation = policy_ref("default_escalation", "escalation")
    default_calendar = policy_ref("default_calendar", "calendar")
    for ctx, path, rule in rules.values():
        if rule.deadline and rule.deadline.clock in clocks:
            clock = clocks[rule.deadline.clock][2]
            if clock.maximum:
                for stage in rule.deadline.stages:
                    _check_maximum(ctx, path + ("then", "deadline"), stage, clock.maximum,
                                   f"clock '{clock.id}' maximum")
    conflict = policy_block.get("compensation_conflict", "most_generous")
    if policy_block and "compensation_conflict" in policy_block and conflict not in CONFLICTS:
        policy_ctx.error(("policy", "compensation_conflict"), "invalid-value",
                         f"unknown conflict rule '{conflict}'{did_you_mean(str(conflict), CONFLICTS)} "
                         f"(known: {', '.join(CONFLICTS)})")

    precedence: list[str] = []
    if "category_precedence" in policy_block:
        at = ("policy", "category_precedence")
        seen_ids = set()
        for i, ident in enumerate(_list(policy_ctx, policy_block["category_precedence"], at, "'category_precedence'")):
            if ident not in categories:
                policy_ctx.error(at + (i,), "unknown-reference",
                                 f"unknown category '{ident}'{did_you_mean(str(ident), categories)}")
            elif ident in seen_ids:
                policy_ctx.error(at + (i,), "duplicate-id", f"category '{ident}' is listed twice")
            else:
                seen_ids.add(ident)
                precedence.append(ident)
        for ident, (ctx, path, _) in categories.items():
            if ident not in seen_ids:
                policy_ctx.error(at, "incomplete-precedence",
                                 f"category '{ident}' ({ctx.source.name}:{ctx.source.where(path)[0]}) is missing "
                                 "from 'category_precedence'")

    for ident, (ctx, path, category) in categories.items():
        if category.when is None and ident != default_category:
            ctx.error(path, "missing-key", f"category '{ident}' has no 'when'; only the policy's default_category "
                      "may go without one")
    _check_first_rank(categories, rules, ladder)

    if sources.problems:
        # A file that did not parse leaves its ids undefined; do not bury its syntax error under
        # the references to them that it would have satisfied.
        problems[:] = [p for p in problems if p.code not in CASCADING_CODES or p in sources.problems]
    if any(p.severity == "error" for p in problems):
        raise PolicyLoadError(problems)
    policy = m.Policy(
        name=name, version=version, description=str(policy_block.get("description", "")),
        directory=sources.directory, digest=sources.digest, files=tuple(s.name for s in sources.files),
        priorities=tuple(priorities), default_priority=default_priority or priorities[-1].id,
        categories=tuple(c for _, _, c in categories.values()), category_precedence=tuple(precedence),
        default_category=default_category, tiers=tuple(t for _, _, t in tiers.values()),
        compensation_conflict=str(conflict), paths=tuple(p for _, _, p in paths.values()),
        default_escalation=default_escalation, rules=tuple(r for _, _, r in rules.values()),
        calendars=tuple(c for _, _, c in calendars.values()), clocks=tuple(c for _, _, c in clocks.values()),
        default_calendar=default_calendar, sources=dict(sources.texts),
        lookup={"priority": {k: v[2] for k, v in ladder.items()}, "category": {k: v[2] for k, v in categories.items()},
                "tier": {k: v[2] for k, v in tiers.items()}, "path": {k: v[2] for k, v in paths.items()},
                "rule": {k: v[2] for k, v in rules.items()}, "clock": {k: v[2] for k, v in clocks.items()},
                "calendar": {k: v[2] for k, v in calendars.items()},
                "calendar_origin": {k: v[0].origin(v[1]) for k, v in calendars.items()}},
    )
    object.__setattr__(policy, "warnings", tuple(p for p in problems if p.severity == "warning"))
    return policy


def _check_first_rank(categories: dict, rules: dict, ladder: dict) -> None:
    """Enforce the language invariant: safety and legal complaints always rank 1."""
    if not ladder:
        return
    top = next(pid for pid, (_, _, p) in ladder.items() if p.rank == 1)
    priority_rules = [(ctx, path, r) for ctx, path, r in rules.values() if r.stage == "priority"]
    for cid, (cctx, cpath, category) in categories.items():
        critical = [f for f in category.flags if f in FIRST_RANK_FLAGS]
        if not critical:
            continue
        guaranteed = any(r.outcome == top and _guarantees(r.when, category) for _, _, r in priority_rules)
        if not guaranteed:
            cctx.error(cpath + ("flags",), "first-rank-invariant",
                       f"category '{cid}' is flagged {'/'.join(critical)} but no priority rule puts every complaint "
                       f"in it at rank 1; add a rule with `when: {{category: {cid}}}` and `then: {{priority: {top}}}`")
        for ctx, path, rule in priority_rules:
            if rule.outcome in ladder and ladder[rule.outcome][2].rank > 1 and _requires(rule.when, category):
                ctx.error(path + ("then", "priority"), "first-rank-invariant",
                          f"rule '{rule.id}' gives {'/'.join(critical)} category '{cid}' priority {rule.outcome} "
                          f"(rank {ladder[rule.outcome][2].rank}); {'/'.join(critical)} complaints must be rank 1")
