"""Physical names and tags, shared with drift detection and the inventory."""

from __future__ import annotations

PROJECT = "fleet"


def prefix(env: str, region: str) -> str:
    return f"{PROJECT}-{env}-{region}"


def bucket_name(env: str, region: str, logical: str) -> str:
    return f"{prefix(env, region)}-{logical}"


def edge_asg_name(env: str, region: str, zone: str) -> str:
    return f"{prefix(env, region)}-edge-{zone}"


def transcode_asg_name(env: str, region: str) -> str:
    return f"{prefix(env, region)}-transcode"


def launch_template_name(env: str, region: str, role: str) -> str:
    return f"{prefix(env, region)}-{role}"


def queue_name(env: str, region: str) -> str:
    return f"{prefix(env, region)}-transcode-jobs"


def tags(env: str, region: str, extra: dict[str, str], role: str | None = None) -> dict[str, str]:
    out = {**extra, "env": env, "region": region, "fleet:stack": f"{env}-{region}"}
    if role:
        out["role"] = role
    return out
