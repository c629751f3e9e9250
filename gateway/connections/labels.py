"""Labels: ``key=value`` pairs on a connection, for selecting connections (``?label=team=sales``).

Keys and values follow Kubernetes' rules for labels, so that the same labels mean the same on
both sides. A key is an optional prefix (a DNS subdomain of at most 253 characters, then ``/``)
and a name of at most 63 characters: letters, digits, ``-``, ``_`` and ``.``, beginning and
ending with a letter or a digit. A value is empty or follows the name's rule. A connection has at
most ``MAX_LABELS`` labels. Labels are never metric labels: their values are unbounded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

MAX_LABELS = 32
MAX_NAME_LENGTH = 63
MAX_PREFIX_LENGTH = 253
# What a query may select on at once.
MAX_SELECTORS = 10

NAME = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?")
DNS_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
PREFIX = re.compile(rf"{DNS_LABEL}(?:\.{DNS_LABEL})*")


def key_problem(key: str) -> str | None:
    """Why ``key`` is not a label key, or None when it is one."""
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > MAX_PREFIX_LENGTH or PREFIX.fullmatch(prefix) is None):
        return (
            f"label key {key[:80]!r}: the prefix must be a DNS subdomain (lower-case letters, "
            f"digits, '-' and '.') of at most {MAX_PREFIX_LENGTH} characters"
        )
    if len(name) > MAX_NAME_LENGTH or NAME.fullmatch(name) is None:
        return (
            f"label key {key[:80]!r}: the name must be 1 to {MAX_NAME_LENGTH} letters, digits, "
            "'-', '_' or '.', beginning and ending with a letter or digit"
        )
    return None


def value_problem(key: str, value: str) -> str | None:
    """Why ``value`` is not a label value, or None when it is one."""
    if value == "" or (len(value) <= MAX_NAME_LENGTH and NAME.fullmatch(value) is not None):
        return None
    return (
        f"label {key[:80]!r}: the value must be empty or 1 to {MAX_NAME_LENGTH} letters, digits, "
        "'-', '_' or '.', beginning and ending with a letter or digit"
    )


def checked(labels: Mapping[str, str | None]) -> None:
    """ValueError naming the first bad key or value (None values, which remove a label, pass)."""
    for key, value in labels.items():
        problem = key_problem(key) or (value_problem(key, value) if value is not None else None)
        if problem is not None:
            raise ValueError(problem)


def merged(current: Mapping[str, str], patch: Mapping[str, str | None]) -> dict[str, str]:
    """``current`` with ``patch`` merged in: a value sets its key, None removes it."""
    result = dict(current)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


@dataclass(frozen=True)
class Selector:
    """``key=value`` (that value) or ``key`` (any value): one condition of a label filter."""

    key: str
    value: str | None

    @classmethod
    def parse(cls, text: str) -> Selector:
        """ValueError when ``text`` is not ``key`` or ``key=value`` with a valid key and value."""
        key, equals, value = text.partition("=")
        problem = key_problem(key) or (value_problem(key, value) if equals else None)
        if problem is not None:
            raise ValueError(problem)
        return cls(key, value if equals else None)
