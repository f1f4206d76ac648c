"""Loading, validating and compiling complaint policies."""

from __future__ import annotations

from pathlib import Path

from .compile import CompiledPolicy, compile_policy
from .loader import load_sources
from .validate import validate


def load_policy(directory: str | Path) -> CompiledPolicy:
    """Load, validate and compile the policy in `directory`; raise PolicyLoadError with every problem."""
    return compile_policy(validate(load_sources(directory)))
