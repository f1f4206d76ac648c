"""Read policy YAML files into plain values, remembering where every value came from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import PolicyLoadError, Problem

POLICY_SUFFIXES = (".yaml", ".yml")
TEST_SUFFIXES = (".test.yaml", ".test.yml")

Path_ = tuple  # a JSON path inside one document, e.g. ("rules", 3, "when")


@dataclass(frozen=True)
class SourceFile:
    """One parsed policy file: its values and the line/column of each of them."""

    name: str
    data: Any
    positions: dict = field(repr=False)
    key_positions: dict = field(repr=False)

    def where(self, path: Path_, key: bool = False) -> tuple[int, int]:
        """Return the 1-based (line, column) of the value (or its key) at `path`, or its nearest parent."""
        table = self.key_positions if key else self.positions
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if not key and probe in self.key_positions:
                return self.key_positions[probe]
            probe = probe[:-1]
        return self.positions.get((), (1, 1))

    def problem(self, path: Path_, code: str, message: str, key: bool = False, severity: str = "error") -> Problem:
        """Build a Problem located at `path` in this file."""
        line, column = self.where(path, key=key)
        return Problem(self.name, line, column, code, message, json_path(path), severity)


@dataclass(frozen=True)
class LoadedSources:
    """Every file of a policy directory, parsed, with the digest of their bytes."""

    directory: str
    files: tuple[SourceFile, ...]
    digest: str
    problems: tuple[Problem, ...] = ()
    texts: dict = field(default_factory=dict, repr=False)  # file name -> the exact text that was validated


def json_path(path: Path_) -> str:
    """Render a path tuple as `$.rules[3].when`."""
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    """Turn a composed YAML node graph into values plus position tables."""

    def __init__(self, name: str, loader: yaml.SafeLoader):
        self.name = name
        self.loader = loader
        self.positions: dict = {}
        self.key_positions: dict = {}
        self.problems: list[Problem] = []

    def build(self, node: yaml.Node, path: tuple) -> Any:
        self.positions[path] = _mark(node)
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)
            out: dict = {}
            for key_node, value_node in node.value:
                key = self.loader.construct_object(key_node, deep=True)
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    line, col = _mark(key_node)
                    self.problems.append(Problem(self.name, line, col, "wrong-type", "mapping keys must be plain words",
                                                 json_path(path)))
                    continue
                key = str(key) if not isinstance(key, str) else key
                if key in out:
                    line, col = _mark(key_node)
                    self.problems.append(Problem(self.name, line, col, "duplicate-key",
                                                 f"key '{key}' appears twice in the same mapping; the second would "
                                                 "silently replace the first", json_path(path + (key,))))
                    continue
                self.key_positions[path + (key,)] = _mark(key_node)
                out[key] = self.build(value_node, path + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (index,)) for index, item in enumerate(node.value)]
        return self.loader.construct_object(node, deep=True)


def parse_yaml(name: str, text: str) -> tuple[SourceFile | None, list[Problem]]:
    """Parse one YAML document; return the positioned file or the syntax problems."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return SourceFile(name, None, {(): (1, 1)}, {}), []
        builder = _Builder(name, loader)
        data = builder.build(node, ())
        return SourceFile(name, data, builder.positions, builder.key_positions), builder.problems
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(filter(None, [exc.context, exc.problem])) or "invalid YAML"
        return None, [Problem(name, line, col, "yaml-syntax", f"YAML syntax error: {message}")]
    except (yaml.YAMLError, ValueError) as exc:
        return None, [Problem(name, 1, 1, "yaml-syntax", f"YAML error: {exc}")]
    finally:
        loader.dispose()


def policy_files(directory: Path) -> list[Path]:
    """List the policy files of a directory: top-level *.yaml, not test suites."""
    return sorted(
        p for p in directory.iterdir()
        if p.is_file() and p.name.endswith(POLICY_SUFFIXES) and not p.name.endswith(TEST_SUFFIXES)
    )


def digest_of(named_bytes: list[tuple[str, bytes]]) -> str:
    """Return `sha256:<hex>` over file names and contents, independent of listing order."""
    h = hashlib.sha256()
    for name, data in sorted(named_bytes):
        h.update(name.encode("utf-8") + b"\0" + str(len(data)).encode() + b"\0" + data)
    return "sha256:" + h.hexdigest()


def load_sources(directory: str | Path) -> LoadedSources:
    """Read and parse every policy file in `directory`; syntax problems are kept, not raised."""
    root = Path(directory)
    display = str(directory).rstrip("/") or "."
    if not root.is_dir():
        raise PolicyLoadError([Problem(display, 1, 1, "not-found", f"policy directory '{display}' does not exist")])
    paths = policy_files(root)
    if not paths:
        raise PolicyLoadError([Problem(display, 1, 1, "empty-policy", f"no *.yaml policy files in '{display}'")])
    problems: list[Problem] = []
    files: list[SourceFile] = []
    raw: list[tuple[str, bytes]] = []
    texts: dict[str, str] = {}
    for path in paths:
        name = f"{display}/{path.name}"
        data = path.read_bytes()
        raw.append((path.name, data))
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(Problem(name, 1, 1, "encoding", f"file is not UTF-8 ({exc.reason} at byte {exc.start})"))
            continue
        texts[path.name] = text
        parsed, found = parse_yaml(name, text)
        problems.extend(found)
        if parsed is not None:
            files.append(parsed)
    return LoadedSources(display, tuple(files), digest_of(raw), tuple(problems), texts)
