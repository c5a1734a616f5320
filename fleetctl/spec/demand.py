"""Demand files for `fleetctl capacity --demand FILE`, and the measured model defaults.

A demand file says, per region of one env, what the fleet must carry at peak
(see examples/demand-prod.yaml):

    env: prod
    as_of: "2026-11-01"
    parameters:                 # optional: override the model's defaults
      edge_utilisation: 0.7
    regions:
      us-east-1:
        peak_egress_gbps: 240   # or concurrent_viewers (x mean bitrate), or both
        concurrent_viewers: 80000
        upload_hours_per_hour: 30
        ladder: [1080p, 720p, 480p, 360p]   # default: the stack's transcode ladder

Unknown keys are errors (with file:line), like everywhere in the spec.
`fleetctl/data/capacity_measured.json` holds the measurement the defaults
come from (written by benchmarks/capacity_measure.py --write).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, model_validator

from fleetctl.spec.models import LadderProfile
from fleetctl.spec.yamlfile import load_model

MEASURED = Path(__file__).resolve().parent.parent / "data" / "capacity_measured.json"

_Share = Annotated[StrictFloat, Field(gt=0.0, le=1.0)]
_Ratio = Annotated[StrictFloat, Field(ge=0.0, le=1.0)]
_Positive = Annotated[StrictFloat, Field(gt=0.0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CapacityParameters(_Model):
    """Model parameters; anything left out takes the default (docs/capacity.md)."""

    edge_utilisation: _Share | None = None  # share of a node's Gbit/s used at peak
    cache_hit_ratio: _Ratio | None = None  # edge cache hits (origin fetch = 1 - hit)
    mean_bitrate_mbps: _Positive | None = None  # mean delivered bitrate per viewer
    over_margin: Annotated[StrictFloat, Field(ge=0.0, le=10.0)] | None = None
    node_gbps: dict[str, _Positive] = {}  # per instance type, measured in production
    nginx_gbps_per_vcpu: _Positive | None = None
    transcode_speed_per_vcpu: dict[LadderProfile, _Positive] = {}
    transcode_utilisation: _Share | None = None  # default: the spec's scaling_target
    horizon_months: Annotated[StrictInt, Field(ge=1, le=240)] | None = None


class RegionDemand(_Model):
    """Peak demand of one region."""

    peak_egress_gbps: Annotated[StrictFloat, Field(ge=0.0)] | None = None
    concurrent_viewers: Annotated[StrictInt, Field(ge=0)] | None = None
    mean_bitrate_mbps: _Positive | None = None  # this region's mix, if it differs
    upload_hours_per_hour: Annotated[StrictFloat, Field(ge=0.0)] = 0.0
    ladder: Annotated[list[LadderProfile], Field(min_length=1)] | None = None
    cache_hit_ratio: _Ratio | None = None

    @model_validator(mode="after")
    def _some_viewing_demand(self) -> RegionDemand:
        if self.peak_egress_gbps is None and self.concurrent_viewers is None:
            raise ValueError("give peak_egress_gbps or concurrent_viewers (or both)")
        return self


class DemandFile(_Model):
    env: str | None = None  # when set, must match --env
    as_of: str | None = None
    parameters: CapacityParameters = CapacityParameters()
    regions: Annotated[dict[str, RegionDemand], Field(min_length=1)]
    path: str = ""  # set by load_demand


def load_demand(path: Path) -> DemandFile:
    demand = load_model(
        path,
        DemandFile,
        what="the demand file",
        hint="see examples/demand-prod.yaml for the format",
    )
    return demand.model_copy(update={"path": str(path)})


# -- the measurement behind the defaults ----------------------------------------------


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class MeasuredProfile(_Loose):
    speed: _Positive
    speed_per_vcpu: _Positive


class MeasuredTranscode(_Loose):
    encoder: str
    profiles: dict[LadderProfile, MeasuredProfile]


class MeasuredEdge(_Loose):
    gbps: _Positive
    gbps_per_vcpu: _Positive
    segment_bytes: int


class MeasuredMachine(_Loose):
    cpu: str
    vcpus: int


class Measured(_Loose):
    """What benchmarks/capacity_measure.py measured on the lab (the defaults' source)."""

    measured_at: str
    tool: str
    machine: MeasuredMachine
    transcode: MeasuredTranscode
    edge: MeasuredEdge | None = None
    path: str = ""


def load_measured(path: Path | None = None) -> Measured:
    source = path or MEASURED
    measured = load_model(
        source,
        Measured,
        what="the capacity measurement",
        hint="re-run: python benchmarks/capacity_measure.py --write",
    )
    return measured.model_copy(update={"path": str(source)})
