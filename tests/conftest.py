"""Shared fixtures: the default policy, deciders on both backends, a policy writer and the CLI runner."""

from __future__ import annotations

import os
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from policy_service.decide import Decider
from policy_service.policy import load_policy

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
CASES = Path(__file__).resolve().parent / "cases"
FIXED_NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
BACKENDS = ("durable", "reference")

BASE_POLICY = textwrap.dedent("""\
    apiVersion: complaint-policy/v1
    policy:
      name: test-policy
      version: "1"
      default_priority: LOW
      category_precedence: [{precedence}]
      compensation_conflict: {conflict}
    priorities:
      - id: TOP
        label: {{en: Top, zh: 最高}}
      - id: MID
        label: {{en: Middle, zh: 中}}
      - id: LOW
        label: {{en: Low, zh: 低}}
    """)


def load_cases(name: str) -> list:
    """Read a data-driven case file from tests/cases."""
    with open(CASES / name, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def complaint(**overrides) -> dict:
    """A valid complaint, with fields replaced by `overrides`."""
    base = {"id": "c-1", "received_at": "2025-09-26T10:00:00+08:00", "text": "hello"}
    base.update(overrides)
    return base


@pytest.fixture(scope="session")
def default_program():
    return load_policy(RULES)


@pytest.fixture(scope="session", params=BACKENDS)
def decider(request, default_program):
    """A decider for the default policy, once per backend."""
    return Decider(default_program, backend=request.param)


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def write_policy(tmp_path):
    """Write policy files into a fresh directory; `categories.yaml` etc. given as YAML text."""

    def write(files: dict[str, str], precedence: str = "", conflict: str = "most_generous",
              with_base: bool = True) -> Path:
        directory = tmp_path / f"policy{len(list(tmp_path.iterdir()))}"
        directory.mkdir()
        if with_base:
            (directory / "policy.yaml").write_text(BASE_POLICY.format(precedence=precedence, conflict=conflict),
                                                   encoding="utf-8")
        for name, text in files.items():
            (directory / name).write_text(textwrap.dedent(text), encoding="utf-8")
        return directory

    return write


POSTGRES_URL_ENV = "POLICY_SERVICE_TEST_DATABASE_URL"


def _postgres_database(base_url: str):
    """A fresh database on the test PostgreSQL server; returns its URL and a function that drops it."""
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    server, _, _ = base_url.replace("postgresql+psycopg://", "postgresql://").rpartition("/")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return base_url.rpartition("/")[0] + f"/{name}", drop


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """A fresh, empty decision store URL: an SQLite file, and a database on the test PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'decisions.sqlite3'}"
        return
    yield from _fresh_postgres()


@pytest.fixture
def postgres_url():
    """A fresh database on the test PostgreSQL server."""
    yield from _fresh_postgres()


def _fresh_postgres():
    base = os.environ.get(POSTGRES_URL_ENV)
    if not base:
        if os.environ.get("POLICY_SERVICE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{POSTGRES_URL_ENV} is not set; run the tests through scripts/with-postgres")
        pytest.skip(f"no PostgreSQL: set {POSTGRES_URL_ENV} (make test starts one)")
    url, drop = _postgres_database(base)
    yield url
    drop()
