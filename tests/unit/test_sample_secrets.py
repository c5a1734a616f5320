"""The sample stacks' `secure:` values are real Pulumi passphrase ciphertexts: the
documented sample passphrase decrypts each to its documented value, as `pulumi
preview` would (key = PBKDF2-HMAC-SHA256(passphrase, salt, 1,000,000, 32 bytes),
values `v1:<nonce>:<AES-256-GCM ciphertext>`, `encryptionsalt` =
`v1:<salt>:<"pulumi" encrypted>`). Written independently of scripts/sample_secrets.py."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from ruamel.yaml import YAML

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
PASSPHRASE = "fleetctl-sample-passphrase"  # documented in README.md ("The fleet spec")


def _open(key: bytes, value: str) -> str:
    version, nonce, sealed = value.split(":")
    assert version == "v1" and len(base64.b64decode(nonce)) == 12
    return AESGCM(key).decrypt(base64.b64decode(nonce), base64.b64decode(sealed), None).decode()


def _key(passphrase: str, encryptionsalt: str) -> bytes:
    version, salt, check = encryptionsalt.split(":", 2)
    assert version == "v1"
    key = hashlib.pbkdf2_hmac("sha256", passphrase.encode(), base64.b64decode(salt), 1_000_000, 32)
    assert _open(key, check) == "pulumi"  # Pulumi's passphrase check
    return key


def _stacks() -> list[Path]:
    return sorted(p for p in (REPO / "stacks").glob("Pulumi.*.yaml") if p.name != "Pulumi.yaml")


def test_the_documented_passphrase_decrypts_every_sample_secret() -> None:
    assert f"`{PASSPHRASE}`" in (REPO / "README.md").read_text()
    files = _stacks()
    assert len(files) >= 9
    for path in files:
        doc = YAML(typ="safe").load(path.read_text())
        stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
        key = _key(PASSPHRASE, doc["encryptionsalt"])
        value = doc["config"]["fleet:originSigningKey"]["secure"]
        assert _open(key, value) == f"sample-signing-key-{stack}", path.name


def test_another_passphrase_does_not() -> None:
    doc = YAML(typ="safe").load(_stacks()[0].read_text())
    with pytest.raises(InvalidTag):
        _key("not-the-passphrase", doc["encryptionsalt"])
