"""A real HTTP receiver on 127.0.0.1 for webhook tests: records every POST body, and can
answer with errors first (to exercise retries)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Receiver:
    url: str = ""
    posts: list[tuple[str, Any]] = field(default_factory=list)  # (path, JSON body)
    fail_first: int = 0  # answer 500 to this many requests first
    seen: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self, path: str | None = None) -> list[Any]:
        with self.lock:
            return [b for p, b in self.posts if path is None or p == path]


@contextmanager
def receiver(fail_first: int = 0) -> Iterator[Receiver]:
    rec = Receiver(fail_first=fail_first)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            with rec.lock:
                rec.seen += 1
                failing = rec.seen <= rec.fail_first
                if not failing:
                    rec.posts.append((self.path, json.loads(raw)))
            self.send_response(500 if failing else 200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
