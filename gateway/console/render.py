"""Rendering console pages with the gateway's one template environment (``templates/console/``).

The security headers are the console mount's (see ``headers``), so redirects carry them too.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import HTMLResponse, RedirectResponse

from gateway.exceptions import GatewayError
from gateway.pages import environment


def page(template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = environment().get_template(f"console/{template}").render(**context)
    return HTMLResponse(html, status_code=status_code)


def error_page(exc: GatewayError, **context: Any) -> HTMLResponse:
    """An expected failure as a page: its status, code and message (never a token: see exceptions)."""
    return page(
        "error.html",
        status_code=exc.status_code,
        code=exc.code,
        message=exc.message,
        **context,
    )


def see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)
