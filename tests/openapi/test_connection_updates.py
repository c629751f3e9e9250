"""Updating a connection, its ETag, the list's new filters and the token operation answer as the
document says."""

from __future__ import annotations

import json
import uuid

import httpx

from tests.e2e.flows import connect_new_user
from tests.openapi.conformance import conforms, error_code

LIST = "/v1/connections"
ONE = "/v1/connections/{connection_id}"
TOKEN = "/v1/connections/{connection_id}/token"
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


async def test_a_connection_is_updated_conditionally_and_its_token_renewed(
    api: httpx.AsyncClient, http: httpx.AsyncClient, key: str
) -> None:
    user_id = await connect_new_user(http, key)
    [item] = conforms(await api.get(LIST, params={"user_id": user_id}), LIST).json()["items"]
    path = f"/v1/connections/{item['id']}"
    etag = conforms(await api.get(path), ONE).headers["ETag"]
    body = json.dumps({"labels": {"team": "sales"}, "external_ids": [f"crm-{user_id[-8:]}"]})

    updated = conforms(
        await api.patch(path, content=body, headers={**MERGE_PATCH, "If-Match": etag}), ONE
    )
    stale = conforms(
        await api.patch(path, content=body, headers={**MERGE_PATCH, "If-Match": etag}), ONE
    )
    wrong_type = conforms(
        await api.patch(path, content=body, headers={"Content-Type": "text/plain"}), ONE
    )

    assert updated.json()["labels"] == {"team": "sales"}
    assert error_code(stale) == "precondition_failed"
    assert error_code(wrong_type) == "unsupported_media_type"
    filtered = await api.get(LIST, params={"label": "team=sales", "user_id": user_id})
    assert [i["id"] for i in conforms(filtered, LIST).json()["items"]] == [item["id"]]
    assert conforms(await api.post(f"{path}/token"), TOKEN).status_code == 200
    unknown = await api.post(f"/v1/connections/{uuid.uuid4()}/token")
    assert error_code(conforms(unknown, TOKEN)) == "connection_not_found"
