"""Content-addressed copies of validated policies, so every worker serves the version the master accepted."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .errors import PolicyLoadError
from .policy import load_policy
from .policy.loader import policy_files

ACTIVE = "active.json"
LAST_ERROR = "last_error.json"


@dataclass(frozen=True)
class Accepted:
    """The outcome of offering a policy directory: the version now active and any rejection."""

    digest: str | None
    error: dict | None


def _write_json(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, ensure_ascii=False, indent=2)
    os.replace(temporary, path)  # atomic: a reader sees the old or the new document, never half


def snapshot_dir(state_dir: Path, digest: str) -> Path:
    """Where the files of a policy version are kept."""
    return state_dir / "policies" / digest.split(":")[-1]


def offer(policy_dir: Path, state_dir: Path, source: str = "reload") -> Accepted:
    """Validate `policy_dir`; if valid, store it by digest and make it active, else record why not."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    try:
        program = load_policy(policy_dir)
    except PolicyLoadError as exc:
        error = {"at": now, "source": source, "directory": str(policy_dir),
                 "problems": [p.render() for p in exc.problems]}
        _write_json(state_dir / LAST_ERROR, error)
        active = read_active(state_dir)
        return Accepted(active["digest"] if active else None, error)
    digest = program.policy.digest
    target = snapshot_dir(state_dir, digest)
    if not target.exists():
        staging = Path(tempfile.mkdtemp(dir=state_dir, prefix=".staging-"))
        # The texts that were validated, not the directory again: it may have changed since.
        for name, text in program.policy.sources.items():
            (staging / name).write_bytes(text.encode("utf-8"))
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(staging, target)
        except OSError:  # another process stored the same version first
            shutil.rmtree(staging, ignore_errors=True)
    _write_json(state_dir / ACTIVE, {"digest": digest, "name": program.policy.name,
                                     "version": program.policy.version, "accepted_at": now,
                                     "directory": str(policy_dir)})
    (state_dir / LAST_ERROR).unlink(missing_ok=True)
    return Accepted(digest, None)


def read_active(state_dir: Path) -> dict | None:
    """The active version's record, or None."""
    try:
        return json.loads((state_dir / ACTIVE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_last_error(state_dir: Path) -> dict | None:
    """The last rejected reload, or None."""
    try:
        return json.loads((state_dir / LAST_ERROR).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def directory_digest(policy_dir: Path) -> str | None:
    """The digest the policy directory's files would have now (None if it cannot be read)."""
    from .policy.loader import digest_of

    try:
        return digest_of([(path.name, path.read_bytes()) for path in policy_files(Path(policy_dir))])
    except OSError:
        return None
