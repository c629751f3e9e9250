"""The fields every request that names or describes a user's connection validates alike: the user
id, the OAuth scopes asked for, and the owner's metadata, external ids and labels."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

from gateway.connections import labels

UserId = Annotated[
    str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")
]
Scope = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\x21\x23-\x5b\x5d-\x7e]+$")
]

MAX_METADATA_BYTES = 16 * 1024
# Deeper than any document an owner means to keep; bounds the merge's recursion.
MAX_METADATA_DEPTH = 32
MAX_EXTERNAL_IDS = 5

# ASCII letters, digits and punctuation: no spaces, no control characters.
ExternalId = Annotated[
    str, StringConstraints(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")
]


def metadata_size(metadata: dict[str, Any]) -> int:
    """The metadata's size as the cap counts it: compact JSON, in UTF-8 bytes."""
    return len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode())


def depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(item) for item in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(item) for item in value), default=0)
    return 0


def _bounded(metadata: dict[str, Any]) -> dict[str, Any]:
    if depth(metadata) > MAX_METADATA_DEPTH:
        raise ValueError(f"must nest at most {MAX_METADATA_DEPTH} levels deep")
    if metadata_size(metadata) > MAX_METADATA_BYTES:
        raise ValueError(f"must be at most {MAX_METADATA_BYTES} bytes as JSON")
    return metadata


def _distinct(external_ids: list[str]) -> list[str]:
    if len(set(external_ids)) != len(external_ids):
        raise ValueError("must not name the same external id twice")
    return external_ids


def _labels(value: dict[str, Any]) -> dict[str, Any]:
    labels.checked(value)
    return value


# A JSON object of the owner's, at most MAX_METADATA_BYTES (its null values, in a patch, remove keys).
Metadata = Annotated[dict[str, Any], AfterValidator(_bounded)]
ExternalIds = Annotated[
    list[ExternalId], Field(max_length=MAX_EXTERNAL_IDS), AfterValidator(_distinct)
]
Labels = Annotated[dict[str, str], Field(max_length=labels.MAX_LABELS), AfterValidator(_labels)]
# A patch of labels: a value sets a label, null removes it.
LabelsPatch = Annotated[dict[str, str | None], AfterValidator(_labels)]
