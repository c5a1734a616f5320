"""`-x NAME=VALUE`: the one parser of extra vars (apply, rollouts).

The value is YAML (so JSON too): numbers, booleans, lists and maps come out
typed; text that is not YAML is kept as text. It goes through the safe YAML
reader's limits (size, depth, aliases, control characters).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fleetctl.errors import BadInput
from fleetctl.spec.safe_yaml import MAX_BYTES, YamlLimitError, load_yaml_text


def parse_extra_vars(pairs: Sequence[str]) -> dict[str, Any]:
    """-x key=value pairs -> {key: value}; BadInput naming the pair when bad."""
    out: dict[str, Any] = {}
    for pair in pairs:
        if pair.startswith("@"):
            raise BadInput(
                "extra vars from files are not supported; use KEY=VALUE",
                hint="pass each var as -x name=value",
            )
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise BadInput(f"bad extra var {pair!r}", hint="use -x name=value")
        if len(value.encode()) > MAX_BYTES:
            raise BadInput(f"extra var {key!r} is larger than {MAX_BYTES // 1024} KiB")
        try:
            parsed = load_yaml_text(value, f"-x {key}", typ="safe") if value else ""
            # YAML's dates and timestamps are not JSON (the release manifest and
            # journal are): such a value stays the text it was given as.
            out[key] = parsed if _is_json(parsed) else value
        except YamlLimitError as exc:
            if not exc.syntax:  # depth, alias bomb, control characters: refuse
                raise BadInput(
                    f"extra var -x {key}: {exc.problem}", hint="pass a plain value"
                ) from None
            out[key] = value  # not YAML: the text itself
    return out


def _is_json(x: Any) -> bool:
    """True when `x` is plain JSON data (str, number, bool, null, lists, str-keyed maps)."""
    if x is None or isinstance(x, str | int | float | bool):
        return True
    if isinstance(x, list):
        return all(map(_is_json, x))
    if isinstance(x, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in x.items())
    return False
