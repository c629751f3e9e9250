"""``GET /v1/keys`` and ``POST /v1/keys/rotation`` (the ``security`` role's, ``clients.authorization``):
what each encryption key seals, and a confirmed, bounded step of re-sealing under the active key
(``resealing``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.clients.authorization import authorize
from gateway.keys import resealing
from gateway.kit.request_body import parse_json
from gateway.resources import resources

MAX_CONFIRM = 1_000_000_000


class RotationRequest(BaseModel):
    """``confirm``: the number of values sealed under another key than the active one."""

    model_config = ConfigDict(extra="forbid")

    confirm: int | None = Field(None, ge=0, le=MAX_CONFIRM, strict=True)


async def key_status(request: Request) -> Response:
    await authorize(request)
    res = resources(request)
    return JSONResponse((await resealing.key_status(res.db, res.keys)).json())


async def rotate(request: Request) -> Response:
    caller = await authorize(request)
    body = await parse_json(request, RotationRequest)
    res = resources(request)
    step = await resealing.reseal_step(res.db, res.keys, confirm=body.confirm, actor=caller.actor)
    return JSONResponse(step.json())
