"""Checks of Mastodon API entities against the field lists of the client reference
(``reference/mastodon-clients.md`` §4): required fields present, the right JSON
types, strings never null, ids numeric strings, instants with three digits."""

from __future__ import annotations

import re
from typing import Any

import httpx

ISO_MILLIS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
VISIBILITIES = {"public", "unlisted", "private", "direct"}
NOTIFICATION_TYPES = {
    "mention",
    "status",
    "reblog",
    "follow",
    "follow_request",
    "favourite",
    "poll",
    "update",
}
WITH_STATUS = {"mention", "status", "reblog", "favourite", "poll", "update"}
MEDIA_TYPES = {"image", "gifv", "video", "audio", "unknown"}


def _fields(entity: dict[str, Any], kind: type | tuple[type, ...], names: list[str]) -> None:
    for name in names:
        assert name in entity, f"{name} is missing from {sorted(entity)}"
        value = entity[name]
        assert isinstance(value, kind), f"{name} is {value!r}, not {kind}"
        assert not (kind is int and isinstance(value, bool)), f"{name} is a bool"


def _nullable(entity: dict[str, Any], kind: type, names: list[str]) -> None:
    for name in names:
        assert name in entity, f"{name} is missing"
        assert entity[name] is None or isinstance(entity[name], kind), f"{name}: {entity[name]!r}"


def _numeric_id(value: Any) -> None:
    assert isinstance(value, str) and value.isdigit(), f"id {value!r} is not a numeric string"


def check_account(account: dict[str, Any]) -> None:
    _fields(
        account,
        str,
        [
            "id", "username", "acct", "url", "uri", "display_name", "note", "avatar",
            "avatar_static", "header", "header_static", "created_at",
        ],
    )  # fmt: skip
    _fields(account, bool, ["locked", "bot", "group", "discoverable"])
    _fields(account, int, ["statuses_count", "followers_count", "following_count"])
    _fields(account, list, ["fields", "emojis"])
    _numeric_id(account["id"])
    assert ISO_MILLIS.fullmatch(account["created_at"]), account["created_at"]
    last = account["last_status_at"]
    assert last is None or re.fullmatch(r"\d{4}-\d\d-\d\d", last), last
    if account["acct"] != account["username"]:
        assert account["acct"] == f"{account['username']}@{account['acct'].split('@', 1)[1]}"


def check_media(item: dict[str, Any]) -> None:
    _fields(item, str, ["id", "type", "url"])
    assert item["type"] in MEDIA_TYPES
    _nullable(item, str, ["preview_url", "remote_url", "description", "blurhash"])
    assert isinstance(item["meta"], dict)


def check_card(card: dict[str, Any]) -> None:
    """A PreviewCard of type ``link``: strings never null, sizes integers."""
    _fields(card, str, ["url", "title", "description", "type", "author_name", "author_url"])
    _fields(card, str, ["provider_name", "provider_url", "html", "embed_url"])
    _fields(card, int, ["width", "height"])
    _nullable(card, str, ["image", "blurhash"])
    _fields(card, list, ["authors"])
    assert card["type"] == "link"
    assert card["url"].startswith(("https://", "http://")), card["url"]


def check_status(status: dict[str, Any], *, authenticated: bool = True) -> None:
    _fields(status, str, ["id", "uri", "url", "created_at", "content", "visibility"])
    _fields(status, str, ["spoiler_text"])
    _numeric_id(status["id"])
    assert ISO_MILLIS.fullmatch(status["created_at"])
    assert status["visibility"] in VISIBILITIES
    _fields(status, bool, ["sensitive"])
    _fields(status, list, ["media_attachments", "mentions", "tags", "emojis"])
    _fields(status, int, ["reblogs_count", "favourites_count", "replies_count"])
    _nullable(status, str, ["in_reply_to_id", "in_reply_to_account_id", "language", "edited_at"])
    assert "poll" in status and "card" in status and "reblog" in status
    if status["edited_at"] is not None:
        assert ISO_MILLIS.fullmatch(status["edited_at"])
    check_account(status["account"])
    for item in status["media_attachments"]:
        check_media(item)
    for mention in status["mentions"]:
        _fields(mention, str, ["id", "username", "acct", "url"])
        _numeric_id(mention["id"])
    for tag in status["tags"]:
        _fields(tag, str, ["name", "url"])
    if authenticated:
        _fields(status, bool, ["favourited", "reblogged", "bookmarked", "muted", "pinned"])
    if status["card"] is not None:
        check_card(status["card"])
    if status["reblog"] is not None:
        check_status(status["reblog"], authenticated=authenticated)
        assert status["content"] == ""


def check_notification(notification: dict[str, Any]) -> None:
    _fields(notification, str, ["id", "type", "created_at", "group_key"])
    _numeric_id(notification["id"])
    assert notification["type"] in NOTIFICATION_TYPES
    assert ISO_MILLIS.fullmatch(notification["created_at"])
    assert notification["group_key"] == f"ungrouped-{notification['id']}"
    check_account(notification["account"])
    if notification["type"] in WITH_STATUS:
        check_status(notification["status"])


def check_relationship(relationship: dict[str, Any]) -> None:
    _fields(relationship, str, ["id", "note"])
    _numeric_id(relationship["id"])
    _fields(
        relationship,
        bool,
        [
            "following", "showing_reblogs", "notifying", "followed_by", "blocking",
            "blocked_by", "muting", "muting_notifications", "requested", "requested_by",
            "domain_blocking", "endorsed",
        ],
    )  # fmt: skip
    assert "languages" in relationship


def check_json_error(response: httpx.Response, status: int) -> None:
    """An error answer: the status expected, JSON with an ``error`` string, never HTML."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body.get("error"), str) and body["error"], body
