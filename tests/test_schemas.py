"""The published JSON Schemas are current and agree with what the code accepts and produces."""

import json

import jsonschema
import pytest
import yaml

from policy_service.decide import Decider
from policy_service.schemas import SCHEMA_FILES, generate, render

from conftest import FIXED_NOW, ROOT, RULES

SCHEMAS = ROOT / "schemas"


def _validator(name: str):
    document = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(document)
    return jsonschema.Draft202012Validator(document, format_checker=jsonschema.FormatChecker())


@pytest.mark.parametrize("name", sorted(SCHEMA_FILES))
def test_checked_in_schema_is_current(name):
    assert (SCHEMAS / name).read_text(encoding="utf-8") == render(generate()[name]), \
        "run `policy-service schemas --write schemas/`"


@pytest.mark.parametrize("path", sorted(RULES.glob("*.yaml")), ids=lambda p: p.name)
def test_default_policy_files_validate_against_the_schema(path):
    errors = list(_validator("policy-file.schema.json").iter_errors(yaml.safe_load(path.read_text("utf-8"))))
    assert errors == []


def test_every_policy_file_names_its_schema_for_editors():
    for path in RULES.glob("*.yaml"):
        assert path.read_text("utf-8").startswith(
            "# yaml-language-server: $schema=../schemas/policy-file.schema.json\n"), path


def test_schema_rejects_what_the_validator_rejects():
    validator = _validator("policy-file.schema.json")
    bad = {"apiVersion": "complaint-policy/v1",
           "categories": [{"id": "a", "when": {"field": "text", "contain_any": ["x"]}}]}
    assert list(validator.iter_errors(bad))


@pytest.mark.parametrize("path", sorted((RULES / "examples").glob("*.json")), ids=lambda p: p.name)
def test_examples_and_their_decisions_validate(path, default_program):
    payload = json.loads(path.read_text("utf-8"))
    assert list(_validator("complaint.schema.json").iter_errors(payload)) == []
    decision = Decider(default_program).decide(payload, FIXED_NOW)
    assert list(_validator("decision.schema.json").iter_errors(decision)) == []
