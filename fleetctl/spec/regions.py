"""Known AWS regions, their availability zones and their continent.

Kept as data so a typo in a zone or region is caught by `fleetctl validate`
long before a cloud API rejects it. Add a region here when the fleet grows.
"""

from __future__ import annotations

from typing import Final

# region -> (continent, zone suffixes)
_REGIONS: Final[dict[str, tuple[str, str]]] = {
    "us-east-1": ("north-america", "abcdef"),
    "us-east-2": ("north-america", "abc"),
    "us-west-1": ("north-america", "ac"),
    "us-west-2": ("north-america", "abcd"),
    "ca-central-1": ("north-america", "abd"),
    "sa-east-1": ("south-america", "abc"),
    "eu-west-1": ("europe", "abc"),
    "eu-west-2": ("europe", "abc"),
    "eu-west-3": ("europe", "abc"),
    "eu-central-1": ("europe", "abc"),
    "eu-north-1": ("europe", "abc"),
    "eu-south-1": ("europe", "abc"),
    "ap-northeast-1": ("asia-pacific", "acd"),
    "ap-northeast-2": ("asia-pacific", "abcd"),
    "ap-southeast-1": ("asia-pacific", "abc"),
    "ap-southeast-2": ("asia-pacific", "abc"),
    "ap-south-1": ("asia-pacific", "abc"),
    "me-south-1": ("middle-east", "abc"),
    "af-south-1": ("africa", "abc"),
    "ca-west-1": ("north-america", "abc"),
    "mx-central-1": ("north-america", "abc"),
    "eu-central-2": ("europe", "abc"),
    "eu-south-2": ("europe", "abc"),
    "ap-east-1": ("asia-pacific", "abc"),
    "ap-northeast-3": ("asia-pacific", "abc"),
    "ap-south-2": ("asia-pacific", "abc"),
    "ap-southeast-3": ("asia-pacific", "abc"),
    "ap-southeast-4": ("asia-pacific", "abc"),
    "il-central-1": ("middle-east", "abc"),
    "me-central-1": ("middle-east", "abc"),
}

KNOWN_REGIONS: Final[frozenset[str]] = frozenset(_REGIONS)


def zones_of(region: str) -> list[str]:
    """Availability zone names of a region, e.g. us-east-1 -> [us-east-1a, ...]."""
    _, suffixes = _REGIONS[region]
    return [f"{region}{s}" for s in suffixes]


def continent_of(region: str) -> str:
    return _REGIONS[region][0]
