"""Where an env's global traffic weights live in AWS: `fleet:traffic` in Pulumi.yaml.

    config:
      fleet:traffic:
        value:
          prod:                                  # one entry per env
            zone: video.example.com              # the Route 53 hosted zone (name)
            record: play.video.example.com       # one weighted record per region
            type: CNAME
            ttl: 60
            target: "edge-{region}.video.example.com"   # the region's record value
            peak_gbps: 500                       # default demand for the drain check

Viewers resolve `record`; Route 53 answers with one region's target, chosen by
weight (SetIdentifier = the region). Validated here with file:line errors like
the rest of the spec; nothing else parses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from fleetctl.errors import SpecError
from fleetctl.spec.loader import Problem, YamlSource, key_path, locate, plain, read_yaml

TRAFFIC_KEY = "fleet:traffic"
_DNS = r"^([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\.?$"


class TrafficConfig(BaseModel):
    """The Route 53 weighted record set of one env."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    zone: Annotated[str, Field(pattern=_DNS, max_length=254)]
    record: Annotated[str, Field(pattern=_DNS, max_length=254)]
    type: Literal["CNAME"] = "CNAME"
    ttl: Annotated[StrictInt, Field(ge=0, le=86400)] = 60
    target: Annotated[str, Field(min_length=1)] = "edge-{region}.example.com"
    peak_gbps: Annotated[StrictFloat, Field(gt=0)] | None = None

    @field_validator("record")
    @classmethod
    def _in_zone(cls, value: str, info: ValidationInfo) -> str:
        zone = str(info.data.get("zone", "")).rstrip(".").lower()
        name = value.rstrip(".").lower()
        if zone and name != zone and not name.endswith("." + zone):
            raise ValueError(f"record {value!r} is not inside zone {zone!r}")
        return value

    @field_validator("target")
    @classmethod
    def _has_region(cls, value: str) -> str:
        if "{region}" not in value:
            raise ValueError("target must contain {region} (each region has its own target)")
        return value

    @property
    def zone_name(self) -> str:
        return self.zone.rstrip(".") + "."

    @property
    def record_name(self) -> str:
        return self.record.rstrip(".") + "."

    def target_of(self, region: str) -> str:
        return self.target.replace("{region}", region)


def load_traffic(stacks_dir: Path) -> dict[str, TrafficConfig]:
    """Every env's traffic config from Pulumi.yaml (empty when there is none)."""
    path = stacks_dir / "Pulumi.yaml"
    problems: list[Problem] = []
    doc: Any = read_yaml(path, problems)
    if problems:
        raise SpecError(f"cannot read {path}", details=[str(p) for p in problems])
    config: Any = doc.get("config") if isinstance(doc, Mapping) else None
    entry: Any = config.get(TRAFFIC_KEY) if isinstance(config, Mapping) else None
    if entry is None:
        return {}
    node: Any = entry.get("value") if isinstance(entry, Mapping) and "value" in entry else entry
    if not isinstance(node, Mapping):
        raise SpecError(f"{path}: {TRAFFIC_KEY}: expected a mapping of env -> settings")
    out: dict[str, TrafficConfig] = {}
    errors: list[str] = []
    for env, raw in node.items():
        try:
            out[str(env)] = TrafficConfig.model_validate(plain(raw))
        except ValidationError as exc:
            src = YamlSource(str(path), raw, 1, f"{TRAFFIC_KEY}.{env}")
            for err in exc.errors():
                where, line, prefix = locate([src], tuple(err["loc"]))
                msg = err["msg"].removeprefix("Value error, ")
                errors.append(f"{where}:{line}: {prefix}.{key_path(tuple(err['loc']))}: {msg}")
    if errors:
        raise SpecError(f"invalid {TRAFFIC_KEY} in {path}", details=errors)
    return out
