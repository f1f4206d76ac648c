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
EXIT_TESTS_FAILED = 4
DEFAULT_POLICY_DIR = "rules"


def _policy_dir_option(func):
    return click.option("--policy", "policy_dir", default=lambda: os.environ.get("POLICY_SERVICE_POLICY_DIR",
                                                                                  DEFAULT_POLICY_DIR),
                        show_default="rules (or $POLICY_SERVICE_POLICY_DIR)", type=click.Path(file_okay=False),
                        help="Policy directory.")(func)


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=False)


def _exit_invalid(exc: PolicyLoadError, summary: str, to_stderr: bool = True) -> None:
    """Print every problem as file:line:col, a one-line summary on stderr, and exit 3."""
    for problem in exc.problems:
        click.echo(problem.render(), err=to_stderr)
    errors = sum(1 for p in exc.problems if p.severity == "error")
    click.echo(f"{summary}, {errors} error(s)", err=True)
    sys.exit(EXIT_INVALID_POLICY)


def _load_or_exit(policy_dir: str):
    from .policy import load_policy

    try:
        return load_policy(policy_dir)
    except PolicyLoadError as exc:
        _exit_invalid(exc, f"{policy_dir}: invalid policy")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Check complaint policies and see the decisions they give."""


@main.command()
@click.argument("policy_dir", default=lambda: os.environ.get("POLICY_SERVICE_POLICY_DIR", DEFAULT_POLICY_DIR),
                type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--strict", is_flag=True, help="Treat lint warnings as errors (exit 3).")
def check(policy_dir: str, fmt: str, strict: bool) -> None:
    """Validate, compile and lint a policy directory; print every problem as file:line:col."""
    from .policy import load_policy
    from .policy.lint import lint

    try:
        program = load_policy(policy_dir)
    except PolicyLoadError as exc:
        if fmt == "json":
            click.echo(_dump({"valid": False, "problems": [p.as_dict() for p in exc.problems]}))
            sys.exit(EXIT_INVALID_POLICY)
        _exit_invalid(exc, f"{policy_dir}: invalid policy", to_stderr=False)
    policy = program.policy
    warnings = sorted(list(getattr(policy, "warnings", ())) + lint(program))
    failed = strict and bool(warnings)
    if fmt == "json":
        click.echo(_dump({"valid": not failed, "policy": policy.summary(),
                          "problems": [w.as_dict() for w in warnings]}))
        sys.exit(EXIT_INVALID_POLICY if failed else EXIT_OK)
    for warning in warnings:
        click.echo(warning.render())
    if failed:
        click.echo(f"{policy_dir}: {len(warnings)} warning(s) with --strict", err=True)
        sys.exit(EXIT_INVALID_POLICY)
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
@click.argument("policy_dir", default=lambda: os.environ.get("POLICY_SERVICE_POLICY_DIR", DEFAULT_POLICY_DIR),
                type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "junit", "json"]), default="text", show_default=True)
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-",
              help="Write the report here (default: standard output).")
@click.option("--min-coverage", type=click.FloatRange(0, 100), default=None,
              help="Fail when less than this percentage of rules, categories, priorities, tiers and paths is "
                   "exercised.")
def test(policy_dir: str, fmt: str, output: TextIO, min_coverage: float | None) -> None:
    """Run the policy's test suites (*.test.yaml beside it, or files in its tests/ folder)."""
    from .testing.report import render_json, render_junit, render_text
    from .testing.runner import run_suite
    from .testing.suite import load_suite

    program = _load_or_exit(policy_dir)
    try:
        suite = load_suite(policy_dir)
    except PolicyLoadError as exc:
        _exit_invalid(exc, f"{policy_dir}: invalid test files")
    if not suite.cases:
        click.echo(f"{policy_dir}: no tests found (*.test.yaml beside the policy or in its tests/ folder)", err=True)
        sys.exit(EXIT_TESTS_FAILED)
    outcome = run_suite(program, suite)
    rendered = {"text": render_text, "junit": render_junit, "json": render_json}[fmt](outcome)
    output.write(rendered + "\n")
    failed = bool(outcome.failed)
    if min_coverage is not None and outcome.coverage.percent() < min_coverage:
        click.echo(f"coverage {outcome.coverage.percent()}% is below the required {min_coverage}%", err=True)
        failed = True
    sys.exit(EXIT_TESTS_FAILED if failed else EXIT_OK)


@main.command()
@click.argument("policy_dir", default=lambda: os.environ.get("POLICY_SERVICE_POLICY_DIR", DEFAULT_POLICY_DIR),
                type=click.Path(file_okay=False, exists=True))
@click.option("--base", required=True, help="The old policy: a directory, or a git revision of POLICY_DIR.")
@click.option("--corpus", "corpora", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help="Past complaints: .jsonl (complaints or exported decision records) or .csv. Repeatable.")
@click.option("--map", "mappings", multiple=True, metavar="FIELD=COLUMN",
              help="CSV column for a complaint field, e.g. --map text=narrative. Repeatable.")
@click.option("--set", "constants", multiple=True, metavar="FIELD=VALUE",
              help="A value for every complaint, e.g. --set received_at=2016-01-04T09:00:00-05:00. Repeatable.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--examples", type=click.IntRange(1, 100), default=5, show_default=True,
              help="Example complaint ids per kind of change.")
@click.option("--no-fixtures", is_flag=True, help="Leave out the complaints of the policy's test files.")
def diff(policy_dir: str, base: str, corpora, mappings, constants, fmt: str, examples: int, no_fixtures: bool) -> None:
    """Show what a policy change does to past complaints, part by part."""
    from pathlib import Path

    from .testing.corpus import CorpusItem, parse_pairs, read_corpus
    from .testing.impact import load_pair, render_markdown, render_text, run_impact
    from .testing.suite import load_suite

    try:
        mapping, fixed = parse_pairs(mappings, "--map"), parse_pairs(constants, "--set")
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        old, new, scratch = load_pair(base, Path(policy_dir))
    except PolicyLoadError as exc:
        _exit_invalid(exc, f"{base} or {policy_dir}: invalid policy")
    items: list = []
    try:
        for corpus in corpora:
            items.extend(read_corpus(corpus, mapping, fixed))
    except (ValueError, OSError) as exc:
        raise click.UsageError(str(exc)) from None
    if not no_fixtures:
        try:
            suite = load_suite(policy_dir)
            items.extend(CorpusItem(f"{c.file}:{c.line}", c.complaint) for c in suite.cases)
        except PolicyLoadError:
            click.echo("warning: the policy's test files are invalid; their fixtures are left out", err=True)
    if not items:
        raise click.UsageError("nothing to compare: give --corpus, or add test files to the policy")
    with scratch:
        if sys.stderr.isatty():
            with click.progressbar(length=len(items), label="deciding", file=sys.stderr) as bar:
                impact = run_impact(old, new, items, progress=bar.update)
        else:
            impact = run_impact(old, new, items)
    if fmt == "json":
        click.echo(json.dumps(impact.as_dict(examples), ensure_ascii=False, indent=2))
    elif fmt == "markdown":
        click.echo(render_markdown(impact, examples))
    else:
        click.echo(render_text(impact, examples))


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


@main.group()
def decisions() -> None:
    """Work with the recorded decisions (POLICY_SERVICE_DATABASE_URL, or the SQLite file in the state directory)."""


def _store():
    from .settings import load_settings
    from .store import Store

    settings = load_settings()
    return Store(settings.store_url(), busy_timeout_ms=settings.store_timeout_ms), settings


def _days(value: str) -> int:
    text = value.strip().lower()
    if text.endswith("d"):
        text = text[:-1]
    if not text.isdigit() or int(text) < 1:
        raise click.BadParameter(f"'{value}' is not a number of days such as 90d")
    return int(text)


@decisions.command()
@click.option("--older-than", "older_than", default=None, metavar="DAYS",
              help="Delete decisions made more than this many days ago, e.g. 90d "
                   "(default: POLICY_SERVICE_RETENTION_DAYS, 365).")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
def purge(older_than: str | None, dry_run: bool) -> None:
    """Delete old decision records (complaint text is personal data); policy versions are kept."""
    from datetime import datetime, timedelta, timezone

    from .store import StoreUnavailable

    store, settings = _store()
    days = _days(older_than) if older_than else settings.retention_days
    cutoff = datetime.now(timezone.utc) - timedelta(days=days)
    try:
        store.migrate()
        if dry_run:
            count = sum(1 for _ in store.iterate(until=cutoff))
            click.echo(f"{count} decision(s) made before {cutoff.isoformat(timespec='seconds')} would be deleted")
            return
        count = store.purge(cutoff)
    except StoreUnavailable as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_BAD_INPUT)
    click.echo(f"deleted {count} decision(s) made before {cutoff.isoformat(timespec='seconds')}")


@decisions.command()
@click.option("--since", type=_Instant(), default=None, help="Only decisions made at or after this time.")
@click.option("--until", type=_Instant(), default=None, help="Only decisions made before this time.")
def export(since, until) -> None:
    """Write recorded decisions as JSON Lines: the corpus `policy-service diff --corpus` reads."""
    from .store import StoreUnavailable

    store, _ = _store()
    try:
        for record in store.iterate(since=since, until=until):
            click.echo(json.dumps(record, ensure_ascii=False))
    except StoreUnavailable as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_BAD_INPUT)


if __name__ == "__main__":  # pragma: no cover
    main()
