"""Policy test suites: the default policy's own suite, the runner, its reports, coverage and bad test files."""

import json
from xml.etree import ElementTree

import jsonschema
import pytest
import yaml

from policy_service.cli import EXIT_INVALID_POLICY, EXIT_TESTS_FAILED, main
from policy_service.errors import PolicyLoadError
from policy_service.testing.runner import run_suite
from policy_service.testing.suite import load_suite

from conftest import ROOT, RULES

DEFAULT_SUITE = load_suite(RULES)


@pytest.mark.parametrize("case", DEFAULT_SUITE.cases,
                         ids=[f"{c.file.rsplit('/', 1)[-1]}: {c.name}" for c in DEFAULT_SUITE.cases])
def test_default_policy_case(case, default_program):
    (result,) = run_suite(default_program, type(DEFAULT_SUITE)(cases=[case])).results
    assert result.passed, [(m.path, m.expected, m.actual) for m in result.mismatches] or result.error


def test_default_suite_exercises_the_whole_policy(default_program):
    coverage = run_suite(default_program, DEFAULT_SUITE).coverage
    assert coverage.missed() == {kind: [] for kind in coverage.total}
    assert coverage.percent() == 100.0


@pytest.mark.parametrize("path", sorted((RULES / "tests").glob("*.yaml")), ids=lambda p: p.name)
def test_default_test_files_validate_against_the_schema(path):
    schema = json.loads((ROOT / "schemas" / "policy-test.schema.json").read_text("utf-8"))
    document = json.loads(json.dumps(yaml.safe_load(path.read_text("utf-8")), default=str))
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(document)) == []


SMALL_POLICY = """\
    apiVersion: complaint-policy/v1
    categories:
      - id: late
        label: {en: Late, zh: 迟}
        when: {field: text, contains_any: [late, 慢]}
      - id: rude
        label: {en: Rude, zh: 粗鲁}
        when: {field: text, contains_any: [rude]}
    rules:
      - id: late_is_mid
        when: {category: late}
        then: {priority: MID}
      - id: vip_is_top
        when: {field: tags, includes: vip}
        then: {priority: TOP}
    """

PASSING = """\
    apiVersion: complaint-policy/v1
    defaults: {received_at: "2025-01-02T10:00:00+00:00"}
    fixtures:
      late_parcel: {text: the parcel is late}
    tests:
      - name: a late parcel is mid priority
        complaint: late_parcel
        expect: {categories: [late], priority: MID, rules_fired: [late_is_mid], rules_not_fired: [vip_is_top]}
      - name: only what is written is checked
        complaint: {text: 太慢了, tags: [vip]}
        expect: {priority: TOP}
    """

FAILING = """\
    apiVersion: complaint-policy/v1
    defaults: {received_at: "2025-01-02T10:00:00+00:00"}
    tests:
      - name: a rude agent is top priority
        complaint: {text: the agent was rude}
        expect: {categories: [rude], priority: TOP}
    """


def _policy_with_tests(write_policy, tests: dict):
    directory = write_policy({"c.yaml": SMALL_POLICY}, precedence="late, rude")
    (directory / "tests").mkdir()
    for name, text in tests.items():
        (directory / "tests" / name).write_text(__import__("textwrap").dedent(text), encoding="utf-8")
    return directory


def test_a_passing_suite_exits_0(runner, write_policy):
    directory = _policy_with_tests(write_policy, {"a.test.yaml": PASSING})
    result = runner.invoke(main, ["test", str(directory)])
    assert result.exit_code == 0, result.output
    assert "2 passed, 0 failed, 2 tests" in result.output


def test_a_failure_shows_expected_and_actual_side_by_side(runner, write_policy):
    directory = _policy_with_tests(write_policy, {"a.test.yaml": PASSING, "b.test.yaml": FAILING})
    result = runner.invoke(main, ["test", str(directory)])
    assert result.exit_code == EXIT_TESTS_FAILED
    lines = result.output.splitlines()
    assert lines[0] == f"FAIL {directory}/tests/b.test.yaml:4: a rude agent is top priority"
    assert lines[1] == "     complaint b#1: 'the agent was rude'"
    assert lines[3].split() == ["priority", "TOP", "LOW"]
    assert lines[4] == "     rules fired: category:rude"
    assert "2 passed, 1 failed, 3 tests" in result.output


def test_coverage_lists_what_was_never_exercised(runner, write_policy):
    directory = _policy_with_tests(write_policy, {"a.test.yaml": PASSING})
    result = runner.invoke(main, ["test", str(directory), "--min-coverage", "90"])
    assert result.exit_code == EXIT_TESTS_FAILED
    assert "category 'rude'" in result.output
    assert "coverage 71.4% is below the required 90.0%" in result.stderr


def test_junit_and_json_reports(runner, write_policy, tmp_path):
    directory = _policy_with_tests(write_policy, {"a.test.yaml": PASSING, "b.test.yaml": FAILING})
    junit = tmp_path / "report.xml"
    runner.invoke(main, ["test", str(directory), "--format", "junit", "--output", str(junit)])
    root = ElementTree.parse(junit).getroot()
    assert (root.get("tests"), root.get("failures")) == ("3", "1")
    failure = root.find(".//testcase[@name='a rude agent is top priority']/failure")
    assert "priority: expected TOP, got LOW" in failure.text
    document = json.loads(runner.invoke(main, ["test", str(directory), "--format", "json"]).output)
    assert (document["passed"], document["failed"]) == (2, 1)
    assert document["coverage"]["kinds"]["categories"]["missed"] == []


def test_bad_test_files_are_reported_at_file_line_column(write_policy):
    directory = _policy_with_tests(write_policy, {"bad.test.yaml": """\
        apiVersion: complaint-policy/v1
        tests:
          - name: one
            complaint: missing_fixture
            expect: {priorty: TOP}
          - name: one
            complaint: {text: x}
            expect: {deadlines: {resolve: {when: x}}}
          - nmae: three
        """})
    with pytest.raises(PolicyLoadError) as caught:
        load_suite(directory)
    rendered = [p.render().split("/tests/", 1)[1] for p in caught.value.problems]
    assert rendered == [
        "bad.test.yaml:4:16: unknown fixture 'missing_fixture' (unknown-reference)",
        "bad.test.yaml:6:11: test name 'one' is already used at line 3 (duplicate-id)",
        "bad.test.yaml:8:36: unknown key 'when' in deadline 'resolve' (unknown-key)",
        "bad.test.yaml:9:5: a test needs 'complaint' (missing-key)",
        "bad.test.yaml:9:5: a test needs 'expect' (missing-key)",
        "bad.test.yaml:9:5: a test needs 'name' (missing-key)",
        "bad.test.yaml:9:5: unknown key 'nmae' in a test; did you mean 'name'? (unknown-key)",
    ]


def test_bad_test_files_exit_3(runner, write_policy):
    directory = _policy_with_tests(write_policy, {"bad.test.yaml": "apiVersion: complaint-policy/v1\ntests: []\n"})
    assert runner.invoke(main, ["test", str(directory)]).exit_code == EXIT_INVALID_POLICY
