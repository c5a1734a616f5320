"""The written schema of a rollout: the record and its journal events round
trip through to_dict/from_dict, older stored shapes load, unknown kinds from
a newer version load as a generic event, and every kind has one line."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from fleetctl.core.rollout import events as ev
from fleetctl.core.rollout.record import (
    FINAL,
    LkgRecord,
    Pause,
    PauseKind,
    RollbackProof,
    RolloutRecord,
    Status,
)

REPO = Path(__file__).resolve().parents[2]

DOC: dict[str, Any] = {
    "id": "r-20260101-120000-ab12",
    "env": "lab",
    "playbook": "edge.yml",
    "group": "lab/edge.yml",
    "release": "f" * 64,
    "release_id": "fffffffffff1",
    "git_sha": "0123456789abcdef",
    "rollback_to": "e" * 64,
    "rollback_to_id": "eeeeeeeeeee1",
    "policy": {"bake_s": 0, "gates": {"http": {"paths": ["/healthz"]}}},
    "policy_file": "policies/fast.yml",
    "plan_digest": "d1",
    "plan_steps": 3,
    "status": "paused",
    "next_step": 1,
    "pause": {"kind": "unreachable", "reason": "2 unreachable", "step": 1, "at": 12.5},
    "touched": ["a-e0", "a-e1"],
    "failed_hosts": [],
    "unreachable_hosts": ["b-e1"],
    "created_at": 10.0,
    "updated_at": 12.5,
    "finished_at": None,
    "by": "ana",
    "pid": 4242,
    "hostname": "box",
    "lock_generation": 7,
    "message": "2 unreachable",
}


def test_a_record_round_trips_with_its_keys_in_order() -> None:
    rec = RolloutRecord.from_dict(DOC)
    assert rec.status is Status.paused and rec.pause == Pause(
        PauseKind.unreachable, "2 unreachable", 1, 12.5
    )
    assert rec.to_dict() == DOC and list(rec.to_dict()) == list(DOC)
    rec.accepted_unreachable = ["b-e1"]
    rec.rollback_proof = RollbackProof(ok=False, error="no playbook")
    rec.superseded_by = "r-2"
    again = RolloutRecord.from_dict(json.loads(json.dumps(rec.to_dict())))
    assert again == rec and again.counted_unreachable == []
    assert again.to_dict()["rollback_proof"] == {"ok": False, "error": "no playbook"}


def test_keys_from_a_newer_version_are_kept() -> None:
    doc = {**DOC, "region_waves": [["eu", "us"]]}
    rec = RolloutRecord.from_dict(doc)
    assert rec.extra == {"region_waves": [["eu", "us"]]} and rec.to_dict() == doc


def test_a_record_stored_before_fencing_loads() -> None:
    old = {k: v for k, v in DOC.items() if k != "lock_generation"}
    rec = RolloutRecord.from_dict(old)
    assert rec.lock_generation is None and rec.superseded_by is None
    assert rec.rollback_proof is None and rec.accepted_unreachable is None


@pytest.mark.parametrize(
    "proof",
    [
        {"ok": True, "hosts": 0},
        {"ok": False, "error": "release r1 has no playbook edge.yml"},
        {
            "ok": True,
            "release": "eeeeeeeeeee1",
            "hosts": 2,
            "apply_status": "successful",
            "check_changed": 0,
            "check_hosts": 2,
            "gates": {"http": "pass", "canary_analysis": "skipped"},
            "gate_verdict": "pass",
        },
    ],
)
def test_rollback_proofs_round_trip_in_the_stored_key_order(proof: dict[str, Any]) -> None:
    p = RollbackProof.from_dict(proof)
    assert list(p.to_dict().items()) == list(proof.items())
    event = ev.parse({"type": "rollback_proof", "at": 3.0, **proof})
    assert isinstance(event, ev.RollbackProofEvent)
    assert event.to_dict() == {"type": "rollback_proof", "at": 3.0, **proof}


def test_last_known_good_round_trips() -> None:
    plain = {"group": "lab/edge.yml", "release": "h", "release_id": "i", "rollout": "r", "at": 1.0}
    assert LkgRecord.from_dict(plain).to_dict() == plain
    restored = {**plain, "restored_by_rollback": True}
    assert LkgRecord.from_dict(restored).to_dict() == restored


def test_one_status_enum_and_pause_kinds() -> None:
    from fleetctl.services import rollout

    assert rollout.Status is Status and rollout.FINAL == FINAL
    assert {s for s in Status if s.final} == set(FINAL)
    assert {s for s in Status if s.active} == {Status.running, Status.rolling_back}
    assert [k.value for k in PauseKind] == ["gate", "approval", "unreachable", "freeze", "window"]
    assert not PauseKind.freeze.promotable and PauseKind.gate.promotable


def _sample(cls: type[ev.Event]) -> ev.Event:
    """An event of `cls` with every field set away from its default."""
    values: dict[str, Any] = {"at": 5.0, "recovered": True}
    for f in dataclasses.fields(cls):
        if f.name in ("at", "recovered", "extra"):
            continue
        t = str(f.type)
        if "GateSamples" in t:  # Gate.samples: a typed record of its own
            from fleetctl.core.gate_samples import BurnPoint, Distribution, GateSamples

            values[f.name] = GateSamples(
                (Distribution.of("latency_ms", "ms", "request", [1.0], [2.0], limit=3.0),),
                (BurnPoint("fast", "long", "60s", 2.0, 14.4),),
            )
        elif t.startswith("dict[str, dict"):
            values[f.name] = {"h1": {"state": "ok", "changed": 0}}
        elif t.startswith("list[dict"):  # NotifyTargets.targets
            values[f.name] = [{"target": "t", "format": "slack", "fingerprint": "f"}]
        elif "dict" in t:
            values[f.name] = {"k": 1}
        elif "list" in t:
            values[f.name] = ["x"]
        elif t.startswith("bool"):
            values[f.name] = True
        elif "int" in t:
            values[f.name] = 3
        elif "float" in t:
            values[f.name] = 1.5
        else:
            values[f.name] = f"{f.name}-v"
    return cls(**values)


@pytest.mark.parametrize("kind", sorted(ev.KINDS))
def test_every_event_kind_round_trips(kind: str) -> None:
    event = _sample(ev.KINDS[kind])
    stored = json.loads(json.dumps(event.to_dict()))
    assert stored["type"] == kind and stored["recovered"] is True
    assert ev.parse(stored) == event


def test_the_engine_writes_only_kinds_the_schema_knows() -> None:
    """Every event class the services construct is registered (the grep of old `_event(`)."""
    src = "\n".join(
        p.read_text() for p in (REPO / "fleetctl" / "services" / "rollout").glob("*.py")
    )
    used = set(re.findall(r"events\.([A-Z][A-Za-z]+)\(", src))
    known = {cls.__name__ for cls in ev.KINDS.values()}
    assert used and used <= known


def test_an_unknown_kind_loads_as_a_generic_event() -> None:
    stored = {"type": "region_wave_started", "at": 9.0, "region": "eu", "wave": 2}
    event = ev.parse(stored)
    assert isinstance(event, ev.UnknownEvent) and event.type == "region_wave_started"
    assert event.to_dict() == stored


def test_an_older_event_missing_fields_loads_with_defaults() -> None:
    event = ev.parse({"type": "lock_acquired", "at": 1.0, "lock": "env/lab", "ttl_s": 120.0})
    assert isinstance(event, ev.LockAcquired) and event.generation is None
    assert event.to_dict() == {
        "type": "lock_acquired",
        "at": 1.0,
        "lock": "env/lab",
        "ttl_s": 120.0,
        "generation": None,
    }


def test_every_kind_has_a_line() -> None:
    from fleetctl.cli.rollout_render import _LINES, event_line

    assert set(ev.KINDS.values()) <= set(_LINES)
    for cls in ev.KINDS.values():
        assert event_line(_sample(cls), verbose=True)
    assert event_line({"type": "from_the_future", "at": 1.0, "x": 1}).startswith(
        "from_the_future: "
    )


def test_a_certificate_extra_var_is_shown_by_its_fingerprint(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`certs rotate` passes the new certificate as an extra var: the rollout's
    first line names it the way `certs status` does, not as base64 lines."""
    from fleetctl.adapters import tls
    from fleetctl.cli.rollout_render import event_line

    pem, _key = tls.issue(tmp_path, "edges.lab", addresses=["127.0.0.1"], days=1)
    fp = tls.fingerprint(pem)[:16]
    e = ev.Created(at=1.0, env="lab", playbook="certs.yml", release="r1",
                   extravars={"edge_tls_cert_pem": pem.decode(), "n": 3})  # fmt: skip
    line = event_line(e)
    assert f"<certificate sha256 {fp}>" in line and "'n': 3" in line
    assert "BEGIN CERTIFICATE" not in line and "\n" not in line
    # the journal keeps the certificate itself (public; the release manifest has it)
    assert e.extravars["edge_tls_cert_pem"].startswith("-----BEGIN CERTIFICATE-----")


def test_a_retried_temporal_batch_is_visible_in_the_applied_line() -> None:
    """The Temporal engine journals `region` and `attempt` with step_applied;
    its regions run in parallel, so the line names the step, and a batch a
    killed worker left (attempt 2) says so instead of looking like attempt 1."""
    from fleetctl.cli.rollout_render import event_line

    base = {
        "type": "step_applied",
        "at": 1.0,
        "step": 1,
        "label": "lab-mid wave 1 (50%)",
        "status": "successful",
        "duration_s": 8.5,
        "hosts": {"e": {"state": "changed"}},
    }
    local = event_line(base)
    assert local.startswith("  applied in 8.5s: 1 changed") and "attempt" not in local
    first = event_line({**base, "region": "lab-mid", "attempt": 1})
    assert "applied lab-mid wave 1 (50%) in 8.5s" in first and "attempt" not in first
    retried = event_line({**base, "region": "lab-mid", "attempt": 2})
    assert "applied lab-mid wave 1 (50%) in 8.5s" in retried and "attempt 2" in retried
