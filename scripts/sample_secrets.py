"""Encrypt the sample stacks' `secure:` values the way Pulumi's passphrase provider does.

The sample stacks (stacks/Pulumi.<stack>.yaml) carry one secret each,
`fleet:originSigningKey`, whose plaintext is `sample-signing-key-<stack>`,
encrypted with the sample passphrase `fleetctl-sample-passphrase` so a real
`pulumi preview` with PULUMI_CONFIG_PASSPHRASE set can decrypt them. They are
samples: a real fleet sets its own with `pulumi config set --secret`.

    python scripts/sample_secrets.py            # new salt + ciphertexts in every stack file
    python scripts/sample_secrets.py --check    # decrypt them and compare (exit 1 on a mismatch)

Pulumi's format (sdk/go/common/resource/config/crypt.go and
pkg/secrets/passphrase in pulumi/pulumi):
- key = PBKDF2-HMAC-SHA256(passphrase, salt, 1,000,000 iterations, 32 bytes),
  salt = 8 random bytes per stack;
- a value = `v1:<base64 12-byte nonce>:<base64 AES-256-GCM ciphertext+tag>`;
- the stack file's top-level `encryptionsalt` =
  `v1:<base64 salt>:<the value "pulumi" encrypted with that key>` (the passphrase check).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import re
import sys
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PASSPHRASE = "fleetctl-sample-passphrase"
KEY = "fleet:originSigningKey"
ITERATIONS = 1_000_000
STACKS = Path(__file__).resolve().parents[1] / "stacks"


def plaintext(stack: str) -> str:
    return f"sample-signing-key-{stack}"


def derive_key(passphrase: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", passphrase.encode(), salt, ITERATIONS, 32)


def encrypt(key: bytes, value: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, value.encode(), None)
    return f"v1:{base64.b64encode(nonce).decode()}:{base64.b64encode(sealed).decode()}"


def decrypt(key: bytes, value: str) -> str:
    version, nonce, sealed = value.split(":")
    if version != "v1":
        raise ValueError(f"unknown value version {version!r}")
    return AESGCM(key).decrypt(base64.b64decode(nonce), base64.b64decode(sealed), None).decode()


def key_from_salt(passphrase: str, encryptionsalt: str) -> bytes:
    """The stack's key; ValueError when the passphrase is wrong (the "pulumi" check fails)."""
    version, salt, check = encryptionsalt.split(":", 2)
    if version != "v1":
        raise ValueError(f"unknown salt version {version!r}")
    key = derive_key(passphrase, base64.b64decode(salt))
    try:
        ok = decrypt(key, check) == "pulumi"
    except Exception as exc:  # cryptography's InvalidTag: the passphrase is wrong
        raise ValueError("incorrect passphrase") from exc
    if not ok:
        raise ValueError("incorrect passphrase")
    return key


_SALT = re.compile(r"^encryptionsalt: (\S+)\n", re.M)
_SECURE = re.compile(rf"^(  {re.escape(KEY)}:\n    secure: )(\S+)$", re.M)


def stack_files() -> list[Path]:
    return sorted(p for p in STACKS.glob("Pulumi.*.yaml") if p.name != "Pulumi.yaml")


def stack_of(path: Path) -> str:
    return path.name.removeprefix("Pulumi.").removesuffix(".yaml")


def read(path: Path) -> tuple[str, str]:
    """(encryptionsalt, the secure value) of a stack file."""
    text = path.read_text()
    salt, value = _SALT.search(text), _SECURE.search(text)
    if salt is None or value is None:
        raise ValueError(f"{path.name}: no encryptionsalt or no {KEY} secure value")
    return salt.group(1), value.group(2)


def write(path: Path) -> None:
    salt = os.urandom(8)
    key = derive_key(PASSPHRASE, salt)
    state = f"v1:{base64.b64encode(salt).decode()}:{encrypt(key, 'pulumi')}"
    text = _SALT.sub("", path.read_text())
    text, n = _SECURE.subn(lambda m: m.group(1) + encrypt(key, plaintext(stack_of(path))), text)
    if n != 1:
        raise SystemExit(f"{path}: expected one `{KEY}: secure:` value, found {n}")
    path.write_text(f"encryptionsalt: {state}\n{text}")


def check(path: Path) -> str | None:
    """None when the file's secret decrypts to its sample value, else what is wrong."""
    try:
        salt, value = read(path)
        got = decrypt(key_from_salt(PASSPHRASE, salt), value)
    except ValueError as exc:
        return f"{path.name}: {exc}"
    want = plaintext(stack_of(path))
    return None if got == want else f"{path.name}: decrypts to another value than {want!r}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only decrypt and compare")
    args = ap.parse_args()
    files = stack_files()
    if not args.check:
        for path in files:
            write(path)
    problems = [p for p in map(check, files) if p]
    for p in problems:
        print(p, file=sys.stderr)
    good = len(files) - len(problems)
    print(f"{good} of {len(files)} stack secrets decrypt with the sample passphrase")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
