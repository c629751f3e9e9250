"""``/_sandbox/``: the control API for tests and developers. It exists only in the sandbox (Contio
has nothing like it) and needs no authentication, being a local development tool.

- ``GET /_sandbox/faults`` shows the fault switches; ``POST`` updates some of them (a JSON object
  of ``Faults`` fields); ``DELETE`` resets them to what the sandbox started with.
- ``GET /_sandbox/stats`` shows the counters (see ``stats``); ``POST /_sandbox/stats/reset`` zeroes
  them.
- ``GET /_sandbox/executions`` counts executed mutating requests per ``"METHOD /path"`` (reset
  with the stats), so a test can tell "executed once" from "executed twice".
- ``POST /_sandbox/connections/revoke`` with ``{"email": ...}`` revokes that user's connection as an
  admin would, webhook included; it answers ``{"revoked_grants": n}``.
- ``GET /_sandbox/outbox[?email=...]`` shows the one-time codes the sandbox would have emailed,
  oldest first: ``{"messages": [{"email", "code", "sent_at"}]}``; ``DELETE`` empties it.
- ``POST /_sandbox/grants`` with ``{"email", "count"[, "scope"]}`` issues ``count`` grants to that
  user at once, as if each consent had been given and its code redeemed (for benchmarks that need
  many refresh tokens): ``{"subject", "scope", "expires_in", "grants": [{"access_token",
  "refresh_token"}]}``. At most ``MAX_GRANTS`` a call.
- ``POST /_sandbox/instance`` with ``{"instance_url": ...}`` moves a Salesforce-like sandbox's
  instance: the token responses from then on name it (``{origin}`` as in ``--instance-url``); 409
  ``no_instances`` for a sandbox started without one.

Changing the faults also clears the rate limiter's windows, so switching limits on starts afresh.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway_sandbox.errors import ApiError
from gateway_sandbox.json_bodies import json_object
from gateway_sandbox.state.content_records import rfc3339
from gateway_sandbox.state.store import SandboxStore

MAX_GRANTS = 10_000


class ControlApi:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    async def faults(self, request: Request) -> Response:
        switch = self.store.faults
        if request.method == "POST":
            changes = await _json_object(request)
            try:
                switch.update(changes)
            except (TypeError, ValueError) as exc:
                raise ApiError(400, "invalid_request", str(exc)) from exc
        elif request.method == "DELETE":
            switch.reset()
        if request.method != "GET":
            self.store.rate_limiter.reset()
        return JSONResponse(switch.current().to_json())

    async def stats(self, request: Request) -> Response:
        return JSONResponse(self.store.stats())

    async def reset_stats(self, request: Request) -> Response:
        self.store.reset_stats()
        return JSONResponse(self.store.stats())

    async def executions(self, request: Request) -> Response:
        return JSONResponse(self.store.counters.executions_by_route())

    async def outbox(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.store.challenges.clear_outbox()
        email = request.query_params.get("email")
        messages = self.store.challenges.outbox(email.strip().lower() if email else None)
        shown = [
            {"email": m.email, "code": m.code, "sent_at": rfc3339(m.sent_at)} for m in messages
        ]
        return JSONResponse({"messages": shown})

    async def revoke_connection(self, request: Request) -> Response:
        email = (await _json_object(request)).get("email")
        if not isinstance(email, str) or not email.strip():
            raise ApiError(400, "invalid_request", "email is required.")
        return JSONResponse({"revoked_grants": self.store.revoke_user(email)})

    async def issue_grants(self, request: Request) -> Response:
        body = await _json_object(request)
        email, count, scope = body.get("email"), body.get("count"), body.get("scope", "openid")
        if not isinstance(email, str) or not email.strip() or not isinstance(scope, str):
            raise ApiError(400, "invalid_request", "email (and scope, if given) must be strings.")
        if not isinstance(count, int) or not 1 <= count <= MAX_GRANTS:
            raise ApiError(400, "invalid_request", f"count must be 1 to {MAX_GRANTS}.")
        store, options = self.store, self.store.options
        user = store.sign_in(email)
        redirect_uri = options.redirect_uris[0]
        grants = []
        for _ in range(count):
            code = store.issue_code(user, redirect_uri, tuple(scope.split()), None, None)
            tokens = store.redeem_code(code, options.client_id, redirect_uri, None)
            grants.append(
                {
                    "access_token": tokens.access_token.token,
                    "refresh_token": tokens.refresh_token.token,
                }
            )
        shown = {"subject": str(user.id), "scope": scope, "expires_in": options.access_token_ttl}
        return JSONResponse({**shown, "grants": grants})

    async def move_instance(self, request: Request) -> Response:
        url = (await _json_object(request)).get("instance_url")
        if not isinstance(url, str) or not url.strip():
            raise ApiError(400, "invalid_request", "instance_url is required.")
        if self.store.instance_url is None:
            raise ApiError(409, "no_instances", "This sandbox was started without instances.")
        self.store.instance_url = url.strip()
        return JSONResponse({"instance_url": self.store.instance_url})


async def _json_object(request: Request) -> dict[str, Any]:
    return json_object(await request.body())
