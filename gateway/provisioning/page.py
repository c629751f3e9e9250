"""The verify page: where the user types the code the provider mailed them.

``GET /provision/{id}?token=...`` shows the form; the form posts the code *and the token* back to
``POST /provision/{id}``. The token is the page's only credential and travels in the form body, never
in a cookie, so another site cannot make a browser post for the user (no CSRF), and the pages carry
the gateway's no-store, no-referrer, no-framing headers (``gateway.pages``).
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from gateway.exceptions import GatewayError
from gateway.kit.clock import utcnow
from gateway.kit.request_body import read_body
from gateway.models import Provisioning, ProvisioningStatus
from gateway.pages import failure_page, render
from gateway.providers.errors import ProviderUnavailable
from gateway.providers.partner_auth import InvalidCode
from gateway.provisioning import service, store
from gateway.provisioning.errors import ProvisioningInProgress, ProvisioningNotFound
from gateway.resources import Resources, resources

MAX_FORM_BYTES = 4096
MAX_CODE_LENGTH = 32
# Errors after which typing the code again can still work: the form is shown again.
RETRYABLE = (InvalidCode, ProvisioningInProgress, ProviderUnavailable)


def _id(request: Request) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.path_params["provisioning_id"])
    except ValueError:
        return None


async def _find(res: Resources, provisioning_id: uuid.UUID | None, token: str) -> Provisioning:
    if provisioning_id is None or not token:
        raise ProvisioningNotFound()
    async with res.db.transaction() as session:
        found = await store.find(session, provisioning_id, store.Access(token=token))
    if found is None:
        raise ProvisioningNotFound()
    return found


async def show(request: Request) -> Response:
    """``GET /provision/{id}?token=...``: the form, or how the provisioning ended."""
    res = resources(request)
    token = request.query_params.get("token", "")
    try:
        provisioning = await _find(res, _id(request), token)
    except ProvisioningNotFound as exc:
        return _result(exc)
    status, failure_code = service.state(provisioning, utcnow())
    if status is ProvisioningStatus.CONNECTED:
        return _connected(provisioning)
    if status is ProvisioningStatus.FAILED:
        return _result(service.failure(failure_code))
    return _form(res, provisioning, token)


async def submit(request: Request) -> Response:
    """``POST /provision/{id}`` with ``token`` and ``code``: verify, then show the outcome."""
    res = resources(request)
    raw = await read_body(request, MAX_FORM_BYTES)
    fields = dict(parse_qsl(raw.decode("utf-8", "replace")))
    token, code = fields.get("token", ""), fields.get("code", "").strip()
    try:
        provisioning = await _find(res, _id(request), token)
    except ProvisioningNotFound as exc:
        return _result(exc)
    if not code or len(code) > MAX_CODE_LENGTH:
        return _form(res, provisioning, token, message="Enter the code from the email.", status=400)
    try:
        provisioning = await service.verify(res, provisioning.id, code, store.Access(token=token))
    except RETRYABLE as exc:
        return _form(res, provisioning, token, message=_retry_message(exc), error=exc)
    except GatewayError as exc:
        return _result(exc)
    return _connected(provisioning)


def _retry_message(exc: GatewayError) -> str:
    if isinstance(exc, InvalidCode):
        left = exc.attempts_remaining
        suffix = f" {left} attempt{'s' if left != 1 else ''} left." if left is not None else ""
        return "That code is not correct." + suffix
    if isinstance(exc, ProvisioningInProgress):
        return "Your code is being checked already; wait a moment and try again."
    return "Contio cannot be reached right now; wait a minute and try again."


def _form(
    res: Resources,
    provisioning: Provisioning,
    token: str,
    *,
    message: str | None = None,
    error: GatewayError | None = None,
    status: int = 200,
) -> HTMLResponse:
    response = render(
        "provision_verify.html",
        status_code=error.status_code if error is not None else status,
        action=f"{res.settings.public_url}/provision/{provisioning.id}",
        token=token,
        email=provisioning.email,
        provider=provisioning.provider,
        message=message,
        code=error.code if error is not None else None,
    )
    if error is not None:
        response.headers.update(error.headers)
    return response


def _connected(provisioning: Provisioning) -> HTMLResponse:
    return render(
        "connect_result.html",
        ok=True,
        provider=provisioning.provider,
        connection_id=provisioning.connection_id,
    )


def _result(exc: GatewayError) -> HTMLResponse:
    return failure_page(exc.status_code, exc.code, exc.message)
