"""HTTP benchmark: /v1/decisions beside a bare Flask endpoint, same gunicorn config, 32 connections, wrk.

Usage: python bench/bench_http.py [--duration 15] [--connections 32]
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


def serve(app: str, port: int, scratch: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLICY_SERVICE_", "PROMETHEUS_"))}
    env.update(POLICY_SERVICE_BIND=f"127.0.0.1:{port}", POLICY_SERVICE_STATE_DIR=str(scratch / "state"),
               PYTHONPATH=str(ROOT))
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
    args = parser.parse_args()
    wrk = ensure_wrk()
    body = (ROOT / "rules" / "examples" / "zh-hans-heater-fire.json").read_text("utf-8").replace("\n", " ")
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        script = scratch / "post.lua"
        script.write_text(LUA % body, encoding="utf-8")
        figures = {}
        for label, app, port in (("bare_flask", "bench.bare_app:app", 18181), ("decisions", "wsgi:app", 18182)):
            process = serve(app, port, scratch)
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


if __name__ == "__main__":
    main()
