"""Mastodon's OAuth scopes: which exist, and which cover which.

Scopes are hierarchical (docs.joinmastodon.org/api/oauth-scopes): ``read`` covers
every ``read:*``, ``write`` every ``write:*``, ``admin:read`` and ``admin:write``
their ``admin:…:*`` children, and the deprecated ``follow`` covers the follow,
block and mute scopes, both read and write (as Mastodon and Mastodon.py define
it). ``profile`` and ``push`` cover only themselves; the API that takes
``profile`` (verify_credentials) also takes ``read`` and ``read:accounts``, which
the caller says by naming all three.

Scope lists keep the order and spelling the client used, because the token
response echoes them back and Mastodon.py checks that every scope it asked for
is there.
"""

from __future__ import annotations

from collections.abc import Iterable

from fediverse_share.oauth.errors import InvalidScope

DEFAULT_SCOPES: tuple[str, ...] = ("read",)

_READ = (
    "accounts blocks bookmarks favourites filters follows lists mutes notifications search statuses"
)
_WRITE = (
    "accounts blocks bookmarks conversations favourites filters follows lists media mutes"
    " notifications reports statuses"
)
_ADMIN = (
    "accounts reports domain_allows domain_blocks ip_blocks email_domain_blocks"
    " canonical_email_blocks"
)
FOLLOW_COVERS = frozenset(
    {"read:blocks", "read:follows", "read:mutes", "write:blocks", "write:follows", "write:mutes"}
)
PARENTS = ("read", "write", "admin:read", "admin:write")
TOP_LEVEL = ("read", "write", "follow", "push", "profile", "admin:read", "admin:write")
KNOWN_SCOPES = frozenset(
    [
        *TOP_LEVEL,
        *(f"read:{name}" for name in _READ.split()),
        *(f"write:{name}" for name in _WRITE.split()),
        *(f"admin:read:{name}" for name in _ADMIN.split()),
        *(f"admin:write:{name}" for name in _ADMIN.split()),
    ]
)


def parse_scopes(raw: object) -> tuple[str, ...]:
    """Scopes from a space-separated string (or a list), in order, without repeats.

    Nothing given means the default, ``read``; an unknown scope is refused.
    """
    if raw is None:
        return DEFAULT_SCOPES
    if isinstance(raw, str):
        words = raw.split()
    elif isinstance(raw, list | tuple) and all(isinstance(item, str) for item in raw):
        words = [word for item in raw for word in item.split()]
    else:
        raise InvalidScope("scopes must be a space-separated string or a list of strings")
    if not words:
        return DEFAULT_SCOPES
    unknown = [w for w in words if w not in KNOWN_SCOPES]
    if unknown:
        raise InvalidScope(f"unknown scope: {' '.join(unknown)[:200]}")
    return tuple(dict.fromkeys(words))


def render_scopes(scopes: Iterable[str]) -> str:
    return " ".join(scopes)


def _parent(scope: str) -> str | None:
    head, _, _ = scope.rpartition(":")
    return head if head in PARENTS else None


def covers(granted: Iterable[str], scope: str) -> bool:
    """True when the ``granted`` scopes include ``scope`` itself or a scope above it."""
    held = frozenset(granted)
    if scope in held:
        return True
    parent = _parent(scope)
    if parent is not None and parent in held:
        return True
    return scope in FOLLOW_COVERS and "follow" in held


def _covers_scope(held: frozenset[str], scope: str) -> bool:
    if scope == "follow":
        # `follow` is a bundle: an app holding all it covers may hand it out.
        return "follow" in held or all(covers(held, s) for s in FOLLOW_COVERS)
    return covers(held, scope)


def check_within(requested: Iterable[str], allowed: Iterable[str]) -> None:
    """Refuse ``requested`` scopes that the app's registration does not cover."""
    held = frozenset(allowed)
    beyond = [s for s in requested if not _covers_scope(held, s)]
    if beyond:
        raise InvalidScope(f"the app is not registered for: {' '.join(beyond)}")
