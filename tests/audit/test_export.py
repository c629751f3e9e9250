"""``gateway audit export``: the chosen entries, oldest first, as JSON lines or CSV."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import timedelta

import pytest

from gateway.kit.clock import rfc3339, utcnow
from gateway.kit.db import Database
from tests.audit.conftest import gateway, write

pytestmark = pytest.mark.usefixtures("trail_env")


async def test_jsonl_export_filters_by_actor_action_connection_and_time(trail: Database) -> None:
    now = utcnow()
    connection = uuid.uuid4()
    old = await write(trail, 1, actor="client:alpha", at=now - timedelta(days=3))
    wanted = await write(trail, 2, actor="client:alpha", connection_id=connection)
    await write(trail, 1, actor="client:beta", connection_id=connection)
    await write(trail, 1, actor="client:alpha", action="connection.revoked")
    since = rfc3339(now - timedelta(days=1))

    result = await gateway(
        [
            *("audit", "export", "--since", since, "--actor", "client:alpha"),
            *("--action", "connection.updated", "--connection", str(connection)),
        ]
    )

    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert sorted(line["id"] for line in lines) == sorted(str(i) for i in wanted)
    assert str(old[0]) not in result.output
    assert all(line["connection_id"] == str(connection) for line in lines)

    window = await gateway(
        [
            *("audit", "export", "--since", rfc3339(now - timedelta(days=4))),
            *("--until", rfc3339(now - timedelta(days=2))),
        ]
    )
    assert [json.loads(line)["id"] for line in window.output.splitlines()] == [str(old[0])]


async def test_csv_export_has_a_header_and_defuses_formulas(trail: Database) -> None:
    [formula] = await write(trail, 1, actor='=HYPERLINK("http://evil")')
    [plain] = await write(trail, 1, actor="cli:alice")
    since = rfc3339(utcnow() - timedelta(hours=1))

    result = await gateway(["audit", "export", "--since", since, "--format", "csv"])

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert list(rows[0]) == [
        *("id", "occurred_at", "actor", "action", "connection_id"),
        *("source_address", "user_agent", "details"),
    ]
    by_id = {row["id"]: row for row in rows}
    assert by_id[str(formula)]["actor"] == '\'=HYPERLINK("http://evil")'
    assert by_id[str(plain)]["actor"] == "cli:alice"
    assert json.loads(by_id[str(plain)]["details"]) == {"n": 0, "note": "plain"}


async def test_export_refuses_a_bad_time_or_format() -> None:
    bad_time = await gateway(["audit", "export", "--since", "yesterday"])
    bad_format = await gateway(["audit", "export", "--since", "2026-01-01", "--format", "xml"])
    missing = await gateway(["audit", "export"])

    assert bad_time.exit_code == 2 and "RFC 3339" in bad_time.output
    assert bad_format.exit_code == 2
    assert missing.exit_code == 2
