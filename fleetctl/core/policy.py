"""The rollout policy: how careful a rollout is (canary, waves, bake, gates, limits).

Every field has a default taken from tools people already trust (anchors in
brackets in DESIGN.md): bake 60 s [Flagger interval], failure limit 0
[Argo Rollouts failureLimit], 4 consecutive probe errors before Inconclusive
[Argo consecutiveErrorLimit], progress deadline 10 min per step [Nomad].

Models are frozen pydantic models that forbid unknown keys, so a typo in a
policy file is an error with its file:line (see `fleetctl.services.policy`),
never a silently ignored setting.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    field_validator,
    model_validator,
)

from fleetctl.core import windows

DEFAULT_BAKE_S = 60.0
DEFAULT_FAILURE_LIMIT = 0
DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4
DEFAULT_PROGRESS_DEADLINE_S = 600.0

_PERCENT = re.compile(r"^(?P<n>\d+(?:\.\d+)?)\s*%$")
_HHMM = re.compile(r"^(?P<h>[01]\d|2[0-3]):(?P<m>[0-5]\d)$")


class _Model(BaseModel):
    # No .inf/.nan: an infinite limit passes everything, a NaN one compares false.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class GateName(StrEnum):
    http = "http"
    canary_analysis = "canary_analysis"
    prometheus = "prometheus"
    hls_playback = "hls_playback"
    cache = "cache"
    slo_burn = "slo_burn"
    tls_cert = "tls_cert"


class Day(StrEnum):
    mon = "mon"
    tue = "tue"
    wed = "wed"
    thu = "thu"
    fri = "fri"
    sat = "sat"
    sun = "sun"


_DAYS = list(Day)


def _size(value: Any) -> int | str:
    """A wave size: a host count (>= 1) or a percentage string like "10%"."""
    if isinstance(value, bool):
        raise ValueError("expected a host count or a percentage like '10%'")
    if isinstance(value, int):
        if value < 1:
            raise ValueError("a host count must be at least 1")
        return value
    if isinstance(value, str):
        m = _PERCENT.match(value.strip())
        if m is None:
            raise ValueError(f"{value!r} is neither a host count nor a percentage like '10%'")
        pct = float(m["n"])
        if not 0 < pct <= 100:
            raise ValueError(f"percentage {value!r} must be in (0, 100]")
        return f"{m['n']}%"
    raise ValueError("expected a host count or a percentage like '10%'")


class Wave(_Model):
    """One growth step per region. Sizes are cumulative: "50%" means the
    region has half of its hosts done after this wave."""

    size: StrictInt | str
    bake_s: Annotated[StrictFloat, Field(ge=0)] | None = None
    approval: StrictBool = False
    gates: list[GateName] | None = None

    @field_validator("size", mode="before")
    @classmethod
    def _check_size(cls, value: Any) -> int | str:
        return _size(value)

    def hosts_of(self, region_size: int) -> int:
        """Cumulative hosts of a region of `region_size` done after this wave."""
        if isinstance(self.size, int):
            return min(self.size, region_size)
        pct = float(self.size.rstrip("%"))
        # ceil without floats drifting: 10% of 10 hosts is exactly 1.
        return min(region_size, max(1, -(-round(pct * region_size * 1000) // 100_000)))


class Canary(_Model):
    hosts: Annotated[StrictInt, Field(ge=1)] = 1
    region: str | None = None  # default: the lowest-traffic region
    role: str | None = None  # default: the first probed role present there
    bake_s: Annotated[StrictFloat, Field(ge=0)] | None = None
    approval: StrictBool = False  # pause for `rollout promote` after the canary passes


class HttpGate(_Model):
    """Status and latency of a few paths on every changed host."""

    enabled: StrictBool = True
    roles: list[str] = ["edge"]
    paths: list[str] = ["/healthz"]
    port: Annotated[StrictInt, Field(ge=1, le=65535)] = 80
    port_var: str | None = "http_port"  # host var holding the port, wins over `port`
    # https: every probe (http, hls_playback, cache) verifies the chain
    # against `ca_file` (the system trust store when unset), never skips it.
    # auto: what the env declares, so nobody configures TLS twice: a host
    # with the host var `https_port` (the lab's edges) is probed over https
    # on it, verified against `ca_file` or else its `tls_ca_file`; other
    # hosts over http on `port_var`
    scheme: Literal["auto", "http", "https"] = "auto"
    ca_file: str | None = None
    samples: Annotated[StrictInt, Field(ge=1, le=10_000)] = 20  # per host and path
    warmup: Annotated[StrictInt, Field(ge=0, le=100)] = 1  # requests per host+path not counted
    timeout_s: Annotated[StrictFloat, Field(gt=0, le=60)] = 2.0
    concurrency: Annotated[StrictInt, Field(ge=1, le=256)] = 8
    expect_status: Annotated[
        list[Annotated[StrictInt, Field(ge=100, le=599)]], Field(min_length=1)
    ] = [200]
    max_error_rate: Annotated[StrictFloat, Field(ge=0, le=1)] = 0.0
    max_p95_ms: Annotated[StrictFloat, Field(gt=0)] = 1000.0
    min_samples: Annotated[StrictInt, Field(ge=1)] = 10  # fewer valid samples -> Inconclusive

    @field_validator("paths")
    @classmethod
    def _absolute(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one path")
        bad = [p for p in value if not p.startswith("/")]
        if bad:
            raise ValueError(f"paths must start with '/': {', '.join(bad)}")
        return value


class CanaryAnalysis(_Model):
    """Changed hosts against unchanged hosts of the same role, probed together.

    Fails when latency is significantly higher (one-sided Mann-Whitney U,
    p < alpha) AND the median grew by at least `min_effect_ms` and
    `min_effect_ratio` (a real regression, not loopback noise), or when the
    error rate is significantly higher (difference of proportions).
    """

    enabled: StrictBool = True
    alpha: Annotated[StrictFloat, Field(gt=0, lt=0.5)] = 0.01
    min_samples: Annotated[StrictInt, Field(ge=3)] = 20  # per side, else Inconclusive
    min_effect_ms: Annotated[StrictFloat, Field(ge=0)] = 5.0
    min_effect_ratio: Annotated[StrictFloat, Field(ge=1)] = 1.2
    latency_path: str | None = None  # default: the last HTTP gate path (a segment)


class PromQuery(_Model):
    name: Annotated[str, Field(min_length=1)]
    query: Annotated[str, Field(min_length=1)]
    max: StrictFloat | None = None
    min: StrictFloat | None = None

    @model_validator(mode="after")
    def _bounded(self) -> PromQuery:
        if self.max is None and self.min is None:
            raise ValueError("a query needs `max` or `min`")
        return self


def _prometheus_url(value: str | None) -> str | None:
    """http(s)://host[:port][/path] on a plain host: a policy file is committed and
    journaled, so credentials never belong in it (put Prometheus behind a local
    proxy that adds them)."""
    if value is None:
        return value
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        _ = parts.port  # ValueError: not a number or out of range
    except ValueError:
        raise ValueError("the url's host or port is malformed") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the url must be http(s)://host[:port][/path]")
    if parts.username is not None or parts.password is not None:
        raise ValueError("the url must not carry user:password@ (it would be journaled)")
    if any(c.isspace() for c in value) or parts.query or parts.fragment:
        raise ValueError("the url must have no spaces, ?query or #fragment")
    return value


PromUrl = Annotated[str | None, AfterValidator(_prometheus_url)]


class PrometheusGate(_Model):
    enabled: StrictBool = False
    url: PromUrl = None
    timeout_s: Annotated[StrictFloat, Field(gt=0, le=60)] = 5.0
    queries: list[PromQuery] = []

    @model_validator(mode="after")
    def _needs_url(self) -> PrometheusGate:
        if self.enabled and not self.url:
            raise ValueError("the prometheus gate is enabled but has no `url`")
        if self.enabled and not self.queries:
            raise ValueError("the prometheus gate is enabled but has no `queries`")
        return self


class HlsPlaybackGate(_Model):
    """A player-like HLS client per probed edge (changed and baseline at once).

    Each session fetches the master playlist, picks a rendition the way an
    ABR player does (the highest whose bandwidth the measured throughput x
    `abr_safety` sustains), and downloads `segments` segments paced as
    playback would (never more than `max_buffer_s` ahead). Absolute limits
    on the changed edges, and changed vs baseline edges compared like canary
    analysis (Mann-Whitney on startup, proportions on stalled segments).
    """

    enabled: StrictBool = False
    master_path: str = "/vod/sample/master.m3u8"
    sessions: Annotated[StrictInt, Field(ge=1, le=200)] = 5  # per host
    segments: Annotated[StrictInt, Field(ge=1, le=100)] = 3  # per session
    timeout_s: Annotated[StrictFloat, Field(gt=0, le=60)] = 10.0  # per request
    concurrency: Annotated[StrictInt, Field(ge=1, le=64)] = 4  # sessions in flight
    initial_bandwidth_bps: Annotated[StrictFloat, Field(gt=0)] = (
        500_000.0  # [hls.js abrEwmaDefaultEstimate]
    )
    abr_safety: Annotated[StrictFloat, Field(gt=0, le=1)] = 0.8
    max_buffer_s: Annotated[StrictFloat, Field(gt=0)] = 30.0  # [hls.js maxBufferLength]
    max_rebuffer_ratio: Annotated[StrictFloat, Field(ge=0, le=1)] = 0.005
    max_startup_p95_s: Annotated[StrictFloat, Field(gt=0)] = 2.0
    max_failure_rate: Annotated[StrictFloat, Field(ge=0, le=1)] = 0.0  # failed sessions
    alpha: Annotated[StrictFloat, Field(gt=0, lt=0.5)] = 0.01
    min_sessions: Annotated[StrictInt, Field(ge=3)] = 5  # per side for the comparison
    min_effect_s: Annotated[StrictFloat, Field(ge=0)] = (
        0.1  # smallest startup regression that fails
    )
    min_effect_ratio: Annotated[StrictFloat, Field(ge=1)] = 1.5

    @field_validator("master_path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"master_path must start with '/': {value}")
        return value


class CacheGate(_Model):
    """Cache-hit ratio (X-Cache-Status) and origin requests per viewer request,
    measured after a warm-up pass, changed vs baseline edges. With
    `fleet_peak_rps`, also the origin load this change would cause at the
    region's peak (peak x region weight x origin requests per viewer request),
    failing above `origin_capacity_rps`."""

    enabled: StrictBool = False
    master_path: str = "/vod/sample/master.m3u8"
    passes: Annotated[StrictInt, Field(ge=1, le=100)] = 3  # measured passes after the warm-up
    include_playlists: StrictBool = False  # playlists live seconds in cache: segments by default
    timeout_s: Annotated[StrictFloat, Field(gt=0, le=60)] = 5.0
    concurrency: Annotated[StrictInt, Field(ge=1, le=64)] = 4
    min_hit_ratio: Annotated[StrictFloat, Field(ge=0, le=1)] = 0.8
    max_hit_ratio_drop: Annotated[StrictFloat, Field(ge=0, le=1)] = 0.1  # vs baseline, absolute
    alpha: Annotated[StrictFloat, Field(gt=0, lt=0.5)] = 0.01
    min_requests: Annotated[StrictInt, Field(ge=1)] = 20  # measured requests per side
    fleet_peak_rps: Annotated[StrictFloat, Field(gt=0)] | None = (
        None  # viewer requests/s, whole env
    )
    origin_capacity_rps: Annotated[StrictFloat, Field(gt=0)] | None = None

    @field_validator("master_path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"master_path must start with '/': {value}")
        return value


class BurnWindow(_Model):
    """A multi-window burn-rate alert [Google SRE workbook, ch. 5]: fails when
    the burn rate exceeds `factor` over BOTH the long and the short window."""

    name: Annotated[str, Field(min_length=1)]
    long_s: Annotated[StrictFloat, Field(gt=0)]
    short_s: Annotated[StrictFloat, Field(gt=0)]
    factor: Annotated[StrictFloat, Field(gt=0)]

    @model_validator(mode="after")
    def _short_is_shorter(self) -> BurnWindow:
        if self.short_s >= self.long_s:
            raise ValueError(f"short_s ({self.short_s:g}) must be < long_s ({self.long_s:g})")
        return self


def _default_burn_windows() -> list[BurnWindow]:
    return [
        BurnWindow(name="fast", long_s=3600, short_s=300, factor=14.4),
        BurnWindow(name="slow", long_s=21600, short_s=1800, factor=6.0),
    ]


class SloBurnGate(_Model):
    """Error-budget burn rate from Prometheus over several windows.

    `errors_query` and `total_query` are PromQL templates: `{window}` becomes
    a range like `300s` (each window x `window_scale`, so a lab can use
    seconds for hours) and `{hosts}` a regex of the changed hosts' names.
    A window pair with fewer than `min_requests` requests is Inconclusive:
    a quiet PoP never passes by silence.
    """

    enabled: StrictBool = False
    url: PromUrl = None
    timeout_s: Annotated[StrictFloat, Field(gt=0, le=60)] = 5.0
    slo: Annotated[StrictFloat, Field(gt=0, lt=1)] = 0.999  # target success ratio
    # the metrics of `lab up --prometheus` (mtail on the nginx access log)
    errors_query: str = 'sum(increase(nginx_http_server_errors_total{{host=~"{hosts}"}}[{window}]))'
    total_query: str = 'sum(increase(nginx_http_requests_total{{host=~"{hosts}"}}[{window}]))'
    windows: list[BurnWindow] = Field(default_factory=_default_burn_windows)
    window_scale: Annotated[StrictFloat, Field(gt=0, le=1)] = 1.0
    min_requests: Annotated[StrictInt, Field(ge=1)] = 100  # per window

    @field_validator("errors_query", "total_query")
    @classmethod
    def _template(cls, value: str) -> str:
        if "{window}" not in value:
            raise ValueError("a burn-rate query needs the `{window}` placeholder")
        try:
            value.format(window="5m", hosts="h")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"bad query template ({exc}); only {{window}} and {{hosts}} are placeholders, "
                "write other braces twice: {{ }}"
            ) from None
        return value

    @field_validator("windows")
    @classmethod
    def _some_windows(cls, value: list[BurnWindow]) -> list[BurnWindow]:
        if not value:
            raise ValueError("at least one window")
        names = [w.name for w in value]
        if len(set(names)) != len(names):
            raise ValueError("window names must be unique")
        return value

    @model_validator(mode="after")
    def _needs_url(self) -> SloBurnGate:
        if self.enabled and not self.url:
            raise ValueError("the slo_burn gate is enabled but has no `url`")
        return self


class TlsCertGate(_Model):
    """After a certificate change: each changed edge presents, in a verified
    TLS handshake (gates.http's port, scheme https, ca_file), the fingerprint
    of the release's `cert_var` (a rollback: the restored release's). Off by
    default; `fleetctl certs rotate` turns it on."""

    enabled: StrictBool = False
    cert_var: str = "edge_tls_cert_pem"  # the extra var holding the served certificate
    timeout_s: Annotated[StrictFloat, Field(gt=0, le=60)] = 3.0


class Gates(_Model):
    http: HttpGate = HttpGate()
    canary_analysis: CanaryAnalysis = CanaryAnalysis()
    prometheus: PrometheusGate = PrometheusGate()
    hls_playback: HlsPlaybackGate = HlsPlaybackGate()
    cache: CacheGate = CacheGate()
    slo_burn: SloBurnGate = SloBurnGate()
    tls_cert: TlsCertGate = TlsCertGate()
    consecutive_error_limit: Annotated[StrictInt, Field(ge=1)] = DEFAULT_CONSECUTIVE_ERROR_LIMIT

    def enabled(self) -> list[GateName]:
        on = []
        if self.http.enabled:
            on.append(GateName.http)
        if self.canary_analysis.enabled:
            on.append(GateName.canary_analysis)
        if self.prometheus.enabled:
            on.append(GateName.prometheus)
        if self.hls_playback.enabled:
            on.append(GateName.hls_playback)
        if self.cache.enabled:
            on.append(GateName.cache)
        if self.slo_burn.enabled:
            on.append(GateName.slo_burn)
        if self.tls_cert.enabled:
            on.append(GateName.tls_cert)
        return on


class DeployWindow(_Model):
    """New steps start only inside this window (UTC unless `utc_offset_h`)."""

    days: list[Day] = _DAYS
    start: str = "00:00"
    end: str = "23:59"
    utc_offset_h: Annotated[StrictFloat, Field(ge=-12, le=14)] = 0.0

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"{value!r} is not a time like '09:30'")
        return value

    def _t(self, value: str) -> time:
        h, m = value.split(":")
        return time(int(h), int(m))

    def contains(self, moment_utc: datetime) -> bool:
        """Is this UTC moment inside the window? (An end before the start spans midnight.)"""
        local = moment_utc + timedelta(hours=self.utc_offset_h)
        day = _DAYS[local.weekday()]
        now = local.time().replace(second=0, microsecond=0)
        start, end = self._t(self.start), self._t(self.end)
        if start <= end:
            return day in self.days and start <= now <= end
        if now >= start:
            return day in self.days
        yesterday = _DAYS[(local.weekday() - 1) % 7]
        return yesterday in self.days and now <= end

    def window(self) -> windows.Window:
        """The same window as the per-region kind, in a fixed UTC offset (its end is
        inclusive to the minute, so it ends one minute later)."""
        tz, name = windows.fixed_offset(self.utc_offset_h)
        end = (datetime.combine(datetime.min, self._t(self.end)) + timedelta(minutes=1)).time()
        return windows.Window(
            tz=tz,
            tz_name=name,
            start=self._t(self.start),
            end=None if end == time(0, 0) else end,
            days=frozenset(_DAYS.index(d) for d in self.days),
            label=f"{','.join(self.days)} {self.start}-{self.end}, {name}",
        )


class RegionWindow(_Model):
    """A deploy window in a region's own local time: an IANA zone, so DST follows it.

    `{tz: Europe/Dublin, start: "02:00", end: "06:00", not_days: [fri]}`: new steps in
    that region start only from 02:00 to 06:00 Dublin time, any day but Friday. An end
    at or before the start spans midnight; "24:00" is the end of the day.
    """

    tz: str
    start: str = "00:00"
    end: str = windows.END_OF_DAY
    days: list[Day] = _DAYS
    not_days: list[Day] = Field(default_factory=list)

    @field_validator("tz")
    @classmethod
    def _zone(cls, value: str) -> str:
        windows.zone(value)
        return value

    @field_validator("start")
    @classmethod
    def _start(cls, value: str) -> str:
        windows.parse_hhmm(value)
        return value

    @field_validator("end")
    @classmethod
    def _end(cls, value: str) -> str:
        windows.parse_hhmm(value, allow_end_of_day=True)
        return value

    def window(self) -> windows.Window:
        return windows.Window(
            tz=windows.zone(self.tz),
            tz_name=self.tz,
            start=windows.parse_hhmm(self.start) or time(0, 0),
            end=windows.parse_hhmm(self.end, allow_end_of_day=True),
            days=frozenset(_DAYS.index(d) for d in self.days if d not in self.not_days),
        )


class NotifyEvent(StrEnum):
    started = "started"
    canary_passed = "canary_passed"
    gate_failed = "gate_failed"
    paused = "paused"  # an inconclusive gate, unreachable hosts, a freeze, a window
    approval_needed = "approval_needed"
    rolled_back = "rolled_back"
    completed = "completed"


class NotifyTarget(_Model):
    """A webhook to tell about a rollout. Its URL is a secret: the policy names where
    to read it (an env var or a file), never the URL, so it reaches no journal."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")]
    # A variable's name: a URL pasted here would be journaled with the policy.
    url_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")] | None = None
    url_file: str | None = None

    @field_validator("url_file")
    @classmethod
    def _a_path(cls, value: str | None) -> str | None:
        if value is not None and "://" in value:
            raise ValueError(
                "url_file is the path of a file holding the URL, not the URL (not shown: "
                "it would be stored with the rollout)"
            )
        return value

    format: Literal["slack", "json"] = "json"
    events: list[NotifyEvent] = Field(default_factory=lambda: list(NotifyEvent))

    @model_validator(mode="before")
    @classmethod
    def _no_url(cls, data: Any) -> Any:
        if isinstance(data, dict) and "url" in data:
            raise ValueError(
                "a webhook URL is a secret and would be stored with the rollout: put it in an "
                "env var and write `url_env: NAME` (or a file: `url_file: PATH`)"
            )
        return data

    @model_validator(mode="after")
    def _one_source(self) -> NotifyTarget:
        if (self.url_env is None) == (self.url_file is None):
            raise ValueError(f"notify target {self.name!r}: set exactly one of url_env, url_file")
        return self


def _default_waves() -> list[Wave]:
    return [Wave(size=1), Wave(size="10%"), Wave(size="50%"), Wave(size="100%")]


class Policy(_Model):
    canary: Canary = Canary()
    waves: list[Wave] = Field(default_factory=_default_waves)
    region_order: Literal["traffic"] | list[str] = "traffic"
    bake_s: Annotated[StrictFloat, Field(ge=0)] = DEFAULT_BAKE_S
    progress_deadline_s: Annotated[StrictFloat, Field(gt=0)] = DEFAULT_PROGRESS_DEADLINE_S
    max_failed_hosts: Annotated[StrictInt, Field(ge=0)] = DEFAULT_FAILURE_LIMIT
    max_unreachable_hosts: Annotated[StrictInt, Field(ge=0)] = 0
    gates: Gates = Gates()
    deploy_window: DeployWindow | None = None
    # Per region (key "*": every region not listed), each in its own time zone.
    deploy_windows: dict[str, RegionWindow] = Field(default_factory=dict)
    notify: list[NotifyTarget] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_kind_of_window(self) -> Policy:
        if self.deploy_window is not None and self.deploy_windows:
            raise ValueError(
                "deploy_window (one UTC offset) and deploy_windows (per region, local time) "
                "are both set: keep deploy_windows and move the old one under '*', e.g. "
                "deploy_windows: {'*': {tz: Europe/Dublin, start: '09:00', end: '16:00'}}"
            )
        return self

    def window_for(self, region: str) -> windows.Window | None:
        """The deploy window a step in `region` must start in, if any."""
        if self.deploy_windows:
            chosen = self.deploy_windows.get(region) or self.deploy_windows.get("*")
            return chosen.window() if chosen else None
        return self.deploy_window.window() if self.deploy_window else None

    def window_closed(self, region: str, now: datetime) -> str | None:
        """Why a step in `region` may not start at `now` (None: it may)."""
        w = self.window_for(region)
        if w is None or windows.is_open(w, now):
            return None
        nxt = windows.next_open(w, now)
        when = f"; opens {windows.local_text(w, nxt)}" if nxt else "; it never opens"
        return f"outside {region}'s deploy window ({w.describe()}){when}"

    @field_validator("waves", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        """`waves: [1, "10%", {size: "50%", approval: true}]`: scalars are sizes."""
        if isinstance(value, list):
            return [v if isinstance(v, dict) else {"size": v} for v in value]
        return value

    @field_validator("waves")
    @classmethod
    def _nonempty(cls, value: list[Wave]) -> list[Wave]:
        if not value:
            raise ValueError("at least one wave")
        return value

    @model_validator(mode="after")
    def _canary_can_be_judged(self) -> Policy:
        http, ca = self.gates.http, self.gates.canary_analysis
        if http.enabled and ca.enabled and http.samples * self.canary.hosts < ca.min_samples:
            raise ValueError(
                f"gates.canary_analysis.min_samples ({ca.min_samples}) is more latency samples "
                f"than the canary gives (gates.http.samples {http.samples} x canary.hosts "
                f"{self.canary.hosts}): every canary would be Inconclusive"
            )
        return self

    @field_validator("region_order")
    @classmethod
    def _unique_regions(cls, value: Literal["traffic"] | list[str]) -> Any:
        if isinstance(value, list) and len(set(value)) != len(value):
            raise ValueError("regions in region_order must be unique")
        return value


DEFAULT_POLICY = Policy()
