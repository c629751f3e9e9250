"""Proxy allow rules: ``METHOD /path/pattern``; deny unless a rule matches.

In a pattern ``*`` matches exactly one path segment and ``**`` zero or more; a method of ``*`` matches
any method. Patterns are matched against the normalised path below ``/proxy/users/{user_id}``.

``covers`` decides whether one rule admits everything another does (a delegated key's rules must be
covered by its issuer's). It is conservative: it may deny a rule that is covered in fact (a ``**``
inside the narrower rule that only a literal or ``*`` of the wider one could absorb), never the
reverse.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "*"})


class RuleError(ValueError):
    """Raised when an allow rule is malformed; the message names the rule."""


@dataclass(frozen=True)
class AllowRule:
    method: str
    segments: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> AllowRule:
        method, _, pattern = text.strip().partition(" ")
        method = method.upper()
        pattern = pattern.strip()
        if method not in METHODS:
            raise RuleError(f"rule {text!r}: method must be one of {', '.join(sorted(METHODS))}")
        if not pattern.startswith("/") or " " in pattern:
            raise RuleError(f"rule {text!r}: the path pattern must start with / and hold no spaces")
        segments = tuple(part for part in pattern.split("/") if part)
        for segment in segments:
            if "*" in segment and segment not in ("*", "**"):
                raise RuleError(f"rule {text!r}: * and ** must stand alone in a segment")
        return cls(method, segments)

    def __str__(self) -> str:
        return f"{self.method} /{'/'.join(self.segments)}"

    def matches(self, method: str, path_segments: Sequence[str]) -> bool:
        if self.method != "*" and self.method != method:
            return False
        return _match(self.segments, tuple(path_segments))


@lru_cache(maxsize=4096)
def _match(pattern: tuple[str, ...], path: tuple[str, ...]) -> bool:
    if not pattern:
        return not path
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_match(rest, path[i:]) for i in range(len(path) + 1))
    if not path:
        return False
    return (head == "*" or head == path[0]) and _match(rest, path[1:])


def covers(wider: AllowRule, narrower: AllowRule) -> bool:
    """Whether every call ``narrower`` admits is admitted by ``wider`` too."""
    if wider.method != "*" and wider.method != narrower.method:
        return False
    return _contains(wider.segments, narrower.segments)


@lru_cache(maxsize=4096)
def _contains(wider: tuple[str, ...], narrower: tuple[str, ...]) -> bool:
    if not wider:
        return not narrower
    head, rest = wider[0], wider[1:]
    if head == "**":
        # Matching nothing, or absorbing the narrower pattern's next element (whatever it matches).
        return _contains(rest, narrower) or (bool(narrower) and _contains(wider, narrower[1:]))
    if not narrower or narrower[0] == "**":
        return False
    return (head == "*" or head == narrower[0]) and _contains(rest, narrower[1:])


def parse_rules(texts: Iterable[str]) -> tuple[AllowRule, ...]:
    return tuple(AllowRule.parse(text) for text in texts)


def is_allowed(rules: Iterable[AllowRule], method: str, path_segments: Sequence[str]) -> bool:
    return any(rule.matches(method, path_segments) for rule in rules)
