"""The loaded policy of one worker: what it serves, where it came from, and the last rejected reload."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..decide import Decider
from ..errors import PolicyLoadError
from ..policy import load_policy
from ..settings import Settings
from ..snapshots import read_active, read_last_error, snapshot_dir


@dataclass
class LoadedPolicy:
    """A compiled policy with its decider and provenance."""

    decider: Decider
    loaded_at: str
    source: str
    last_error: dict | None = field(default=None)

    @property
    def policy(self):
        return self.decider.program.policy

    @property
    def files(self) -> dict[str, str]:
        """The policy's files by name, exactly as validated: what is kept beside its decisions."""
        return self.policy.sources


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
                            read_last_error(settings.state_dir))
    return LoadedPolicy(Decider(load_policy(settings.policy_dir)), now, str(settings.policy_dir))
