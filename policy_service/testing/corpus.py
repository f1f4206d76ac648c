"""Read corpora of past complaints: JSON Lines (complaints or exported decision records) or CSV with a column mapping."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

csv.field_size_limit(16 * 1024 * 1024)  # complaint narratives can be long


@dataclass(frozen=True)
class CorpusItem:
    """One complaint of a corpus, or why its line could not be read."""

    where: str  # file:line or file:row
    payload: dict | None
    error: str | None = None


def _assign(target: dict, path: str, value) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def parse_pairs(pairs: tuple[str, ...], what: str) -> dict[str, str]:
    """Turn `field=value` options into a mapping; raise ValueError naming a malformed one."""
    out = {}
    for pair in pairs:
        field, sep, value = pair.partition("=")
        if not sep or not field:
            raise ValueError(f"{what} '{pair}' must look like field=value")
        out[field.strip()] = value
    return out


def read_corpus(path: str | Path, mapping: dict[str, str] | None = None,
                constants: dict[str, str] | None = None) -> Iterator[CorpusItem]:
    """Yield the complaints of a .jsonl or .csv corpus; CSV columns are mapped to complaint fields."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        yield from _read_csv(path, mapping or {}, constants or {})
        return
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{number}"
            try:
                value = json.loads(line)
            except ValueError as exc:
                yield CorpusItem(where, None, f"malformed JSON: {exc}")
                continue
            if isinstance(value, dict) and isinstance(value.get("complaint"), dict):
                value = value["complaint"]  # a decision record exported by `policy-service decisions export`
            if not isinstance(value, dict):
                yield CorpusItem(where, None, "each line must be a complaint object")
                continue
            for field, constant in (constants or {}).items():
                _assign(value, field, constant)
            yield CorpusItem(where, value)


def _read_csv(path: Path, mapping: dict[str, str], constants: dict[str, str]) -> Iterator[CorpusItem]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in mapping.values() if column not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path.name} has no column(s) {', '.join(repr(c) for c in missing)}; "
                             f"columns: {', '.join(repr(c) for c in reader.fieldnames or [])}")
        for number, row in enumerate(reader, start=2):
            payload: dict = {}
            for field, column in mapping.items():
                if row.get(column) not in (None, ""):
                    _assign(payload, field, row[column])
            for field, constant in constants.items():
                _assign(payload, field, constant)
            payload.setdefault("id", f"{path.stem}-row-{number}")
            yield CorpusItem(f"{path.name}:{number}", payload)
