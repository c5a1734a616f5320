from pathlib import Path

import pytest

from fleetctl.errors import BadInput
from fleetctl.spec.prices import PriceMissing, load_prices

pytestmark = pytest.mark.unit


def test_shipped_table_prices_every_instance_type_and_region_of_the_fleet() -> None:
    from fleetctl.spec import load_fleet

    table = load_prices()
    assert table.as_of and table.source
    fleet = load_fleet(Path(__file__).resolve().parents[2] / "stacks")
    for stack in fleet.stacks:
        spec = stack.spec
        for section in (spec.edge, spec.transcode):
            if section is not None:
                assert table.instance_hour(stack.region, section.instance_type) > 0
        for bucket in spec.storage.buckets:
            assert table.storage_gb_month(stack.region, bucket.storage_class) > 0


def test_other_regions_scale_the_us_east_1_price_by_the_compute_factor() -> None:
    table = load_prices()
    assert table.instance_hour("us-east-1", "c6i.4xlarge") == 0.68
    assert table.instance_hour("sa-east-1", "c6i.4xlarge") == pytest.approx(0.68 * 1.572)
    assert table.instance_month("us-east-1", "c6in.2xlarge") == pytest.approx(0.4536 * 730)


def test_a_missing_price_is_an_error_that_says_what_to_add() -> None:
    table = load_prices()
    with pytest.raises(PriceMissing, match=r"x9\.huge") as exc:
        table.instance_hour("us-east-1", "x9.huge")
    assert "instances.x9.huge" in (exc.value.hint or "")
    with pytest.raises(PriceMissing, match="mars-1"):
        table.egress_gb("mars-1")


def test_a_bad_table_reports_file_and_line_of_each_problem(tmp_path: Path) -> None:
    bad = tmp_path / "prices.yaml"
    bad.write_text(
        "source: s\nas_of: '2026'\ninstances: {c6i.large: -1}\n"
        "regions:\n  us-east-1:\n    compute_factor: 1\n    s3_gb_month: {STANDARD: 0.1}\n"
        "    s3_requests_per_1k: {put: 1, get: 1}\n    egress_gb: 0.05\n    typo: 1\n"
    )
    with pytest.raises(BadInput) as exc:
        load_prices(bad)
    assert f"{bad}:3: instances.c6i.large:" in "\n".join(exc.value.details)
    assert f"{bad}:10: regions.us-east-1.typo:" in "\n".join(exc.value.details)


def test_every_region_prices_ebs_replication_transfer_and_public_ipv4() -> None:
    table = load_prices()
    assert table.public_ipv4_month() == pytest.approx(0.005 * 730)
    for region in table.regions:
        assert table.ebs_gb_month(region, "gp3") > 0
        assert table.ebs_gb_month(region, "gp2") > table.ebs_gb_month(region, "gp3")
        assert table.inter_region_gb(region) > 0
    with pytest.raises(PriceMissing, match="io2") as exc:
        table.ebs_gb_month("us-east-1", "io2")
    assert "regions.us-east-1.ebs_gb_month.io2" in (exc.value.hint or "")


# The sizes a team picks from in every family (g4dn starts at xlarge).
SIZES = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge")


def test_every_family_the_policy_pack_allows_is_priced_in_every_size() -> None:
    """An allowed family without a price made every stack's cost unknown."""
    from policies.compute import ALLOWED_FAMILIES

    table = load_prices()
    missing = [
        f"{family}.{size}"
        for family in sorted(ALLOWED_FAMILIES)
        for size in SIZES
        if not (family == "g4dn" and size == "large") and f"{family}.{size}" not in table.instances
    ]
    assert missing == []
    for region in table.regions:  # and every region scales them
        assert table.instance_hour(region, "c7a.2xlarge") > 0
