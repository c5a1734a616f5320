"""Component resources of the fleet, one per concern.

Each component takes an Args dataclass, parents its children to itself and
registers its outputs, so previews and the console show one tidy tree per
region: network, origin storage, edge pool, transcode cluster.
"""

from components.edge import EdgePool, EdgePoolArgs
from components.network import RegionNetwork, RegionNetworkArgs
from components.storage import OriginStorage, OriginStorageArgs
from components.transcode import TranscodeCluster, TranscodeClusterArgs

__all__ = [
    "EdgePool",
    "EdgePoolArgs",
    "OriginStorage",
    "OriginStorageArgs",
    "RegionNetwork",
    "RegionNetworkArgs",
    "TranscodeCluster",
    "TranscodeClusterArgs",
]
