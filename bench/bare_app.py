"""A bare Flask endpoint: the baseline the decision endpoint is measured against under the same gunicorn."""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/v1/decisions")
def bare():
    payload = request.get_json()
    return jsonify({"complaint_id": payload.get("id"), "ok": True})


@app.get("/readyz")
def ready():
    return jsonify({"status": "ready"})
