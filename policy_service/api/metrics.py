"""Prometheus metrics: per-process in tests, aggregated across gunicorn workers via the multiprocess directory."""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """The service's metrics, registered on a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("policy_service_http_requests_total", "HTTP requests by endpoint and status",
                                ["endpoint", "method", "status"], registry=self.registry)
        self.latency = Histogram("policy_service_http_request_duration_seconds", "HTTP request latency",
                                 ["endpoint", "method", "status"], buckets=BUCKETS, registry=self.registry)
        self.decisions = Counter("policy_service_decisions_total", "Decisions by primary category and priority",
                                 ["primary_category", "priority"], registry=self.registry)
        self.policy = Gauge("policy_service_policy_info", "The policy a worker serves (1 per worker)",
                            ["name", "version", "digest"], registry=self.registry, multiprocess_mode="liveall")
        self.recorded = Counter("policy_service_decisions_recorded_total", "Decision records by result",
                                 ["result"], registry=self.registry)
        self.reloads = Counter("policy_service_policy_reloads_total", "Policy reloads by result",
                               ["result"], registry=self.registry)

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition: every worker's values when running under gunicorn."""
        directory = os.environ.get(MULTIPROC_ENV)
        if directory and os.path.isdir(directory):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=directory)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
