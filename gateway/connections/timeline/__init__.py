"""A connection's timeline: what happened to it, newest first, as timeline entries read from where
each fact is already written (not to be confused with outbound events, which are one of its sources).

- the audit trail (``audit_events`` naming the connection): created, re-connected, imported,
  needs_reauth, credentials unreadable and readable again, paused, resumed, updated, default
  changed, transferred, revoked (and by whom), upstream revocation, proxy refusals;
- timeline records (``timeline_records``), the facts nothing else keeps: each refresh and its
  outcome, each provider webhook received for the connection (written by ``tokens.outcomes`` and
  ``webhooks.receive``; pruned after ``timeline_retention_days``);
- the outbox (``outbox_events`` about the connection, with ``event_deliveries``): outbound events
  and their delivery to each endpoint.

``entries``    the kinds, and each source's row as a ``TimelineEntry`` (pure)
``sources``    a page across the sources, and one entry by id
``endpoints``  ``GET /v1/connections/{id}/events`` and ``.../events/{entry_id}``

No entry holds a token or a sealed value: audit details and timeline records never do, outbound
events are shown by type and reason, and provider webhooks by type, id and time.
"""
