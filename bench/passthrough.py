"""The fastest bare pass-through this design allows in Python: a plain ASGI handler and one shared
``aiohttp.ClientSession``; no Starlette, no authentication, database or crypto.

Served like the gateway (uvicorn, uvloop, httptools, one worker) with ``BENCH_UPSTREAM`` naming the
upstream's origin: ``uvicorn bench.passthrough:app``. It is the ceiling the gateway is held to.
"""

from __future__ import annotations

import os

import aiohttp
from starlette.types import Receive, Scope, Send
from yarl import URL

MAX_CONNECTIONS = 512  # the gateway's default proxy_max_connections


async def lifespan(scope: Scope, receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            scope["state"]["upstream"] = os.environ["BENCH_UPSTREAM"].rstrip("/")
            scope["state"]["session"] = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS, limit_per_host=0),
                auto_decompress=False,
            )
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await scope["state"]["session"].close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await lifespan(scope, receive, send)
        return
    session: aiohttp.ClientSession = scope["state"]["session"]
    body = b""
    more = scope["method"] not in ("GET", "HEAD")
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    target = scope["state"]["upstream"] + scope["raw_path"].decode("latin-1")
    if scope["query_string"]:
        target += "?" + scope["query_string"].decode("latin-1")
    async with session.request(
        scope["method"], URL(target, encoded=True), data=body or None, allow_redirects=False
    ) as response:
        content = await response.read()
        headers = [(b"content-length", str(len(content)).encode())]
        if "Content-Type" in response.headers:
            headers.append((b"content-type", response.headers["Content-Type"].encode("latin-1")))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": content})
