"""The console's one stylesheet, served from the package (the pages' CSP allows no inline style)."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from starlette.requests import Request
from starlette.responses import Response


@lru_cache(maxsize=1)
def _stylesheet() -> str:
    return (files("gateway.console") / "console.css").read_text()


async def stylesheet(request: Request) -> Response:
    return Response(_stylesheet(), media_type="text/css")
