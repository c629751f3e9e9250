"""Pausing, resuming and editing a connection in the console, through the admin API's PATCH code,
as the signed-in operator: on connections of two service clients, one confined to its own space."""

from __future__ import annotations

import json
import re
import uuid
from html import unescape as html_unescape

import httpx

from gateway.kit.db import Database
from gateway.models import Connection
from tests.connections.managed import actions, audit_of, connected, reloaded
from tests.console.conftest import Admin, csrf_of, page_of, post_form
from tests.hostile.owner_fixtures import Clients, account, clients, connect_as, rows

__all__ = ["clients"]  # fixtures

REVISION = re.compile(r'name="revision" value="([^"]*)"')
OLDER = re.compile(r'<a href="([^"]+)#timeline" id="timeline-older">')
ENTRY = re.compile(r'<tr data-kind="([^"]+)" data-entry-id="([^"]+)">')
OUTCOME = re.compile(r'<section class="notice[^"]*" id="outcome" data-action="([^"]+)"')


def escape(text: str) -> str:
    """``text`` as the pages' templates escape it."""
    for char, entity in (
        ("&", "&amp;"),
        ("<", "&lt;"),
        (">", "&gt;"),
        ('"', "&#34;"),
        ("'", "&#39;"),
    ):
        text = text.replace(char, entity)
    return text


def outcome(text: str) -> str:
    found = OUTCOME.search(text)
    assert found is not None, "the page shows no outcome"
    return found.group(1)


async def edit(
    console: httpx.AsyncClient,
    connection: Connection,
    *,
    metadata: str = "{}",
    labels: str = "",
    external_ids: str = "",
    revision: str | None = None,
) -> httpx.Response:
    """Open the connection's page and post its edit form with these values (and the page's
    revision, unless one is given)."""
    opened = await console.get(page_of(connection))
    assert opened.status_code == 200, opened.text
    shown = REVISION.search(opened.text)
    assert shown is not None
    fields = {
        "csrf": csrf_of(opened.text),
        "revision": shown.group(1) if revision is None else revision,
        "metadata": metadata,
        "labels": labels,
        "external_ids": external_ids,
    }
    return await console.post(f"{page_of(connection)}/edit", data=fields)


async def test_pause_and_resume_are_audited_as_the_operator(
    console: httpx.AsyncClient,
    operator: Admin,
    http: httpx.AsyncClient,
    db: Database,
    clients: Clients,
) -> None:
    connection = await connected(http, db, clients.confined)
    page = page_of(connection)

    paused = await post_form(console, page, f"{page}/pause")

    assert paused.status_code == 303  # POST-redirect-GET
    shown = await console.get(paused.headers["location"])
    assert outcome(shown.text) == "paused"
    assert 'data-enabled="false"' in shown.text and 'id="resume"' in shown.text
    assert (await reloaded(db, connection)).enabled is False
    resumed = await post_form(console, page, f"{page}/resume")
    assert resumed.status_code == 303
    assert 'data-enabled="true"' in (await console.get(resumed.headers["location"])).text
    after = await reloaded(db, connection)
    assert after.enabled is True and after.revision == connection.revision + 2
    done = [e for e in await audit_of(db, connection) if e.action.endswith(("paused", "resumed"))]
    assert [(e.action, e.actor) for e in done] == [
        ("connection.paused", operator.actor),
        ("connection.resumed", operator.actor),
    ]


async def test_a_paused_connection_is_found_by_the_paused_filter_and_marked_in_the_list(
    console: httpx.AsyncClient, http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    paused = await connected(http, db, clients.patterned)
    running = await connected(http, db, clients.patterned)
    await post_form(console, page_of(paused), f"{page_of(paused)}/pause")

    only_paused = await console.get("/console/connections", params={"enabled": "false"})
    only_running = await console.get("/console/connections", params={"enabled": "true"})

    assert str(paused.id) in only_paused.text and str(running.id) not in only_paused.text
    assert str(running.id) in only_running.text and str(paused.id) not in only_running.text
    assert 'data-paused="true"' in only_paused.text


async def test_the_edit_form_saves_metadata_labels_and_external_ids_of_either_clients_connection(
    console: httpx.AsyncClient,
    operator: Admin,
    http: httpx.AsyncClient,
    db: Database,
    clients: Clients,
) -> None:
    for owner in (clients.confined, clients.open_):
        connection = await connected(http, db, owner)

        answer = await edit(
            console,
            connection,
            metadata='{"plan": "pro", "seats": 5}',
            labels="team=sales\n\nexample.com/tier=gold\n",
            external_ids="crm-42\n  acct-7  \n",
        )

        assert answer.status_code == 303, answer.text
        assert "fields=external_ids%2Clabels%2Cmetadata" in answer.headers["location"]
        after = await reloaded(db, connection)
        assert after.metadata_ == {"plan": "pro", "seats": 5}
        assert after.labels == {"team": "sales", "example.com/tier": "gold"}
        assert after.revision == connection.revision + 1
        shown = await http.get(f"/v1/connections/{connection.id}", headers=owner.auth)
        assert shown.json()["external_ids"] == ["acct-7", "crm-42"]  # what the owner sees
        [updated] = [e for e in await audit_of(db, connection) if e.action == "connection.updated"]
        assert updated.actor == operator.actor
        assert updated.details["fields"] == ["external_ids", "labels", "metadata"]
        page = (await console.get(answer.headers["location"])).text
        assert "Saved: external ids, labels, metadata changed." in page
        assert '<span class="label">team=sales</span>' in page


async def test_the_form_replaces_what_it_no_longer_holds(
    console: httpx.AsyncClient, http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    connection = await connected(http, db, clients.open_)
    await edit(
        console,
        connection,
        metadata='{"a": {"x": 1, "y": 2}, "b": true}',
        labels="team=sales\nenv=prod",
        external_ids="crm-1",
    )

    answer = await edit(console, connection, metadata='{"a": {"x": 1}}', labels="team=support")

    assert answer.status_code == 303, answer.text
    after = await reloaded(db, connection)
    assert after.metadata_ == {"a": {"x": 1}} and after.labels == {"team": "support"}
    shown = await console.get(page_of(connection))
    assert 'id="external-ids" class="mono">none<' in shown.text


async def test_a_form_that_changes_nothing_writes_nothing(
    console: httpx.AsyncClient, http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    connection = await connected(http, db, clients.confined)
    before = await actions(db, connection)

    answer = await edit(console, connection)

    assert answer.status_code == 303
    assert outcome((await console.get(answer.headers["location"])).text) == "unchanged"
    assert await actions(db, connection) == before
    assert (await reloaded(db, connection)).revision == connection.revision


BAD_INPUT = [
    ({"metadata": '{"plan": '}, 400, "validation_error", "metadata: is not valid JSON"),
    ({"metadata": "[1, 2]"}, 400, "validation_error", "metadata: must be a JSON object"),
    ({"metadata": '{"gone": null}'}, 400, "validation_error", "a null value cannot be stored"),
    ({"metadata": '{"x": "a\\u0000b"}'}, 400, "validation_error", "NUL (U+0000) is not allowed"),
    (
        {"metadata": json.dumps({"blob": "x" * 17000})},
        400,
        "validation_error",
        "metadata: must be at most 16384 bytes as JSON",
    ),
    ({"labels": "team"}, 400, "validation_error", "line 1: write key=value"),
    ({"labels": "a=1\na=2"}, 400, "validation_error", "line 2: the key &#39;a&#39; is given twice"),
    ({"labels": "-bad=x"}, 400, "validation_error", "the name must be 1 to 63"),
    ({"labels": "team=no spaces"}, 400, "validation_error", "the value must be empty or"),
    (
        {"external_ids": "\n".join(f"id-{n}" for n in range(6))},
        400,
        "validation_error",
        "external_ids: must have at most 5 items",
    ),
    ({"external_ids": "dup\ndup"}, 400, "validation_error", "the same external id twice"),
    ({"external_ids": "has space"}, 400, "validation_error", "external_ids.0: must match"),
]


async def test_bad_input_is_refused_in_the_page_in_the_gateways_words_and_kept_in_the_form(
    console: httpx.AsyncClient, http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    connection = await connected(http, db, clients.patterned)
    before = await actions(db, connection)

    for fields, status, code, words in BAD_INPUT:
        answer = await edit(console, connection, **fields)

        assert answer.status_code == status, (fields, answer.text[:300])
        assert answer.headers["content-type"].startswith("text/html")
        assert outcome(answer.text) == "not_saved"
        assert f"Not saved ({code})" in answer.text and words in answer.text, (fields, words)
        [value] = fields.values()
        assert escape(value.strip()) in answer.text  # kept for correcting
    assert await actions(db, connection) == before
    assert (await reloaded(db, connection)).revision == connection.revision


async def test_a_stale_form_is_refused_with_412_and_saved_only_when_sent_again(
    console: httpx.AsyncClient, http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    owner = clients.confined
    connection = await connected(http, db, owner)
    opened = await console.get(page_of(connection))
    stale = REVISION.search(opened.text)
    assert stale is not None
    changed = await http.patch(
        f"/v1/connections/{connection.id}",
        content=json.dumps({"labels": {"by": "owner"}}),
        headers={**owner.auth, "Content-Type": "application/merge-patch+json"},
    )
    assert changed.status_code == 200, changed.text

    answer = await edit(console, connection, labels="team=ops", revision=stale.group(1))

    assert answer.status_code == 412
    assert outcome(answer.text) == "not_saved"
    assert "the connection changed since this form was filled" in answer.text
    assert (await reloaded(db, connection)).labels == {"by": "owner"}
    assert "team=ops</textarea>" in answer.text  # the operator's text is kept
    fresh = REVISION.search(answer.text)
    assert fresh is not None and fresh.group(1) == str(connection.revision + 1)
    again = await console.post(
        f"{page_of(connection)}/edit",
        data={"csrf": csrf_of(answer.text), "revision": fresh.group(1), "labels": "team=ops"},
    )
    assert again.status_code == 303, again.text
    assert (await reloaded(db, connection)).labels == {"team": "ops"}


async def test_an_external_id_is_unique_per_owner_and_provider(
    console: httpx.AsyncClient, http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    first = await connected(http, db, clients.open_)
    second = await connected(http, db, clients.open_)
    confined = await connected(http, db, clients.confined)
    taken = f"crm-{uuid.uuid4().hex[:8]}"
    assert (await edit(console, first, external_ids=taken)).status_code == 303

    refused = await edit(console, second, external_ids=taken)
    elsewhere = await edit(console, confined, external_ids=taken)

    assert refused.status_code == 409
    assert "Not saved (external_id_taken)" in refused.text
    assert elsewhere.status_code == 303  # another owner's references are its own
    found = await console.get("/console/connections", params={"external_id": taken})
    assert str(first.id) in found.text and str(confined.id) in found.text
    assert str(second.id) not in found.text


async def test_the_list_filters_by_label_selectors(
    console: httpx.AsyncClient, http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    team = f"t{uuid.uuid4().hex[:8]}"
    sales = await connected(http, db, clients.confined)
    gold_sales = await connected(http, db, clients.open_)
    support = await connected(http, db, clients.open_)
    await edit(console, sales, labels=f"team={team}-sales")
    await edit(console, gold_sales, labels=f"team={team}-sales\ntier=gold")
    await edit(console, support, labels=f"team={team}-support\ntier=gold")

    one = await console.get("/console/connections", params={"label": f"team={team}-sales"})
    both = await console.get("/console/connections", params={"label": f"team={team}-sales, tier"})
    bad = await console.get("/console/connections", params={"label": "team=no spaces"})

    assert {str(sales.id), str(gold_sales.id)} <= set(
        re.findall(r'data-connection-id="([^"]+)"', one.text)
    )
    assert str(support.id) not in one.text
    assert str(gold_sales.id) in both.text and str(sales.id) not in both.text
    assert f'value="team={team}-sales, tier"' in both.text  # the form keeps the filter
    assert bad.status_code == 400 and 'data-code="invalid_label"' in bad.text


async def test_user_data_in_metadata_and_external_ids_is_escaped(
    console: httpx.AsyncClient, http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    connection = await connected(http, db, clients.open_)
    hostile = '"><script>alert(1)</script>'

    answer = await edit(
        console,
        connection,
        metadata=json.dumps({"note": hostile}),
        external_ids="x\"><b>'",
    )

    assert answer.status_code == 303, answer.text
    page = (await console.get(page_of(connection))).text
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;" in page


async def test_every_change_needs_the_sessions_csrf_token(
    console: httpx.AsyncClient, http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    connection = await connected(http, db, clients.confined)
    page = page_of(connection)

    for action, data in [
        ("pause", {}),
        ("resume", {}),
        ("edit", {"revision": str(connection.revision), "labels": "team=forged"}),
    ]:
        response = await console.post(f"{page}/{action}", data={"csrf": "forged", **data})
        assert response.status_code == 403, action
        assert 'data-code="csrf_rejected"' in response.text

    after = await reloaded(db, connection)
    assert after.enabled is True and after.labels == {} and after.revision == connection.revision


async def test_the_timeline_is_paged_newest_first_with_older_links(
    console: httpx.AsyncClient, http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    connection = await connected(http, db, clients.confined)
    page = page_of(connection)
    for _ in range(14):  # each a connection.updated and a paused or resumed entry
        await post_form(console, page, f"{page}/pause")
        await post_form(console, page, f"{page}/resume")

    pages = [await console.get(page)]
    while (older := OLDER.search(pages[-1].text)) is not None:
        pages.append(await console.get(html_unescape(older.group(1))))

    entries = [ENTRY.findall(shown.text) for shown in pages]
    assert [len(found) for found in entries[:-1]] == [25] * (len(pages) - 1)
    ids = [entry_id for found in entries for _kind, entry_id in found]
    kinds = [kind for found in entries for kind, _id in found]
    assert len(ids) == len(set(ids))  # no entry on two pages
    assert kinds.count("paused") == kinds.count("resumed") == 14
    assert kinds.count("updated") == 28
    assert kinds[-1] == "created"  # the oldest comes last
    assert 'id="timeline-newest"' not in pages[0].text
    assert all('id="timeline-newest"' in shown.text for shown in pages[1:])


async def test_make_default_moves_the_default_even_between_two_owners(
    console: httpx.AsyncClient,
    operator: Admin,
    http: httpx.AsyncClient,
    db: Database,
    clients: Clients,
) -> None:
    default = await connected(http, db, clients.patterned)
    response = await connect_as(http, clients.open_, default.user_id, account(), additional=True)
    assert response.status_code == 200, response.text
    [additional] = [r for r in await rows(db, default.user_id) if r.id != default.id]
    assert not additional.is_default
    opened = (await console.get(page_of(additional))).text
    assert 'data-default="false"' in opened and 'id="make-default"' in opened
    refused = await http.patch(  # neither owner owns both
        f"/v1/connections/{additional.id}",
        content=json.dumps({"is_default": True}),
        headers={**clients.open_.auth, "Content-Type": "application/merge-patch+json"},
    )
    assert refused.status_code == 403

    answer = await post_form(console, page_of(additional), f"{page_of(additional)}/default")

    assert answer.status_code == 303
    shown = (await console.get(answer.headers["location"])).text
    assert outcome(shown) == "made_default" and 'data-default="true"' in shown
    assert (await reloaded(db, additional)).is_default
    assert not (await reloaded(db, default)).is_default
    [moved] = [
        e for e in await audit_of(db, additional) if e.action == "connection.default_changed"
    ]
    assert moved.actor == operator.actor
    assert moved.details["from"] == str(default.id) and moved.details["to"] == str(additional.id)
    listed = (await console.get("/console/connections", params={"user": default.user_id})).text
    assert listed.count(">default<") == 1 and listed.count(">additional<") == 1


async def test_the_edit_form_takes_a_full_metadata_object_and_no_more_than_its_cap(
    console: httpx.AsyncClient, http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    connection = await connected(http, db, clients.open_)
    # Near the 16 KiB cap, punctuation-heavy: form encoding makes it about three times larger.
    wanted = {f"k{n:04d}": {"a": [1, 2]} for n in range(700)}
    text = json.dumps(wanted, indent=2)
    assert 14_000 < len(json.dumps(wanted, separators=(",", ":"))) < 16_384

    saved = await edit(console, connection, metadata=text)
    too_large = await edit(console, connection, metadata=text * 4)

    assert saved.status_code == 303, saved.text[:300]
    assert (await reloaded(db, connection)).metadata_ == wanted
    assert too_large.status_code == 413
    assert too_large.json()["error"]["code"] == "payload_too_large"
