"""WSGI entry point: `gunicorn wsgi:app` serves the default policy (or POLICY_SERVICE_POLICY_DIR)."""

from policy_service.api import create_app

app = create_app()
