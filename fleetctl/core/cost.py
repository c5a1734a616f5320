"""Monthly cost of a stack, from its resource graph and a price table.

Pure arithmetic over a preview `ResourceGraph` (what the program declares),
the stack's region, a `PriceTable` and per-bucket usage estimates; no I/O.
What is counted (docs/cost.md says why):

* auto scaling groups: instances of the launch template's `instanceType` at
  on-demand list prices, the template's EBS volumes, and one public IPv4
  address per instance when the group's subnets map public IPs on launch.
  Instances counted: `desiredCapacity` when the program sets it (edge pools run
  at a fixed size: min = desired = max), otherwise `minSize` - the floor a
  scaling group never goes below. `maxSize` is the ceiling (`monthly_max`): the
  bill when the group runs at its maximum all month.
* S3 buckets: storage per class, PUT and GET requests and the inter-region
  transfer of replication, from the bucket's usage estimate (stack spec
  `usage:`); a bucket without one costs nothing here, and the result says so.
* everything else the fleet declares is free in itself (VPC, subnets, IGW,
  route tables, security groups, IAM, launch templates, bucket configuration,
  scaling policies, standard SSM parameters) or charged per use with no usage
  estimate (SQS requests: the first million a month are free). A resource type
  with no rule is listed in `unpriced`, never silently zero.

Internet egress is demand-driven (viewers, not the infrastructure) and is not
part of this estimate.

A missing price raises `PriceMissing` (from the table's lookups).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from fleetctl.core.preview_model import UNKNOWN, Resource, ResourceGraph
from fleetctl.spec.models import BucketUsage, StorageClass
from fleetctl.spec.prices import PriceTable

ORIGIN: Final = "origin"
EDGE: Final = "edge"
TRANSCODE: Final = "transcode"
NETWORK: Final = "network"
ROLES: Final = (ORIGIN, EDGE, TRANSCODE, NETWORK)

ASG = "aws:autoscaling/group:Group"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
SUBNET = "aws:ec2/subnet:Subnet"
BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
REPLICATION = (
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
    "aws:s3/bucketReplicationConfiguration:BucketReplicationConfiguration",
)
DEFAULT_EBS_TYPE = "gp2"  # what EC2 uses when a block device mapping names none

# Types that cost nothing in themselves, or only per use with no usage estimate here.
FREE: Final[frozenset[str]] = frozenset(
    {
        "aws:ec2/vpc:Vpc",
        SUBNET,
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        LAUNCH_TEMPLATE,  # priced through the groups that use it
        "aws:autoscaling/policy:Policy",
        "aws:iam/role:Role",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/instanceProfile:InstanceProfile",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        *REPLICATION,  # priced through the bucket's replicated_gb_per_month
        "aws:ssm/parameter:Parameter",  # standard tier
        "aws:sqs/queue:Queue",  # per request; first 1M requests/month free
    }
)


@dataclass(frozen=True)
class CostLine:
    """One priced item: where the money goes."""

    resource: str  # the resource's logical name
    type: str
    role: str  # origin | edge | transcode | network
    item: str  # e.g. "c6in.2xlarge on-demand", "EBS gp3", "S3 STANDARD storage"
    quantity: float
    unit: str  # e.g. "instance-month", "GB-month", "1k requests"
    unit_price: float  # USD per unit
    monthly: float  # USD per month at the floor
    quantity_max: float | None = None  # scaling groups: at max size
    monthly_max: float | None = None

    @property
    def ceiling(self) -> float:
        return self.monthly if self.monthly_max is None else self.monthly_max

    @property
    def key(self) -> tuple[str, str]:
        return (self.resource, self.item)


@dataclass(frozen=True)
class StackCost:
    stack: str
    region: str
    lines: tuple[CostLine, ...] = ()
    free: Mapping[str, int] = field(default_factory=dict)  # type -> count
    unpriced: tuple[str, ...] = ()  # "type name": no rule, not counted
    notes: tuple[str, ...] = ()  # assumptions the reader should know

    @property
    def monthly(self) -> float:
        return sum(line.monthly for line in self.lines)

    @property
    def monthly_max(self) -> float:
        return sum(line.ceiling for line in self.lines)

    def by_role(self) -> dict[str, float]:
        out = dict.fromkeys(ROLES, 0.0)
        for line in self.lines:
            out[line.role] = out.get(line.role, 0.0) + line.monthly
        return out

    def by_role_max(self) -> dict[str, float]:
        out = dict.fromkeys(ROLES, 0.0)
        for line in self.lines:
            out[line.role] = out.get(line.role, 0.0) + line.ceiling
        return out


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is UNKNOWN:
        return None
    if isinstance(v, int | float):
        return float(v)
    return None


def _tag(r: Resource, key: str) -> str | None:
    tags = r.inputs.get("tags")
    if isinstance(tags, Mapping):
        v = tags.get(key)
        return v if isinstance(v, str) else None
    if isinstance(tags, list):  # autoscaling groups: [{key, value, propagateAtLaunch}]
        for t in tags:
            if isinstance(t, Mapping) and t.get("key") == key and isinstance(t.get("value"), str):
                return str(t["value"])
    return None


def _role(r: Resource, by_urn: Mapping[str, Resource], *extra: Resource | None) -> str:
    for cand in (r, *extra):
        if cand is None:
            continue
        role = _tag(cand, "role")
        if role in (EDGE, TRANSCODE):
            return role
    parent = r.parent
    while parent is not None and parent in by_urn:  # the component: EdgePool, TranscodeCluster
        p = by_urn[parent]
        low = p.type.lower()
        if "edge" in low:
            return EDGE
        if "transcode" in low:
            return TRANSCODE
        parent = p.parent
    return NETWORK


def _template_of(group: Resource, by_urn: Mapping[str, Resource]) -> Resource | None:
    """The group's launch template: through the property dependency of
    `launchTemplate` (its id is unknown until apply), else any dependency."""
    candidates = [*group.property_deps.get("launchTemplate", ()), *group.deps]
    for urn in candidates:
        r = by_urn.get(urn)
        if r is not None and r.type == LAUNCH_TEMPLATE:
            return r
    return None


def _public_ip(group: Resource, template: Resource, by_urn: Mapping[str, Resource]) -> bool:
    for nic in template.inputs.get("networkInterfaces") or ():
        if isinstance(nic, Mapping) and str(nic.get("associatePublicIpAddress")).lower() == "true":
            return True
    subnets = [*group.property_deps.get("vpcZoneIdentifiers", ()), *group.deps]
    return any(
        by_urn[u].type == SUBNET and by_urn[u].inputs.get("mapPublicIpOnLaunch") is True
        for u in subnets
        if u in by_urn
    )


def _group_lines(
    group: Resource,
    by_urn: Mapping[str, Resource],
    region: str,
    prices: PriceTable,
    notes: list[str],
    unpriced: list[str],
) -> list[CostLine]:
    template = _template_of(group, by_urn)
    itype = template.inputs.get("instanceType") if template is not None else None
    if template is None or not isinstance(itype, str):
        unpriced.append(f"{group.type} {group.name}")
        notes.append(f"{group.name}: no launch template with a known instance type; not counted")
        return []
    desired = _num(group.inputs.get("desiredCapacity"))
    if "desiredCapacity" in group.ignore_changes:
        desired = None  # a scaling policy owns it
    low = desired if desired is not None else _num(group.inputs.get("minSize"))
    high = _num(group.inputs.get("maxSize"))
    if low is None:
        unpriced.append(f"{group.type} {group.name}")
        notes.append(f"{group.name}: size known only after apply; not counted")
        return []
    high = low if high is None or high < low else high
    ceiling = high if high != low else None
    role = _role(group, by_urn, template)

    def line(item: str, unit: str, per_instance: float, unit_price: float) -> CostLine:
        return CostLine(
            resource=group.name,
            type=group.type,
            role=role,
            item=item,
            quantity=low * per_instance,
            unit=unit,
            unit_price=unit_price,
            monthly=low * per_instance * unit_price,
            quantity_max=None if ceiling is None else ceiling * per_instance,
            monthly_max=None if ceiling is None else ceiling * per_instance * unit_price,
        )

    out = [line(f"{itype} on-demand", "instance-month", 1.0, prices.instance_month(region, itype))]
    volumes: dict[str, float] = {}
    for bdm in template.inputs.get("blockDeviceMappings") or ():
        ebs = bdm.get("ebs") if isinstance(bdm, Mapping) else None
        if not isinstance(ebs, Mapping):
            continue
        size = _num(ebs.get("volumeSize"))
        if size is None:
            continue
        vtype = ebs.get("volumeType")
        vtype = vtype if isinstance(vtype, str) else DEFAULT_EBS_TYPE
        volumes[vtype] = volumes.get(vtype, 0.0) + size
    for vtype, gb in sorted(volumes.items()):
        out.append(line(f"EBS {vtype}", "GB-month", gb, prices.ebs_gb_month(region, vtype)))
    if _public_ip(group, template, by_urn):
        out.append(line("public IPv4", "address-month", 1.0, prices.public_ipv4_month()))
    return out


def _bucket_lines(
    bucket: Resource,
    replication_targets: int,
    usage: BucketUsage | None,
    region: str,
    prices: PriceTable,
    notes: list[str],
) -> list[CostLine]:
    physical = bucket.inputs.get("bucket")
    label = physical if isinstance(physical, str) else bucket.name
    if usage is None:
        notes.append(f"{label}: no usage estimate; storage and requests not counted")
        return []
    try:
        default = StorageClass(_tag(bucket, "storage-class") or StorageClass.STANDARD)
    except ValueError:
        default = StorageClass.STANDARD

    def line(item: str, quantity: float, unit: str, unit_price: float) -> CostLine:
        return CostLine(
            resource=bucket.name,
            type=bucket.type,
            role=ORIGIN,
            item=item,
            quantity=quantity,
            unit=unit,
            unit_price=unit_price,
            monthly=quantity * unit_price,
        )

    out = []
    order = list(StorageClass)
    for cls, gb in sorted(
        usage.stored_by_class(default).items(), key=lambda kv: order.index(kv[0])
    ):
        if gb:
            out.append(
                line(
                    f"S3 {cls.value} storage",
                    gb,
                    "GB-month",
                    prices.storage_gb_month(region, cls),
                )
            )
    requests = prices.region(region).s3_requests_per_1k
    if usage.put_requests_per_month:
        out.append(
            line(
                "S3 PUT requests", usage.put_requests_per_month / 1000, "1k requests", requests.put
            )
        )
    if usage.get_requests_per_month:
        out.append(
            line(
                "S3 GET requests", usage.get_requests_per_month / 1000, "1k requests", requests.get
            )
        )
    if usage.replicated_gb_per_month and replication_targets:
        out.append(
            line(
                f"replication to {replication_targets} region(s)",
                usage.replicated_gb_per_month * replication_targets,
                "GB",
                prices.inter_region_gb(region),
            )
        )
    return out


def _replication_targets(config: Resource) -> int:
    rules = config.inputs.get("rules")
    if not isinstance(rules, Sequence):
        return 1
    enabled = [r for r in rules if not (isinstance(r, Mapping) and r.get("status") == "Disabled")]
    return len(enabled)


def stack_cost(
    graph: ResourceGraph,
    region: str,
    prices: PriceTable,
    usage: Mapping[str, BucketUsage] | None = None,
) -> StackCost:
    """The monthly cost of what `graph` declares in `region`.

    `usage` maps a bucket's physical name to its usage estimate.
    """
    usage = usage or {}
    by_urn = graph.by_urn()
    replication: dict[str, int] = {}
    for r in graph.resources:
        if r.type in REPLICATION and r.parent is not None:
            replication[r.parent] = replication.get(r.parent, 0) + _replication_targets(r)
    lines: list[CostLine] = []
    free: dict[str, int] = {}
    unpriced: list[str] = []
    notes: list[str] = []
    for r in graph.resources:
        if not r.custom or r.type.startswith("pulumi:"):
            continue  # components, the stack, providers
        if r.type == ASG:
            lines.extend(_group_lines(r, by_urn, region, prices, notes, unpriced))
        elif r.type in BUCKETS:
            physical = r.inputs.get("bucket")
            u = usage.get(physical) if isinstance(physical, str) else None
            lines.extend(_bucket_lines(r, replication.get(r.urn, 0), u, region, prices, notes))
        elif r.type in FREE:
            free[r.type] = free.get(r.type, 0) + 1
        else:
            unpriced.append(f"{r.type} {r.name}")
    return StackCost(
        stack=graph.stack,
        region=region,
        lines=tuple(lines),
        free=dict(sorted(free.items())),
        unpriced=tuple(unpriced),
        notes=tuple(notes),
    )


# --- before / after ------------------------------------------------------------------------


@dataclass(frozen=True)
class LineDelta:
    resource: str
    role: str
    item: str
    before: float  # USD per month (0 when the line is new)
    after: float
    quantity_before: float
    quantity_after: float
    unit: str

    @property
    def delta(self) -> float:
        return self.after - self.before


@dataclass(frozen=True)
class CostDelta:
    """A stack's monthly cost before and after a change (USD).

    `error` says why the cost is unknown (a missing price, a failed stack);
    then the figures are None. A side with no graph (a new or a removed
    stack) costs 0.
    """

    before: float | None = None
    after: float | None = None
    before_max: float | None = None
    after_max: float | None = None
    by_role: Mapping[str, tuple[float, float]] = field(
        default_factory=dict
    )  # role->(before, after)
    lines: tuple[LineDelta, ...] = ()  # only the lines that differ
    notes: tuple[str, ...] = ()
    error: str | None = None

    @property
    def known(self) -> bool:
        return self.error is None and self.before is not None and self.after is not None

    @property
    def delta(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before


def cost_delta(before: StackCost | None, after: StackCost | None) -> CostDelta:
    """What changes between two estimates of one stack (None: the side has nothing)."""
    b_lines = {line.key: line for line in before.lines} if before else {}
    a_lines = {line.key: line for line in after.lines} if after else {}
    changed: list[LineDelta] = []
    for key in [*a_lines, *(k for k in b_lines if k not in a_lines)]:
        b, a = b_lines.get(key), a_lines.get(key)
        if b is not None and a is not None and (b.monthly, b.quantity) == (a.monthly, a.quantity):
            continue
        ref = a or b
        assert ref is not None
        changed.append(
            LineDelta(
                resource=ref.resource,
                role=ref.role,
                item=ref.item,
                before=b.monthly if b else 0.0,
                after=a.monthly if a else 0.0,
                quantity_before=b.quantity if b else 0.0,
                quantity_after=a.quantity if a else 0.0,
                unit=ref.unit,
            )
        )
    b_role = before.by_role() if before else dict.fromkeys(ROLES, 0.0)
    a_role = after.by_role() if after else dict.fromkeys(ROLES, 0.0)
    notes = dict.fromkeys([*(after.notes if after else ()), *(after.unpriced if after else ())])
    return CostDelta(
        before=before.monthly if before else 0.0,
        after=after.monthly if after else 0.0,
        before_max=before.monthly_max if before else 0.0,
        after_max=after.monthly_max if after else 0.0,
        by_role={r: (b_role.get(r, 0.0), a_role.get(r, 0.0)) for r in ROLES},
        lines=tuple(changed),
        notes=tuple(notes),
    )


def unchanged(cost: StackCost) -> CostDelta:
    """A stack that did not change: the same estimate on both sides."""
    return cost_delta(cost, cost)


@dataclass(frozen=True)
class CostTotal:
    """The sum over stacks whose cost is known (USD per month)."""

    before: float
    after: float
    before_max: float
    after_max: float
    unknown: tuple[str, ...] = ()  # cost unknown (a missing price, a failed stack)
    not_estimated: tuple[str, ...] = ()  # unchanged and not run: delta 0, no figure

    @property
    def delta(self) -> float:
        return self.after - self.before

    @property
    def complete(self) -> bool:
        return not self.unknown and not self.not_estimated

    @property
    def delta_pct(self) -> float | None:
        return None if self.before == 0 else 100.0 * self.delta / self.before


def total(costs: Mapping[str, CostDelta | None]) -> CostTotal:
    known = {s: c for s, c in costs.items() if c is not None and c.known}
    return CostTotal(
        before=sum(c.before or 0.0 for c in known.values()),
        after=sum(c.after or 0.0 for c in known.values()),
        before_max=sum(c.before_max or 0.0 for c in known.values()),
        after_max=sum(c.after_max or 0.0 for c in known.values()),
        unknown=tuple(s for s, c in costs.items() if c is None or c.error is not None),
        not_estimated=tuple(
            s for s, c in costs.items() if c is not None and c.error is None and not c.known
        ),
    )


@dataclass(frozen=True)
class PricesUsed:
    """Which price table an estimate used."""

    source: str
    as_of: str
    currency: str = "USD"
    file: str = ""


def prices_used(table: PriceTable, file: str = "") -> PricesUsed:
    return PricesUsed(table.source, table.as_of, table.currency, file)


# --- JSON (docs/preview-schema.json, `fleetctl cost --format json`) ---------------------------


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 2)


def delta_to_json(c: CostDelta | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "before": _r(c.before),
        "after": _r(c.after),
        "delta": _r(c.delta),
        "before_max": _r(c.before_max),
        "after_max": _r(c.after_max),
        "by_role": {
            role: {"before": _r(b), "after": _r(a), "delta": _r(a - b)}
            for role, (b, a) in c.by_role.items()
        },
        "changes": [
            {
                "resource": d.resource,
                "role": d.role,
                "item": d.item,
                "unit": d.unit,
                "quantity_before": round(d.quantity_before, 4),
                "quantity_after": round(d.quantity_after, 4),
                "before": _r(d.before),
                "after": _r(d.after),
                "delta": _r(d.delta),
            }
            for d in c.lines
        ],
        "notes": list(c.notes),
        "error": c.error,
    }


def total_to_json(t: CostTotal, prices: PricesUsed | None) -> dict[str, Any]:
    pct = t.delta_pct
    return {
        "currency": prices.currency if prices else "USD",
        "before": _r(t.before),
        "after": _r(t.after),
        "delta": _r(t.delta),
        "delta_pct": None if pct is None else round(pct, 2),
        "before_max": _r(t.before_max),
        "after_max": _r(t.after_max),
        "complete": t.complete,
        "unknown": list(t.unknown),
        "not_estimated": list(t.not_estimated),
        "prices": None if prices is None else {"source": prices.source, "as_of": prices.as_of},
    }


def line_to_json(line: CostLine) -> dict[str, Any]:
    return {
        "resource": line.resource,
        "type": line.type,
        "role": line.role,
        "item": line.item,
        "quantity": round(line.quantity, 4),
        "unit": line.unit,
        "unit_price": round(line.unit_price, 6),
        "monthly": _r(line.monthly),
        "quantity_max": None if line.quantity_max is None else round(line.quantity_max, 4),
        "monthly_max": _r(line.monthly_max),
    }


def usd(amount: float, *, sign: bool = False) -> str:
    """$1,234.56 (with sign=True: +$1,234.56 / -$1,234.56)."""
    text = f"${abs(amount):,.2f}"
    if amount < 0 and round(amount, 2) != 0:
        return f"-{text}"
    return f"+{text}" if sign else text
