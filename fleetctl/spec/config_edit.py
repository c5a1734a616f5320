"""Edit integer keys of a stack config's `fleet:spec` in place, touching only
the lines that hold them.

A patch made from the result is the change and nothing else, so an SRE can
merge it as it is: ruamel's round-trip dump would re-indent lists and re-wrap
long values across the whole file. Pure: text in, text out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from fleetctl.errors import BadInput
from fleetctl.spec.loader import SPEC_KEY

_INT = re.compile(r"-?\d+(?![\w.:])")  # a whole plain integer token


def _spec(text: str, where: str) -> CommentedMap:
    try:
        doc = YAML(typ="rt").load(text)
    except YAMLError as exc:
        raise BadInput(f"{where}: not valid YAML ({exc.__class__.__name__})") from None
    config = doc.get("config") if isinstance(doc, CommentedMap) else None
    spec = config.get(SPEC_KEY) if isinstance(config, CommentedMap) else None
    if not isinstance(spec, CommentedMap):
        raise BadInput(f"{where}: no `config: {SPEC_KEY}:` mapping")
    return spec


def _section(spec: CommentedMap, key: str, where: str) -> tuple[CommentedMap, str]:
    section, _, name = key.partition(".")
    node = spec.get(section)
    if not name or not isinstance(node, CommentedMap):
        raise BadInput(f"{where}: no `{SPEC_KEY}.{section}` mapping for {key}")
    return node, name


def read_int(text: str, key: str, where: str) -> int | None:
    """The integer at `key` ("edge.nodes_per_zone") under fleet:spec, or None if unset."""
    node, name = _section(_spec(text, where), key, where)
    value = node.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInput(f"{where}: {SPEC_KEY}.{key} is {value!r}, not an integer")
    return value


def set_ints(text: str, values: Mapping[str, int], where: str) -> str:
    """`text` with each dotted key under fleet:spec set to its integer: the number
    on the key's line replaced, or a new line before the section's first key."""
    spec = _spec(text, where)
    lines = text.splitlines(keepends=True)
    inserts: list[tuple[int, str]] = []
    for key, value in values.items():
        node, name = _section(spec, key, where)
        if name in node:
            row, col = node.lc.value(name)
            m = _INT.match(lines[row], col)
            current = node[name]
            if m is None or isinstance(current, bool) or not isinstance(current, int):
                raise BadInput(f"{where}:{row + 1}: {SPEC_KEY}.{key} is not a plain integer")
            lines[row] = f"{lines[row][: m.start()]}{value}{lines[row][m.end() :]}"
            continue
        if node.fa.flow_style() or not node:
            raise BadInput(
                f"{where}: cannot add {SPEC_KEY}.{key} to a flow-style or empty mapping",
                hint=f"write `{name}: {value}` under `{key.partition('.')[0]}:` by hand",
            )
        row, col = node.lc.key(next(iter(node)))
        inserts.append((row, f"{' ' * col}{name}: {value}\n"))
    for row, line in sorted(inserts, reverse=True):
        lines.insert(row, line)
    return "".join(lines)
