"""The exception hierarchy and the positioned problem record shared by every phase."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterable, Sequence


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a policy, located in its file."""

    file: str
    line: int
    column: int
    code: str
    message: str
    path: str = ""
    severity: str = field(default="error", compare=False)

    def render(self) -> str:
        """Format as `file:line:col: message (code)`, the form editors and CI parse."""
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.file}:{self.line}:{self.column}: {prefix}{self.message} ({self.code})"

    def as_dict(self) -> dict:
        """Return the problem as a JSON-ready mapping."""
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "code": self.code,
            "message": self.message,
            "severity": self.severity,
        }


class PolicyServiceError(Exception):
    """Root of every error this package raises on purpose."""


class PolicyLoadError(PolicyServiceError):
    """A policy could not be loaded, validated or compiled; carries every problem found."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems: list[Problem] = sorted(problems)
        super().__init__("\n".join(p.render() for p in self.problems) or "invalid policy")


class EvaluationError(PolicyServiceError):
    """Evaluating a complaint against a loaded policy failed."""


@dataclass(frozen=True)
class FieldError:
    """One invalid field of an input payload, addressed by its JSON path."""

    path: str
    message: str

    def as_dict(self) -> dict:
        """Return the field error as a JSON-ready mapping."""
        return {"path": self.path, "message": self.message}


class ComplaintInvalid(EvaluationError):
    """A complaint payload failed validation; carries one error per field path."""

    def __init__(self, errors: Sequence[FieldError]):
        self.errors = sorted(errors, key=lambda e: (e.path, e.message))
        super().__init__("; ".join(f"{e.path}: {e.message}" for e in self.errors))


class EngineFailure(EvaluationError):
    """The rule engine reported an internal failure while evaluating."""


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """Return a ` (did you mean 'x'?)` hint for a misspelt name, or an empty string."""
    close = difflib.get_close_matches(str(name), sorted(set(known)), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""
