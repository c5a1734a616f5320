"""Secret extra vars: how their values get in, and what is kept of them.

A secret var (`--secret-var NAME`) is an extra var whose value fleetctl never
writes anywhere it keeps things: releases and the journal hold its name and a
keyed fingerprint only (the preview's HMAC with the workspace's fingerprint
key, so a changed secret is a changed release); the value reaches Ansible
through a 0600 file in the run's private dir (adapters/ansible.py), never a
command line.

Where a value comes from, in this order:
- `NAME=@FILE`: the file's content (one trailing newline dropped);
- the environment variable `FLEETCTL_SECRET_<NAME>` (upper case), removed from
  this process's environment once read so no child process, and no
  ansible-runner artifact (which records the whole environment), carries it;
- a hidden prompt, when there is a terminal.

Plain `-x` vars whose names look secret are refused unless the caller says
they are not secret (`--allow-plain-secrets`).
"""

from __future__ import annotations

import keyword
import os
import re
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetctl.errors import BadInput

ENV_PREFIX = "FLEETCTL_SECRET_"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ALLOW_FLAG = "--allow-plain-secrets"
# Whole words of a var name that mark it secret; the longer ones also inside a word.
_WORDS = frozenset({"pass", "pwd", "key", "keys", "secrets", "tokens", "creds"})
_INSIDE = ("password", "passwd", "passphrase", "secret", "token", "apikey", "credential")
# A key that names a lookup, not a credential (`edge_cache_key`, `ssh_public_key`).
_PLAIN_KEY_KINDS = frozenset(
    {"cache", "public", "pub", "sort", "partition", "primary", "foreign", "lookup"}
    | {"routing", "idempotency", "hash", "map"}
)


@dataclass(frozen=True)
class SecretVar:
    """One secret extra var. `repr` never shows the value (tracebacks, logs)."""

    name: str
    value: str = field(repr=False)


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def looks_secret(name: str) -> bool:
    """Does a var name look like it holds a secret (db_password, apiKey, vault_token)?"""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
    words = [w for w in re.split(r"[^a-z0-9]+", spaced) if w]
    marked = any(
        w in _WORDS and not (w in ("key", "keys") and i > 0 and words[i - 1] in _PLAIN_KEY_KINDS)
        for i, w in enumerate(words)
    )
    return marked or any(s in spaced for s in _INSIDE)


def refuse_plain(extravars: Mapping[str, Any], *, allow: bool) -> None:
    """Plain extra vars are stored and printed: refuse the ones that look secret."""
    if allow:
        return
    suspect = sorted(k for k in extravars if looks_secret(k))
    if suspect:
        first = suspect[0]
        raise BadInput(
            f"extra var(s) {', '.join(suspect)} look secret; a plain -x value is stored in "
            "the release and the journal and printed",
            hint=f"pass it as --secret-var {first} (value from ${env_name(first)}, "
            f"{first}=@FILE or a prompt), or {ALLOW_FLAG} if it is not secret",
        )


def check_names(extravars: Mapping[str, Any], secrets: Iterable[SecretVar]) -> None:
    both = sorted({s.name for s in secrets} & set(extravars))
    if both:
        raise BadInput(
            f"{', '.join(both)} given both as -x and as --secret-var", hint="give it once"
        )


def read(
    specs: Iterable[str],
    *,
    prompt: Callable[[str], str] | None = None,
    environ: MutableMapping[str, str] | None = None,
) -> tuple[SecretVar, ...]:
    """`--secret-var` values: NAME (env var or prompt) or NAME=@FILE."""
    env: MutableMapping[str, str] = os.environ if environ is None else environ
    out: dict[str, SecretVar] = {}
    for spec in specs:
        name, sep, source = spec.partition("=")
        # Ansible takes ASCII identifiers only (and no Python keyword) as var names.
        if (
            not _NAME.fullmatch(name)
            or keyword.iskeyword(name)
            or (sep and not source.startswith("@"))
        ):
            raise BadInput(
                f"bad --secret-var {spec.split('=', 1)[0]!r}",
                hint="--secret-var NAME (value from $FLEETCTL_SECRET_NAME or a prompt) "
                "or --secret-var NAME=@FILE; never the value itself on the command line",
            )
        if name in out:
            raise BadInput(f"--secret-var {name} given twice")
        if sep:
            if not source[1:].strip():
                raise BadInput(
                    f"--secret-var {name}=@: no file after @", hint=f"--secret-var {name}=@FILE"
                )
            path = Path(source[1:]).expanduser()
            try:
                raw = path.read_bytes()
            except OSError as exc:
                raise BadInput(
                    f"--secret-var {name}: cannot read {path}: {exc.strerror or exc}"
                ) from None
            try:
                value = raw.decode("utf-8")
            except UnicodeDecodeError:
                # Never the decoder's message: it quotes the bytes around the error.
                raise BadInput(
                    f"--secret-var {name}: {path} is not UTF-8 text",
                    hint="a secret var is text; base64-encode binary values",
                ) from None
            value = value[:-1] if value.endswith("\n") else value
        elif env_name(name) in env:
            value = env.pop(env_name(name))
        elif prompt is not None:
            value = prompt(f"value of secret var {name}: ")
        else:
            raise BadInput(
                f"no value for secret var {name}",
                hint=f"set ${env_name(name)}, pass --secret-var {name}=@FILE, "
                "or run on a terminal to be asked",
            )
        if not value:
            raise BadInput(f"secret var {name} is empty")
        if "\x00" in value:
            raise BadInput(
                f"secret var {name} contains a NUL byte",
                hint="a secret var is text; base64-encode binary values",
            )
        out[name] = SecretVar(name, value)
    return tuple(out.values())


def fingerprints(root: Path, secrets: Iterable[SecretVar]) -> dict[str, str]:
    """name -> keyed fingerprint: the preview's one fingerprint function and key."""
    items = sorted(secrets, key=lambda s: s.name)
    if not items:
        return {}
    from fleetctl.adapters.pulumi_preview_worker import fingerprint
    from fleetctl.services.preview import fingerprint_key
    from fleetctl.services.workspace import Workspace

    key = fingerprint_key(Workspace(root))
    return {s.name: fingerprint(key, s.value) for s in items}


def values_for(
    root: Path,
    needed: Mapping[str, str],
    given: Mapping[str, SecretVar],
    *,
    what: str,
    same: bool,
) -> dict[str, str]:
    """The values of the secret vars `needed` (name -> fingerprint) names.

    Values are never stored, so every command that applies a release with
    secret vars must be given them again. `same`: each must also be the value
    the release was made with (a resumed rollout applies its own release).
    """
    missing = sorted(set(needed) - set(given))
    if missing:
        raise BadInput(
            f"{what} needs secret var(s) {', '.join(missing)}; secret values are never stored",
            hint="give them again: "
            + " ".join(f"--secret-var {n} (${env_name(n)} or {n}=@FILE)" for n in missing),
        )
    if same:
        fps = fingerprints(root, (given[n] for n in needed))
        differ = sorted(n for n in needed if fps[n] != needed[n])
        if differ:
            raise BadInput(
                f"secret var(s) {', '.join(differ)} differ from the value(s) {what} was made with",
                hint="give the same value(s) (fingerprints are keyed with "
                ".fleetctl/cache/preview/fingerprint.key), or start a new rollout",
            )
    return {n: given[n].value for n in sorted(needed)}


MIN_SCRUB_LEN = 4  # shorter values would blank out ordinary words


def scrub(value: Any, secrets: Iterable[str]) -> Any:
    """`value` (str / dict / list, nested) with every secret value replaced by
    `[secret]`: for what Ansible says back (a failed task's message, a diff),
    which can quote a secret var, before it is journaled or printed."""
    needles = sorted((s for s in secrets if len(s) >= MIN_SCRUB_LEN), key=len, reverse=True)
    if not needles:
        return value

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            for n in needles:
                v = v.replace(n, "[secret]")
            return v
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return type(v)(walk(x) for x in v)
        return v

    return walk(value)


@dataclass(frozen=True)
class WorkerSecrets:
    """The secret values a long-running process (a `fleetctl worker`) holds for the
    releases it will be asked to apply, whose names it does not know at start:
    `--secret-var NAME[=@FILE]` values, and every `FLEETCTL_SECRET_*` variable of its
    environment, taken out of the environment at start (so no Ansible run it starts,
    nor its artifacts, carries them). Looked up by name when a release needs them."""

    given: Mapping[str, SecretVar] = field(default_factory=dict, repr=False)
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)  # FLEETCTL_SECRET_X -> v

    def lookup(self, names: Iterable[str]) -> dict[str, SecretVar]:
        """name -> value for the names this process has (the others are left out)."""
        out: dict[str, SecretVar] = {}
        for n in names:
            if n in self.given:
                out[n] = self.given[n]
            elif self.environ.get(env_name(n)):
                out[n] = SecretVar(n, self.environ[env_name(n)])
        return out

    def values(self) -> list[str]:
        """Every value this process holds (to scrub what it sends out)."""
        return [s.value for s in self.given.values()] + [v for v in self.environ.values() if v]


def capture(
    specs: Iterable[str] = (), *, environ: MutableMapping[str, str] | None = None
) -> WorkerSecrets:
    """A worker's secrets: `specs` as `--secret-var` reads them, then the rest of the
    `FLEETCTL_SECRET_*` variables, all removed from the environment."""
    env: MutableMapping[str, str] = os.environ if environ is None else environ
    given = {s.name: s for s in read(specs, environ=env)}
    taken = {k: env.pop(k) for k in [k for k in env if k.startswith(ENV_PREFIX)]}
    return WorkerSecrets(given, taken)
