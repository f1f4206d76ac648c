"""The command line: check, eval and eval --jsonl, with their exit codes."""

import json

from policy_service.cli import EXIT_BAD_INPUT, EXIT_INVALID_POLICY, EXIT_USAGE, main

from conftest import RULES


def test_check_accepts_the_default_policy(runner):
    result = runner.invoke(main, ["check", str(RULES)])
    assert result.exit_code == 0, result.output
    assert "consumer-cn-uk" in result.output and "is valid" in result.output


def test_check_lists_every_problem_and_exits_3(runner, write_policy):
    directory = write_policy({"c.yaml": """\
        apiVersion: complaint-policy/v1
        categories:
          - id: a
            label: {en: A, zh: 甲}
            when: {field: txt, contains_any: [x]}
          - id: b
            label: {en: B, zh: 乙}
            when: {field: text, matches: "("}
        """}, precedence="a, b")
    result = runner.invoke(main, ["check", str(directory)])
    assert result.exit_code == EXIT_INVALID_POLICY
    lines = [line for line in result.output.splitlines() if line.startswith(str(directory))]
    assert [line.split(": ", 1)[0].rsplit("/", 1)[1] for line in lines[:2]] == ["c.yaml:5:19", "c.yaml:8:34"]


def test_check_json_format(runner):
    result = runner.invoke(main, ["check", str(RULES), "--format", "json"])
    document = json.loads(result.output)
    assert document["valid"] is True and document["policy"]["name"] == "consumer-cn-uk"


def test_eval_prints_a_decision(runner):
    result = runner.invoke(main, ["eval", "--policy", str(RULES), str(RULES / "examples" / "zh-hans-heater-fire.json")])
    assert result.exit_code == 0, result.output
    decision = json.loads(result.output)
    assert decision["primary_category"] == "product_safety"
    assert decision["trace"][0]["file"].endswith("categories.yaml")


def test_eval_jsonl_keeps_going_after_a_bad_line(runner):
    good = json.dumps({"id": "a", "received_at": "2025-01-01T00:00:00+00:00", "text": "parcel never arrived"})
    lines = "\n".join([good, "{not json", json.dumps({"id": "b", "text": "x"}), "", good]) + "\n"
    result = runner.invoke(main, ["eval", "--policy", str(RULES), "--jsonl", "-"], input=lines)
    assert result.exit_code == EXIT_BAD_INPUT
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r.get("complaint_id") or r["line"] for r in records] == ["a", 2, 3, "a"]
    assert records[2]["error"]["errors"] == [{"path": "received_at", "message": "Missing data for required field."}]


def test_eval_of_an_invalid_complaint_names_the_field(runner, tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"id": "a", "received_at": "2025-01-01T00:00:00", "text": "x",
                                "order": {"value": -1, "currency": "cny"}}))
    result = runner.invoke(main, ["eval", "--policy", str(RULES), str(path)])
    assert result.exit_code == EXIT_BAD_INPUT
    paths = [e["path"] for e in json.loads(result.stderr)["error"]["errors"]]
    assert paths == ["order.currency", "order.value", "received_at"]


def test_eval_with_an_invalid_policy_exits_3(runner, write_policy, tmp_path):
    directory = write_policy({"c.yaml": "apiVersion: complaint-policy/v1\ncategories: 3\n"})
    result = runner.invoke(main, ["eval", "--policy", str(directory), "-"], input="{}")
    assert result.exit_code == EXIT_INVALID_POLICY


def test_usage_errors_exit_2(runner):
    assert runner.invoke(main, ["eval"]).exit_code == EXIT_USAGE
    assert runner.invoke(main, ["frobnicate"]).exit_code == EXIT_USAGE


def test_reference_backend_gives_the_same_decision(runner):
    example = str(RULES / "examples" / "zh-hant-legal-threat.json")
    outputs = []
    for backend in ("durable", "reference"):
        decision = json.loads(runner.invoke(main, ["eval", "--policy", str(RULES), "--backend", backend,
                                                   example]).output)
        decision.pop("evaluated_at")
        outputs.append(decision)
    assert outputs[0] == outputs[1]
