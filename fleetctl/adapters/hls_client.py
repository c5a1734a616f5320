"""A player-like HLS client: what one viewer's player would fetch, and when.

Per session: the master playlist, the rendition an ABR player would pick
(core.playback.choose_rendition on the throughput estimate), its media
playlist, then `segments` segments in order, paced as playback would (never
more than `max_buffer_s` of media ahead), switching rendition when the
measured throughput says so. It records when each fetch started and ended;
the verdict (stalls, startup, rebuffer ratio) is computed in core.playback.

Playlists are parsed with the `m3u8` library, not by hand. One keep-alive
connection per session, like a player's.
"""

from __future__ import annotations

import http.client
import ssl
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from fleetctl.adapters import http_probe
from fleetctl.core.playback import (
    SegmentFetch,
    Session,
    choose_rendition,
    ewma,
    wait_before_next,
)
from fleetctl.core.policy import HlsPlaybackGate

_UA = "fleetctl-player"


@dataclass(frozen=True)
class Edge:
    host: str  # inventory name
    base_url: str  # http://127.0.x.y:PORT or https://... (verified)
    ca_file: str | None = None  # the CA https is verified against (None: system store)


class _Fetch(Exception):
    """A fetch that a player would count as a playback failure."""


class _Conn:
    """One keep-alive HTTP connection, reopened when the server closed it."""

    def __init__(self, base_url: str, timeout_s: float, ca_file: str | None = None) -> None:
        self.base_url, self.ca_file = base_url, ca_file
        self.timeout_s = timeout_s
        self._c: http.client.HTTPConnection | None = None

    def get(self, url: str, what: str) -> bytes:
        path = urlsplit(url).path or "/"
        for attempt in (1, 2):
            if self._c is None:
                self._c = http_probe.connection(self.base_url, self.timeout_s, self.ca_file)
            try:
                self._c.request("GET", path, headers={"User-Agent": _UA})
                resp = self._c.getresponse()
                body = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt == 2:
                    raise _Fetch(f"{what} connection lost") from None
                continue
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                if isinstance(exc, ssl.SSLError):  # the verifier's reason, e.g. a foreign CA
                    raise _Fetch(f"{what}: {http_probe.describe(exc)}") from None
                raise _Fetch(f"{what} {type(exc).__name__}") from None
            if resp.status != 200:
                raise _Fetch(f"{what} {resp.status}")
            return body
        raise _Fetch(f"{what} connection lost")  # pragma: no cover - loop always returns

    def close(self) -> None:
        if self._c is not None:
            self._c.close()
            self._c = None


def _parse(body: bytes, uri: str, what: str) -> object:
    import m3u8

    try:
        return m3u8.loads(body.decode("utf-8"), uri=uri)
    except (UnicodeDecodeError, ValueError, AttributeError, IndexError) as exc:
        raise _Fetch(f"bad {what} ({type(exc).__name__})") from None


def play(
    edge: Edge,
    cfg: HlsPlaybackGate,
    *,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], None] = time.sleep,
) -> Session:
    """One viewer session on one edge."""
    conn = _Conn(edge.base_url, cfg.timeout_s, edge.ca_file)
    t0 = clock()
    rendition = 0.0
    segs: list[SegmentFetch] = []
    playlists_s = 0.0
    try:
        master_url = edge.base_url + cfg.master_path
        master_body = conn.get(master_url, "master")
        master = _parse(master_body, master_url, "master playlist")
        variants = list(getattr(master, "playlists", []))
        if variants:
            bandwidths = [float(v.stream_info.bandwidth or 0) for v in variants]
            media_urls = [urljoin(master_url, v.uri) for v in variants]
        else:  # a media playlist given as the master: one rendition
            bandwidths, media_urls = [0.0], [master_url]
        estimate: float | None = None
        pick = choose_rendition(bandwidths, cfg.initial_bandwidth_bps, cfg.abr_safety)
        media: dict[int, list[tuple[str, float]]] = {}

        def segments_of(i: int) -> list[tuple[str, float]]:
            if i not in media:
                url = media_urls[i]
                body = master_body if url == master_url else conn.get(url, "media playlist")
                pl = _parse(body, url, "media playlist")
                items = [
                    (urljoin(url, s.uri), float(s.duration or 0.0))
                    for s in getattr(pl, "segments", [])
                ]
                if not items:
                    raise _Fetch("bad media playlist (no segments)")
                media[i] = items
            return media[i]

        segments_of(pick)
        playlists_s = clock() - t0
        for n in range(cfg.segments):
            items = segments_of(pick)
            if n >= len(items):
                break  # a short VOD: it has ended
            wait = wait_before_next(segs, clock() - t0, cfg.max_buffer_s)
            if wait > 0:
                sleep(wait)
            url, duration = items[n]
            rendition = bandwidths[pick]
            start = clock() - t0
            body = conn.get(url, "segment")
            end = clock() - t0
            segs.append(SegmentFetch(duration, start, end, len(body)))
            took = max(end - start, 1e-6)
            estimate = ewma(estimate, len(body) * 8 / took)
            pick = choose_rendition(bandwidths, estimate, cfg.abr_safety)
    except _Fetch as exc:
        return Session(edge.host, rendition, playlists_s, tuple(segs), failure=str(exc))
    finally:
        conn.close()
    if not segs:
        return Session(edge.host, rendition, playlists_s, (), failure="no segments played")
    return Session(edge.host, rendition, playlists_s, tuple(segs))


def sessions(
    edges: Sequence[Edge],
    cfg: HlsPlaybackGate,
    *,
    stop: Callable[[], bool] | None = None,
) -> list[Session]:
    """`cfg.sessions` sessions per edge, changed and baseline interleaved
    round by round so both see the same machine load."""
    jobs = [e for _ in range(cfg.sessions) for e in edges]
    out: list[Session] = []

    def one(e: Edge) -> Session | None:
        if stop is not None and stop():
            return None
        return play(e, cfg)

    with ThreadPoolExecutor(max_workers=max(1, cfg.concurrency)) as pool:
        for s in pool.map(one, jobs):
            if s is not None:
                out.append(s)
    return out
