"""The Flask application factory: HTTP translation around the pure core."""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from pathlib import Path

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from ..settings import Settings, load_settings
from .holder import load_for_worker
from .metrics import Metrics
from .problems import problem

ACCESS_LOGGER = "policy_service.access"
REQUEST_ID_HEADER = "X-Request-ID"
_HTTP_KINDS = {400: "malformed-json", 401: "unauthorized", 404: "not-found", 405: "method-not-allowed",
               413: "payload-too-large", 415: "unsupported-media-type", 422: "validation-error"}


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (gunicorn and test runners replace it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def _json_logger() -> logging.Logger:
    logger = logging.getLogger(ACCESS_LOGGER)
    if not logger.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def _request_id() -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    if given and len(given) <= 128 and all(c.isalnum() or c in "-_.:" for c in given):
        return given
    return uuid.uuid4().hex


def _open_store(settings: Settings, loaded, log: logging.Logger):
    """Open the decision store, migrate it and keep the served policy version in it.

    An unreachable store does not stop the service: decisions answer 503 until it is back.
    """
    from ..records import PolicyVersions
    from ..store import Store, StoreUnavailable

    store = Store(settings.store_url(), busy_timeout_ms=settings.store_timeout_ms,
                  sqlite_synchronous=settings.sqlite_synchronous)
    try:
        store.migrate()  # a no-op when the gunicorn master has migrated already
        policy = loaded.policy
        store.store_policy(policy.digest, policy.name, policy.version, loaded.files)
    except StoreUnavailable as exc:
        log.error(json.dumps({"level": "error", "event": "store-unavailable", "message": str(exc)}))
    store.versions = PolicyVersions(store)
    return store


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app: load settings and the policy, wire views, errors, auth, logs and metrics."""
    settings = settings or load_settings(default_policy_dir=Path(__file__).resolve().parents[2] / "rules")
    warning = settings.check_access()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.body_limit
    app.json.ensure_ascii = False  # Chinese labels as text, not \u escapes
    app.json.sort_keys = False  # keep the documented field order
    app.extensions["policy_service"] = {
        "settings": settings,
        "loaded": load_for_worker(settings),
        "metrics": Metrics(),
        "started": time.time(),
        "store": None,
    }
    log = _json_logger()
    if settings.recording:
        app.extensions["policy_service"]["store"] = _open_store(settings, app.extensions["policy_service"]["loaded"],
                                                                log)
    if warning:
        log.warning(json.dumps({"level": "warning", "event": "open-access", "message": warning}))
    loaded = app.extensions["policy_service"]["loaded"]
    policy = loaded.policy
    app.extensions["policy_service"]["metrics"].policy.labels(policy.name, policy.version, policy.digest).set(1)
    log.info(json.dumps({"level": "info", "event": "policy-loaded", "policy": policy.summary(),
                         "source": loaded.source, "last_reload_error": bool(loaded.last_error)}))

    from .views import bp, health

    app.register_blueprint(health)
    app.register_blueprint(bp)

    @app.before_request
    def start_request() -> None:
        g.request_id = _request_id()
        g.started = time.perf_counter()
        g.log = {}

    @app.after_request
    def finish_request(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        metrics = app.extensions["policy_service"]["metrics"]
        labels = (endpoint, request.method, str(response.status_code))
        metrics.requests.labels(*labels).inc()
        metrics.latency.labels(*labels).observe(elapsed)
        record = {"event": "request", "request_id": g.get("request_id"), "method": request.method,
                  "path": request.path, "status": response.status_code, "latency_ms": round(elapsed * 1000, 2),
                  "caller": g.get("caller"), **g.get("log", {})}
        log.info(json.dumps(record, ensure_ascii=False))
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        kind = _HTTP_KINDS.get(exc.code or 500, "internal-error")
        detail = exc.description or ""
        if exc.code == 413:
            detail = f"the body is over the limit of {settings.body_limit} bytes"
        elif exc.code == 405:
            detail = f"{request.method} is not allowed on {request.path}"
        elif exc.code == 404:
            detail = f"{request.path} does not exist"
        response = problem(kind, detail)
        if exc.code == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unhandled error")
        return problem("internal-error", "an unexpected error occurred; it has been logged")

    return app
