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
- ``POST /_sandbox/events`` with ``{"event_type"[, "user_id" | "email"][, "data"]}`` sends one of
  Contio's event types now, with realistic ``data`` about that user's own records (``data``, if
  given, overrides fields of it), through the same filter, switches and delivery log as events
  of real changes: 202 ``{"event": envelope | null, "delivery": {"id", "status"} | null}`` (null
  when there is no webhook URL or the filter leaves the type out). ``partner.idp.*`` types are
  partner-level and take no user; every other type needs one. ``GET`` lists the catalogue.
- ``POST /_sandbox/groups`` with ``{"email", "groups": [...]}`` sets that user's groups (the
  ``groups`` claim of their ID tokens and userinfo, the sandbox acting as a company's identity
  provider), creating the user if need be: 200 ``{"email", "groups"}``.
- ``POST /_sandbox/sign-ins/age`` with ``{"email", "seconds"}`` moves that user's sign-ins at the
  sandbox that many seconds into the past (their ``auth_time``), as if that time had passed.

Changing the faults also clears the rate limiter's windows, so switching limits on starts afresh.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway_sandbox.errors import ApiError
from gateway_sandbox.json_bodies import json_object
from gateway_sandbox.state import event_catalogue, event_samples
from gateway_sandbox.state.content_records import rfc3339
from gateway_sandbox.state.records import User
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

    async def events(self, request: Request) -> Response:
        if request.method == "GET":
            listed = [
                {
                    "event_type": name,
                    "family": event_catalogue.family(name),
                    "partner_level": event_catalogue.is_partner_level(name),
                }
                for name in event_catalogue.EVENT_TYPES
            ]
            return JSONResponse({"event_types": listed})
        body = await _json_object(request)
        event_type, overrides = body.get("event_type"), body.get("data", {})
        if event_type not in event_catalogue.EVENT_TYPES:
            raise ApiError(
                400,
                "invalid_request",
                "event_type must be one of Contio's event types.",
                extra={"valid_event_types": list(event_catalogue.EVENT_TYPES)},
            )
        if not isinstance(overrides, dict):
            raise ApiError(400, "invalid_request", "data must be an object.")
        user = self._user(body)
        if (user is None) != event_catalogue.is_partner_level(event_type):
            need = "takes no user" if user is not None else "needs a user_id or email"
            raise ApiError(400, "invalid_request", f"{event_type} {need}.")
        data = event_samples.sample(event_type, self._subject(user), self.store.now())
        actor = None if event_type in event_catalogue.SYSTEM_EVENTS else user
        record = self.store.events.publish(event_type, {**data, **overrides}, user, actor)
        if record is None:
            return JSONResponse({"event": None, "delivery": None}, 202)
        delivery = {"id": str(record.id), "status": record.status}
        return JSONResponse({"event": json.loads(record.body), "delivery": delivery}, 202)

    async def groups(self, request: Request) -> Response:
        body = await _json_object(request)
        email, groups = body.get("email"), body.get("groups")
        if not isinstance(email, str) or not email:
            raise ApiError(400, "invalid_request", "email is required.")
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise ApiError(400, "invalid_request", "groups must be a list of strings.")
        user = self.store.sign_in(email)
        self.store.sign_ins.set_groups(user.email, groups)
        return JSONResponse({"email": user.email, "groups": groups})

    async def age_sign_ins(self, request: Request) -> Response:
        body = await _json_object(request)
        email, seconds = body.get("email"), body.get("seconds")
        if not isinstance(email, str) or not isinstance(seconds, int) or seconds < 0:
            raise ApiError(400, "invalid_request", "email and a number of seconds are required.")
        self.store.sign_ins.age(email.strip().lower(), seconds)
        return JSONResponse({"email": email, "seconds": seconds})

    def _user(self, body: dict[str, Any]) -> User | None:
        """The user named by ``user_id`` or ``email``; None when neither is given."""
        user_id, email = body.get("user_id"), body.get("email")
        if user_id is None and email is None:
            return None
        found = None
        if isinstance(email, str):
            found = self.store.user_by_email(email.strip().lower())
        elif isinstance(user_id, str):
            try:
                found = self.store.user_by_id(UUID(user_id))
            except ValueError:
                found = None
        if found is None:
            raise ApiError(404, "not_found", "No such user.")
        return found

    def _subject(self, user: User | None) -> event_samples.Subject:
        """The user's latest meeting with action items (else their latest), its first action and
        agenda items, their first calendar event and their connection, where they have them."""
        if user is None:
            return event_samples.Subject()
        content = self.store.content(user.workspace_id)
        meetings, items = content.meetings(), content.action_items()
        with_items = {item.meeting_id for item in items}
        meeting = next((m for m in meetings if m.id in with_items), next(iter(meetings), None))
        of_meeting = [] if meeting is None else content.agenda_items(meeting.id)
        return event_samples.Subject(
            user=user,
            connection_id=self.store.connection_id(user),
            meeting=meeting,
            action_item=next((i for i in items if meeting and i.meeting_id == meeting.id), None),
            agenda_item=next(iter(of_meeting), None),
            calendar_event=next(iter(content.calendar_events()), None),
        )


async def _json_object(request: Request) -> dict[str, Any]:
    return json_object(await request.body())
