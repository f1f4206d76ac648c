"""Change-impact throughput: complaints per second over a 10,000-complaint corpus, two policy versions.

Usage: python bench/bench_diff.py [--complaints 10000]
Builds the corpus from CFPB narratives (the shared sample when ../shared is present, else the bundled
one), compares the default policy with itself (every complaint decided twice), and prints the rate
beside the rate of single decisions measured in the same run. Asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from policy_service.decide import Decider  # noqa: E402
from policy_service.policy import load_policy  # noqa: E402
from policy_service.testing.corpus import CorpusItem  # noqa: E402
from policy_service.testing.impact import FIXED_NOW, run_impact  # noqa: E402


def narratives() -> list[str]:
    shared = ROOT.parent / "shared" / "domain" / "cfpb_narratives_sample.csv"
    if shared.exists():
        with shared.open(encoding="utf-8", newline="") as handle:
            return [row["Consumer complaint narrative"] for row in csv.DictReader(handle)]
    with (ROOT / "tests" / "data" / "cfpb_sample.csv").open(encoding="utf-8", newline="") as handle:
        return [row["narrative"] for row in csv.DictReader(handle)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--complaints", type=int, default=10_000)
    args = parser.parse_args()
    texts = narratives()
    items = [CorpusItem(f"row-{n}", {"id": f"c-{n}", "received_at": "2025-09-26T10:00:00+08:00", "text": text,
                                     "customer": {"jurisdiction": "CN" if n % 2 else "GB-ENG"}})
             for n, text in zip(range(args.complaints), itertools.cycle(texts))]
    program = load_policy(ROOT / "rules")
    started = time.perf_counter()
    impact = run_impact(program, program, items)
    elapsed = time.perf_counter() - started
    decider = Decider(program)
    sample = items[: min(2000, len(items))]
    t0 = time.perf_counter()
    for item in sample:
        decider.decide(item.payload, now=FIXED_NOW)
    single = len(sample) / (time.perf_counter() - t0)
    print(json.dumps({"complaints": impact.evaluated, "seconds": round(elapsed, 2),
                      "complaints_per_second": round(impact.evaluated / elapsed),
                      "single_decisions_per_second": round(single),
                      "ratio_vs_two_decisions": round((impact.evaluated / elapsed) / (single / 2), 3)}))


if __name__ == "__main__":
    main()
