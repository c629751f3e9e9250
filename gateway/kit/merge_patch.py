"""JSON Merge Patch (RFC 7396): its media type, and applying a patch to a JSON value."""

from __future__ import annotations

MEDIA_TYPE = "application/merge-patch+json"
# What a merge-patch endpoint takes: RFC 7396's own type, and plain JSON for simple clients.
MEDIA_TYPES = (MEDIA_TYPE, "application/json")


def merge(target: object, patch: object) -> object:
    """``target`` with ``patch`` applied (RFC 7396 §2): an object patch merges member by member,
    a null member removes it, and anything else replaces the target whole."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge(result.get(key), value)
    return result
