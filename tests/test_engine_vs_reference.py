"""The durable-rules backend agrees with the reference evaluator on real complaints."""

import csv
from pathlib import Path

import pytest

from policy_service.decide import Decider

from conftest import FIXED_NOW, ROOT

SAMPLE = Path(__file__).resolve().parent / "data" / "cfpb_sample.csv"
SHARED_SAMPLE = ROOT.parent / "shared" / "domain" / "cfpb_narratives_sample.csv"


def _cfpb_complaints(path: Path, id_column: str, product_column: str, text_column: str):
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            yield {
                "id": f"cfpb-{row[id_column]}",
                "received_at": "2016-05-02T09:30:00-04:00",
                "channel": "web",
                "text": row[text_column],
                "product": {"type": row[product_column]},
                "customer": {"jurisdiction": "US"},
            }


def _differences(program, complaints) -> tuple[int, list]:
    engine = Decider(program, backend="durable")
    reference = Decider(program, backend="reference")
    count, different = 0, []
    for complaint in complaints:
        count += 1
        if engine.decide(complaint, FIXED_NOW) != reference.decide(complaint, FIXED_NOW):
            different.append(complaint["id"])
    return count, different


def test_backends_agree_on_the_bundled_cfpb_sample(default_program):
    count, different = _differences(default_program,
                                    _cfpb_complaints(SAMPLE, "complaint_id", "product", "narrative"))
    assert count == 257
    assert different == []


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_SAMPLE.exists(), reason="../shared/domain is not beside this checkout")
def test_backends_agree_on_the_whole_shared_cfpb_sample(default_program):
    count, different = _differences(default_program,
                                    _cfpb_complaints(SHARED_SAMPLE, "", "Product", "Consumer complaint narrative"))
    assert count == 3947
    assert different == []


def test_the_default_policy_categorises_most_real_complaints(default_program):
    engine = Decider(default_program)
    decisions = [engine.decide(c, FIXED_NOW) for c in
                 _cfpb_complaints(SAMPLE, "complaint_id", "product", "narrative")]
    general = sum(1 for d in decisions if d["primary_category"] == "general")
    assert general < len(decisions) * 0.4
