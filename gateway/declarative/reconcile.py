"""Reconciling the database with a declaration: each declared client and subscription created or
brought to what the file says, through the clients' and subscriptions' own stores (so every rule is
checked as the CLI and the API check it), and with ``prune`` what the file leaves out disabled
(clients) or deleted (subscriptions). The caller owns the one transaction, and rolls it back for a
dry run: the same code runs either way, so a dry run finds every error an apply would.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import store as audit
from gateway.clients import store as clients
from gateway.clients.service_keys import StoredKey
from gateway.clients.views import client_json
from gateway.declarative.changes import Action, Change, FieldChange, field_changes
from gateway.declarative.document import DeclarationError, Declared, DeclaredClient
from gateway.events import subscriptions as stored
from gateway.events.subscriptions import SubscriptionSpec
from gateway.exceptions import GatewayError
from gateway.kit.crypto import KeyRing
from gateway.kit.egress import EgressPolicy
from gateway.models import ServiceClient, Subscription
from gateway.subscriptions import checks
from gateway.subscriptions import store as subscriptions

SpecKey = tuple[str, str]  # a subscription's client name and URL


@dataclass(frozen=True)
class NewKey:
    """A new client's key, to be written to ``path`` once the transaction is sure to commit."""

    path: Path
    key: str

    def __repr__(self) -> str:
        return f"NewKey(path={self.path!r}, key=***)"


@dataclass
class Outcome:
    changes: list[Change] = field(default_factory=list)
    new_keys: list[NewKey] = field(default_factory=list)


async def checked_specs(
    policy: EgressPolicy, declared: Declared
) -> dict[SpecKey, SubscriptionSpec]:
    """Every declared subscription's parts, checked as ``subscriptions create`` checks them (the
    URL with DNS, so before the transaction opens)."""
    specs: dict[SpecKey, SubscriptionSpec] = {}
    for name, client in declared.clients.items():
        for index, item in enumerate(client.subscriptions):
            with _at(f"clients.{name}.subscriptions.{index}"):
                specs[(name, item.url)] = await checks.checked_spec(
                    policy, item.url, item.event_types, item.label_selector, enabled=item.enabled
                )
    return specs


class Reconciler:
    """Brings the database to one declaration inside the caller's transaction; what it changed
    is in ``outcome``, each change audited as ``actor``."""

    def __init__(
        self,
        session: AsyncSession,
        keys: KeyRing,
        *,
        actor: str,
        secret_overlap: timedelta,
    ) -> None:
        self._session = session
        self._keys = keys
        self._actor = actor
        self._overlap = secret_overlap
        self.outcome = Outcome()

    async def run(
        self, declared: Declared, specs: Mapping[SpecKey, SubscriptionSpec], *, prune: bool
    ) -> Outcome:
        kept: set[uuid.UUID] = set()
        for name, wanted in declared.clients.items():
            with _at(f"clients.{name}"):
                client = await self._client(name, wanted)
            for index, item in enumerate(wanted.subscriptions):
                secret = declared.secret(name, item.url)
                with _at(f"clients.{name}.subscriptions.{index}"):
                    kept.add(await self._subscription(client, specs[(name, item.url)], secret))
        if prune:
            await self._prune(set(declared.clients), kept)
        return self.outcome

    async def _client(self, name: str, wanted: DeclaredClient) -> ServiceClient:
        existing = await self._session.scalar(
            select(ServiceClient).where(ServiceClient.name == name).with_for_update()
        )
        if existing is None:
            return await self._create_client(name, wanted)
        before = _policy(client_json(existing))
        after = _policy_of(wanted)
        fields = field_changes(before, after)
        if fields:
            await clients.update_client(self._session, name, _client_changes(before, wanted))
        if wanted.key_sha256 is not None and wanted.key_sha256 != existing.key_hash:
            assert wanted.key_prefix is not None
            await clients.replace_key(
                self._session, name, StoredKey(wanted.key_prefix, wanted.key_sha256)
            )
            fields += (FieldChange("key", "***", "*** (the key of key_sha256)"),)
        if fields:
            self._record("update", f"client {name}", fields)
            self._audit("client.updated", {"client": name, "changed": [f.name for f in fields]})
        return existing

    async def _create_client(self, name: str, wanted: DeclaredClient) -> ServiceClient:
        if wanted.key_sha256 is not None:
            assert wanted.key_prefix is not None
            client = await clients.add_client(
                self._session,
                name,
                wanted.scopes,
                wanted.allow,
                StoredKey(wanted.key_prefix, wanted.key_sha256),
            )
            key_field = FieldChange("key", None, "*** (the key of key_sha256)")
        elif wanted.key_file is not None:
            if wanted.key_file.exists():
                raise DeclarationError(
                    f"key_file {wanted.key_file} exists; a new key is never written over a file"
                )
            client, issued = await clients.create_client(
                self._session, name, wanted.scopes, wanted.allow
            )
            self.outcome.new_keys.append(NewKey(wanted.key_file, issued.key))
            key_field = FieldChange("key", None, f"*** (written to {wanted.key_file})")
        else:
            raise DeclarationError("a new client needs key_file or key_sha256")
        before = _policy(client_json(client))
        after = _policy_of(wanted)
        if field_changes(before, after):
            client = await clients.update_client(
                self._session, name, _client_changes(before, wanted)
            )
        fields = (*field_changes({}, after), key_field)
        self._record("create", f"client {name}", fields)
        self._audit("client.created", {"client": name})
        return client

    async def _subscription(
        self, client: ServiceClient, spec: SubscriptionSpec, secret: str | None
    ) -> uuid.UUID:
        subject = f"subscription {client.name} {spec.url}"
        found = (
            await self._session.scalars(
                select(Subscription)
                .where(Subscription.client_id == client.id, Subscription.url == spec.url)
                .with_for_update()
            )
        ).all()
        if len(found) > 1:
            raise DeclarationError(
                f"{client.name} has {len(found)} subscriptions to this URL; "
                "delete all but one before applying"
            )
        after = _subscription_state(spec)
        if not found:
            if secret is None:
                raise DeclarationError("a new subscription needs its secret (a reference)")
            item, _ = await stored.create(self._session, self._keys, client.id, spec, secret=secret)
            self._record(
                "create", subject, (*field_changes({}, after), FieldChange("secret", None, "***"))
            )
            subscriptions.audited(self._session, self._actor, "created", item.id)
            return item.id
        item = found[0]
        fields = field_changes(_subscription_state(item), after)
        if fields:
            checks.Changes(
                event_types=list(spec.event_types),
                selector=(dict(spec.label_values), list(spec.label_keys)),
                enabled=spec.enabled,
            ).apply(item)
        if secret is not None and not await stored.holds_secret(
            self._session, self._keys, item.id, secret
        ):
            await stored.rotate(
                self._session, self._keys, item.id, overlap=self._overlap, secret=secret
            )
            fields += (FieldChange("secret", "***", "*** (rotated; the old one keeps signing)"),)
        if fields:
            self._record("update", subject, fields)
            subscriptions.audited(self._session, self._actor, "updated", item.id)
        return item.id

    async def _prune(self, declared: set[str], kept: set[uuid.UUID]) -> None:
        rows = await self._session.execute(
            select(Subscription, ServiceClient.name)
            .join(ServiceClient, ServiceClient.id == Subscription.client_id)
            .where(Subscription.id.not_in(kept) if kept else Subscription.id.is_not(None))
            .order_by(ServiceClient.name, Subscription.url)
            .with_for_update(of=Subscription)
        )
        for item, name in rows:
            await self._session.delete(item)
            self._record("delete", f"subscription {name} {item.url}")
            subscriptions.audited(self._session, self._actor, "deleted", item.id)
        for client in await clients.list_clients(self._session):
            if client.name in declared or client.revoked_at is not None:
                continue
            await clients.update_client(
                self._session, client.name, clients.ClientChanges(disabled=True)
            )
            self._record("disable", f"client {client.name}")
            self._audit("client.revoked", {"client": client.name})
        await self._session.flush()

    def _record(self, action: Action, subject: str, fields: tuple[FieldChange, ...] = ()) -> None:
        self.outcome.changes.append(Change(action, subject, fields))

    def _audit(self, action: str, details: dict[str, Any]) -> None:
        audit.record(
            self._session,
            actor=self._actor,
            action=action,
            connection_id=None,
            details={**details, "by": "apply"},
        )


# The declaration's field a store's refusal is about, by the refusal's code.
_FIELD_OF_REFUSAL = {
    "invalid_scope": "scopes",
    "invalid_rule": "allow",
    "rule_not_found": "allow",
    "invalid_user_pattern": "user_pattern",
    "invalid_rate_limit": "rate_limit",
    "subscription_url_not_allowed": "url",
    "invalid_event_types": "event_types",
    "invalid_label_selector": "label_selector",
}


@contextmanager
def _at(where: str) -> Iterator[None]:
    """A refusal (the stores' or ours) raised within names the declaration's field at fault."""
    try:
        yield
    except DeclarationError as exc:
        raise DeclarationError(f"{where}: {exc.message}", details={"field": where}) from exc
    except GatewayError as exc:
        field_name = _FIELD_OF_REFUSAL.get(exc.code)
        path = f"{where}.{field_name}" if field_name else where
        raise DeclarationError(
            f"{path}: {exc.message}", details={"field": path, "refused": exc.code}
        ) from exc


def _policy(shown: dict[str, Any]) -> dict[str, Any]:
    """A stored client's policy in the declaration's terms (rules as a set, sorted)."""
    return {
        "scopes": sorted(shown["scopes"]),
        "allow": sorted(shown["allow"]),
        "own_users_only": shown["own_users_only"],
        "user_pattern": shown["user_pattern"],
        "rate_limit": shown["rate_limit"],
        "disabled": shown["revoked"],
    }


def _policy_of(wanted: DeclaredClient) -> dict[str, Any]:
    limit = wanted.rate_limit.limit() if wanted.rate_limit is not None else None
    return {
        "scopes": sorted(set(wanted.scopes)),
        "allow": sorted(set(clients.normalized_rules(wanted.allow))),
        "own_users_only": wanted.own_users_only,
        "user_pattern": wanted.user_pattern,
        "rate_limit": {"per_second": limit.per_second, "burst": limit.burst} if limit else None,
        "disabled": wanted.disabled,
    }


def _client_changes(before: dict[str, Any], wanted: DeclaredClient) -> clients.ClientChanges:
    after = _policy_of(wanted)
    limit = wanted.rate_limit.limit() if wanted.rate_limit is not None else None
    return clients.ClientChanges(
        add_allow=[rule for rule in after["allow"] if rule not in before["allow"]],
        remove_allow=[rule for rule in before["allow"] if rule not in after["allow"]],
        add_scopes=[scope for scope in after["scopes"] if scope not in before["scopes"]],
        remove_scopes=[scope for scope in before["scopes"] if scope not in after["scopes"]],
        own_users_only=wanted.own_users_only,
        user_pattern=wanted.user_pattern,
        clear_user_pattern=wanted.user_pattern is None,
        rate_limit=limit,
        clear_rate_limit=limit is None,
        disabled=wanted.disabled,
    )


def _subscription_state(item: Subscription | SubscriptionSpec) -> dict[str, Any]:
    return {
        "url": item.url,
        "event_types": sorted(item.event_types),
        "label_selector": subscriptions.terms(item.label_values, item.label_keys),
        "enabled": item.enabled,
    }
