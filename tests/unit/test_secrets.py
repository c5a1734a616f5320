"""Which var names look secret, and where `--secret-var` values come from."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetctl.errors import BadInput
from fleetctl.services import secrets
from fleetctl.services.secrets import SecretVar

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "name",
    ["db_password", "DB_PASSWD", "apiKey", "api_key", "vault_token", "tls_private_key",
     "client_secret", "smtp_pass", "aws_credentials", "passphrase",
     "cache_signing_key", "key"],
)  # fmt: skip
def test_secret_looking_names(name: str) -> None:
    assert secrets.looks_secret(name)


@pytest.mark.parametrize(
    "name",
    ["fleet_release", "edge_response_delay_ms", "edge_broken_paths", "fail_hosts", "v",
     "monkey_count", "keyframe_interval", "passive_mode", "edge_drain",
     "edge_cache_key", "ssh_public_key", "sort_key"],
)  # fmt: skip
def test_plain_names(name: str) -> None:
    assert not secrets.looks_secret(name)


def test_values_from_env_file_or_prompt(tmp_path: Path) -> None:
    env = {"FLEETCTL_SECRET_DB_PASSWORD": "from-env", "OTHER": "x"}
    f = tmp_path / "tok"
    f.write_text("from-file\n")
    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return "typed"

    got = secrets.read(["db_password", f"api_token=@{f}", "smtp_pass"], prompt=prompt, environ=env)
    assert [(s.name, s.value) for s in got] == [
        ("db_password", "from-env"),
        ("api_token", "from-file"),
        ("smtp_pass", "typed"),
    ]
    assert env == {"OTHER": "x"}  # read once, then gone from the environment
    assert asked == ["value of secret var smtp_pass: "]
    assert "from-env" not in repr(got)  # tracebacks and logs never show a value


def test_bad_secret_vars_are_exit_2_and_never_echo_a_value(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no value for secret var db_password") as exc:
        secrets.read(["db_password"], environ={})
    assert exc.value.exit_code == 2 and "FLEETCTL_SECRET_DB_PASSWORD" in (exc.value.hint or "")
    with pytest.raises(BadInput, match="bad --secret-var 'db_password'") as exc:
        secrets.read(["db_password=hunter2"], environ={})
    assert "hunter2" not in str(exc.value) + str(exc.value.hint)
    with pytest.raises(BadInput, match="cannot read"):
        secrets.read([f"db_password=@{tmp_path / 'nope'}"], environ={})
    with pytest.raises(BadInput, match="given twice"):
        secrets.read(["a", "a=@/dev/null"], environ={"FLEETCTL_SECRET_A": "x"})


def test_plain_secret_looking_vars_are_refused_unless_allowed() -> None:
    with pytest.raises(BadInput, match="db_password") as exc:
        secrets.refuse_plain({"db_password": "x", "v": 1}, allow=False)
    assert "--secret-var db_password" in (exc.value.hint or "")
    secrets.refuse_plain({"db_password": "x"}, allow=True)
    with pytest.raises(BadInput, match="both as -x and as --secret-var"):
        secrets.check_names({"db_password": "x"}, [SecretVar("db_password", "y")])
