import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.proxy.paths import InvalidPath, normalise


def test_plain_path_is_split_into_segments() -> None:
    assert normalise("/meetings/42").segments == ("meetings", "42")


def test_trailing_slash_is_tolerated() -> None:
    assert normalise("/meetings/").segments == ("meetings",)


def test_percent_encoded_characters_are_decoded_then_reencoded() -> None:
    path = normalise("/calendar/events/a%20b")
    assert path.segments == ("calendar", "events", "a b")
    assert path.encoded == "/calendar/events/a%20b"


@pytest.mark.parametrize(
    "raw",
    [
        "/meetings/../admin",
        "/meetings/./x",
        "/%2e%2e/admin",
        "/%2E%2e/admin",
        "/meetings/%2Fetc",
        "/meetings/%2fetc",
        "/meetings/%5cetc",
        "/meetings\\etc",
        "/http://evil.example/x",
        "//evil.example/x",
        "/meetings//x",
        "/a%00b",
        "/a%0d%0aHost:%20x",
        "/a%zz",
        "/a%2",
        "/%ff%fe",
        "/" + "a" * 3000,
        "/" + "a/" * 70,
    ],
)
def test_dangerous_or_odd_paths_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPath):
        normalise(raw)


@given(st.text(max_size=60))
def test_nothing_accepted_can_leave_the_api_base(raw: str) -> None:
    base = "https://api.example.com/v1/partner/user"
    try:
        path = normalise("/" + raw)
    except InvalidPath:
        return
    url = base + path.encoded
    assert url.startswith(base + "/") or url == base + "/"
    assert ".." not in path.segments and "." not in path.segments
    assert "//" not in url[len("https://") :]
    assert all(ord(c) > 0x20 and c != "\\" for c in path.encoded)
