from __future__ import annotations

from tests.gateway_sandbox.driver import Sandbox


def test_bulk_grants_are_each_a_working_refresh_token(sandbox: Sandbox) -> None:
    response = sandbox.http.post(
        "/_sandbox/grants",
        json={"email": "bulk@example.com", "count": 3, "scope": "openid meetings:read"},
    )

    assert response.status_code == 200
    issued = response.json()
    assert issued["scope"] == "openid meetings:read"
    assert len({grant["refresh_token"] for grant in issued["grants"]}) == 3
    for grant in issued["grants"]:
        assert sandbox.refresh(grant["refresh_token"]).status_code == 200
        assert sandbox.api("/profile", grant["access_token"]).status_code == 200


def test_bulk_grants_refuse_a_count_out_of_range(sandbox: Sandbox) -> None:
    for count in (0, 10_001, "3"):
        response = sandbox.http.post(
            "/_sandbox/grants", json={"email": "bulk@example.com", "count": count}
        )
        assert response.status_code == 400
