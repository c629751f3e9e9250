import pytest

from gateway.kit.dot_segments import has_dot_segments


@pytest.mark.parametrize(
    "path",
    [
        "/a/../b",
        "/a/./b",
        "/a/..",
        "/a/%2e%2e/b",
        "/a/%2E./b",
        "/a/.%2e/b",
        "/a%2f..%2fb",
        "/a/..%5cb",
        "/a\\..\\b",
        "/a/%252e%252e/b",
        "/a/..;x/b",
        "/a/.../b",
        "/a/%2525252e%2525252e/b",  # deeper than any real encoding: refused unseen
    ],
)
def test_dot_segments_in_any_spelling_are_found(path: str) -> None:
    assert has_dot_segments(path)


@pytest.mark.parametrize(
    "path", ["/", "", "/a/b", "/a/..b/c", "/a/b../c", "/a/.b", "/a/%2e%2ex", "/a/x%2fy", "/a/%zz"]
)
def test_paths_without_dot_segments_pass(path: str) -> None:
    assert not has_dot_segments(path)
