"""Lint: each check reports what it should, and stays quiet otherwise."""

import textwrap

import pytest

from policy_service.policy import load_policy
from policy_service.policy.lint import lint

from conftest import load_cases

CASES = load_cases("lint.yaml")


def _policy(write_policy, case) -> str:
    body = "apiVersion: complaint-policy/v1\n"
    categories = case.get("categories") or \
        "- {id: base, label: {en: B, zh: B}, when: {field: text, contains_any: [base]}}\n"
    body += "categories:\n" + textwrap.indent(categories, "  ")
    if case.get("rules"):
        body += "rules:\n" + textwrap.indent(case["rules"], "  ")
    body += case.get("extra", "")
    ids = [line.split("id: ")[1].split(",")[0] for line in categories.splitlines() if "id: " in line]
    return write_policy({"lint.yaml": body}, precedence=", ".join(ids))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_lint_check(case, write_policy):
    directory = _policy(write_policy, case)
    checks_references = "refer" in case["name"]
    warnings = [w for w in lint(load_policy(directory)) if w.code != "unreferenced" or checks_references]
    rendered = [w.render().split(": warning: ", 1)[1].replace(f"{directory}/lint.yaml", "TMP") for w in warnings
                if "'base'" not in w.message]
    assert rendered == case["warnings"]


def test_the_default_policy_is_lint_clean(default_program):
    assert lint(default_program) == []


def test_check_prints_warnings_and_strict_fails(runner, write_policy):
    from policy_service.cli import EXIT_INVALID_POLICY, main

    directory = _policy(write_policy, CASES[0])
    relaxed = runner.invoke(main, ["check", str(directory)])
    assert relaxed.exit_code == 0
    assert "warning: rule 'impossible' can never fire" in relaxed.output
    assert runner.invoke(main, ["check", "--strict", str(directory)]).exit_code == EXIT_INVALID_POLICY
