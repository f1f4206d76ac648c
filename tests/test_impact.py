"""Change impact: two real policy versions over real complaints, from directories and git revisions."""

import json
import shutil
import subprocess

import pytest

from policy_service.cli import EXIT_INVALID_POLICY, main

from conftest import RULES

SAMPLE = RULES.parent / "tests" / "data" / "cfpb_sample.csv"
CSV_ARGS = ["--corpus", str(SAMPLE), "--map", "id=complaint_id", "--map", "text=narrative", "--map",
            "product.type=product", "--set", "received_at=2016-05-02T09:30:00-04:00", "--set",
            "customer.jurisdiction=US"]


@pytest.fixture
def new_policy(tmp_path):
    """The default policy with fraud and privacy raised to P1 and a 7-day Chinese resolve clock."""
    target = tmp_path / "new"
    shutil.copytree(RULES, target)
    policy = target / "policy.yaml"
    policy.write_text(policy.read_text("utf-8").replace('version: "2026.11.1"', 'version: "2026.12.0"'), "utf-8")
    priority = target / "priority.yaml"
    priority.write_text(priority.read_text("utf-8").replace(
        "category: [fraud_misrepresentation, privacy]\n    then:\n      priority: P2",
        "category: [fraud_misrepresentation, privacy]\n    then:\n      priority: P1"), "utf-8")
    deadlines = target / "deadlines.yaml"
    deadlines.write_text(deadlines.read_text("utf-8").replace(
        "calendar: cn_mainland\n        duration: {business_days: 10}",
        "calendar: cn_mainland\n        duration: {business_days: 7}"), "utf-8")
    return target


def _json_diff(runner, *args):
    result = runner.invoke(main, ["diff", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_diff_reports_changes_part_by_part(runner, new_policy):
    report = _json_diff(runner, str(new_policy), "--base", str(RULES), *CSV_ARGS, "--no-fixtures")
    assert report["evaluated"] == 257 and report["invalid"] == []
    priority = report["parts"]["priority"]
    assert [k["change"] for k in priority["kinds"]] == ["P2 → P1"]
    assert priority["changed"] == priority["kinds"][0]["count"] > 0
    assert len(priority["kinds"][0]["examples"]) == 5
    assert report["parts"]["categories"]["changed"] == 0
    assert report["changed"] == priority["changed"]  # US complaints have no Chinese deadlines


def test_fixtures_show_deadline_shifts(runner, new_policy):
    report = _json_diff(runner, str(new_policy), "--base", str(RULES))
    shifts = report["deadline_shifts"]["resolve"]
    assert shifts["max_hours"] < 0 and shifts["changed"] == report["parts"]["deadlines"]["changed"]
    assert report["evaluated"] > 50


def test_an_unchanged_policy_changes_nothing(runner):
    report = _json_diff(runner, str(RULES), "--base", str(RULES), *CSV_ARGS)
    assert report["changed"] == 0 and report["unchanged"] == report["evaluated"]


def test_text_and_markdown_reports(runner, new_policy):
    text = runner.invoke(main, ["diff", str(new_policy), "--base", str(RULES), *CSV_ARGS, "--no-fixtures"]).output
    assert "priority:" in text and "P2 → P1" in text and "deciding" not in text  # no progress bar when piped
    markdown = runner.invoke(main, ["diff", str(new_policy), "--base", str(RULES), *CSV_ARGS, "--no-fixtures",
                                    "--format", "markdown"]).output
    assert markdown.startswith("### Policy change impact: `2026.11.1` → `2026.12.0`")
    assert "| priority |" in markdown


def test_base_can_be_a_git_revision(runner, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(RULES, repo / "rules")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-qm", "v1"], check=True)
    priority = repo / "rules" / "priority.yaml"
    priority.write_text(priority.read_text("utf-8").replace(
        "category_flag: regulatory\n    then:\n      priority: P2",
        "category_flag: regulatory\n    then:\n      priority: P1"), "utf-8")
    report = _json_diff(runner, str(repo / "rules"), "--base", "HEAD", *CSV_ARGS, "--no-fixtures")
    assert [k["change"] for k in report["parts"]["priority"]["kinds"]] == ["P2 → P1"]


def test_a_bad_base_is_an_error(runner, tmp_path):
    result = runner.invoke(main, ["diff", str(RULES), "--base", "no-such-revision-xyz", *CSV_ARGS])
    assert result.exit_code == EXIT_INVALID_POLICY
    assert "neither a directory nor a git revision" in result.stderr


def test_jsonl_corpus_counts_unreadable_lines(runner, tmp_path):
    corpus = tmp_path / "c.jsonl"
    good = {"id": "a", "received_at": "2025-01-01T00:00:00+00:00", "text": "parcel late"}
    corpus.write_text("\n".join([json.dumps(good), "{oops", json.dumps({"complaint": dict(good, id="b")}),
                                 json.dumps({"id": "c"})]) + "\n", encoding="utf-8")
    report = _json_diff(runner, str(RULES), "--base", str(RULES), "--corpus", str(corpus), "--no-fixtures")
    assert report["evaluated"] == 2
    assert [i["where"] for i in report["invalid"]] == ["c.jsonl:2", "c.jsonl:4"]


def test_a_missing_csv_column_is_a_usage_error(runner):
    result = runner.invoke(main, ["diff", str(RULES), "--base", str(RULES), "--corpus", str(SAMPLE),
                                  "--map", "text=no_such_column"])
    assert result.exit_code == 2
    assert "no column(s) 'no_such_column'" in result.output
