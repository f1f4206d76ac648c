"""The `policy-service` command line: translates argv into calls on the core and exit codes."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

import click

from .errors import ComplaintInvalid, EvaluationError, FieldError, PolicyLoadError

EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_USAGE = 2
EXIT_INVALID_POLICY = 3
DEFAULT_POLICY_DIR = "rules"


def _policy_dir_option(func):
    return click.option("--policy", "policy_dir", default=lambda: os.environ.get("POLICY_SERVICE_POLICY_DIR",
                                                                                  DEFAULT_POLICY_DIR),
                        show_default="rules (or $POLICY_SERVICE_POLICY_DIR)", type=click.Path(file_okay=False),
                        help="Policy directory.")(func)


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=False)


def _load_or_exit(policy_dir: str):
    from .policy import load_policy

    try:
        return load_policy(policy_dir)
    except PolicyLoadError as exc:
        for problem in exc.problems:
            click.echo(problem.render(), err=True)
        errors = sum(1 for p in exc.problems if p.severity == "error")
        click.echo(f"{policy_dir}: invalid policy, {errors} error(s)", err=True)
        sys.exit(EXIT_INVALID_POLICY)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Check complaint policies and see the decisions they give."""


@main.command()
@click.argument("policy_dir", default=lambda: os.environ.get("POLICY_SERVICE_POLICY_DIR", DEFAULT_POLICY_DIR),
                type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def check(policy_dir: str, fmt: str) -> None:
    """Validate and compile a policy directory; print every problem as file:line:col."""
    from .policy import load_policy

    try:
        program = load_policy(policy_dir)
    except PolicyLoadError as exc:
        if fmt == "json":
            click.echo(_dump({"valid": False, "problems": [p.as_dict() for p in exc.problems]}))
        else:
            for problem in exc.problems:
                click.echo(problem.render())
            errors = sum(1 for p in exc.problems if p.severity == "error")
            click.echo(f"{policy_dir}: invalid policy, {errors} error(s)", err=True)
        sys.exit(EXIT_INVALID_POLICY)
    policy = program.policy
    warnings = getattr(policy, "warnings", ())
    if fmt == "json":
        click.echo(_dump({"valid": True, "policy": policy.summary(), "problems": [w.as_dict() for w in warnings]}))
        return
    for warning in warnings:
        click.echo(warning.render())
    click.echo(f"{policy_dir}: {policy.name} {policy.version} ({policy.digest}) is valid: "
               f"{len(policy.categories)} categories, {len(policy.rules)} rules, {len(policy.priorities)} priorities, "
               f"{len(policy.tiers)} compensation tiers, {len(policy.paths)} escalation paths")


def _decide_line(decider, raw: str, at=None) -> dict:
    try:
        payload = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ComplaintInvalid([FieldError("$", f"malformed JSON: {exc.msg} at column {exc.colno}")]) from None
    return decider.decide(payload, at=at)


class _Instant(click.ParamType):
    """An ISO 8601 date-time with a UTC offset."""

    name = "TIME"

    def convert(self, value, param, ctx):
        from datetime import datetime

        try:
            instant = datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"'{value}' is not an ISO 8601 date-time", param, ctx)
        if instant.tzinfo is None:
            self.fail(f"'{value}' needs a UTC offset, e.g. 2025-10-09T12:00:00+08:00", param, ctx)
        return instant


def _error_record(exc: EvaluationError) -> dict:
    if isinstance(exc, ComplaintInvalid):
        return {"code": "invalid-complaint", "message": "the complaint is invalid",
                "errors": [e.as_dict() for e in exc.errors]}
    return {"code": "evaluation-failed", "message": str(exc)}


@main.command(name="eval")
@click.argument("source", type=click.File("r", encoding="utf-8"))
@_policy_dir_option
@click.option("--jsonl", is_flag=True, help="SOURCE holds one complaint per line; print one decision per line.")
@click.option("--backend", type=click.Choice(["durable", "reference"]), default="durable", show_default=True,
              help="Evaluate with durable-rules (the product) or the pure-Python reference.")
@click.option("--at", "at", type=_Instant(), default=None,
              help="Also report what is due at this time: elapsed/remaining time per clock, breaches, the "
                   "escalation step that should be active (uses the complaint's status and pauses).")
def eval_command(source: TextIO, policy_dir: str, jsonl: bool, backend: str, at) -> None:
    """Print the decision for a complaint JSON file (- reads stdin)."""
    from .decide import Decider

    decider = Decider(_load_or_exit(policy_dir), backend=backend)
    if not jsonl:
        try:
            decision = _decide_line(decider, source.read(), at)
        except EvaluationError as exc:
            click.echo(_dump({"error": _error_record(exc)}), err=True)
            sys.exit(EXIT_BAD_INPUT)
        click.echo(json.dumps(decision, ensure_ascii=False, indent=2))
        return
    failures = 0
    for number, raw in enumerate(source, start=1):
        if not raw.strip():
            continue
        try:
            click.echo(_dump(_decide_line(decider, raw, at)))
        except EvaluationError as exc:
            failures += 1
            click.echo(_dump({"line": number, "error": _error_record(exc)}))
    if failures:
        click.echo(f"{failures} complaint(s) could not be decided", err=True)
        sys.exit(EXIT_BAD_INPUT)


@main.command()
@click.option("--write", "directory", type=click.Path(file_okay=False), default=None,
              help="Write the schemas into this directory instead of checking them.")
@click.option("--check", "check_dir", type=click.Path(file_okay=False), default=None,
              help="Exit 1 if the schemas in this directory differ from the code.")
def schemas(directory: str | None, check_dir: str | None) -> None:
    """Print, write or check the published JSON Schemas."""
    from pathlib import Path

    from .schemas import generate, render, write_all

    if directory:
        for path in write_all(directory):
            click.echo(f"wrote {path}")
        return
    if check_dir:
        stale = [name for name, doc in generate().items()
                 if not (Path(check_dir) / name).exists()
                 or (Path(check_dir) / name).read_text(encoding="utf-8") != render(doc)]
        for name in stale:
            click.echo(f"{check_dir}/{name} is out of date; run `policy-service schemas --write {check_dir}`",
                       err=True)
        sys.exit(EXIT_BAD_INPUT if stale else EXIT_OK)
    click.echo(json.dumps(generate(), ensure_ascii=False, indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()
