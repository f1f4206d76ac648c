"""gunicorn configuration: sync workers sized to the machine, policy accepted by the master, graceful reloads.

The master validates the policy directory at start and on every SIGHUP, stores an accepted version
by digest in the state directory, and workers load exactly that version. A policy that fails
validation is recorded as the last reload error and the previous version keeps serving.
"""

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

# prometheus-client reads this when first imported: workers inherit it and share one metrics directory.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="policy-service-metrics-")
    os.environ["POLICY_SERVICE_OWN_METRICS_DIR"] = "1"

from policy_service.errors import PolicyServiceError  # noqa: E402
from policy_service.settings import load_settings  # noqa: E402

_settings = load_settings(default_policy_dir=ROOT / "rules")

bind = _settings.bind
workers = _settings.workers
worker_class = "sync"
timeout = 30
graceful_timeout = 30
# Recycle workers now and then: durable-rules never returns some memory (notes §3).
max_requests = 20000
max_requests_jitter = 2000
limit_request_field_size = 8190
preload_app = False  # each new worker loads the accepted policy version; SIGHUP replaces workers gracefully
wsgi_app = "wsgi:app"
chdir = str(ROOT)
# gunicorn's control socket lives at one fixed path per user; instances side by side would fight over it.
control_socket_disable = True


def _log(server, level: str, event: str, **fields) -> None:
    getattr(server.log, level)(json.dumps({"level": level, "event": event, **fields}, ensure_ascii=False))


def _offer(server, source: str) -> None:
    from policy_service.snapshots import offer

    settings = load_settings(default_policy_dir=ROOT / "rules")
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    accepted = offer(settings.policy_dir.resolve(), settings.state_dir.resolve(), source)
    os.environ["POLICY_SERVICE_STATE_DIR"] = str(settings.state_dir.resolve())
    os.environ["POLICY_SERVICE_USE_SNAPSHOT"] = "1"
    if accepted.error:
        _log(server, "error", "policy-rejected", source=source, problems=accepted.error["problems"],
             still_serving=accepted.digest)
    else:
        _log(server, "info", "policy-accepted", source=source, digest=accepted.digest)
    if source == "reload":
        from policy_service.api.metrics import Metrics

        Metrics().reloads.labels("failure" if accepted.error else "success").inc()
    if accepted.digest is None:
        _log(server, "error", "no-valid-policy", message="no valid policy to serve; fix the policy and start again")
        sys.exit(3)


def on_starting(server):
    try:
        warning = load_settings(default_policy_dir=ROOT / "rules").check_access()
    except PolicyServiceError as exc:
        _log(server, "error", "unsafe-configuration", message=str(exc))
        sys.exit(2)
    if warning:
        _log(server, "warning", "open-access", message=warning)
    _offer(server, "start")
    _migrate_store(server)


def _migrate_store(server) -> None:
    """Bring the decision store's tables up to date once, before any worker records into them."""
    settings = load_settings(default_policy_dir=ROOT / "rules")
    if not settings.recording:
        return
    from policy_service.store import Store, StoreUnavailable

    store = Store(settings.store_url(), busy_timeout_ms=settings.store_timeout_ms,
                  sqlite_synchronous=settings.sqlite_synchronous)
    try:
        store.migrate()
        _log(server, "info", "store-ready", url=settings.store_url().split("@")[-1])
    except StoreUnavailable as exc:
        # Fail closed, not dead: workers answer 503 with Retry-After until the store is back.
        _log(server, "error", "store-unavailable", message=str(exc))
    finally:
        store.dispose()


def on_reload(server):
    _offer(server, "reload")


def when_ready(server):
    """With POLICY_SERVICE_WATCH_SECONDS set, reload on a change to the policy files, as SIGHUP would."""
    settings = load_settings(default_policy_dir=ROOT / "rules")
    if not settings.watch_seconds:
        return
    import signal
    import threading

    from policy_service.snapshots import directory_digest

    policy_dir = settings.policy_dir.resolve()
    master = os.getpid()

    def watch() -> None:
        seen = directory_digest(policy_dir)
        while True:
            time.sleep(settings.watch_seconds)
            current = directory_digest(policy_dir)
            if current is not None and current != seen:
                seen = current
                _log(server, "info", "policy-changed", directory=str(policy_dir), digest=current)
                os.kill(master, signal.SIGHUP)  # the same validated path as an operator's reload

    threading.Thread(target=watch, name="policy-watch", daemon=True).start()
    _log(server, "info", "policy-watch", directory=str(policy_dir), every_seconds=settings.watch_seconds)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if os.environ.get("POLICY_SERVICE_OWN_METRICS_DIR") == "1":
        shutil.rmtree(os.environ.get("PROMETHEUS_MULTIPROC_DIR", ""), ignore_errors=True)
