"""Raw Pulumi config of a stack, exactly as the Pulumi program receives it.

The preview engine hands the program the same config the Pulumi CLI would:
project-level config from `Pulumi.yaml` (`config: key: value: ...`) overlaid
by the stack file's `config:`. Values are plain data; `secure:` values stay
wrapped as ``{"secure": "<ciphertext>"}`` and are never decrypted here.
Unlike `load_fleet` this does not validate the spec: the base side of a diff
may come from an older schema, and the program validates it itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from fleetctl.errors import SpecError
from fleetctl.spec.loader import STACK_FILE, plain, stack_files


def _load(path: Path) -> Any:
    try:
        return plain(YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8")))
    except (OSError, YAMLError) as exc:
        raise SpecError(f"{path}: cannot read stack config: {exc}") from None


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
    path = stacks_dir / f"Pulumi.{stack}.yaml"
    doc = _load(path)
    config = doc.get("config") if isinstance(doc, dict) else None
    merged = project_config(stacks_dir)
    if isinstance(config, dict):
        merged.update(config)
    return merged


def stack_names(stacks_dir: Path) -> list[str]:
    """Names of the stacks whose config files exist in `stacks_dir` (no validation)."""
    names = []
    for path in stack_files(stacks_dir):
        m = STACK_FILE.match(path.name)
        if m:
            names.append(f"{m['env']}-{m['region']}")
    return names
