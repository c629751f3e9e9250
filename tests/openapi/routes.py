"""The URL map of gateway/routes.py as operations: (method, path template), mounts flattened, HEAD
included where Starlette adds it to GET."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from starlette.routing import BaseRoute, Mount, Route

from gateway.routes import routes

Operation = tuple[str, str]

# A value for each path parameter the map has, so that a probe reaches its route.
SAMPLES = {
    "user_id": "probe-user",
    "path": "profile",
    "connection_id": "00000000-0000-4000-8000-000000000000",
    "provisioning_id": "00000000-0000-4000-8000-000000000001",
    "entry_id": "00000000-0000-4000-8000-000000000002",
    "key_id": "00000000-0000-4000-8000-000000000003",
    "subscription_id": "00000000-0000-4000-8000-000000000004",
    "delivery_id": "00000000-0000-4000-8000-000000000005",
    "name": "probe-client",
}


def _walk(prefix: str, found: Sequence[BaseRoute]) -> Iterator[Operation]:
    for route in found:
        if isinstance(route, Mount):
            yield from _walk(prefix + route.path, route.routes)
        elif isinstance(route, Route):
            for method in sorted(route.methods or ()):
                yield method, prefix + route.path
        else:
            raise AssertionError(f"{route!r}: a kind of route this list does not know")


def operations() -> list[Operation]:
    return list(_walk("", routes))


def template(path: str) -> str:
    """``path`` as OpenAPI writes it: converters dropped (``{path:path}`` is ``{path}``)."""
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path)


def concrete(path: str) -> str:
    """``path`` with every parameter filled from ``SAMPLES``."""
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda match: SAMPLES[match.group(1)], path)
