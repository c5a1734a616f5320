"""Read an input YAML file we did not write, within limits.

Every YAML file fleetctl reads (stack configs, Pulumi.yaml, rollout policies,
demand files, price tables, inventories, `-x @vars.yml`) comes through
`load_yaml_file`, because a pull request from a fork can hand us any of them:
- size: a file over `max_bytes` is refused before it is parsed (a 5 MB file
  of nonsense would otherwise keep the pure-Python parser busy for minutes);
- encoding: not UTF-8, or holding a NUL byte, is refused with its line and byte;
- depth: nesting deeper than `MAX_DEPTH` is refused (instead of a RecursionError);
- aliases: a document whose aliases expand to more than `MAX_NODES` nodes
  ("billion laughs") or that refers to itself is refused before anything
  expands it.
Every refusal is a `YamlLimitError` (bad input, exit 2) naming file and line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode
from ruamel.yaml.reader import ReaderError

from fleetctl.errors import BadInput

# Our largest real input (a stack config) is a few KB; parsing 256 KiB of
# pure-Python YAML takes about a second, 5 MB took minutes.
MAX_BYTES = 256 * 1024
MAX_DEPTH = 64  # the deepest schema (spec -> section -> list -> item) is under 10
MAX_NODES = 200_000  # after alias expansion


class YamlLimitError(BadInput):
    """An input YAML file we refuse to read; `file` and `line` say where."""

    def __init__(
        self, file: str, line: int, problem: str, hint: str = "", *, syntax: bool = False
    ) -> None:
        super().__init__(
            f"{file}:{line}: {problem}",
            hint=hint or "fix the file (or point the command at the file you meant)",
        )
        self.file = file
        self.line = line
        self.problem = problem
        self.syntax = syntax  # plain bad YAML, as opposed to a limit we enforce


def read_text(path: Path, *, max_bytes: int = MAX_BYTES) -> str:
    """`path` as UTF-8 text, refused when too big, not UTF-8, or holding a NUL."""
    file = str(path)
    try:
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except IsADirectoryError:
        raise YamlLimitError(file, 1, "is a directory, not a file") from None
    except OSError as exc:
        raise YamlLimitError(file, 1, f"cannot read file: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise YamlLimitError(
            file,
            1,
            f"file is larger than the {max_bytes // 1024} KiB limit for an input file",
            hint="is this the file you meant? inputs are small hand-written YAML",
        )
    nul = data.find(b"\0")
    if nul >= 0:
        raise YamlLimitError(
            file,
            data.count(b"\n", 0, nul) + 1,
            f"NUL byte at byte {nul}: a binary file, not YAML text",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlLimitError(
            file,
            data.count(b"\n", 0, exc.start) + 1,
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at byte {exc.start})",
            hint="save the file as UTF-8",
        ) from None


def _expanded_size(root: Node, file: str) -> None:
    """Refuse a node graph whose aliases expand past MAX_NODES, or loop."""
    sizes: dict[int, int] = {}
    busy: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in busy:
            raise YamlLimitError(
                file, node.start_mark.line + 1, "an alias refers to the node that contains it"
            )
        busy.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            for child in node.value:
                total += size(child)
        elif isinstance(node, MappingNode):
            for k, v in node.value:
                total += size(k) + size(v)
        busy.discard(key)
        if total > MAX_NODES:
            raise YamlLimitError(
                file,
                node.start_mark.line + 1,
                f"aliases expand to more than {MAX_NODES:,} values (an alias bomb?)",
            )
        sizes[key] = total
        return total

    size(root)


class _LimitedComposer(Composer):
    """Composer that checks alias expansion before any constructor expands it."""

    def compose_document(self) -> Any:
        node = super().compose_document()
        if node is not None:
            _expanded_size(node, str(getattr(self.loader, "fleetctl_file", "<yaml>")))
        return node


def load_yaml_text(text: str, file: str, *, typ: Literal["rt", "safe"] = "rt") -> Any:
    """Parse `text` (from `file`) within the depth and alias limits.

    `rt` keeps each key's line (for file:line errors); `safe` gives plain data.
    """
    y = YAML(typ=typ, pure=True)
    y.allow_duplicate_keys = False
    y.max_depth = MAX_DEPTH
    y.Composer = _LimitedComposer
    y.fleetctl_file = file  # type: ignore[attr-defined]  # read by _LimitedComposer
    try:
        return y.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = exc.problem or exc.context or "invalid YAML"
        if "maximum depth" in str(what):
            raise YamlLimitError(file, line, f"nested deeper than {MAX_DEPTH} levels") from None
        raise YamlLimitError(file, line, f"YAML syntax error: {what}", syntax=True) from None
    except ReaderError as exc:  # a control character YAML does not allow
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        ch = exc.character
        code = ch if isinstance(ch, int) else ord(ch)
        raise YamlLimitError(
            file, line, f"control character U+{code:04X} is not allowed in YAML text"
        ) from None
    except YAMLError as exc:
        raise YamlLimitError(file, 1, f"not readable YAML: {exc}", syntax=True) from None
    except RecursionError:  # belt and braces: MAX_DEPTH should stop it first
        raise YamlLimitError(file, 1, "nested too deeply") from None


def load_yaml_file(
    path: Path, *, typ: Literal["rt", "safe"] = "rt", max_bytes: int = MAX_BYTES
) -> Any:
    """Read and parse one input YAML file within every limit above."""
    return load_yaml_text(read_text(path, max_bytes=max_bytes), str(path), typ=typ)
