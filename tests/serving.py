"""Start and stop a real gunicorn on loopback for tests (helper, not a test module)."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    policy_dir: Path
    log: Path

    def request(self, method: str, path: str, body: dict | None = None, headers: dict | None = None,
                timeout: float = 10) -> tuple[int, dict, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            sent = {"Content-Type": "application/json"} if data is not None else {}
            sent.update(headers or {})
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            raw = response.read()
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = {"raw": raw.decode("utf-8", "replace")}
            return response.status, parsed, dict(response.getheaders())
        finally:
            connection.close()

    def reload(self) -> None:
        self.process.send_signal(signal.SIGHUP)


def start(tmp_path: Path, workers: int = 2, extra_env: dict | None = None, wait: bool = True) -> Server:
    tmp_path.mkdir(parents=True, exist_ok=True)
    """Copy the default policy to tmp_path and serve it with the repository's gunicorn config."""
    policy_dir = tmp_path / "policy"
    if not policy_dir.exists():
        shutil.copytree(ROOT / "rules", policy_dir, ignore=shutil.ignore_patterns("examples"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLICY_SERVICE_", "PROMETHEUS_"))}
    env.update({"POLICY_SERVICE_POLICY_DIR": str(policy_dir), "POLICY_SERVICE_STATE_DIR": str(tmp_path / "state"),
                "POLICY_SERVICE_BIND": f"127.0.0.1:{port}", "POLICY_SERVICE_WORKERS": str(workers)})
    env.update(extra_env or {})
    log = tmp_path / "gunicorn.log"
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py")],
                               cwd=tmp_path, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    server = Server(process, port, policy_dir, log)
    if wait:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if server.request("GET", "/readyz", timeout=2)[0] == 200:
                    return server
            except OSError:
                pass
            time.sleep(0.2)
        stop(server)
        raise RuntimeError(f"gunicorn did not become ready:\n{log.read_text()[-3000:]}")
    return server


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
