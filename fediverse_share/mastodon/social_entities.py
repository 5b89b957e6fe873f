"""Relationship, Notification, Marker and Search entities (typed → wire)."""

from __future__ import annotations

from typing import Any

from fediverse_share.clock import render_iso_millis
from fediverse_share.mastodon.accounts import AccountFacts
from fediverse_share.mastodon.entities import render_account
from fediverse_share.mastodon.notifications import NotificationFacts
from fediverse_share.mastodon.relationships import RelationshipFacts
from fediverse_share.mastodon.status_entities import render_status, render_tag
from fediverse_share.mastodon.statuses import Status

JSON = dict[str, Any]


def render_relationship(facts: RelationshipFacts) -> JSON:
    """Every field, as the iOS app's decoder requires."""
    return {
        "id": str(facts.account_id),
        "following": facts.following,
        "showing_reblogs": facts.showing_reblogs,
        "notifying": facts.notifying,
        "languages": None,
        "followed_by": facts.followed_by,
        "blocking": False,
        "blocked_by": facts.blocked_by,
        "muting": False,
        "muting_notifications": False,
        "requested": facts.requested,
        "requested_by": facts.requested_by,
        "domain_blocking": False,
        "endorsed": False,
        "note": "",
    }


def render_notification(facts: NotificationFacts, base_url: str) -> JSON:
    rendered: JSON = {
        "id": str(facts.notification_id),
        "type": facts.type,
        "created_at": render_iso_millis(facts.created_at_us),
        "account": render_account(facts.account),
        "group_key": f"ungrouped-{facts.notification_id}",
    }
    if facts.status is not None:
        rendered["status"] = render_status(facts.status, base_url)
    return rendered


def render_marker(last_read_id: str, version: int, updated_at_us: int) -> JSON:
    return {
        "last_read_id": last_read_id,
        "version": version,
        "updated_at": render_iso_millis(updated_at_us),
    }


def render_search(
    accounts: list[AccountFacts], statuses: list[Status], hashtags: list[str], base_url: str
) -> JSON:
    return {
        "accounts": [render_account(a) for a in accounts],
        "statuses": [render_status(s, base_url) for s in statuses],
        "hashtags": [{**render_tag(name, base_url), "history": []} for name in hashtags],
    }
