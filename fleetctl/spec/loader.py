"""Load and validate stack configs, reporting every problem with file:line.

`ruamel.yaml`'s round-trip loader keeps the line of every key, so a pydantic
error location (a key path) maps back to the line a person has to edit.
Nothing is raised until every file has been read: a user fixes all problems
in one pass instead of one per run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from fleetctl.errors import SpecError
from fleetctl.spec.checks import cross_stack_problems, stack_problems
from fleetctl.spec.models import FleetSpec, Stack, StackId
from fleetctl.spec.parse_cache import ParseCache, commented, file_key
from fleetctl.spec.regions import KNOWN_REGIONS
from fleetctl.spec.safe_yaml import YamlLimitError, load_yaml_text, read_text

STACK_FILE = re.compile(r"^Pulumi\.(?P<env>[a-z][a-z0-9]*)-(?P<region>[a-z]{2}-[a-z]+-\d)\.ya?ml$")
SPEC_KEY = "fleet:spec"
DEFAULTS_KEY = "fleet:defaults"
REGION_KEY = "aws:region"
# Top-level keys Pulumi itself writes into a stack file.
_STACK_FILE_KEYS = {"config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment"}
_CONFIG_NAMESPACES = ("aws:", "fleet:", "pulumi:")
# Sections that exist in a stack only when the stack declares them; defaults
# fill them in but never create them (a region without transcode stays so).
_OPT_IN_SECTIONS = {"edge", "transcode"}

Loc = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        key = f" {self.key}:" if self.key else ""
        return f"{self.file}:{self.line}:{key} {self.message}"


@dataclass
class _Source:
    """A YAML node with the file it came from, for mapping key paths to lines."""

    file: str
    node: Any
    base_line: int  # line of the node itself (1-based)
    prefix: str  # key path of the node, for messages


@dataclass
class Project:
    name: str
    directory: Path
    defaults: dict[str, Any]
    defaults_source: _Source | None


@dataclass
class Fleet:
    """Every stack of the project, validated together."""

    project: Project
    stacks: list[Stack]

    def envs(self) -> list[str]:
        return sorted({s.env for s in self.stacks})

    def select(self, env: str | None = None, names: Sequence[str] = ()) -> list[Stack]:
        chosen = [s for s in self.stacks if (env is None or s.env == env)]
        if names:
            chosen = [s for s in chosen if s.name in names]
        return chosen

    def stack(self, name: str) -> Stack:
        for s in self.stacks:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.stacks)
        raise SpecError(f"unknown stack {name!r}", hint=f"known stacks: {known}")


@dataclass
class _Loaded:
    stack: Stack
    sources: list[_Source] = field(default_factory=list)
    doc: Any = None  # the whole file as read


def _read_yaml(path: Path, problems: list[Problem]) -> Any:
    """A round-trip YAML document, or None with the reason added to `problems`.

    The limits every input file gets (size, encoding, depth, aliases) live in
    `fleetctl.spec.safe_yaml`; this only turns a refusal into a Problem.
    """
    try:
        text = read_text(path)
        if not text.strip():
            problems.append(Problem(str(path), 1, "", "file is empty"))
            return None
        return load_yaml_text(text, str(path), typ="rt")
    except YamlLimitError as exc:
        problems.append(Problem(exc.file, exc.line, "", exc.problem))
        return None


def _line_of(node: Any, key: str | int) -> int | None:
    try:
        if isinstance(node, CommentedMap) and key in node:
            return int(node.lc.key(key)[0]) + 1
        if isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
            return int(node.lc.item(key)[0]) + 1
    except (KeyError, TypeError, AttributeError):
        return None
    return None


def _locate(sources: Iterable[_Source], loc: Loc) -> tuple[str, int, str]:
    """The file and line of the deepest node on `loc` found in any source.

    Sources are tried in order (the stack file first, then project defaults);
    the one that reaches deepest along the path wins.
    """
    best: tuple[int, str, int, str] | None = None
    for src in sources:
        node, line, depth = src.node, src.base_line, 0
        for part in loc:
            found = _line_of(node, part)
            if found is None:
                break
            line, depth = found, depth + 1
            node = node[part]
        if best is None or depth > best[0]:
            best = (depth, src.file, line, src.prefix)
    assert best is not None
    return best[1], best[2], best[3]


def _key_path(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _plain(node: Any) -> Any:
    """ruamel round-trip containers -> plain dicts/lists (pydantic wants plain data)."""
    if isinstance(node, Mapping):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def merge_defaults(spec: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Stack values win; dict sections merge recursively; opt-in sections are
    filled only when the stack declares them."""
    merged: dict[str, Any] = dict(spec)
    for key, default in defaults.items():
        if key not in merged:
            if key in _OPT_IN_SECTIONS:
                continue
            merged[key] = default
        elif isinstance(merged[key], Mapping) and isinstance(default, Mapping):
            merged[key] = merge_defaults(merged[key], {k: v for k, v in default.items()})
    return merged


def parse_spec(
    raw: Any, defaults: Mapping[str, Any] | None = None, *, where: str = "fleet:spec"
) -> FleetSpec:
    """Validate a plain `fleet:spec` value (as the Pulumi program receives it)."""
    if not isinstance(raw, Mapping):
        raise SpecError(f"{where}: expected a mapping, got {type(raw).__name__}")
    try:
        return FleetSpec.model_validate(merge_defaults(raw, defaults or {}))
    except ValidationError as exc:
        lines = [f"{where}: {_key_path(e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise SpecError(f"invalid {where}", details=lines) from None


def load_project(
    stacks_dir: Path, cache: ParseCache | None = None
) -> tuple[Project, list[Problem]]:
    problems: list[Problem] = []
    path = stacks_dir / "Pulumi.yaml"
    if not path.is_file():
        raise SpecError(
            f"no Pulumi project at {stacks_dir}",
            hint="run fleetctl from the repository root or pass --stacks-dir",
        )
    cached = cache.get(file_key(path)) if cache is not None else None
    doc = commented(cached) if cached is not None else _read_yaml(path, problems)
    if cache is not None and cached is None and doc is not None:
        cache.put(file_key(path), _plain(doc))
    name = "fleet"
    defaults: dict[str, Any] = {}
    source = None
    if isinstance(doc, CommentedMap):
        name = str(doc.get("name", name))
        config = doc.get("config")
        entry = config.get(DEFAULTS_KEY) if isinstance(config, CommentedMap) else None
        node = entry.get("value") if isinstance(entry, CommentedMap) and "value" in entry else entry
        if isinstance(node, CommentedMap):
            defaults = _plain(node)
            source = _Source(str(path), node, (_line_of(config, DEFAULTS_KEY) or 1), DEFAULTS_KEY)
            if "allow_delete" in node:  # an allow for every stack would defeat the policy
                line = _line_of(node, "allow_delete") or source.base_line
                problems.append(
                    Problem(
                        str(path),
                        line,
                        f"{DEFAULTS_KEY}.allow_delete",
                        "allow_delete belongs in one stack's fleet:spec, not in the defaults",
                    )
                )
        elif node is not None:
            line = _line_of(config, DEFAULTS_KEY) or 1
            problems.append(Problem(str(path), line, DEFAULTS_KEY, "expected a mapping"))
    elif doc is not None:
        problems.append(Problem(str(path), 1, "", "expected a Pulumi project mapping"))
    return Project(name, stacks_dir, defaults, source), problems


def _load_stack(
    path: Path, project: Project, problems: list[Problem], doc: Any = None
) -> _Loaded | None:
    """One stack file, checked; `doc` = its data already parsed (else read round-trip)."""
    file = str(path)
    match = STACK_FILE.match(path.name)
    if not match:
        problems.append(
            Problem(
                file,
                1,
                "",
                "not a stack config: expected a file named Pulumi.<env>-<region>.yaml "
                "(e.g. Pulumi.prod-eu-west-1.yaml)",
            )
        )
        return None
    if doc is None:
        doc = _read_yaml(path, problems)
    if doc is None:
        return None
    if not isinstance(doc, CommentedMap):
        problems.append(
            Problem(file, 1, "", "not a stack config: expected a mapping with `config:`")
        )
        return None
    for key in doc:
        if key not in _STACK_FILE_KEYS:
            problems.append(
                Problem(file, _line_of(doc, key) or 1, str(key), "unknown top-level key")
            )
    config = doc.get("config")
    if not isinstance(config, CommentedMap):
        line = _line_of(doc, "config") or 1
        problems.append(Problem(file, line, "config", "missing or not a mapping"))
        return None

    before = len(problems)
    env, region = match["env"], match["region"]
    try:
        StackId(env=env, region=region)
    except ValidationError:
        problems.append(Problem(file, 1, "", f"invalid environment name {env!r} in file name"))
    if region not in KNOWN_REGIONS:
        problems.append(Problem(file, 1, "", f"unknown region {region!r} in file name"))

    secrets: list[str] = []
    for key, value in config.items():
        line = _line_of(config, key) or 1
        if not str(key).startswith(_CONFIG_NAMESPACES):
            problems.append(
                Problem(file, line, str(key), "unknown config key (expected aws:*, fleet:*)")
            )
        if isinstance(value, Mapping) and "secure" in value:
            secrets.append(str(key))
    cfg_region = config.get(REGION_KEY)
    if cfg_region is None:
        problems.append(Problem(file, config.lc.line + 1, REGION_KEY, "required key is missing"))
    elif cfg_region != region:
        problems.append(
            Problem(
                file,
                _line_of(config, REGION_KEY) or 1,
                REGION_KEY,
                f"{cfg_region!r} does not match the region {region!r} in the file name",
            )
        )
    raw = config.get(SPEC_KEY)
    if raw is None:
        problems.append(Problem(file, config.lc.line + 1, SPEC_KEY, "required key is missing"))
        return None
    spec_line = _line_of(config, SPEC_KEY) or 1
    if not isinstance(raw, CommentedMap):
        problems.append(Problem(file, spec_line, SPEC_KEY, "expected a mapping"))
        return None

    sources = [_Source(file, raw, spec_line, SPEC_KEY)]
    if project.defaults_source is not None:
        sources.append(project.defaults_source)
    merged = merge_defaults(_plain(raw), project.defaults)
    try:
        spec = FleetSpec.model_validate(merged)
    except ValidationError as exc:
        for err in exc.errors():
            loc: Loc = tuple(err["loc"])
            where, line, prefix = _locate(sources, loc)
            message = err["msg"].removeprefix("Value error, ")
            problems.append(Problem(where, line, f"{prefix}.{_key_path(loc)}", message))
        return None
    if len(problems) > before:
        return None
    stack = Stack(env=env, region=region, spec=spec, source=file, secrets=tuple(secrets))
    for loc, message in stack_problems(stack):
        where, line, prefix = _locate(sources, loc)
        problems.append(Problem(where, line, f"{prefix}.{_key_path(loc)}", message))
    return _Loaded(stack, sources, doc)


def _load_stack_cached(path: Path, project: Project, cache: ParseCache) -> _Loaded | None:
    """The stack from the parse cache when its file has no problem at all; else None."""
    data = cache.get(file_key(path))
    if data is None:
        return None
    scratch: list[Problem] = []
    try:
        item = _load_stack(path, project, scratch, doc=commented(data))
    except (TypeError, AttributeError, KeyError):  # a check that wanted a line mark
        return None
    return item if item is not None and not scratch else None


MAX_PROBLEMS_SHOWN = 100  # a file of 50,000 unknown keys should not print 50,000 lines


def capped(lines: list[str]) -> list[str]:
    """The first MAX_PROBLEMS_SHOWN lines and a count of the rest."""
    if len(lines) <= MAX_PROBLEMS_SHOWN:
        return lines
    return [*lines[:MAX_PROBLEMS_SHOWN], f"... and {len(lines) - MAX_PROBLEMS_SHOWN} more"]


def stack_files(stacks_dir: Path) -> list[Path]:
    return sorted(p for p in stacks_dir.glob("Pulumi.*.y*ml") if p.name != "Pulumi.yaml")


def load_fleet(
    stacks_dir: Path, paths: Sequence[Path] = (), *, parse_cache: Path | None = None
) -> Fleet:
    """Load every stack config (or just `paths`) and validate them together.

    Cross-stack checks always see the whole project, so validating one file
    still checks its replication targets against the other regions.
    `parse_cache`: a file keeping the parsed data of unchanged files (see
    parse_cache.py); when anything has a problem, everything is read again
    round-trip, so every problem keeps its line. Raises SpecError listing
    every problem.
    """
    if parse_cache is not None:
        try:
            return _load_fleet(stacks_dir, paths, ParseCache(parse_cache))
        except SpecError:
            pass
    return _load_fleet(stacks_dir, paths, None)


def _load_fleet(stacks_dir: Path, paths: Sequence[Path], cache: ParseCache | None) -> Fleet:
    project, problems = load_project(stacks_dir, cache)
    all_files = stack_files(stacks_dir)
    wanted = {p.resolve() for p in paths}
    for p in paths:
        if not p.exists():
            problems.append(Problem(str(p), 1, "", "no such file"))
    files = all_files + [
        p for p in paths if p.exists() and p.resolve() not in set(f.resolve() for f in all_files)
    ]
    loaded: list[_Loaded] = []
    for path in files:
        item = _load_stack_cached(path, project, cache) if cache is not None else None
        if item is None:
            item = _load_stack(path, project, problems)
            if item is not None and cache is not None:
                cache.put(file_key(path), _plain(item.doc))
        if item is not None:
            loaded.append(item)
    by_name = {item.stack.name: item for item in loaded}
    declared: dict[str, set[str]] = {}
    for path in files:
        m = STACK_FILE.match(path.name)
        if m:
            declared.setdefault(m["env"], set()).add(m["region"])
    for name, loc, message in cross_stack_problems([i.stack for i in loaded], declared):
        item = by_name[name]
        where, line, prefix = _locate(item.sources, loc)
        problems.append(Problem(where, line, f"{prefix}.{_key_path(loc)}", message))
    if cache is not None and not problems:
        cache.save()
    if wanted:
        problems = [
            p
            for p in problems
            if Path(p.file).resolve() in wanted or p.file.endswith("Pulumi.yaml")
        ]
        loaded = [i for i in loaded if Path(i.stack.source).resolve() in wanted]
    if problems:
        problems = sorted(set(problems))
        n = len(problems)
        raise SpecError(
            f"{n} problem{'s' if n != 1 else ''} in the fleet spec",
            hint="fix the lines above and run `fleetctl validate` again",
            details=capped([str(p) for p in problems]),
        )
    if not loaded and not wanted:
        raise SpecError(
            f"no stack configs in {stacks_dir}",
            hint="add stacks/Pulumi.<env>-<region>.yaml files",
        )
    return Fleet(project, [i.stack for i in loaded])


# Public names for other YAML-with-line-numbers loaders (e.g. the rollout
# policy): read a file round-trip, map a pydantic error location to file:line.
YamlSource = _Source
read_yaml = _read_yaml
locate = _locate
key_path = _key_path
plain = _plain
