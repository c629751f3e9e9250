"""The admin API's error codes are in the OpenAPI document, where callers look for them."""

from __future__ import annotations

import pytest

from gateway.openapi import build


@pytest.mark.parametrize(
    ("path", "method", "status", "codes"),
    [
        (
            "/v1/connections",
            "get",
            "400",
            ["unknown_parameter", "invalid_limit", "invalid_cursor", "invalid_status"],
        ),
        ("/v1/connections/{connection_id}", "get", "404", ["connection_not_found"]),
        ("/v1/connections/{connection_id}", "delete", "404", ["connection_not_found"]),
        ("/v1/connections/{connection_id}/refresh", "post", "409", ["reauth_required"]),
        ("/v1/connections/{connection_id}/refresh", "post", "410", ["connection_revoked"]),
        ("/v1/connections/{connection_id}/refresh", "post", "503", ["provider_unavailable"]),
        ("/v1/connections/import", "post", "400", ["validation_error", "unknown_provider"]),
        ("/v1/connections/import", "post", "409", ["identity_mismatch"]),
        ("/v1/connections/import", "post", "422", ["invalid_tokens"]),
        ("/v1/audit-events", "get", "400", ["invalid_connection_id", "invalid_cursor"]),
        ("/v1/connections/client-credentials", "post", "400", ["grant_not_supported"]),
        ("/v1/connections/client-credentials", "post", "403", ["user_not_allowed"]),
        ("/v1/connections/{connection_id}", "patch", "409", ["default_not_allowed"]),
    ],
)
def test_error_codes_are_documented(path: str, method: str, status: str, codes: list[str]) -> None:
    description = build()["paths"][path][method]["responses"][status]["description"]
    for code in codes:
        assert f"`{code}`" in description


def test_revocation_answers_the_upstream_state() -> None:
    document = build()
    response = document["paths"]["/v1/connections/{connection_id}"]["delete"]["responses"]["200"]
    schema = response["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/RevokedConnection"}
    revoked = document["components"]["schemas"]["RevokedConnection"]["allOf"][1]
    assert revoked["properties"]["upstream_revocation"]["enum"] == [
        "done",
        "pending",
        "not_possible",
    ]
    error = revoked["properties"]["upstream_revocation_error"]
    assert {"credentials_unreadable", "provider_not_configured"} <= set(
        error["properties"]["code"]["examples"]
    )
