"""The S3 + DynamoDB state backend for teams that share rollouts.

`--state s3://BUCKET/PREFIX[?table=NAME&region=REGION]` (or FLEETCTL_STATE):

- documents  s3://BUCKET/PREFIX/docs/<kind>/<key>.json
- journal    s3://BUCKET/PREFIX/events/<rollout>/<seq:010d>.json, appended with
             a conditional write (If-None-Match: *), so two writers never get
             the same sequence number and nothing is overwritten
- blobs      s3://BUCKET/PREFIX/blobs/<key>
- locks      one DynamoDB item per lock name in TABLE (hash key `name`, default
             table `fleetctl-locks`, or FLEETCTL_LOCK_TABLE), taken with a
             conditional update: free, expired (`expires_at` < now) or already
             ours. A holder that dies stops renewing and its lease expires.
             Each acquire adds 1 to the item's `generation` (the fencing
             token) and returns the lease it replaced (ReturnValues ALL_OLD);
             a release keeps the item (holder "", no `expires_at`), so the
             generation never goes back.

Leases compare wall-clock times written by different machines: keep clocks in
sync (NTP) and choose TTLs far above the expected skew.
Every boto3 failure becomes an OutsideError (exit 3) with a readable message.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlparse

from fleetctl.adapters import aws_session
from fleetctl.adapters.aws_session import aws_errors, error_code
from fleetctl.adapters.state.base import LockHeld, LockInfo, LockLost, StateCorrupt, decode_doc
from fleetctl.errors import BadInput, FleetctlError, OutsideError

DEFAULT_TABLE = "fleetctl-locks"
_APPEND_ATTEMPTS = 50
_READERS = 16


def _q(part: str) -> str:
    return quote(part, safe="")


class S3Store:
    """StateStore on S3 (documents, journal, blobs) and DynamoDB (locks)."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        table: str | None = None,
        region: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.table = table or os.environ.get("FLEETCTL_LOCK_TABLE") or DEFAULT_TABLE
        self.region = region
        self._s3 = aws_session.client("s3", region)
        self._ddb: Any = None
        self._last_seq: dict[str, int] = {}

    @classmethod
    def from_url(cls, url: str) -> S3Store:
        parsed = urlparse(url)
        # The characters botocore accepts in a bucket name: a typo is bad input
        # here, not an AWS client error (exit 3) quoting botocore's regexes.
        if parsed.scheme != "s3" or not re.fullmatch(r"[A-Za-z0-9._-]{1,255}", parsed.netloc):
            raise BadInput(
                f"not an S3 state URL: {url!r}",
                hint="use s3://BUCKET/PREFIX, optionally ?table=LOCK_TABLE&region=REGION",
            )
        query = parse_qs(parsed.query)
        unknown = sorted(set(query) - {"table", "region"})
        if unknown:
            raise BadInput(
                f"unknown option(s) in state URL: {', '.join(unknown)}",
                hint="supported: ?table=LOCK_TABLE&region=REGION",
            )
        table = query.get("table", [None])[-1]
        region = query.get("region", [None])[-1]
        return cls(parsed.netloc, unquote(parsed.path), table=table, region=region)

    def __repr__(self) -> str:
        return f"S3Store(s3://{self.bucket}/{self.prefix}, table={self.table})"

    # -- bootstrap ----------------------------------------------------------

    def ensure(self) -> None:
        """Create the bucket (versioned, no public access) and the lock table if missing."""
        with aws_errors(f"creating state bucket {self.bucket}"):
            try:
                self._s3.head_bucket(Bucket=self.bucket)
            except Exception as exc:
                if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                    raise
                region = self._s3.meta.region_name
                kwargs: dict[str, Any] = {"Bucket": self.bucket}
                if region and region != "us-east-1":
                    kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
                self._s3.create_bucket(**kwargs)
                self._s3.put_bucket_versioning(
                    Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"}
                )
                self._s3.put_public_access_block(
                    Bucket=self.bucket,
                    PublicAccessBlockConfiguration={
                        "BlockPublicAcls": True,
                        "IgnorePublicAcls": True,
                        "BlockPublicPolicy": True,
                        "RestrictPublicBuckets": True,
                    },
                )
        ddb = self._dynamodb()
        with aws_errors(f"creating lock table {self.table}"):
            try:
                ddb.describe_table(TableName=self.table)
                return
            except Exception as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise
            ddb.create_table(
                TableName=self.table,
                AttributeDefinitions=[{"AttributeName": "name", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "name", "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
            )
            ddb.get_waiter("table_exists").wait(
                TableName=self.table, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
            # No TTL on `expires_at`: a deleted item would start its generation
            # (the fencing token) again at 1.

    # -- S3 helpers -----------------------------------------------------------

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def _get(self, key: str) -> bytes | None:
        with aws_errors(f"reading s3://{self.bucket}/{key}"):
            try:
                body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"]
                return bytes(body.read())
            except Exception as exc:
                if error_code(exc) in ("NoSuchKey", "404"):
                    return None
                self._bucket_missing(exc)
                raise

    def _put(self, key: str, data: bytes, *, if_absent: bool = False) -> bool:
        """Write an object; with if_absent, False when the key already exists."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "Body": data}
        if if_absent:
            kwargs["IfNoneMatch"] = "*"
        with aws_errors(f"writing s3://{self.bucket}/{key}"):
            try:
                self._s3.put_object(**kwargs)
            except Exception as exc:
                if if_absent and error_code(exc) in (
                    "PreconditionFailed",
                    "412",
                    "ConditionalRequestConflict",
                ):
                    return False
                self._bucket_missing(exc)
                raise
        return True

    def _keys(self, prefix: str) -> Iterator[str]:
        with aws_errors(f"listing s3://{self.bucket}/{prefix}"):
            pages = self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            try:
                for page in pages:
                    for obj in page.get("Contents", []):
                        yield obj["Key"]
            except Exception as exc:
                self._bucket_missing(exc)
                raise

    def _bucket_missing(self, exc: Exception) -> None:
        if error_code(exc) == "NoSuchBucket":
            raise OutsideError(
                f"state bucket {self.bucket} does not exist",
                hint="create it (and the lock table) once with "
                '`python -c "from fleetctl.adapters.state.s3 import S3Store; '
                f"S3Store.from_url('s3://{self.bucket}/{self.prefix}').ensure()\"` "
                "or with your infrastructure code",
            ) from exc

    # -- documents ------------------------------------------------------------

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        k = self._key("docs", _q(kind), _q(key) + ".json")
        raw = self._get(k)
        return None if raw is None else decode_doc(raw, f"s3://{self.bucket}/{k}")

    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        data = json.dumps(doc, sort_keys=True, default=str).encode()
        self._put(self._key("docs", _q(kind), _q(key) + ".json"), data)

    def _read_all(self, keys: list[str]) -> list[dict[str, Any]]:
        """GET many small objects concurrently (S3 latency, not bandwidth, is the cost)."""
        if not keys:
            return []
        with ThreadPoolExecutor(max_workers=min(_READERS, len(keys))) as pool:
            raws = list(pool.map(self._get, keys))
        return [
            decode_doc(raw, f"s3://{self.bucket}/{k}")
            for k, raw in zip(keys, raws, strict=True)
            if raw is not None
        ]

    def list(self, kind: str) -> list[dict[str, Any]]:
        return self._read_all(sorted(self._keys(self._key("docs", _q(kind)) + "/")))

    def delete(self, kind: str, key: str) -> None:
        k = self._key("docs", _q(kind), _q(key) + ".json")
        with aws_errors(f"deleting s3://{self.bucket}/{k}"):
            self._s3.delete_object(Bucket=self.bucket, Key=k)

    # -- journal --------------------------------------------------------------

    def _events_prefix(self, rollout_id: str) -> str:
        return self._key("events", _q(rollout_id)) + "/"

    def _max_seq(self, rollout_id: str) -> int:
        prefix = self._events_prefix(rollout_id)
        seqs = [int(k[len(prefix) :].split(".")[0]) for k in self._keys(prefix)]
        return max(seqs, default=0)

    def append_event(self, rollout_id: str, event: dict[str, Any]) -> int:
        data = json.dumps(event, sort_keys=True, default=str).encode()
        seq = self._last_seq.get(rollout_id)
        if seq is None:
            seq = self._max_seq(rollout_id)
        for _ in range(_APPEND_ATTEMPTS):
            seq += 1
            key = f"{self._events_prefix(rollout_id)}{seq:010d}.json"
            if self._put(key, data, if_absent=True):
                self._last_seq[rollout_id] = seq
                return seq
            seq = max(seq, self._max_seq(rollout_id))  # another writer got there first
        raise OutsideError(
            f"could not append to the journal of {rollout_id} after {_APPEND_ATTEMPTS} tries",
            hint="another process is writing the same journal very fast; retry",
        )

    def events(self, rollout_id: str) -> list[dict[str, Any]]:
        return self._read_all(sorted(self._keys(self._events_prefix(rollout_id))))

    # -- blobs ----------------------------------------------------------------

    def put_blob(self, key: str, data: bytes) -> None:
        self._put(self._key("blobs", quote(key, safe="/")), data)

    def get_blob(self, key: str) -> bytes | None:
        return self._get(self._key("blobs", quote(key, safe="/")))

    # -- locks (DynamoDB) -------------------------------------------------------

    def _dynamodb(self) -> Any:
        if self._ddb is None:
            self._ddb = aws_session.client("dynamodb", self.region)
        return self._ddb

    def _table_missing(self, exc: Exception) -> None:
        if error_code(exc) == "ResourceNotFoundException":
            raise OutsideError(
                f"lock table {self.table} does not exist",
                hint=f"create it once with S3Store.from_url(...).ensure(), or a DynamoDB "
                f"table {self.table} with hash key `name` (S)",
            ) from exc

    def acquire_lock(
        self, name: str, holder: str, ttl_s: float, *, force: bool = False
    ) -> LockInfo:
        for _ in range(3):
            info, current, now = self._try_lock(name, holder, ttl_s, force)
            if info is not None:
                return info
            if current is not None:
                raise LockHeld(current, now)
            # released between our conditional write and our read: try again
        raise OutsideError(f"could not take lock {name}: it keeps changing hands; retry")

    def _try_lock(
        self, name: str, holder: str, ttl_s: float, force: bool
    ) -> tuple[LockInfo | None, LockInfo | None, float]:
        ddb = self._dynamodb()
        now = time.time()
        names = {
            "#h": "holder",
            "#a": "acquired_at",
            "#r": "renewed_at",
            "#e": "expires_at",
            "#g": "generation",
        }
        values: dict[str, Any] = {
            ":h": {"S": holder},
            ":now": {"N": repr(now)},
            ":exp": {"N": repr(now + ttl_s)},
            ":one": {"N": "1"},
        }
        kwargs: dict[str, Any] = {}
        if not force:
            names["#n"] = "name"
            kwargs["ConditionExpression"] = (
                "attribute_not_exists(#n) OR attribute_not_exists(#e) OR #e < :now OR #h = :h"
            )
        with aws_errors(f"taking lock {name}"):
            try:
                out = ddb.update_item(
                    TableName=self.table,
                    Key={"name": {"S": name}},
                    UpdateExpression="SET #h = :h, #a = :now, #r = :now, #e = :exp ADD #g :one",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_OLD",
                    **kwargs,
                )
            except Exception as exc:
                self._table_missing(exc)
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
                return None, self.lock_info(name), now
        old = out.get("Attributes") or {}
        previous = _lock_info(old) if old else None
        generation = int(old.get("generation", {}).get("N", "0")) + 1
        info = LockInfo(
            name=name,
            holder=holder,
            acquired_at=now,
            expires_at=now + ttl_s,
            generation=generation,
            renewed_at=now,
            taken_from=previous,
        )
        return info, None, now

    def renew_lock(
        self, name: str, holder: str, ttl_s: float, *, generation: int | None = None
    ) -> LockInfo:
        ddb = self._dynamodb()
        now = time.time()
        cond = "#h = :h"
        values: dict[str, Any] = {
            ":exp": {"N": repr(now + ttl_s)},
            ":now": {"N": repr(now)},
            ":h": {"S": holder},
        }
        if generation is not None:
            cond += " AND #g = :g"
            values[":g"] = {"N": str(generation)}
        names = {"#e": "expires_at", "#r": "renewed_at", "#h": "holder"}
        if generation is not None:
            names["#g"] = "generation"
        with aws_errors(f"renewing lock {name}"):
            try:
                out = ddb.update_item(
                    TableName=self.table,
                    Key={"name": {"S": name}},
                    UpdateExpression="SET #e = :exp, #r = :now",
                    ConditionExpression=cond,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                )
                info = _lock_info(out["Attributes"])
                assert info is not None
                return info
            except Exception as exc:
                self._table_missing(exc)
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
        current = self.lock_info(name)
        if generation is not None:
            raise LockLost(name, holder, generation, current)
        if current is None:
            raise FleetctlError(
                f"{name} is not locked by {holder} any more (the lock was released)",
                hint="take the lock again before continuing",
            )
        raise LockHeld(current, now)

    def release_lock(self, name: str, holder: str, *, generation: int | None = None) -> None:
        ddb = self._dynamodb()
        cond = "#h = :h"
        values: dict[str, Any] = {":h": {"S": holder}, ":empty": {"S": ""}}
        if generation is not None:
            cond += " AND #g = :g"
            values[":g"] = {"N": str(generation)}
        names = {"#h": "holder", "#e": "expires_at"}
        if generation is not None:
            names["#g"] = "generation"
        with aws_errors(f"releasing lock {name}"):
            try:
                ddb.update_item(
                    TableName=self.table,
                    Key={"name": {"S": name}},
                    UpdateExpression="SET #h = :empty REMOVE #e",
                    ConditionExpression=cond,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
            except Exception as exc:
                self._table_missing(exc)
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
                # not ours (taken over) or already gone: nothing to release

    def lock_info(self, name: str) -> LockInfo | None:
        ddb = self._dynamodb()
        with aws_errors(f"reading lock {name}"):
            try:
                out = ddb.get_item(
                    TableName=self.table, Key={"name": {"S": name}}, ConsistentRead=True
                )
            except Exception as exc:
                self._table_missing(exc)
                raise
        item = out.get("Item")
        return None if item is None else _lock_info(item)

    def close(self) -> None:
        pass


def _lock_info(item: dict[str, Any]) -> LockInfo | None:
    """The lease an item holds; None for a released one (holder "", no expiry)."""
    try:
        if not item.get("holder", {}).get("S") or "expires_at" not in item:
            return None
        acquired = float(item["acquired_at"]["N"])
        return LockInfo(
            name=str(item["name"]["S"]),
            holder=str(item["holder"]["S"]),
            acquired_at=acquired,
            expires_at=float(item["expires_at"]["N"]),
            generation=int(item.get("generation", {}).get("N", "0")),
            renewed_at=float(item.get("renewed_at", {}).get("N", acquired)),
        )
    except (AttributeError, KeyError, TypeError, ValueError):
        where = f"lock table item {item.get('name', '?')}"
        raise StateCorrupt(where, "a lock item lacks name/holder/acquired_at/expires_at") from None
