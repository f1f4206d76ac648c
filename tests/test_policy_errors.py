"""Broken policies are rejected with every problem at once, each at its file:line:column."""

import pytest

from policy_service.errors import PolicyLoadError
from policy_service.policy import load_policy

from conftest import load_cases

CASES = load_cases("broken_policies.yaml")


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_broken_policy_reports_every_problem(case, write_policy):
    directory = write_policy(case["files"], precedence=case.get("precedence", ""), with_base=case.get("base", True))
    with pytest.raises(PolicyLoadError) as caught:
        load_policy(directory)
    rendered = [p.render().replace(f"{directory}/", "").replace(str(directory), "TMP")
                for p in caught.value.problems]
    assert rendered == sorted(case["problems"], key=lambda r: (r.split(":")[0], int(r.split(":")[1]),
                                                               int(r.split(":")[2])))


def test_problems_carry_a_json_path(write_policy):
    directory = write_policy({"categories.yaml": """\
        apiVersion: complaint-policy/v1
        categories:
          - id: a
            label: {en: A, zh: 甲}
            when: {field: text, contains_any: []}
        """}, precedence="a")
    with pytest.raises(PolicyLoadError) as caught:
        load_policy(directory)
    assert [p.path for p in caught.value.problems] == ["$.categories[0].when.contains_any"]


def test_missing_directory_is_a_load_error(tmp_path):
    with pytest.raises(PolicyLoadError, match="does not exist"):
        load_policy(tmp_path / "nope")


def test_a_directory_without_policy_files_is_a_load_error(tmp_path):
    with pytest.raises(PolicyLoadError, match="no \\*.yaml policy files"):
        load_policy(tmp_path)
