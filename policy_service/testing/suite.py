"""Read policy test files (`*.test.yaml`) into test cases, reporting every problem at file:line:column."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import PolicyLoadError, Problem, did_you_mean
from ..policy.loader import SourceFile, TEST_SUFFIXES, parse_yaml

TEST_DIR = "tests"
FILE_KEYS = ("apiVersion", "name", "description", "now", "defaults", "fixtures", "tests")
TEST_KEYS = ("name", "complaint", "expect", "now", "description")
EXPECT_KEYS = ("categories", "primary_category", "priority", "compensation", "escalation", "deadlines",
               "rules_fired", "rules_not_fired", "warnings")
COMPENSATION_KEYS = ("tier", "remedy", "amount", "requires_approval")
ESCALATION_KEYS = ("path", "steps")
STEP_KEYS = ("role", "at", "notify")
DEADLINE_KEYS = ("due", "duration", "calendar", "rule", "stage", "provisional")


@dataclass(frozen=True)
class TestCase:
    """One named complaint and the parts of its decision that are expected."""

    name: str
    file: str
    line: int
    complaint: dict
    expect: dict
    now: datetime | None
    fixture: str | None = None


@dataclass
class Suite:
    """Every test case found for a policy, with the files they came from."""

    files: list[str] = field(default_factory=list)
    cases: list[TestCase] = field(default_factory=list)


def test_files(policy_dir: Path) -> list[Path]:
    """Test files of a policy: `*.test.yaml` beside it or in its `tests/` folder."""
    found = [p for p in policy_dir.iterdir() if p.is_file() and p.name.endswith(TEST_SUFFIXES)]
    nested = policy_dir / TEST_DIR
    if nested.is_dir():
        found += [p for p in nested.iterdir() if p.is_file() and p.name.endswith(TEST_SUFFIXES + (".yaml",))]
    return sorted(found)


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base.get(key), value) if key in base else value
        return merged
    return override


def _check_keys(source: SourceFile, value: Any, path: tuple, allowed: tuple, what: str,
                problems: list[Problem]) -> bool:
    if not isinstance(value, dict):
        problems.append(source.problem(path, "wrong-type", f"{what} must be a mapping"))
        return False
    for key in value:
        if key not in allowed:
            problems.append(source.problem(path + (key,), "unknown-key",
                                           f"unknown key '{key}' in {what}{did_you_mean(key, allowed)}", key=True))
    return True


def _instant(source: SourceFile, value: Any, path: tuple, problems: list[Problem]) -> datetime | None:
    try:
        instant = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        problems.append(source.problem(path, "invalid-value", f"'{value}' is not an ISO 8601 date-time"))
        return None
    if instant.tzinfo is None:
        problems.append(source.problem(path, "invalid-value", "a date-time needs a UTC offset"))
        return None
    return instant


def _check_expect(source: SourceFile, expect: Any, path: tuple, problems: list[Problem]) -> None:
    if not _check_keys(source, expect, path, EXPECT_KEYS, "'expect'", problems):
        return
    compensation = expect.get("compensation")
    if isinstance(compensation, dict):
        _check_keys(source, compensation, path + ("compensation",), COMPENSATION_KEYS, "'compensation'", problems)
    escalation = expect.get("escalation")
    if isinstance(escalation, dict):
        _check_keys(source, escalation, path + ("escalation",), ESCALATION_KEYS, "'escalation'", problems)
        for i, step in enumerate(escalation.get("steps") or []):
            _check_keys(source, step, path + ("escalation", "steps", i), STEP_KEYS, "a step", problems)
    deadlines = expect.get("deadlines")
    if deadlines is not None and _check_keys(source, deadlines, path + ("deadlines",),
                                             tuple(deadlines) if isinstance(deadlines, dict) else (), "'deadlines'",
                                             problems):
        for clock, spec in deadlines.items():
            if spec is not None:
                _check_keys(source, spec, path + ("deadlines", clock), DEADLINE_KEYS, f"deadline '{clock}'",
                            problems)
    for key in ("categories", "rules_fired", "rules_not_fired", "warnings"):
        if key in expect and not isinstance(expect[key], list):
            problems.append(source.problem(path + (key,), "wrong-type", f"'{key}' must be a list"))


def load_suite(policy_dir: str | Path) -> Suite:
    """Read every test file of a policy; raise PolicyLoadError listing every problem in them."""
    root = Path(policy_dir)
    display = str(policy_dir).rstrip("/")
    suite = Suite()
    problems: list[Problem] = []
    for path in test_files(root):
        name = f"{display}/{path.relative_to(root)}"
        suite.files.append(name)
        source, found = parse_yaml(name, path.read_text(encoding="utf-8"))
        problems.extend(found)
        if source is None:
            continue
        data = source.data
        if not _check_keys(source, data, (), FILE_KEYS, "a test file", problems):
            continue
        if data.get("apiVersion") != "complaint-policy/v1":
            problems.append(source.problem(("apiVersion",), "bad-api-version",
                                           "apiVersion must be 'complaint-policy/v1'"))
        now = _instant(source, data["now"], ("now",), problems) if "now" in data else None
        defaults = data.get("defaults") or {}
        fixtures = data.get("fixtures") or {}
        if not isinstance(defaults, dict):
            problems.append(source.problem(("defaults",), "wrong-type", "'defaults' must be a mapping"))
            defaults = {}
        if not isinstance(fixtures, dict):
            problems.append(source.problem(("fixtures",), "wrong-type", "'fixtures' must be a mapping of names"))
            fixtures = {}
        tests = data.get("tests")
        if not isinstance(tests, list) or not tests:
            problems.append(source.problem(("tests",), "missing-key", "a test file needs a non-empty 'tests' list"))
            continue
        seen: dict[str, int] = {}
        for index, test in enumerate(tests):
            at = ("tests", index)
            if not _check_keys(source, test, at, TEST_KEYS, "a test", problems):
                continue
            for key in ("name", "complaint", "expect"):
                if key not in test:
                    problems.append(source.problem(at, "missing-key", f"a test needs '{key}'"))
            if not all(key in test for key in ("name", "complaint", "expect")):
                continue
            title = str(test["name"])
            if title in seen:
                problems.append(source.problem(at + ("name",), "duplicate-id",
                                               f"test name '{title}' is already used at line {seen[title]}"))
            seen[title] = source.where(at)[0]
            fixture = None
            complaint = test["complaint"]
            if isinstance(complaint, str):
                if complaint not in fixtures:
                    problems.append(source.problem(at + ("complaint",), "unknown-reference",
                                                   f"unknown fixture '{complaint}'{did_you_mean(complaint, fixtures)}"))
                    continue
                fixture, complaint = complaint, fixtures[complaint]
            if not isinstance(complaint, dict):
                problems.append(source.problem(at + ("complaint",), "wrong-type",
                                               "'complaint' is a fixture name or a mapping"))
                continue
            _check_expect(source, test["expect"], at + ("expect",), problems)
            case_now = _instant(source, test["now"], at + ("now",), problems) if "now" in test else now
            merged = _merge(defaults, complaint)
            merged.setdefault("id", f"{path.name.split('.')[0]}#{index + 1}")
            suite.cases.append(TestCase(title, name, source.where(at)[0], _jsonable(merged), test["expect"],
                                        case_now, fixture))
    if problems:
        raise PolicyLoadError(problems)
    return suite


def _jsonable(value: Any) -> Any:
    """YAML reads dates and times as Python objects; complaints are JSON, so turn them back into text."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
