"""Every error code the provisioning flow can answer is in the OpenAPI document."""

from __future__ import annotations

import inspect

import gateway.providers.partner_auth as partner_auth
import gateway.provisioning.errors as provisioning_errors
from gateway.exceptions import GatewayError
from gateway.openapi import build


def test_every_provisioning_error_code_is_documented() -> None:
    paths = build()["paths"]
    documented = " ".join(
        str(paths[path])
        for path in (
            "/v1/provisioning",
            "/v1/provisioning/{provisioning_id}",
            "/v1/provisioning/{provisioning_id}/verify",
            "/provision/{provisioning_id}",
        )
    )
    codes = {
        cls.code
        for module in (partner_auth, provisioning_errors)
        for _name, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, GatewayError) and cls.__module__ == module.__name__
    }
    assert len(codes) >= 12, "found too few error classes: the test would prove nothing"
    for code in sorted(codes):
        assert code in documented, f"{code} is not in the OpenAPI document"
