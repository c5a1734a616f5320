"""The fleet spec: pydantic models for `fleet:spec` in each stack config.

Every model forbids unknown keys, so a typo fails validation instead of being
silently ignored. Models are frozen: the spec is read, never mutated.
Checks that need more than one stack (replication targets, traffic weights
across an env) live in `fleetctl.spec.checks`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    field_validator,
    model_validator,
)

from fleetctl.spec.regions import KNOWN_REGIONS

_NAME = r"^[a-z0-9][a-z0-9-]{1,40}[a-z0-9]$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StorageClass(StrEnum):
    STANDARD = "STANDARD"
    STANDARD_IA = "STANDARD_IA"
    ONEZONE_IA = "ONEZONE_IA"
    INTELLIGENT_TIERING = "INTELLIGENT_TIERING"
    GLACIER_IR = "GLACIER_IR"
    GLACIER = "GLACIER"
    DEEP_ARCHIVE = "DEEP_ARCHIVE"


class Transition(_Model):
    days: Annotated[StrictInt, Field(ge=1, le=36500)]
    storage_class: StorageClass


class Lifecycle(_Model):
    transitions: list[Transition] = []
    expiration_days: Annotated[StrictInt, Field(ge=1, le=36500)] | None = None
    noncurrent_expiration_days: Annotated[StrictInt, Field(ge=1, le=36500)] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Lifecycle:
        days = [t.days for t in self.transitions]
        if days != sorted(days) or len(set(days)) != len(days):
            raise ValueError("transitions must have strictly increasing days")
        if self.expiration_days is not None and days and self.expiration_days <= days[-1]:
            raise ValueError(
                f"expiration_days ({self.expiration_days}) must be after the last "
                f"transition ({days[-1]} days)"
            )
        return self


_GB = Annotated[StrictFloat, Field(ge=0.0, le=1e9)]  # up to 1 EB
_REQUESTS = Annotated[StrictFloat, Field(ge=0.0, le=1e13)]


class BucketUsage(_Model):
    """Usage estimates of one bucket, for cost estimates only (like infracost's
    usage file): the program ignores them. Monthly figures; all optional.

    `stored_gb` is either one figure (all in the bucket's storage class) or a
    split by class, e.g. `{STANDARD: 40000, STANDARD_IA: 90000, GLACIER_IR:
    300000}` for a bucket whose lifecycle tiers objects down.
    """

    stored_gb: _GB | dict[StorageClass, _GB] = 0.0
    put_requests_per_month: _REQUESTS = 0.0
    get_requests_per_month: _REQUESTS = 0.0
    # New data written per month: copied to every replication target (inter-region transfer).
    replicated_gb_per_month: _GB = 0.0

    def stored_by_class(self, default: StorageClass) -> dict[StorageClass, float]:
        if isinstance(self.stored_gb, dict):
            return dict(self.stored_gb)
        return {default: self.stored_gb} if self.stored_gb else {}


class Bucket(_Model):
    """An origin storage bucket. `name` is the logical name; the physical name
    is `<project>-<env>-<region>-<name>`."""

    name: Annotated[str, Field(pattern=_NAME)]
    storage_class: StorageClass = StorageClass.STANDARD
    versioning: StrictBool = True
    lifecycle: Lifecycle = Lifecycle()
    replication_targets: list[str] = []
    usage: BucketUsage | None = None  # estimates for `fleetctl cost`; no resource depends on it

    @field_validator("replication_targets")
    @classmethod
    def _known_regions(cls, value: list[str]) -> list[str]:
        unknown = [r for r in value if r not in KNOWN_REGIONS]
        if unknown:
            raise ValueError(f"unknown region(s): {', '.join(unknown)}")
        if len(set(value)) != len(value):
            raise ValueError("replication targets must be unique")
        return value

    @model_validator(mode="after")
    def _replication_needs_versioning(self) -> Bucket:
        if self.replication_targets and not self.versioning:
            raise ValueError("replication_targets need versioning: true (S3 replicates versions)")
        return self


class Storage(_Model):
    buckets: list[Bucket] = []

    @field_validator("buckets")
    @classmethod
    def _unique_names(cls, value: list[Bucket]) -> list[Bucket]:
        names = [b.name for b in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate bucket name(s): {', '.join(dupes)}")
        return value


class Network(_Model):
    cidr: Annotated[str, Field(pattern=r"^10\.\d{1,3}\.0\.0/16$")]


class Edge(_Model):
    """The edge (CDN) pool of one region."""

    instance_type: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")]
    nodes_per_zone: Annotated[StrictInt, Field(ge=0, le=500)]
    cache_size_gb: Annotated[StrictInt, Field(ge=10, le=30000)]
    traffic_weight: Annotated[StrictFloat, Field(ge=0.0, le=1.0)]
    pop: Annotated[str, Field(pattern=r"^[a-z]{3}[0-9]?$")]
    zones: list[str] | None = None  # default: the stack's zones


class LadderProfile(StrEnum):
    P2160 = "2160p"
    P1440 = "1440p"
    P1080 = "1080p"
    P720 = "720p"
    P480 = "480p"
    P360 = "360p"
    P240 = "240p"


class Transcode(_Model):
    instance_type: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")]
    min_size: Annotated[StrictInt, Field(ge=0, le=2000)]
    max_size: Annotated[StrictInt, Field(ge=0, le=2000)]
    scaling_target: Annotated[StrictFloat, Field(gt=0.0, le=100.0)] = 60.0  # target avg CPU %
    ladder: Annotated[list[LadderProfile], Field(min_length=1)]

    @model_validator(mode="after")
    def _min_le_max(self) -> Transcode:
        if self.min_size > self.max_size:
            raise ValueError(f"min_size ({self.min_size}) must be <= max_size ({self.max_size})")
        return self


_TAG_KEY = re.compile(r"^[A-Za-z0-9_.:/=+@-]{1,128}$")
_RESOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}$")


class FleetSpec(_Model):
    """`fleet:spec` of one stack (after merging project defaults)."""

    zones: Annotated[list[str], Field(min_length=1)]
    network: Network
    storage: Storage = Storage()
    edge: Edge | None = None
    transcode: Transcode | None = None
    tags: dict[str, str] = {}
    # Pulumi resource names (as `fleetctl preview` prints them) of stateful resources
    # (buckets, queues) this change may delete or replace; the policy rule
    # `changes.stateful-delete-allowed` blocks any other such loss of data.
    allow_delete: list[str] = []

    @field_validator("allow_delete")
    @classmethod
    def _allow_delete_names(cls, value: list[str]) -> list[str]:
        bad = [n for n in value if not _RESOURCE_NAME.match(n)]
        if bad:
            raise ValueError(
                f"not a resource name: {', '.join(repr(n) for n in bad)} (use the name "
                "`fleetctl preview` prints, e.g. fleet-prod-eu-west-1-origin-media-origin)"
            )
        dupes = sorted({n for n in value if value.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate name(s): {', '.join(dupes)}")
        return value

    @field_validator("tags")
    @classmethod
    def _tag_keys(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [k for k in value if not _TAG_KEY.match(k) or k.startswith("aws:")]
        if bad:
            raise ValueError(f"invalid tag key(s): {', '.join(bad)}")
        return value


class StackId(_Model):
    """Identity of a stack: `<env>-<region>`, e.g. prod-eu-west-1."""

    env: Annotated[str, Field(pattern=r"^[a-z][a-z0-9]{1,15}$")]
    region: str

    @property
    def name(self) -> str:
        return f"{self.env}-{self.region}"


class Stack(_Model):
    """One validated stack: identity, where it came from, and its spec."""

    env: str
    region: str
    spec: FleetSpec
    source: str  # path of the stack config file
    secrets: tuple[str, ...] = ()  # config keys set with `secure:`

    @property
    def name(self) -> str:
        return f"{self.env}-{self.region}"

    @property
    def edge_zones(self) -> list[str]:
        if self.spec.edge is None:
            return []
        return self.spec.edge.zones or self.spec.zones

    @property
    def edge_nodes(self) -> int:
        edge = self.spec.edge
        return 0 if edge is None else edge.nodes_per_zone * len(self.edge_zones)

    @property
    def traffic_weight(self) -> float:
        return 0.0 if self.spec.edge is None else self.spec.edge.traffic_weight


def int_upper_bound(key: str) -> int | None:
    """The largest value the schema takes for an integer key of `fleet:spec`
    ('edge.nodes_per_zone'), or None: so a generated spec change (an event's
    pre-scale) is refused before it becomes a patch `fleetctl validate` rejects."""
    section, _, name = key.partition(".")
    models: dict[str, type[BaseModel]] = {"edge": Edge, "transcode": Transcode}
    model = models.get(section)
    if model is None or name not in model.model_fields:
        return None
    for m in model.model_fields[name].metadata:
        le = getattr(m, "le", None)
        if isinstance(le, int):
            return le
    return None
