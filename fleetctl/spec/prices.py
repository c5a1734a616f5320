"""The price table behind every cost estimate (`fleetctl/data/prices.yaml`).

A dated, sourced snapshot of public on-demand prices shipped with the
package: no network at run time. `load_prices()` reads the shipped table or a
team's own file (same format) with file:line errors; the lookups raise
`PriceMissing` naming the type/region/class and the file to extend, so an
estimate is never silently zero.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictFloat

from fleetctl.errors import BadInput
from fleetctl.spec.models import StorageClass
from fleetctl.spec.yamlfile import load_model

DEFAULT_PRICES = Path(__file__).resolve().parent.parent / "data" / "prices.yaml"

_Price = Annotated[StrictFloat, Field(ge=0.0)]


class PriceMissing(BadInput):
    """The table has no price for something the fleet uses."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Requests(_Model):
    put: _Price  # per 1,000 PUT/COPY/POST/LIST
    get: _Price  # per 1,000 GET/SELECT


class RegionPrices(_Model):
    compute_factor: Annotated[StrictFloat, Field(gt=0.0, le=5.0)]
    s3_gb_month: dict[StorageClass, _Price]
    s3_requests_per_1k: Requests
    egress_gb: _Price
    instances: dict[str, _Price] = {}  # exact per-region figures, override the factor
    ebs_gb_month: dict[str, _Price] = {}  # per EBS volume type (gp3, gp2, ...)
    inter_region_gb: _Price | None = None  # data transfer to another AWS region (replication)


class PriceTable(_Model):
    source: str
    as_of: str
    currency: str = "USD"
    hours_per_month: Annotated[StrictFloat, Field(gt=0.0, le=744.0)] = 730.0
    instances: dict[str, _Price]  # per hour, us-east-1
    regions: dict[str, RegionPrices]
    public_ipv4_hour: _Price | None = None  # per public IPv4 address-hour
    path: str = ""  # where the table came from (set by load_prices)

    def region(self, region: str) -> RegionPrices:
        try:
            return self.regions[region]
        except KeyError:
            raise PriceMissing(
                f"no prices for region {region!r} in {self.path or 'the price table'}",
                hint=f"add `regions.{region}` to the table (see `fleetctl cost prices`)",
            ) from None

    def instance_hour(self, region: str, instance_type: str) -> float:
        """On-demand USD per hour of `instance_type` in `region`."""
        prices = self.region(region)
        if instance_type in prices.instances:
            return prices.instances[instance_type]
        if instance_type not in self.instances:
            raise PriceMissing(
                f"no price for instance type {instance_type!r} in {self.path or 'the price table'}",
                hint=f"add `instances.{instance_type}: <USD per hour in us-east-1>`",
            )
        return round(self.instances[instance_type] * prices.compute_factor, 6)

    def instance_month(self, region: str, instance_type: str) -> float:
        return self.instance_hour(region, instance_type) * self.hours_per_month

    def storage_gb_month(self, region: str, storage_class: StorageClass | str) -> float:
        prices = self.region(region)
        cls = StorageClass(storage_class)
        if cls not in prices.s3_gb_month:
            raise PriceMissing(
                f"no S3 {cls.value} price for {region} in {self.path or 'the price table'}",
                hint=f"add `regions.{region}.s3_gb_month.{cls.value}`",
            )
        return prices.s3_gb_month[cls]

    def egress_gb(self, region: str) -> float:
        return self.region(region).egress_gb

    def ebs_gb_month(self, region: str, volume_type: str) -> float:
        """USD per GB-month of an EBS volume of `volume_type` in `region`."""
        prices = self.region(region)
        if volume_type not in prices.ebs_gb_month:
            raise PriceMissing(
                f"no EBS {volume_type} price for {region} in {self.path or 'the price table'}",
                hint=f"add `regions.{region}.ebs_gb_month.{volume_type}: <USD per GB-month>`",
            )
        return prices.ebs_gb_month[volume_type]

    def inter_region_gb(self, region: str) -> float:
        """USD per GB sent from `region` to another AWS region."""
        price = self.region(region).inter_region_gb
        if price is None:
            raise PriceMissing(
                f"no inter-region transfer price for {region} in {self.path or 'the price table'}",
                hint=f"add `regions.{region}.inter_region_gb: <USD per GB>`",
            )
        return price

    def public_ipv4_month(self) -> float:
        """USD per public IPv4 address kept for a month."""
        if self.public_ipv4_hour is None:
            raise PriceMissing(
                f"no public IPv4 price in {self.path or 'the price table'}",
                hint="add `public_ipv4_hour: <USD per address-hour>`",
            )
        return self.public_ipv4_hour * self.hours_per_month


def load_prices(path: Path | None = None) -> PriceTable:
    """The shipped table, or a team's own file in the same format."""
    source = path or DEFAULT_PRICES
    table = load_model(
        source,
        PriceTable,
        what="the price table",
        hint=f"see {DEFAULT_PRICES.name} shipped with fleetctl for the format",
    )
    return table.model_copy(update={"path": str(source)})
