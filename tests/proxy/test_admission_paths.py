import posixpath
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from yarl import URL

from gateway.proxy.errors import InvalidPath
from gateway.proxy.paths import MAX_PATH_LENGTH, normalise

BASE = "https://api.example.com/v1/partner/user"


def test_plain_path_is_split_into_segments() -> None:
    assert normalise("/meetings/42").segments == ("meetings", "42")


def test_trailing_slash_is_tolerated() -> None:
    assert normalise("/meetings/").segments == ("meetings",)


def test_percent_encoded_characters_are_decoded_then_reencoded() -> None:
    path = normalise("/calendar/events/a%20b")
    assert path.segments == ("calendar", "events", "a b")
    assert path.encoded == "/calendar/events/a%20b"


def test_unreserved_and_sub_delimiters_pass_as_they_are() -> None:
    assert normalise("/events/evt_1-2.3~x@host:1+2").encoded == "/events/evt_1-2.3~x@host:1+2"


def test_a_semicolon_is_sent_encoded() -> None:
    # Some servers cut path parameters at ";" (the "..;" trick); upstream gets it as data only.
    assert normalise("/meetings/a;b").encoded == "/meetings/a%3Bb"


def test_dots_inside_a_segment_are_fine() -> None:
    assert normalise("/files/report..v2.pdf").segments == ("files", "report..v2.pdf")


@pytest.mark.parametrize(
    "raw",
    [
        "/meetings/../admin",
        "/meetings/./x",
        "/meetings/...",
        "/meetings/..;/admin",
        "/meetings/.;x",
        "/%2e%2e/admin",
        "/%2E%2e/admin",
        "/.%2e/admin",
        "/meetings/%2Fetc",
        "/meetings/%2fetc",
        "/meetings/%5cetc",
        "/meetings\\etc",
        "/http://evil.example/x",
        "/https:/evil.example",
        "//evil.example/x",
        "/meetings//x",
        "/a%00b",
        "/a%0d%0aHost:%20x",
        "/a%7f",
        "/a%zz",
        "/a%2",
        "/a%",
        "/%ff%fe",
        "/%c0%ae%c0%ae/admin",  # overlong UTF-8 dots
        "/%ef%bc%8e%ef%bc%8e/admin",  # fullwidth dots
        "/%e2%88%95admin",  # division slash
        "/caf\u00e9",  # raw non-ASCII: a client must encode it
        "/a b",
        "/%252e%252e/admin",  # double encoding
        "/%25",
        "/" + "a" * 3000,
        "/" + "a/" * 70,
    ],
)
def test_dangerous_or_odd_paths_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPath):
        normalise(raw)


def _dots_removed(path: str) -> str:
    """RFC 3986 §5.2.4 as a server that resolves dot segments (after decoding) would."""
    resolved = posixpath.normpath(unquote(path))
    return resolved if resolved != "." else "/"


DANGEROUS = st.sampled_from(
    ["/", ".", "..", "%2e", "%2E", "%2f", "%5c", "\\", "%25", ";", ":", "@", "?", "#", "%00", "%0a",
     "%", "%zz", "%c0%ae", "%ef%bc%8e", "http:", "//", "~", "a", "Z", "0", " ", "\u00e9", "%20"]
)  # fmt: skip


@given(st.one_of(st.text(max_size=60), st.lists(DANGEROUS, max_size=20).map("".join)))
def test_nothing_accepted_can_leave_the_api_base(raw: str) -> None:
    try:
        path = normalise("/" + raw)
    except InvalidPath:
        return
    url = BASE + path.encoded
    # What aiohttp sends (yarl, encoded=True) and what a server resolves stay below the base.
    sent = URL(url, encoded=True)
    assert (sent.scheme, sent.host, sent.port) == ("https", "api.example.com", 443)
    assert sent.raw_path.startswith("/v1/partner/user")
    assert sent.raw_query_string == "" and sent.raw_fragment == ""
    assert urlsplit(url).netloc == "api.example.com"
    assert _dots_removed(sent.raw_path).startswith("/v1/partner/user")
    assert all(segment not in (".", "..") for segment in path.segments)
    assert "//" not in url[len("https://") :]
    assert all(0x21 <= ord(c) <= 0x7E and c != "\\" for c in path.encoded)
    assert "%2F" not in path.encoded.upper() and "%5C" not in path.encoded.upper()
    assert normalise(path.encoded) == path, "the encoding is canonical"


@settings(max_examples=20)
@given(st.text(min_size=MAX_PATH_LENGTH + 1, max_size=MAX_PATH_LENGTH + 10))
def test_over_long_paths_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPath):
        normalise("/" + raw)
