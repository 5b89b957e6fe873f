"""Mastodon API entities, rendered from typed facts (typed → wire).

Field lists follow ``reference/mastodon-clients.md`` §4: the union of what the strict
clients (Tusky, Ice Cubes, the official apps) require. Ids are strings, instants
have exactly three fractional digits, and no field that clients read as a string
is ever null.
"""

from __future__ import annotations

from typing import Any

from fediverse_share.clock import render_iso_millis, to_datetime
from fediverse_share.mastodon.accounts import AccountFacts, html_to_text
from fediverse_share.mastodon.instance import (
    MASTODON_API_VERSION,
    SOURCE_URL,
    InstanceFacts,
    Limits,
    render_version,
)
from fediverse_share.oauth.apps import App, RegisteredApp
from fediverse_share.oauth.tokens import IssuedToken

JSON = dict[str, Any]


def render_account(account: AccountFacts) -> JSON:
    counts = account.counts
    last_status = counts.last_status_at_us
    return {
        "id": str(account.actor_id),
        "username": account.username,
        "acct": account.acct,
        "url": account.url,
        "uri": account.uri,
        "display_name": account.display_name,
        "note": account.note_html,
        "avatar": account.avatar_url,
        "avatar_static": account.avatar_url,
        "header": account.header_url,
        "header_static": account.header_url,
        "locked": account.locked,
        "bot": account.bot,
        "group": account.group,
        "discoverable": account.discoverable,
        "indexable": account.discoverable,
        "hide_collections": False,
        "noindex": not account.discoverable,
        "created_at": render_iso_millis(account.created_at_us),
        # A date, not an instant: toot parses it with date.fromisoformat.
        "last_status_at": None
        if last_status is None
        else to_datetime(last_status).date().isoformat(),
        "statuses_count": counts.statuses,
        "followers_count": counts.followers,
        "following_count": counts.following,
        "fields": [],
        "emojis": [],
        "roles": [],
    }


def render_credential_account(account: AccountFacts) -> JSON:
    """The signed-in member's own account, with the ``source`` profile editors start from."""
    rendered = render_account(account)
    rendered["source"] = {
        "privacy": "public",
        "sensitive": False,
        # "" means no default posting language (docs: "ISO 639-1 code or empty string").
        "language": "",
        "note": account.note_text,
        "fields": [],
        "follow_requests_count": account.counts.follow_requests,
        "discoverable": account.discoverable,
        "indexable": account.discoverable,
        "hide_collections": False,
    }
    return rendered


def render_application(app: App) -> JSON:
    return {
        "id": str(app.app_id),
        "name": app.name,
        # Mastodon sends null without a website; Ice Cubes decodes it as an optional
        # URL, which would fail on "".
        "website": app.website,
        "scopes": list(app.scopes),
        # The deprecated single string (newline-joined), still required by Ice Cubes.
        "redirect_uri": "\n".join(app.redirect_uris),
        "redirect_uris": list(app.redirect_uris),
        "vapid_key": "",
    }


def render_credential_application(registered: RegisteredApp) -> JSON:
    rendered = render_application(registered.app)
    rendered["client_id"] = registered.app.client_id
    rendered["client_secret"] = registered.client_secret
    rendered["client_secret_expires_at"] = 0
    return rendered


def render_token(token: IssuedToken) -> JSON:
    return {
        "access_token": token.access_token,
        "token_type": "Bearer",
        "scope": " ".join(token.scopes),
        "created_at": token.created_at_us // 1_000_000,
    }


def _configuration(limits: Limits) -> JSON:
    return {
        "accounts": {
            "max_featured_tags": limits.max_featured_tags,
            "max_pinned_statuses": limits.max_pinned_statuses,
        },
        "statuses": {
            "max_characters": limits.max_characters,
            "max_media_attachments": limits.max_media_attachments,
            "characters_reserved_per_url": limits.characters_reserved_per_url,
        },
        "media_attachments": {
            "supported_mime_types": list(limits.supported_mime_types),
            "description_limit": limits.description_limit,
            "image_size_limit": limits.image_size_limit,
            "image_matrix_limit": limits.image_matrix_limit,
            "video_size_limit": limits.video_size_limit,
            "video_frame_rate_limit": limits.video_frame_rate_limit,
            "video_matrix_limit": limits.video_matrix_limit,
        },
        "polls": {
            "max_options": limits.max_poll_options,
            "max_characters_per_option": limits.max_characters_per_option,
            "min_expiration": limits.min_poll_expiration_seconds,
            "max_expiration": limits.max_poll_expiration_seconds,
        },
    }


def _contact(facts: InstanceFacts) -> JSON | None:
    account = facts.contact_account
    return None if account is None else render_account(account)


def _streaming_url(facts: InstanceFacts) -> str:
    """Where clients open the stream (``/api/v1/streaming``): this host, ws or wss."""
    return "ws" + facts.base_url.removeprefix("http")


def render_instance_v1(facts: InstanceFacts) -> JSON:
    return {
        "uri": facts.domain,  # the bare domain: toot uses it as a key
        "title": facts.title,
        "short_description": html_to_text(facts.description_html),
        "description": facts.description_html,
        "email": facts.contact_email,
        "version": render_version(),
        "urls": {"streaming_api": _streaming_url(facts)},
        "stats": {
            "user_count": facts.user_count,
            "status_count": facts.status_count,
            "domain_count": facts.domain_count,
        },
        "thumbnail": facts.thumbnail_url,
        "languages": list(facts.languages),
        "registrations": facts.registrations_open,
        "approval_required": False,
        "invites_enabled": False,
        "configuration": _configuration(facts.limits),
        "contact_account": _contact(facts),
        "rules": [],
    }


def render_instance_v2(facts: InstanceFacts) -> JSON:
    configuration = _configuration(facts.limits)
    # Elk crashes without `urls`; masto.js opens the stream named there.
    configuration["urls"] = {"streaming": _streaming_url(facts)}
    configuration["vapid"] = {"public_key": ""}
    configuration["translation"] = {"enabled": False}
    return {
        "domain": facts.domain,
        "title": facts.title,
        "version": render_version(),
        "source_url": SOURCE_URL,
        "description": html_to_text(facts.description_html),
        "usage": {"users": {"active_month": facts.user_count}},
        "thumbnail": {"url": facts.thumbnail_url},
        "icon": [],
        "languages": list(facts.languages),
        "configuration": configuration,
        "registrations": {
            "enabled": facts.registrations_open,
            "approval_required": False,
            "message": "",
        },
        "api_versions": {"mastodon": MASTODON_API_VERSION},
        "contact": {"email": facts.contact_email, "account": _contact(facts)},
        "rules": [],
    }
