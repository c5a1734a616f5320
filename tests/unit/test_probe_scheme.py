"""Where the gates' probes go: `gates.http.scheme: auto` (the default) follows
what the env declares (a host's `https_port` and `tls_ca_file`), a policy can
still say http or https; a CA file that cannot be used is a clear error
before anything runs (the policy's: exit 2, the inventory's: exit 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetctl.adapters import tls
from fleetctl.core.planner import Host
from fleetctl.core.policy import Policy
from fleetctl.errors import BadInput, OutsideError
from fleetctl.services.rollout import video_gates
from fleetctl.services.rollout.targets import check_ca_files, hosts_from_vars

pytestmark = pytest.mark.unit

EDGE = {"region": "a", "role": "edge", "ansible_host": "127.0.10.1", "http_port": 8080}


def policy(**http: object) -> Policy:
    return Policy.model_validate({"gates": {"http": http}})


def one(vars_: dict, pol: Policy) -> Host:
    (h,) = hosts_from_vars({"e1": vars_}, pol)
    return h


def test_auto_probes_https_where_the_env_serves_it_against_its_ca() -> None:
    tls_edge = {**EDGE, "https_port": 8443, "tls_ca_file": "/lab/tls/ca.pem"}
    h = one(tls_edge, policy())
    cfg = policy().gates.http
    assert video_gates.base_url(h, cfg) == "https://127.0.10.1:8443"
    assert video_gates.ca_of(h, cfg) == "/lab/tls/ca.pem"
    # a policy's own CA wins over the inventory's
    p = policy(ca_file="/mine/ca.pem")
    assert video_gates.ca_of(one(tls_edge, p), p.gates.http) == "/mine/ca.pem"
    # no https_port: plain http on port_var, as before
    h = one(EDGE, policy())
    assert video_gates.base_url(h, cfg) == "http://127.0.10.1:8080" and h.ca_file == ""


def test_a_policy_can_still_say_http_or_https() -> None:
    tls_edge = {**EDGE, "https_port": 8443, "tls_ca_file": "/lab/ca.pem"}
    p = policy(scheme="http")
    assert video_gates.base_url(one(tls_edge, p), p.gates.http) == "http://127.0.10.1:8080"
    p = policy(scheme="https", port_var="https_port")
    h = one(tls_edge, p)
    assert video_gates.base_url(h, p.gates.http) == "https://127.0.10.1:8443"
    assert h.ca_file == "/lab/ca.pem"


def test_a_plan_stored_before_hosts_had_a_scheme_uses_the_policys() -> None:
    old = Host("e1", "a", "edge", address="127.0.10.1", port=8443)  # scheme ""
    assert video_gates.base_url(old, policy(scheme="https").gates.http).startswith("https://")
    assert video_gates.base_url(old, policy().gates.http) == "http://127.0.10.1:8443"


def test_an_unusable_ca_file_is_an_error_naming_it(tmp_path: Path) -> None:
    good = tls.ensure_ca(tmp_path / "tls")
    tls_edge = {**EDGE, "https_port": 8443, "tls_ca_file": str(good)}
    check_ca_files(hosts_from_vars({"e1": tls_edge}, policy()), policy())  # fine

    missing = tmp_path / "nope.pem"
    p = policy(ca_file=str(missing))
    with pytest.raises(BadInput, match=f"gates.http.ca_file {missing}: no such file") as exc:
        check_ca_files(hosts_from_vars({"e1": tls_edge}, p), p)
    assert exc.value.exit_code == 2

    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    lab = {**tls_edge, "tls_ca_file": str(junk)}
    with pytest.raises(OutsideError, match=f"CA file {junk} \\(host var tls_ca_file of e1\\)"):
        check_ca_files(hosts_from_vars({"e1": lab}, policy()), policy())
    # http probes need no CA: nothing to check
    check_ca_files(hosts_from_vars({"e1": lab}, policy(scheme="http")), policy(scheme="http"))
