import pytest

from gateway.clients.allow_rules import AllowRule, RuleError, covers, is_allowed, parse_rules


def allowed(rules: list[str], method: str, path: str) -> bool:
    return is_allowed(parse_rules(rules), method, [p for p in path.split("/") if p])


def test_nothing_is_allowed_without_rules() -> None:
    assert not allowed([], "GET", "/meetings")


def test_exact_rule_matches_only_its_path_and_method() -> None:
    rules = ["GET /meetings"]
    assert allowed(rules, "GET", "/meetings")
    assert not allowed(rules, "POST", "/meetings")
    assert not allowed(rules, "GET", "/meetings/1")


def test_single_star_matches_exactly_one_segment() -> None:
    rules = ["GET /meetings/*"]
    assert allowed(rules, "GET", "/meetings/42")
    assert not allowed(rules, "GET", "/meetings")
    assert not allowed(rules, "GET", "/meetings/42/participants")


def test_double_star_matches_zero_or_more_segments() -> None:
    rules = ["GET /meetings/**"]
    assert allowed(rules, "GET", "/meetings")
    assert allowed(rules, "GET", "/meetings/42/participants")
    assert not allowed(rules, "GET", "/action-items")


def test_double_star_in_the_middle() -> None:
    rules = ["GET /meetings/**/participants"]
    assert allowed(rules, "GET", "/meetings/participants")
    assert allowed(rules, "GET", "/meetings/1/participants")
    assert not allowed(rules, "GET", "/meetings/1/agenda-items")


def test_star_method_matches_any_method() -> None:
    assert allowed(["* /profile"], "DELETE", "/profile")


def test_method_is_case_insensitive_in_the_rule() -> None:
    assert allowed(["get /profile"], "GET", "/profile")


@pytest.mark.parametrize("rule", ["FETCH /x", "GET", "GET meetings", "GET /meet*ings", "GET /a b"])
def test_malformed_rules_are_refused(rule: str) -> None:
    with pytest.raises(RuleError):
        AllowRule.parse(rule)


def test_rule_prints_in_canonical_form() -> None:
    assert str(AllowRule.parse("get /meetings//*/")) == "GET /meetings/*"


def covered(wider: str, narrower: str) -> bool:
    return covers(AllowRule.parse(wider), AllowRule.parse(narrower))


@pytest.mark.parametrize(
    ("wider", "narrower"),
    [
        ("GET /meetings", "GET /meetings"),
        ("* /meetings/**", "POST /meetings/1/notes"),
        ("* /**", "* /anything/**"),
        ("GET /**", "GET /"),
        ("GET /meetings/**", "GET /meetings"),
        ("GET /meetings/**", "GET /meetings/*/**"),
        ("GET /meetings/*", "GET /meetings/42"),
        ("GET /meetings/*/notes", "GET /meetings/*/notes"),
        ("GET /**/notes", "GET /meetings/*/notes"),
        ("GET /a/**/z", "GET /a/**/b/**/z"),
    ],
)
def test_a_rule_covers_every_narrower_one(wider: str, narrower: str) -> None:
    assert covered(wider, narrower)


@pytest.mark.parametrize(
    ("wider", "narrower"),
    [
        ("GET /meetings", "POST /meetings"),
        ("GET /meetings", "* /meetings"),
        ("GET /meetings/*", "GET /meetings"),
        ("GET /meetings/*", "GET /meetings/**"),
        ("GET /meetings/*", "GET /meetings/1/notes"),
        ("GET /meetings/**", "GET /**"),
        ("GET /meetings/42", "GET /meetings/*"),
        ("GET /**/notes", "GET /meetings/**"),
        # Covered in fact, refused all the same: a ** only another ** may absorb.
        ("GET /*/**", "GET /**/x"),
    ],
)
def test_a_rule_does_not_cover_a_wider_or_different_one(wider: str, narrower: str) -> None:
    assert not covered(wider, narrower)


def test_covering_is_never_wrong_on_concrete_paths() -> None:
    """Whenever ``covers`` says yes, every path the narrower rule admits, the wider one admits."""
    patterns = ["/", "/a", "/*", "/**", "/a/*", "/a/**", "/*/b", "/**/b", "/a/**/b", "/*/*"]
    paths = [(), ("a",), ("b",), ("a", "b"), ("a", "a", "b"), ("c", "b"), ("a", "c", "d", "b")]
    for wider in patterns:
        for narrower in patterns:
            if covered(f"GET {wider}", f"GET {narrower}"):
                admitted = [
                    p for p in paths if AllowRule.parse(f"GET {narrower}").matches("GET", p)
                ]
                assert all(AllowRule.parse(f"GET {wider}").matches("GET", p) for p in admitted), (
                    wider,
                    narrower,
                )
