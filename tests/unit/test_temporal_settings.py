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
    cert.write_text("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")
    with pytest.raises(BadInput, match="go together"):
        temporal.settings(tls_cert=cert, environ={})
    s = temporal.settings(tls_cert=cert, tls_key=cert, tls_ca=cert, environ={})
    assert s.tls and "mTLS" in s.describe()


def test_worker_secrets_are_taken_out_of_the_environment_and_found_by_name(
    tmp_path: Path,
) -> None:
    from fleetctl.services import secrets

    f = tmp_path / "api"
    f.write_text("from-file\n")
    env = {"FLEETCTL_SECRET_DB_PASSWORD": "pw-value", "HOME": "/root"}
    held = secrets.capture([f"api_token=@{f}"], environ=env)
    assert env == {"HOME": "/root"}  # no child process inherits them
    found = held.lookup(["db_password", "api_token", "absent"])
    assert {n: v.value for n, v in found.items()} == {
        "db_password": "pw-value",
        "api_token": "from-file",
    }
    assert "pw-value" not in repr(held) and "from-file" not in repr(held)
    assert sorted(held.values()) == ["from-file", "pw-value"]


def test_start_with_notify_on_temporal_is_refused_naming_the_way_that_works() -> None:
    from typer.testing import CliRunner

    from fleetctl.cli.main import app

    r = CliRunner().invoke(
        app,
        ["rollout", "start", "edge.yml", "--env", "lab", "--engine", "temporal",
         "--notify", "http://127.0.0.1:9/hook", "--yes"],
    )  # fmt: skip
    assert r.exit_code == 2, r.output
    assert "--notify is not taken with --engine temporal" in r.output
    assert "127.0.0.1:9" not in r.output  # a webhook URL is a secret
    assert "fleetctl worker --env lab --coordinator --notify URL" in r.output
