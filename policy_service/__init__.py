"""Complaint policy service: YAML complaint-handling policies evaluated by durable-rules."""

__version__ = "0.1.0"
