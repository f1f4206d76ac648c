"""The loaded policy of one worker: what it serves, where it came from, and the last rejected reload."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..decide import Decider
from ..errors import PolicyLoadError
from ..policy import load_policy
from ..settings import Settings
from ..policy.loader import policy_files
from ..snapshots import read_active, read_last_error, snapshot_dir


@dataclass
class LoadedPolicy:
    """A compiled policy with its decider and provenance."""

    decider: Decider
    loaded_at: str
    source: str
    last_error: dict | None = field(default=None)
    files: dict = field(default_factory=dict, repr=False)  # file name -> text, as stored with decisions

    @property
    def policy(self):
        return self.decider.program.policy


def load_for_worker(settings: Settings) -> LoadedPolicy:
    """Load the policy this worker serves: the master's accepted snapshot under gunicorn, else the directory."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    if settings.use_snapshot:
        active = read_active(settings.state_dir)
        if active is None:
            raise PolicyLoadError([])
        directory = snapshot_dir(settings.state_dir, active["digest"])
        program = load_policy(directory)
        return LoadedPolicy(Decider(program), now, active.get("directory", str(settings.policy_dir)),
                            read_last_error(settings.state_dir), policy_texts(directory))
    return LoadedPolicy(Decider(load_policy(settings.policy_dir)), now, str(settings.policy_dir),
                        files=policy_texts(settings.policy_dir))


def policy_texts(directory) -> dict[str, str]:
    """The policy's files by name, as they are kept beside its decisions."""
    return {path.name: path.read_text(encoding="utf-8") for path in policy_files(Path(directory))}
