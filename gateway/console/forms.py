"""The connection page's forms, as the operator fills them in.

``EditForm``: metadata as a JSON object, labels as ``key=value`` lines, external ids one a line,
and the revision the form was filled from. It holds the values the operator wants; ``patch`` turns
them into the admin API's JSON Merge Patch (``updating.ConnectionPatch``) against the connection as
it is, so the rules (sizes, label keys, external ids) are checked by the same code as
``PATCH /v1/connections/{id}``, and its mistakes are told in the same words
(``400 validation_error``).

``KeyForm``: a delegated key's TTL, allow rules (one a line) and the client it acts for, read into
the admin API's ``DelegatedKeyRequest``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData

from gateway.connections import delegated_keys
from gateway.connections.delegated_keys import DelegatedKeyRequest
from gateway.connections.updating import ConnectionPatch
from gateway.exceptions import BadRequest
from gateway.kit.merge_patch import diff, merge
from gateway.kit.request_body import validated
from gateway.models import Connection

FIELDS = ("metadata", "labels", "external_ids", "revision")


def invalid(field: str, problem: str) -> BadRequest:
    """A mistake in one field, in the shape of the admin API's validation errors."""
    return BadRequest(
        f"the form does not match the schema: {field}: {problem}",
        code="validation_error",
        details={"errors": [{"field": field, "problem": problem}]},
    )


@dataclass(frozen=True)
class EditForm:
    metadata: str
    labels: str
    external_ids: str
    revision: str

    @classmethod
    def of(cls, connection: Connection, external_ids: Sequence[str]) -> EditForm:
        """The form filled from the connection as it is."""
        return cls(
            metadata=json.dumps(connection.metadata_, indent=2, ensure_ascii=False, sort_keys=True),
            labels="\n".join(f"{key}={value}" for key, value in sorted(connection.labels.items())),
            external_ids="\n".join(external_ids),
            revision=str(connection.revision),
        )

    @classmethod
    def submitted(cls, form: FormData) -> EditForm:
        values = {name: form.get(name) for name in FIELDS}
        return cls(**{name: v if isinstance(v, str) else "" for name, v in values.items()})

    def if_match(self) -> str:
        """The revision the form was filled from, as the ``If-Match`` the admin API takes."""
        if not self.revision.isdigit() or len(self.revision) > 18:
            raise invalid("revision", "is missing: reload the page and edit again")
        return f'"{int(self.revision)}"'

    def with_revision(self, revision: int) -> EditForm:
        return EditForm(self.metadata, self.labels, self.external_ids, str(revision))

    def patch(self, connection: Connection) -> ConnectionPatch:
        """The patch from ``connection`` to the form's values."""
        metadata = self._metadata()
        metadata_patch = diff(connection.metadata_, metadata)
        if merge(connection.metadata_, metadata_patch) != metadata:
            raise invalid(
                "metadata",
                "a null value cannot be stored (in a merge patch a null removes its key)",
            )
        wanted = self._labels()
        labels_patch: dict[str, str | None] = {
            key: None for key in connection.labels if key not in wanted
        }
        labels_patch.update(
            (key, value) for key, value in wanted.items() if connection.labels.get(key) != value
        )
        external_ids = [line.strip() for line in self.external_ids.splitlines() if line.strip()]
        return validated(
            ConnectionPatch,
            {"metadata": metadata_patch, "labels": labels_patch, "external_ids": external_ids},
        )

    def _metadata(self) -> dict[str, Any]:
        text = self.metadata.strip() or "{}"
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise invalid("metadata", f"is not valid JSON: {exc}") from exc
        except RecursionError as exc:
            raise invalid("metadata", "is nested too deeply") from exc
        if not isinstance(value, dict):
            raise invalid("metadata", "must be a JSON object, {...}")
        return value

    def _labels(self) -> dict[str, str]:
        wanted: dict[str, str] = {}
        for number, line in enumerate(self.labels.splitlines(), start=1):
            text = line.strip()
            if not text:
                continue
            key, equals, value = text.partition("=")
            if not equals:
                raise invalid("labels", f"line {number}: write key=value (an empty value: key=)")
            key, value = key.strip(), value.strip()
            if key in wanted:
                raise invalid("labels", f"line {number}: the key {key[:80]!r} is given twice")
            wanted[key] = value
        return wanted


@dataclass(frozen=True)
class KeyForm:
    """The issue form as sent: a TTL in seconds, allow rules one a line (none: the client's own),
    and the client the key acts for (empty: the connection's owner)."""

    ttl_seconds: str = str(delegated_keys.DEFAULT_TTL_SECONDS)
    allow: str = ""
    client: str = ""

    @classmethod
    def submitted(cls, form: FormData) -> KeyForm:
        values = {name: form.get(name) for name in ("ttl_seconds", "allow", "client")}
        return cls(**{name: v.strip() if isinstance(v, str) else "" for name, v in values.items()})

    def request(self) -> DelegatedKeyRequest:
        text = self.ttl_seconds or str(delegated_keys.DEFAULT_TTL_SECONDS)
        ttl: object = int(text) if text.isdigit() else text
        rules = [line.strip() for line in self.allow.splitlines() if line.strip()]
        return validated(DelegatedKeyRequest, {"ttl_seconds": ttl, "allow": rules or None})
