"""The encryption keys' page (``security``): what each key seals, and re-sealing under the active
key (``keys.resealing``), a dangerous action.

The rotation's confirmation step shows how many values are sealed under another key and a field
where the operator types that number; it and the re-sealing need a fresh sign-in
(``guard.fresh_sign_in_needed``). Each re-sealing is one bounded step, audited as the operator's;
what is left is shown with the form again, to confirm the next step.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.console.guard import Operator, fresh_sign_in_needed, operator_page
from gateway.console.render import page
from gateway.exceptions import ConfirmationRequired
from gateway.keys.resealing import Step, key_status, reseal_step
from gateway.resources import resources

PATH = "/console/keys"
ROTATION = "/console/keys/rotation"


@operator_page
async def show(request: Request, operator: Operator) -> Response:
    res = resources(request)
    return page(
        "keys.html", operator=operator, status=await key_status(res.db, res.keys), confirm=False
    )


async def _rotation(
    request: Request,
    operator: Operator,
    *,
    step: Step | None = None,
    refused: str | None = None,
    status_code: int = 200,
) -> Response:
    res = resources(request)
    status = step.status if step is not None else await key_status(res.db, res.keys)
    return page(
        "keys.html",
        status_code=status_code,
        operator=operator,
        status=status,
        confirm=True,
        step=step,
        refused=refused,
    )


@operator_page
async def confirm_rotation(request: Request, operator: Operator) -> Response:
    """The confirmation step (after a fresh sign-in)."""
    return fresh_sign_in_needed(request, operator, ROTATION) or await _rotation(request, operator)


@operator_page
async def rotate(request: Request, operator: Operator) -> Response:
    """One step of re-sealing when the typed number is the count of values to re-seal now."""
    needed = fresh_sign_in_needed(request, operator, ROTATION)
    if needed is not None:
        return needed
    typed = (await request.form()).get("confirm")
    confirm = int(typed) if isinstance(typed, str) and typed.strip().isdecimal() else None
    res = resources(request)
    try:
        step = await reseal_step(res.db, res.keys, confirm=confirm, actor=operator.actor)
    except ConfirmationRequired:
        refused = "The number typed is not the number of values to re-seal now."
        return await _rotation(request, operator, refused=refused, status_code=428)
    return await _rotation(request, operator, step=step)
