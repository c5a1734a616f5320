"""The cache probe: X-Cache-Status of an edge's HLS objects after a warm-up.

Per edge it discovers the objects a viewer would fetch (master playlist,
every rendition's media playlist and segments, parsed with `m3u8`) from the
edge itself, fetches each once to warm the cache (not counted), then fetches
them `passes` more times and records the `X-Cache-Status` of each answer.
Playlists are short-lived in cache by design (seconds), so only segments are
measured unless `include_playlists` is set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin

from fleetctl.adapters import http_probe
from fleetctl.adapters.hls_client import Edge
from fleetctl.core.cache_gate import CacheRead
from fleetctl.core.policy import CacheGate


def objects(edge: Edge, cfg: CacheGate) -> tuple[list[str], list[str]]:
    """(playlist URLs, segment URLs) of the master playlist on this edge.
    Raises ValueError when the master playlist cannot be read."""
    import m3u8

    def load(url: str) -> m3u8.M3U8:
        import urllib.request  # http_probe does not keep bodies

        req = urllib.request.Request(url, headers={"User-Agent": "fleetctl-cache-probe"})
        ctx = http_probe.tls_context(edge.ca_file) if url.startswith("https:") else None
        with urllib.request.urlopen(req, timeout=cfg.timeout_s, context=ctx) as resp:
            return m3u8.loads(resp.read().decode("utf-8"), uri=url)

    master_url = edge.base_url + cfg.master_path
    try:
        master = load(master_url)
        media_urls = [urljoin(master_url, p.uri) for p in master.playlists] or [master_url]
        playlists = [master_url, *[u for u in media_urls if u != master_url]]
        segments: list[str] = []
        for url in media_urls:
            pl = master if url == master_url else load(url)
            segments += [urljoin(url, s.uri) for s in pl.segments]
    except (OSError, UnicodeDecodeError, ValueError, AttributeError) as exc:
        why = http_probe.describe(exc) if isinstance(exc, OSError) else str(exc)
        raise ValueError(f"{edge.host}: cannot read {cfg.master_path}: {why}") from None
    return playlists, segments


def read(
    edges: Sequence[Edge],
    cfg: CacheGate,
    *,
    stop: Callable[[], bool] | None = None,
) -> tuple[list[CacheRead], list[str]]:
    """(measured reads, problems). An edge whose playlists cannot be read
    gives no reads and one problem (the gate sees too few reads)."""
    problems: list[str] = []
    urls: dict[str, list[str]] = {}
    for e in edges:
        try:
            playlists, segments = objects(e, cfg)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        urls[e.host] = segments + (playlists if cfg.include_playlists else [])
    by_host = {e.host: e for e in edges}
    out: list[CacheRead] = []

    def one(host: str, url: str, counted: bool) -> CacheRead | None:
        if stop is not None and stop():
            return None
        res = http_probe.get(url, cfg.timeout_s, by_host[host].ca_file)
        if not counted:
            return None
        return CacheRead(host, res.status, res.headers.get("x-cache-status", ""))

    # The warm-up pass (every object of every edge) finishes before the
    # measured passes; edges interleave so changed and baseline share the load.
    with ThreadPoolExecutor(max_workers=max(1, cfg.concurrency)) as pool:
        for p in range(1 + cfg.passes):
            todo = [(h, u, p > 0) for h in by_host if h in urls for u in urls[h]]
            for r in pool.map(lambda j: one(*j), todo):
                if r is not None:
                    out.append(r)
    return out, problems
