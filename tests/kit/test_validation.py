"""Validation mistakes told in the gateway's words: a field and a short phrase, never pydantic's."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway.kit.validation import problems, summary


class Sample(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=5)
    count: int = Field(default=1, ge=1)
    kind: Literal["a", "b"] = "a"
    tags: list[str] = Field(default_factory=list, max_length=2)
    note: str = ""

    @field_validator("note")
    @classmethod
    def _no_x(cls, value: str) -> str:
        if "x" in value:
            raise ValueError("must not contain an x")
        return value


def told(data: object) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        Sample.model_validate(data)
    return {item["field"]: item["problem"] for item in problems(caught.value)}


@pytest.mark.parametrize(
    ("data", "field", "problem"),
    [
        ({}, "name", "is required"),
        ({"name": ""}, "name", "must be at least 1 character"),
        ({"name": "toolong"}, "name", "must be at most 5 characters"),
        ({"name": 3}, "name", "must be a string"),
        ({"name": "n", "count": 0}, "count", "must be at least 1"),
        ({"name": "n", "count": "many"}, "count", "must be an integer"),
        ({"name": "n", "kind": "c"}, "kind", "must be 'a' or 'b'"),
        ({"name": "n", "tags": ["1", "2", "3"]}, "tags", "must have at most 2 items"),
        ({"name": "n", "tags": [1]}, "tags.0", "must be a string"),
        ({"name": "n", "extra": 1}, "extra", "is not a field of this request"),
        ({"name": "n", "note": "x"}, "note", "must not contain an x"),
        ([], "body", "must be an object"),
    ],
)
def test_each_mistake_has_a_phrase_of_ours(data: object, field: str, problem: str) -> None:
    found = told(data)
    assert found[field] == problem
    for phrase in found.values():
        assert "Input should" not in phrase and "errors.pydantic.dev" not in phrase


def test_the_summary_names_the_first_few_on_one_line() -> None:
    found = [{"field": f"f{i}", "problem": "is required"} for i in range(5)]
    assert summary(found) == ("f0: is required; f1: is required; f2: is required (and 2 more)")
