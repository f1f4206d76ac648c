"""Decision records: building them, and replaying a recorded complaint under its original or the current policy."""

from __future__ import annotations

import tempfile
import threading
from collections import OrderedDict
from datetime import datetime
from pathlib import Path

from .decide import Decider
from .errors import PolicyServiceError
from .policy import load_policy
from .store import Record, Store, new_decision_id

PARTS = ("categories", "primary_category", "priority", "compensation", "escalation", "deadlines", "trace",
         "warnings", "policy")


class UnknownPolicyVersion(PolicyServiceError):
    """A record names a policy version the store does not hold."""


def build_record(payload: dict, decision: dict, request_id: str | None, caller: str | None,
                 idempotency_key: str | None, decision_json: str | None = None) -> Record:
    """The record of one served decision."""
    received = payload.get("received_at")
    try:
        received_at = datetime.fromisoformat(received) if isinstance(received, str) else None
    except ValueError:
        received_at = None
    return Record(
        decision_id=new_decision_id(), complaint_id=decision["complaint_id"], request_id=request_id, caller=caller,
        idempotency_key=idempotency_key, policy_digest=decision["policy"]["digest"],
        policy_name=decision["policy"]["name"], policy_version=decision["policy"]["version"],
        received_at=received_at, decided_at=datetime.fromisoformat(decision["evaluated_at"]),
        complaint=payload, decision=decision, decision_json=decision_json)


def differences(recorded: dict, replayed: dict) -> dict:
    """The parts in which two decisions differ (evaluation time aside), with both values."""
    return {part: {"recorded": recorded.get(part), "replayed": replayed.get(part)}
            for part in PARTS if recorded.get(part) != replayed.get(part)}


class PolicyVersions:
    """Compiled policy versions rebuilt from the store, kept for a few replays."""

    def __init__(self, store: Store, keep: int = 8):
        self.store = store
        self.keep = keep
        self._deciders: OrderedDict[str, Decider] = OrderedDict()
        self._lock = threading.Lock()

    def decider(self, digest: str) -> Decider:
        """A decider for the stored version `digest`; UnknownPolicyVersion if the store lacks it."""
        with self._lock:
            if digest in self._deciders:
                self._deciders.move_to_end(digest)
                return self._deciders[digest]
        files = self.store.policy_files(digest)
        if files is None:
            raise UnknownPolicyVersion(f"policy version {digest} is not in the store")
        with tempfile.TemporaryDirectory(prefix="policy-replay-") as scratch:
            for name, content in files.items():
                (Path(scratch) / name).write_bytes(content.encode("utf-8"))
            program = load_policy(scratch)
        if program.policy.digest != digest:
            raise UnknownPolicyVersion(f"stored files of {digest} now hash to {program.policy.digest}")
        decider = Decider(program)
        with self._lock:
            self._deciders[digest] = decider
            while len(self._deciders) > self.keep:
                self._deciders.popitem(last=False)
        return decider


def replay(record: dict, decider: Decider) -> dict:
    """Decide a recorded complaint again at its original evaluation time; report what differs."""
    replayed = decider.decide(record["complaint"], now=datetime.fromisoformat(record["decided_at"]))
    changed = differences(record["decision"], replayed)
    return {"decision_id": record["decision_id"], "policy": replayed["policy"], "identical": not changed,
            "differences": changed, "replayed": replayed}
