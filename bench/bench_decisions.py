"""In-process benchmark: decisions per second and memory for the default policy, engine beside reference.

Usage: python bench/bench_decisions.py [--evaluations 100000] [--policy rules]
Prints figures for the durable-rules backend and the pure-Python reference, run in the same process
on the same complaints, and their ratio; then the engine with and without the policy's deadline
rules (deadlines.yaml left out of a copy), to show what the calendar arithmetic costs. Nothing here
asserts a time limit.
"""

from __future__ import annotations

import argparse
import json
from array import array
import os
import shutil
import tempfile
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from policy_service.complaint import parse_complaint  # noqa: E402
from policy_service.decide import Decider  # noqa: E402
from policy_service.policy import load_policy  # noqa: E402

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def rss_mib() -> float:
    """Current resident set size of this process in MiB."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def run(decider: Decider, complaints: list[dict], evaluations: int) -> dict:
    """Decide `evaluations` complaints (cycling the list); return throughput, latency and memory."""
    for complaint in complaints:  # warm caches (text converter, regexes)
        decider.decide_parsed(complaint, NOW)
    latencies = array("d", bytes(8 * evaluations))  # preallocated, unboxed: it must not show up as engine memory
    rss_start = rss_mib()
    rss_marks = []
    started = time.perf_counter()
    for number in range(evaluations):
        t0 = time.perf_counter()
        decider.decide_parsed(complaints[number % len(complaints)], NOW)
        latencies[number] = time.perf_counter() - t0
        if number % (evaluations // 4 or 1) == 0:
            rss_marks.append(round(rss_mib(), 1))
    elapsed = time.perf_counter() - started
    rss_end = rss_mib()
    latencies = sorted(latencies)
    return {
        "backend": decider.backend.name,
        "evaluations": evaluations,
        "per_second": round(evaluations / elapsed),
        "median_ms": round(statistics.median(latencies) * 1000, 3),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 3),
        "rss_start_mib": round(rss_start, 1),
        "rss_marks_mib": rss_marks,
        "rss_end_mib": round(rss_end, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=100_000)
    parser.add_argument("--policy", default=str(ROOT / "rules"))
    args = parser.parse_args()
    program = load_policy(args.policy)
    complaints = [parse_complaint(json.loads(p.read_text("utf-8")))
                  for p in sorted((Path(args.policy) / "examples").glob("*.json"))]
    engine = run(Decider(program, "durable"), complaints, args.evaluations)
    reference = run(Decider(program, "reference"), complaints, args.evaluations)
    for row in (engine, reference):
        print(json.dumps(row))
    print(json.dumps({"engine_vs_reference_throughput": round(engine["per_second"] / reference["per_second"], 3),
                      "engine_rss_growth_mib": round(engine["rss_end_mib"] - engine["rss_marks_mib"][0], 1)}))
    with tempfile.TemporaryDirectory() as scratch:
        without = Path(scratch) / "policy"
        shutil.copytree(args.policy, without, ignore=shutil.ignore_patterns("deadlines.yaml", "examples"))
        lean = run(Decider(load_policy(without), "durable"), complaints, args.evaluations // 4)
    full = run(Decider(program, "durable"), complaints, args.evaluations // 4)
    print(json.dumps({"with_deadlines_per_second": full["per_second"], "without_deadlines_per_second":
                      lean["per_second"], "deadline_cost_ratio": round(full["per_second"] / lean["per_second"], 3)}))


if __name__ == "__main__":
    main()
