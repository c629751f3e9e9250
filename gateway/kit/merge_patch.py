"""JSON Merge Patch (RFC 7396): its media type, applying a patch to a JSON value, and the patch
that turns one value into another."""

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


def diff(source: object, target: object) -> object:
    """The patch that ``merge`` applies to ``source`` to give ``target``: members of ``source``
    missing from ``target`` become null, changed objects are diffed member by member, and anything
    else is replaced whole. A null inside ``target`` cannot be set by a merge patch (it removes its
    member instead); callers that must keep it compare ``merge(source, patch)`` with ``target``."""
    if not isinstance(source, dict) or not isinstance(target, dict):
        return target
    patch: dict[str, object] = {key: None for key in source if key not in target}
    for key, value in target.items():
        if key not in source:
            patch[key] = value
        elif source[key] != value:
            patch[key] = diff(source[key], value)
    return patch
