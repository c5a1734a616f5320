"""A tiny HTTP server that answers `GET /delay/<ms>` with 204 after <ms> milliseconds.

The lab runs one (supervised) so the edge role can add a precise response
delay (`edge_response_delay_ms`) through nginx `auth_request`, which stock
nginx-light cannot do on its own. Run: `python -m fleetctl.adapters.slow_http ADDR PORT`.
"""

from __future__ import annotations

import asyncio
import sys

_MAX_DELAY_MS = 60_000


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            line = head.split(b"\r\n", 1)[0].decode(errors="replace")
            parts = line.split()
            path = parts[1] if len(parts) > 1 else "/"
            status = "204 No Content"
            if path.startswith("/delay/"):
                try:
                    ms = min(max(int(path.rsplit("/", 1)[1]), 0), _MAX_DELAY_MS)
                except ValueError:
                    ms, status = 0, "400 Bad Request"
                await asyncio.sleep(ms / 1000)
            elif path != "/healthz":
                status = "404 Not Found"
            writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n".encode())
            await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        pass
    finally:
        writer.close()


async def _serve(addr: str, port: int) -> None:
    server = await asyncio.start_server(_handle, addr, port)
    async with server:
        await server.serve_forever()


def main(argv: list[str]) -> None:
    addr, port = argv[0], int(argv[1])
    asyncio.run(_serve(addr, port))


if __name__ == "__main__":
    main(sys.argv[1:])
