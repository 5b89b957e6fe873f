"""What members do that federates: the service layer the APIs and the CLI call."""

from __future__ import annotations

from sqlalchemy import RowMapping

from activitypub import webfinger
from fediverse_share.federation import follows, publish, remote_actors
from fediverse_share.federation.fetching import fetcher_for
from fediverse_share.members import Member
from fediverse_share.runtime import Runtime


async def resolve(runtime: Runtime, handle_or_url: str) -> RowMapping:
    """An actor by ``@name@domain``, ``acct:name@domain`` or URL (fetched if unknown)."""
    target = handle_or_url.strip()
    if not target.startswith(("http://", "https://")):
        handle = webfinger.parse_acct(target)
        if handle.domain == runtime.instance.domain:
            from fediverse_share import actors

            return await runtime.db.read(actors.get_local_actor, handle.username)
        fetcher = await fetcher_for(runtime)
        target = await webfinger.lookup(fetcher, handle)
    return await remote_actors.get_actor(runtime, target)


async def follow(runtime: Runtime, member: Member, handle_or_url: str) -> str:
    target = await resolve(runtime, handle_or_url)
    return await runtime.db.write(follows.follow, runtime, member.actor_id, target)


async def unfollow(runtime: Runtime, member: Member, handle_or_url: str) -> None:
    target = await resolve(runtime, handle_or_url)
    await runtime.db.write(follows.unfollow, runtime, member.actor_id, target)


async def post(
    runtime: Runtime, member: Member, content_html: str, *, visibility: str = "public"
) -> publish.Published:
    return await runtime.db.write(
        publish.publish_note, runtime, member.actor_id, content_html, visibility=visibility
    )


async def edit(runtime: Runtime, member: Member, post_id: int, content_html: str) -> None:
    await runtime.db.write(publish.update_note, runtime, member.actor_id, post_id, content_html)


async def delete(runtime: Runtime, member: Member, post_id: int) -> None:
    await runtime.db.write(publish.delete_note, runtime, member.actor_id, post_id)


async def update_profile(runtime: Runtime, member: Member, *, name: str, summary: str) -> None:
    await runtime.db.write(
        publish.update_profile, runtime, member.actor_id, name=name, summary=summary
    )
