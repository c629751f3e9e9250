"""The fields every request that names a user's connection validates alike: the user id and the
OAuth scopes asked for."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

UserId = Annotated[
    str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")
]
Scope = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\x21\x23-\x5b\x5d-\x7e]+$")
]
