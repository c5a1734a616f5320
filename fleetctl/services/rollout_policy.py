"""Load a rollout policy file, reporting every problem with file:line.

Uses the spec loader's round-trip YAML helpers so a bad key in a policy is
reported exactly like a bad key in a stack config.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap

from fleetctl.core.policy import DEFAULT_POLICY, Policy
from fleetctl.errors import BadInput
from fleetctl.spec.loader import Problem, YamlSource, key_path, locate, plain, read_yaml


def load_policy(path: Path | None) -> Policy:
    """The policy in `path`, or the defaults when no file is given."""
    if path is None:
        return DEFAULT_POLICY
    problems: list[Problem] = []
    doc = read_yaml(path, problems)
    if doc is not None and not isinstance(doc, CommentedMap):
        problems.append(Problem(str(path), 1, "", "a policy file is a mapping of settings"))
    if not problems:
        try:
            return Policy.model_validate(plain(doc))
        except ValidationError as exc:
            sources = [YamlSource(str(path), doc, 1, "")]
            for err in exc.errors():
                loc = tuple(err["loc"])
                # pydantic adds the union member tried ("list[str]", "literal[...]")
                # or the validator mode ("function-before[...]"): not part of the file's path.
                loc = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or "-" in p)))
                where, line, _ = locate(sources, loc)
                message = err["msg"].removeprefix("Value error, ")
                problems.append(Problem(where, line, key_path(loc), message))
    n = len(problems)
    raise BadInput(
        f"{n} problem{'s' if n != 1 else ''} in the rollout policy {path}",
        hint="fix the lines above; `docs/rollout.md` lists every setting",
        details=[str(p) for p in sorted(set(problems))],
    )
