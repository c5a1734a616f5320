"""Raw Pulumi config of a stack, exactly as the Pulumi program receives it.

The preview engine hands the program the same config the Pulumi CLI would:
project-level config from `Pulumi.yaml` (`config: key: value: ...`) overlaid
by the stack file's `config:`. Values are plain data; `secure:` values stay
wrapped as ``{"secure": "<ciphertext>"}`` and are never decrypted here.
Unlike `load_fleet` this does not validate the spec: the base side of a diff
may come from an older schema, and the program validates it itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fleetctl.errors import SpecError
from fleetctl.spec.loader import plain
from fleetctl.spec.safe_yaml import YamlLimitError, load_yaml_file


def _load(path: Path) -> Any:
    try:
        return plain(load_yaml_file(path, typ="safe"))
    except YamlLimitError as exc:
        raise SpecError(f"cannot read stack config {exc.message}", hint=exc.hint) from None


def project_config(stacks_dir: Path) -> dict[str, Any]:
    """Project-level config defaults from Pulumi.yaml (`value:` unwrapped)."""
    doc = _load(stacks_dir / "Pulumi.yaml")
    config = doc.get("config") if isinstance(doc, dict) else None
    out: dict[str, Any] = {}
    if isinstance(config, dict):
        for key, entry in config.items():
            if isinstance(entry, dict) and "value" in entry:
                out[key] = entry["value"]
            elif isinstance(entry, dict) and "default" in entry:
                out[key] = entry["default"]
            elif not isinstance(entry, dict):
                out[key] = entry
    return out


def stack_config(stacks_dir: Path, stack: str) -> dict[str, Any]:
    """Project config overlaid by `Pulumi.<stack>.yaml`'s `config:`."""
    return _overlay(project_config(stacks_dir), stacks_dir, stack)


def stack_configs(stacks_dir: Path, stacks: Iterable[str]) -> dict[str, dict[str, Any]]:
    """`stack_config` of many stacks, reading Pulumi.yaml once."""
    project = project_config(stacks_dir)
    return {stack: _overlay(project, stacks_dir, stack) for stack in stacks}


def _overlay(project: dict[str, Any], stacks_dir: Path, stack: str) -> dict[str, Any]:
    doc = _load(stacks_dir / f"Pulumi.{stack}.yaml")
    config = doc.get("config") if isinstance(doc, dict) else None
    merged = dict(project)
    if isinstance(config, dict):
        merged.update(config)
    return merged
