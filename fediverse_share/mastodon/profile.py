"""A member edits their profile from a client (``update_credentials``): display
name, bio (typed as text, stored as HTML like a status), whether they approve
followers, whether they are discoverable. The change federates as
``Update(actor)`` (`federation.publish.update_profile`); unlocking an account
accepts the follow requests waiting for it, as Mastodon does."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select, update

from fediverse_share import tables
from fediverse_share.federation import follows, publish
from fediverse_share.mastodon import events, formatting
from fediverse_share.mastodon.errors import ValidationFailed
from fediverse_share.runtime import Runtime

MAX_DISPLAY_NAME = 30
MAX_NOTE = 500


@dataclass(frozen=True, slots=True)
class ProfileChange:
    display_name: str | None = None
    note: str | None = None
    locked: bool | None = None
    discoverable: bool | None = None


def check(change: ProfileChange) -> ProfileChange:
    if change.display_name is not None and len(change.display_name) > MAX_DISPLAY_NAME:
        raise ValidationFailed(f"Display name is too long (maximum is {MAX_DISPLAY_NAME})")
    if change.note is not None and len(change.note) > MAX_NOTE:
        raise ValidationFailed(f"Note is too long (maximum is {MAX_NOTE} characters)")
    return change


def _accept_waiting(conn: Connection, runtime: Runtime, actor_id: int) -> None:
    f = tables.follows
    waiting = conn.execute(
        select(f.c.follower_id).where(f.c.followed_id == actor_id, f.c.state == "pending")
    ).scalars()
    for follower_id in list(waiting):
        uri = follows.answer_request(conn, runtime, follower_id, actor_id, accept=True)
        events.follow_stored(conn, runtime, uri)


def apply(conn: Connection, runtime: Runtime, actor_id: int, change: ProfileChange) -> None:
    actor = publish.local_actor(conn, actor_id)
    a = tables.actors
    values: dict[str, bool] = {}
    if change.locked is not None:
        values["manually_approves_followers"] = change.locked
    if change.discoverable is not None:
        values["discoverable"] = change.discoverable
    if values:
        conn.execute(update(a).where(a.c.id == actor_id).values(**values))
    if change.locked is False and actor["manually_approves_followers"]:
        _accept_waiting(conn, runtime, actor_id)
    summary = (
        actor["summary"]
        if change.note is None
        else formatting.render_text(change.note, {}, runtime.instance.base_url)
    )
    name = actor["name"] if change.display_name is None else change.display_name.strip()
    publish.update_profile(conn, runtime, actor_id, name=name, summary=summary)
