"""The scope hierarchy: which scopes cover which, and what an app may hand out."""

from __future__ import annotations

import pytest

from fediverse_share.oauth.errors import InvalidScope
from fediverse_share.oauth.scopes import check_within, covers, parse_scopes


def test_parse_keeps_order_drops_repeats_and_defaults_to_read() -> None:
    """Scopes keep the client's order (they are echoed back), without repeats; none means read."""
    assert parse_scopes("write  read\tread follow") == ("write", "read", "follow")
    assert parse_scopes(["read write", "push"]) == ("read", "write", "push")
    assert parse_scopes(None) == parse_scopes("") == ("read",)


def test_unknown_scopes_are_refused() -> None:
    """A scope Mastodon does not define is invalid_scope."""
    with pytest.raises(InvalidScope):
        parse_scopes("read admin")


@pytest.mark.parametrize(
    ("granted", "scope", "expected"),
    [
        ("read", "read:accounts", True),
        ("write", "write:statuses", True),
        ("read", "write:statuses", False),
        ("read:accounts", "read", False),
        ("follow", "read:follows", True),
        ("follow", "write:blocks", True),
        ("follow", "write:statuses", False),
        ("admin:read", "admin:read:accounts", True),
        ("read", "admin:read:accounts", False),
        ("read", "profile", False),
        ("profile", "read:accounts", False),
        ("push", "push", True),
    ],
)
def test_covers(granted: str, scope: str, expected: bool) -> None:
    """read covers read:*, write covers write:*, follow its six scopes; nothing else is implied."""
    assert covers(granted.split(), scope) is expected


def test_check_within_the_apps_registration() -> None:
    """Requests within the app's scopes pass (hierarchy included); anything beyond is refused."""
    check_within(("read:accounts", "write:media"), ("read", "write"))
    check_within(("follow",), ("read", "write"))  # the bundle is covered by its parts
    with pytest.raises(InvalidScope, match="push"):
        check_within(("read", "push"), ("read", "write", "follow"))
    with pytest.raises(InvalidScope):
        check_within(("read",), ("read:accounts",))
