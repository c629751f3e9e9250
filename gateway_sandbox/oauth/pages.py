"""The sandbox's HTML: the consent page and the error page for requests it cannot redirect."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jinja2
from starlette.responses import HTMLResponse

from gateway_sandbox.oauth import scopes

_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("gateway_sandbox.oauth", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def consent_page(
    app_name: str,
    requested: Sequence[str],
    hidden: Sequence[tuple[str, str]],
    email: str,
    email_locked: bool,
    error: str | None = None,
) -> HTMLResponse:
    content = (
        _environment()
        .get_template("consent.html")
        .render(
            app_name=app_name,
            scopes=[(name, scopes.DESCRIPTIONS[name]) for name in requested],
            hidden=hidden,
            email=email,
            email_locked=email_locked,
            error=error,
        )
    )
    return HTMLResponse(content, 400 if error else 200, headers=_HEADERS)


def error_page(title: str, message: str, status_code: int = 400) -> HTMLResponse:
    content = _environment().get_template("error.html").render(title=title, message=message)
    return HTMLResponse(content, status_code, headers=_HEADERS)
