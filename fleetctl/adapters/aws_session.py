"""boto3 clients and AWS error translation shared by every AWS adapter.

- Clients use boto3's standard retry mode (throttling and transient errors are
  retried with backoff; AWS_MAX_ATTEMPTS / the profile's max_attempts still
  apply) and the standard credential and endpoint chain: AWS_ENDPOINT_URL
  points the same code at moto or at AWS.
- `aws_errors(doing)` turns botocore failures into one `OutsideError` (exit 3)
  with a readable message and a hint, never a botocore traceback.

boto3 is imported inside functions only: this module is cheap to import.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fleetctl.errors import FleetctlError, OutsideError

DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthFailure",
        "AuthorizationError",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "UnrecognizedClientException",
        "InvalidToken",
        "Forbidden",
        "403",
    }
)
THROTTLED_CODES = frozenset(
    {"Throttling", "ThrottlingException", "RequestLimitExceeded", "SlowDown", "TooManyRequests"}
)


# Everything in the environment that changes which AWS (and whose) a client talks to.
_ENV_KEYS = (
    "AWS_ENDPOINT_URL",
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
)
_lock = threading.Lock()
_sessions: dict[tuple[str | None, ...], Any] = {}
_clients: dict[tuple[Any, ...], Any] = {}


def client(service: str, region: str | None = None) -> Any:
    """A boto3 client with standard retries; `region` None = the configured default.

    Clients are thread-safe and costly to build (~0.1 s each, mostly loading the
    service model), so they are cached per service, region and AWS environment;
    one boto3 Session (not thread-safe) per environment, used under a lock.
    """
    env = tuple(os.environ.get(k) for k in _ENV_KEYS)
    key = (service, region, env)
    with _lock:
        cached = _clients.get(key)
        if cached is not None:
            return cached
        import boto3
        from botocore.config import Config

        config = Config(
            retries={"mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
            user_agent_extra="fleetctl",
        )
        with aws_errors(f"creating the {service} client"):
            session = _sessions.get(env)
            if session is None:
                session = _sessions[env] = boto3.session.Session()
            made = session.client(service, region_name=region, config=config)
        _clients[key] = made
        return made


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def translate(exc: BaseException, doing: str) -> FleetctlError:
    """A botocore/boto3 exception as an OutsideError with a message people can act on."""
    from botocore import exceptions as bx

    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    where = f" at {endpoint}" if endpoint else ""
    if isinstance(exc, bx.NoRegionError):
        return OutsideError(
            f"no AWS region configured while {doing}",
            hint="set AWS_REGION (or AWS_DEFAULT_REGION), or a region in your AWS profile",
        )
    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
        return OutsideError(
            f"no AWS credentials found while {doing}",
            hint="set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "or run `aws sso login`",
        )
    if isinstance(
        exc,
        (
            bx.EndpointConnectionError,
            bx.ConnectTimeoutError,
            bx.ReadTimeoutError,
            bx.ConnectionClosedError,
        ),
    ):
        return OutsideError(
            f"cannot reach AWS{where} while {doing}: {exc}",
            hint="check the network and AWS_ENDPOINT_URL (unset it to talk to AWS itself)",
        )
    if isinstance(exc, bx.ClientError):
        code = error_code(exc)
        message = exc.response.get("Error", {}).get("Message", "") or str(exc)
        op = getattr(exc, "operation_name", "") or "?"
        if code in DENIED_CODES:
            return OutsideError(
                f"AWS denied {op} while {doing}: {code}: {message}",
                hint="check that the credentials in use are the intended ones "
                "(`aws sts get-caller-identity`) and allow this action",
            )
        if code in THROTTLED_CODES:
            return OutsideError(
                f"AWS kept throttling {op} while {doing} (retried): {code}",
                hint="try again later, or raise AWS_MAX_ATTEMPTS",
            )
        return OutsideError(f"AWS error in {op} while {doing}: {code}: {message}")
    if isinstance(exc, bx.BotoCoreError):
        return OutsideError(f"AWS client error{where} while {doing}: {exc}")
    return OutsideError(f"unexpected error while {doing}: {exc}")


@contextmanager
def aws_errors(doing: str) -> Iterator[None]:
    """Translate botocore failures inside the block into OutsideError (exit 3)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise translate(exc, doing) from exc
