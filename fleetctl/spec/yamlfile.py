"""Load a small YAML settings file into a pydantic model, with file:line errors.

Rollout policies, the price table and demand files all go through here, so a
bad key in any of them is reported exactly like a bad key in a stack config.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml.comments import CommentedMap

from fleetctl.errors import BadInput
from fleetctl.spec.loader import (
    Problem,
    YamlSource,
    capped,
    key_path,
    locate,
    plain,
    read_yaml,
)

M = TypeVar("M", bound=BaseModel)

# Parts pydantic adds to an error's location that are not keys of the file:
# the union member tried ("list[str]", "literal['a']") or the validator mode
# ("function-before[...]", "lax-or-strict").
_PYDANTIC_TAG = re.compile(r"\[|^(function|lax|json|strict)-")


def file_location(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    return tuple(p for p in loc if not (isinstance(p, str) and _PYDANTIC_TAG.search(p)))


def load_model(path: Path, model: type[M], *, what: str, hint: str) -> M:
    """`path` validated as `model`; every problem at once as BadInput (exit 2)."""
    problems: list[Problem] = []
    doc = read_yaml(path, problems)
    if doc is not None and not isinstance(doc, CommentedMap):
        problems.append(Problem(str(path), 1, "", f"{what} is a mapping of settings"))
    if not problems:
        try:
            return model.model_validate(plain(doc))
        except ValidationError as exc:
            sources = [YamlSource(str(path), doc, 1, "")]
            for err in exc.errors():
                loc = file_location(tuple(err["loc"]))
                where, line, _ = locate(sources, loc)
                message = err["msg"].removeprefix("Value error, ")
                problems.append(Problem(where, line, key_path(loc), message))
    n = len(problems)
    raise BadInput(
        f"{n} problem{'s' if n != 1 else ''} in {what} {path}",
        hint=hint,
        details=capped([str(p) for p in sorted(set(problems))]),
    )
