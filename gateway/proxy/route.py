"""The proxy's place in the URL map: everything below ``/proxy/users/``, however odd.

Starlette's path patterns do not match some paths (a decoded newline, for one), which would make
them 404s; the proxy must see every such path itself and refuse it as 400 ``invalid_path``. A prefix
test is also all the matching the hot path needs.
"""

from __future__ import annotations

from starlette.routing import Match, Route
from starlette.types import Scope

from gateway.proxy.endpoints import ProxyEndpoint
from gateway.proxy.paths import PREFIX, TEMPLATE, route_path

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class ProxyRoute(Route):
    def __init__(self) -> None:
        super().__init__(TEMPLATE, ProxyEndpoint(), methods=METHODS)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or not route_path(scope["path"], scope).startswith(PREFIX):
            return Match.NONE, {}
        child_scope = {"endpoint": self.endpoint, "path_params": {}}
        if self.methods and scope["method"] not in self.methods:
            return Match.PARTIAL, child_scope
        return Match.FULL, child_scope
