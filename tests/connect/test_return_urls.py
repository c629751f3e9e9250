import pytest

from gateway.connect.return_urls import is_allowed, with_params

ALLOWED = ["https://app.example.com/settings", "http://localhost:3000"]


@pytest.mark.parametrize(
    "url",
    [
        "https://app.example.com/settings",
        "https://app.example.com/settings/",
        "https://app.example.com/settings/integrations?tab=1",
        "https://app.example.com:443/settings/x",
        "http://localhost:3000/anything",
    ],
)
def test_matching_return_urls_are_allowed(url: str) -> None:
    assert is_allowed(url, ALLOWED)


@pytest.mark.parametrize(
    "url",
    [
        "https://app.example.com/settingsevil",
        "https://app.example.com/other",
        "http://app.example.com/settings",
        "https://app.example.com:8443/settings",
        "https://evil.example.com/settings",
        "https://app.example.com.evil.com/settings",
        "https://user@app.example.com/settings",
        "http://localhost:3001/",
        "javascript:alert(1)",
        "/settings",
    ],
)
def test_other_return_urls_are_refused(url: str) -> None:
    assert not is_allowed(url, ALLOWED)


def test_params_are_added_and_existing_query_kept() -> None:
    assert (
        with_params("https://a/b?tab=x&status=old", {"status": "connected"})
        == "https://a/b?tab=x&status=connected"
    )
