"""Contio's official SDK (``@contio/partner-sdk``, pinned by ``package-lock.json`` beside this file)
through the gateway, unchanged: its base URL is the gateway's SDK base path for a user (or a
connection), its access token the service's key. ``drive_sdk.cjs`` calls every user-API read the
SDK offers and one write with an idempotency key (sent twice: one execution); this test checks what
came back against the sandbox's own data, read through the proxy's plain routes.

Node and npm are required, not optional: ``make test`` installs them when missing, and without
them (or without the registry, the first time) this test fails, saying why. The package is
installed once with ``npm ci`` into ``.cache/contio-sdk/<lock digest>`` (``GATEWAY_SDK_CACHE``
moves it).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.clients.store import ClientChanges, create_client, update_client
from gateway.kit.db import Database
from tests.e2e.flows import connect_new_user
from tests.fixtures.stack import Stack
from tests.hostile.owner_fixtures import Client

# Every user-API read the SDK offers: those of Contio's reference, then the ones beyond it (the
# sandbox answers those with fixed records, ``gateway_sandbox.user_api.catalogue``).
READS = frozenset(
    {
        "getUserProfile",
        "getMeetings",
        "getAllMeetings",
        "getMeeting",
        "getMeetingParticipants",
        "getMeetingAgendaItems",
        "getActionItems",
        "getAllActionItems",
        "getActionItem",
        "getCalendarEvents",
        "getAllCalendarEvents",
        "getCalendarEvent",
        "getMeetingNextSteps",
        "getNextStepResult",
        "getMeetingActionButtons",
        "exportMeetingTranscript",
        "getMeetingContextDocuments",
        "getAllMeetingContextDocuments",
        "getMeetingContextDocument",
        "downloadMeetingContextDocumentContent",
        "getChatSessions",
        "getChatSession",
        "getChatTurn",
        "getToolkits",
        "getToolkit",
        "getMeetingTemplates",
        "getMeetingTemplate",
        "listWorkflowRuns",
        "getWorkflowRun",
    }
)
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VERSION = "1.9.0"
NPM_TIMEOUT = 600
DRIVE_TIMEOUT = 120


def _cache() -> Path:
    configured = os.environ.get("GATEWAY_SDK_CACHE")
    return Path(configured) if configured else ROOT / ".cache" / "contio-sdk"


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"{name} is not installed: the SDK test needs node and npm (make test installs them)"
        )
    return found


@pytest.fixture(scope="module")
def sdk_modules() -> Path:
    """The directory whose node_modules holds the pinned SDK, installed on first use."""
    npm = _tool("npm")
    manifest = (HERE / "package.json").read_bytes()
    lock = (HERE / "package-lock.json").read_bytes()
    target = _cache() / hashlib.sha256(manifest + lock).hexdigest()[:16]
    installed = target / "node_modules" / "@contio" / "partner-sdk" / "package.json"
    if not installed.exists():
        staging = target.with_name(f"{target.name}.{os.getpid()}.{uuid.uuid4().hex[:6]}")
        staging.mkdir(parents=True)
        shutil.copy(HERE / "package.json", staging)
        shutil.copy(HERE / "package-lock.json", staging)
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--omit=peer"],
            cwd=staging,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT,
        )
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            pytest.fail(
                "npm ci of the pinned Contio SDK failed (is the npm registry reachable?):\n"
                + result.stderr[-4000:]
            )
        try:
            staging.rename(target)
        except OSError:  # another run installed it meanwhile
            shutil.rmtree(staging, ignore_errors=True)
    version = json.loads(installed.read_text())["version"]
    assert version == VERSION, f"the cache holds SDK {version}, not the pinned {VERSION}"
    return target


def drive(modules: Path, base_url: str, key: str, **extra: str) -> dict[str, Any]:
    """Run ``drive_sdk.cjs`` against ``base_url``; what each SDK call returned (or its error)."""
    result = subprocess.run(
        [_tool("node"), str(HERE / "drive_sdk.cjs")],
        env={
            **os.environ,
            "SDK_MODULES": str(modules / "node_modules"),
            "SDK_BASE_URL": base_url,
            "SDK_ACCESS_TOKEN": key,
            **extra,
        },
        capture_output=True,
        text=True,
        timeout=DRIVE_TIMEOUT,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    outcome: dict[str, Any] = json.loads(result.stdout)
    return outcome


async def proxied(http: httpx.AsyncClient, key: str, user_id: str, path: str) -> Any:
    response = await http.get(
        f"/proxy/users/{user_id}{path}", headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def sdk_client(db: Database, **changes: Any) -> Client:
    """A service as the SDK test needs it: it connects users and reads, and writes action items."""
    name = f"svc-{uuid.uuid4().hex[:10]}"
    async with db.transaction() as session:
        created, issued = await create_client(
            session, name, ["connect", "proxy"], ["GET /**", "POST /action-items"]
        )
        if changes:
            await update_client(session, name, ClientChanges(**changes))
    return Client(created.id, name, issued.key)


def check_reads(outcome: dict[str, Any]) -> dict[str, Any]:
    calls: dict[str, Any] = outcome["calls"]
    assert set(calls) == READS
    failed = {name: call for name, call in calls.items() if not call["ok"]}
    assert not failed, failed
    return calls


async def test_the_official_sdk_reads_everything_and_writes_once_through_the_gateway(
    stack: Stack, http: httpx.AsyncClient, db: Database, sdk_modules: Path
) -> None:
    confined = await sdk_client(db, own_users_only=True)
    other = await sdk_client(db)
    user_id = await connect_new_user(http, confined.key)
    base = f"{stack.gateway.url}/sdk/contio/users/{user_id}"
    calls = check_reads(drive(sdk_modules, base, confined.key))
    meetings = await proxied(http, confined.key, user_id, "/meetings")
    assert calls["getMeetings"]["value"] == meetings
    assert calls["getUserProfile"]["value"] == await proxied(
        http, confined.key, user_id, "/profile"
    )
    meeting_id = meetings["items"][0]["id"]
    assert calls["getMeetingParticipants"]["value"] == await proxied(
        http, confined.key, user_id, f"/meetings/{meeting_id}/participants"
    )

    written = drive(sdk_modules, base, confined.key, SDK_WRITE="1", SDK_ONLY="none")["write"]
    assert written["first"]["id"] == written["second"]["id"], written
    items = await proxied(http, confined.key, user_id, "/action-items?limit=100")
    assert sum(1 for item in items["items"] if item["title"] == written["title"]) == 1

    # The same SDK by connection id; another client, in another space, finds neither.
    listed = await http.get("/v1/connections", params={"user_id": user_id}, headers=confined.auth)
    [connection] = listed.json()["items"]
    by_id = f"{stack.gateway.url}/sdk/contio/connections/{connection['id']}"
    assert check_reads(drive(sdk_modules, by_id, confined.key))["getMeetings"]["value"] == meetings
    for refused_base in (base, by_id):
        refused = drive(sdk_modules, refused_base, other.key, SDK_ONLY="getUserProfile")
        call = refused["calls"]["getUserProfile"]
        assert (call["ok"], call["status"]) == (False, 404), call
        assert call["code"] != "not_found"  # the gateway's own 404, not the provider's
