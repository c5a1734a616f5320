"""Connection settings for --engine temporal: flags, environment, TLS files."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetctl.adapters import temporal
from fleetctl.errors import BadInput


def test_defaults_to_the_lab_dev_server() -> None:
    s = temporal.settings(environ={})
    assert (s.address, s.namespace, s.tls) == ("127.0.0.1:7233", "default", False)


def test_flag_beats_environment() -> None:
    env = {"FLEETCTL_TEMPORAL": "10.0.0.1:7233", "FLEETCTL_TEMPORAL_NAMESPACE": "video"}
    assert temporal.settings(environ=env).address == "10.0.0.1:7233"
    assert temporal.settings(environ=env).namespace == "video"
    assert temporal.settings("127.0.0.1:9", environ=env).address == "127.0.0.1:9"


@pytest.mark.parametrize("bad", ["localhost", "host:", ":7233", "h:port", "h:70000", "h:0"])
def test_bad_address_names_the_flag(bad: str) -> None:
    with pytest.raises(BadInput) as err:
        temporal.settings(bad, environ={})
    assert "--temporal" in err.value.message and err.value.exit_code == 2


def test_bad_address_from_environment_names_the_variable() -> None:
    with pytest.raises(BadInput) as err:
        temporal.settings(environ={"FLEETCTL_TEMPORAL": "nope"})
    assert "FLEETCTL_TEMPORAL" in err.value.message


def test_tls_files_must_exist_and_cert_needs_key(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no such file"):
        temporal.settings(tls_ca=tmp_path / "ca.pem", environ={})
    cert = tmp_path / "c.pem"
    cert.write_text("x")
    with pytest.raises(BadInput, match="go together"):
        temporal.settings(tls_cert=cert, environ={})
    s = temporal.settings(tls_cert=cert, tls_key=cert, tls_ca=cert, environ={})
    assert s.tls and "mTLS" in s.describe()
