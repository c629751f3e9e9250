"""``GET /.well-known/jwks.json``: the public keys the gateway signs ``private_key_jwt`` client
assertions with, for providers that fetch them (RFC 7517). Served on the public listener too; never
a private part (``ClientKey.public_jwk``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.resources import resources

# Providers cache the set; a key added to a profile is published at the next start-up anyway.
CACHE_CONTROL = "public, max-age=300"


async def jwks(request: Request) -> Response:
    keys = resources(request).providers.public_keys()
    return JSONResponse({"keys": keys}, headers={"Cache-Control": CACHE_CONTROL})
