"""Render test results for people (text), CI systems (JUnit XML) and tools (JSON)."""

from __future__ import annotations

import json
import textwrap
from xml.etree import ElementTree

from .runner import CaseResult, SuiteResult


SINGULAR = {"rules": "rule", "categories": "category", "priorities": "priority",
            "compensation_tiers": "compensation tier", "escalation_paths": "escalation path"}


def _show(value) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value


def _excerpt(result: CaseResult) -> str:
    complaint = result.case.complaint
    text = str(complaint.get("text", ""))
    short = text if len(text) <= 80 else text[:77] + "..."
    return f"complaint {complaint.get('id')}: {short!r}"


def render_text(outcome: SuiteResult, show_coverage: bool = True) -> str:
    """A readable report: failures with expected and actual side by side, then counts and coverage."""
    lines: list[str] = []
    for result in outcome.failed:
        case = result.case
        lines.append(f"FAIL {case.file}:{case.line}: {case.name}")
        lines.append(f"     {_excerpt(result)}")
        if result.error:
            lines.append(f"     error: {result.error}")
        if result.mismatches:
            width = max(len(m.path) for m in result.mismatches)
            lines.append(f"     {'':{width}}  {'expected':<32}  actual")
            for mismatch in result.mismatches:
                lines.append(f"     {mismatch.path:<{width}}  {_show(mismatch.expected):<32}  {_show(mismatch.actual)}")
        if result.fired:
            lines.append("     rules fired: " + ", ".join(result.fired))
        lines.append("")
    passed = len(outcome.results) - len(outcome.failed)
    lines.append(f"{passed} passed, {len(outcome.failed)} failed, {len(outcome.results)} tests")
    if show_coverage:
        coverage = outcome.coverage
        lines.append(f"coverage: {coverage.percent()}% of rules, categories, priorities, tiers and paths exercised")
        for kind, missed in coverage.missed().items():
            for ident, file, line in missed:
                lines.append(f"  not exercised: {file}:{line}: {SINGULAR[kind]} '{ident}'")
    return "\n".join(lines)


def render_json(outcome: SuiteResult) -> str:
    """The results as one JSON document."""
    return json.dumps({
        "passed": len(outcome.results) - len(outcome.failed),
        "failed": len(outcome.failed),
        "tests": [{"name": r.case.name, "file": r.case.file, "line": r.case.line, "passed": r.passed,
                   "error": r.error, "fired": r.fired,
                   "mismatches": [{"path": m.path, "expected": m.expected, "actual": m.actual} for m in r.mismatches]}
                  for r in outcome.results],
        "coverage": outcome.coverage.as_dict(),
    }, ensure_ascii=False, indent=2, default=str)


def render_junit(outcome: SuiteResult) -> str:
    """JUnit XML, one testsuite per test file."""
    root = ElementTree.Element("testsuites", name="policy-tests", tests=str(len(outcome.results)),
                               failures=str(len(outcome.failed)))
    by_file: dict[str, list[CaseResult]] = {}
    for result in outcome.results:
        by_file.setdefault(result.case.file, []).append(result)
    for file, results in by_file.items():
        suite = ElementTree.SubElement(root, "testsuite", name=file, tests=str(len(results)),
                                       failures=str(sum(not r.passed for r in results)))
        for result in results:
            case = ElementTree.SubElement(suite, "testcase", name=result.case.name, classname=file,
                                          file=file, line=str(result.case.line))
            if not result.passed:
                detail = "\n".join(f"{m.path}: expected {_show(m.expected)}, got {_show(m.actual)}"
                                   for m in result.mismatches) or (result.error or "")
                failure = ElementTree.SubElement(case, "failure", message=textwrap.shorten(detail, 200))
                failure.text = detail + "\nrules fired: " + ", ".join(result.fired)
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True)
