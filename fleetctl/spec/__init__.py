"""The fleet spec: the single source of truth for stacks and inventories."""

from fleetctl.spec.loader import (
    Fleet,
    Problem,
    Project,
    load_fleet,
    load_project,
    merge_defaults,
    parse_spec,
    stack_files,
)
from fleetctl.spec.models import Bucket, BucketUsage, Edge, FleetSpec, Stack, Transcode
from fleetctl.spec.regions import KNOWN_REGIONS, continent_of, zones_of

__all__ = [
    "KNOWN_REGIONS",
    "Bucket",
    "BucketUsage",
    "Edge",
    "Fleet",
    "FleetSpec",
    "Problem",
    "Project",
    "Stack",
    "Transcode",
    "continent_of",
    "load_fleet",
    "load_project",
    "merge_defaults",
    "parse_spec",
    "stack_files",
    "zones_of",
]
