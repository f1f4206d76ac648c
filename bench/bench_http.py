"""HTTP benchmark: /v1/decisions beside a bare Flask endpoint, same gunicorn config, 32 connections, wrk.

Usage: python bench/bench_http.py [--duration 15] [--connections 32] [--recording]
       scripts/with-postgres .venv/bin/python bench/bench_http.py --recording   # adds PostgreSQL
Installs wrk from Debian's packages when missing (needs root). Prints requests/s, p50 and p99 for
both servers, measured in the same run, and the ratio of their throughputs. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[%s]]
"""


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk")


def serve(app: str, port: int, scratch: Path, extra_env: dict | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLICY_SERVICE_", "PROMETHEUS_"))}
    env.update(POLICY_SERVICE_BIND=f"127.0.0.1:{port}", POLICY_SERVICE_STATE_DIR=str(scratch / f"state-{port}"),
               PYTHONPATH=str(ROOT), **(extra_env or {}))
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py"), app],
                               env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(150):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{app} did not start")


def measure(wrk: str, port: int, script: Path, duration: int, connections: int) -> dict:
    output = subprocess.run([wrk, "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script),
                             f"http://127.0.0.1:{port}/v1/decisions"], capture_output=True, text=True,
                            check=True).stdout

    def latency(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        value, unit = float(match.group(1)), match.group(2)
        return round(value / 1000 if unit == "us" else value * 1000 if unit == "s" else value, 3)

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {"requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
            "p50_ms": latency("50"), "p99_ms": latency("99"), "non_2xx": int(errors.group(1)) if errors else 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--recording", action="store_true",
                        help="Also measure /v1/decisions with recording on SQLite, and on PostgreSQL when "
                             "POLICY_SERVICE_TEST_DATABASE_URL is set (scripts/with-postgres sets it).")
    args = parser.parse_args()
    wrk = ensure_wrk()
    body = (ROOT / "rules" / "examples" / "zh-hans-heater-fire.json").read_text("utf-8").replace("\n", " ")
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        script = scratch / "post.lua"
        script.write_text(LUA % body, encoding="utf-8")
        figures = {}
        runs = [("bare_flask", "bench.bare_app:app", 18181, {}),
                ("decisions", "wsgi:app", 18182, {"POLICY_SERVICE_RECORDING": "off"})]
        if args.recording:
            runs.append(("decisions_recorded_sqlite", "wsgi:app", 18183, {}))
            if os.environ.get("POLICY_SERVICE_TEST_DATABASE_URL"):
                runs.append(("decisions_recorded_postgresql", "wsgi:app", 18184,
                             {"POLICY_SERVICE_DATABASE_URL": os.environ["POLICY_SERVICE_TEST_DATABASE_URL"]}))
        for label, app, port, extra in runs:
            process = serve(app, port, scratch, extra)
            try:
                measure(wrk, port, script, 2, args.connections)  # warm-up
                figures[label] = measure(wrk, port, script, args.duration, args.connections)
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
            print(json.dumps({"server": label, **figures[label]}))
    print(json.dumps({"throughput_ratio_decisions_vs_bare": round(
        figures["decisions"]["requests_per_second"] / figures["bare_flask"]["requests_per_second"], 3),
        "target": 0.6}))
    for label in [name for name in figures if name.startswith("decisions_recorded")]:
        cost = 1 - figures[label]["requests_per_second"] / figures["decisions"]["requests_per_second"]
        print(json.dumps({"recording": label.rsplit("_", 1)[-1], "throughput_cost": round(cost, 3),
                          "target_at_most": 0.2}))


if __name__ == "__main__":
    main()
