"""Dot segments in a URL path, found however they are spelt.

A prefix check on a path (``/console/...``, an allowed return URL) holds only if the path cannot step
out of the prefix once a browser or a server resolves it. Browsers resolve ``.`` and ``..`` also when
percent-encoded (``%2e%2e``, ``.%2E``), read ``\\`` as ``/`` and some servers decode ``%2f`` before
routing or read ``..;x`` as ``..``. ``has_dot_segments`` answers for all of these spellings, and for
double encodings (``%252e``), so that such paths are refused rather than resolved: no path we
compare by prefix needs them.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

# Segments of dots only, or dots before a ``;`` parameter (``...``, ``..;x``).
_DOTS_ONLY = re.compile(r"^\.+(;.*)?$")
_SEPARATORS = re.compile(r"[/\\]")
# Enough rounds of decoding for any encoding a real client sends; more is an attack, refused below.
_DECODE_ROUNDS = 3


def has_dot_segments(path: str) -> bool:
    """Whether ``path`` (raw, as sent) has a dot segment once percent-decoded, by ``/`` or ``\\``."""
    decoded = path
    for _ in range(_DECODE_ROUNDS):
        once = unquote(decoded)
        if once == decoded:
            break
        decoded = once
    else:
        return True  # still encoded after every round: refuse what we cannot see through
    return any(_DOTS_ONLY.match(segment) for segment in _SEPARATORS.split(decoded))
